"""Sentiment and emotion benchmarks read in their original published layouts.

`load_benchmark(kind, root)` for `kind` in `BENCHMARKS`: Twitter I and Twitter II (`twitter`),
FI, ArtPhoto, Abstract, EmotionROI and Emotion6 (`emotions`), and `folder` for any class tree
or `path,label` CSV. Each reader's docstring says which release layout it reads and where that
layout is documented.
"""

from __future__ import annotations

from pathlib import Path

from smileynet.errors import UserError
from smileynet.transfer.benchmarks.base import (
    EKMAN_EMOTIONS,
    MIKELS_EMOTIONS,
    POSITIVE_EMOTIONS,
    Benchmark,
    Split,
    class_sentiment,
)
from smileynet.transfer.benchmarks.emotions import (
    load_abstract,
    load_artphoto,
    load_emotion6,
    load_emotionroi,
    load_fi,
)
from smileynet.transfer.benchmarks.folder import load_folder
from smileynet.transfer.benchmarks.twitter import AGREE_SPLITS, load_twitter, load_twitter2

LOADERS = {
    "twitter": load_twitter,
    "twitter2": load_twitter2,
    "fi": load_fi,
    "emotionroi": load_emotionroi,
    "emotion6": load_emotion6,
    "artphoto": load_artphoto,
    "abstract": load_abstract,
    "folder": load_folder,
}
BENCHMARKS = tuple(LOADERS)

__all__ = [
    "AGREE_SPLITS",
    "BENCHMARKS",
    "EKMAN_EMOTIONS",
    "MIKELS_EMOTIONS",
    "POSITIVE_EMOTIONS",
    "Benchmark",
    "Split",
    "class_sentiment",
    "load_benchmark",
]


def load_benchmark(kind: str, root: str | Path) -> Benchmark:
    root = Path(root)
    if kind not in LOADERS:
        raise UserError(f"unknown benchmark {kind!r}: use {', '.join(BENCHMARKS)}")
    if not root.exists():
        raise UserError(f"benchmark root not found: {root}")
    return LOADERS[kind](root)
