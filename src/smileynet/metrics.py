"""Emoji-prediction metrics of the paper (Sec. 4.1), used by training, `evaluate` and the report.

    mtop_k(scores, targets, k)          eq. 2-3: per sample |top-k ∩ labels| / min(k, |labels|), averaged
    official_mtop_k(scores, targets, k) the same as the official scripts compute it (see below)
    per_category_auc(scores, targets)   ROC AUC of each category (NaN where it has no positive or no negative)
    mean_auc(scores, targets)           mean over the categories that have an AUC
    mean_ap(scores, targets)            mean average precision over the categories with positives
    evaluate_scores(scores, targets, vocab) -> dict with mtop1/3/5, auc, map, n, random, per_category

`scores` are any monotone scores (logits or probabilities; the ranking is all that counts), N x C;
`targets` are multi-hot N x C. ROC AUC and AP are scikit-learn's, so the numbers mean what
everyone else's mean.

Two conventions for mTop-k, which differ only where a sample has no label or scores tie:
- ours (default): eq. 2 is undefined for a sample without labels, so it is left out of the mean;
  tied scores rank the lower category index first (a stable sort: the same on every machine);
- the official scripts' (`count_unlabelled=True`, `evaluate --count-unlabelled`): a sample
  without labels scores 0 and counts in N, and the top k come from `torch.topk`, whose order
  among tied scores is the kernel's own (not the lowest index), as in the official code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from smileynet.contracts import N_KEY, PER_CATEGORY_KEY, RANDOM_KEY, TOP_KS, mtop_key
from smileynet.vocab import Vocabulary, emoji_name


def _check(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets) > 0.5
    if scores.ndim != 2 or scores.shape != targets.shape:
        raise ValueError(f"scores {scores.shape} and targets {targets.shape} must both be N x C")
    return scores, targets


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """N x k indices of the k highest scores per row; ties go to the lower category index."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :k]


def mtop_k_per_sample(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """Eq. 2 for every sample; NaN for samples without any label (eq. 2 is undefined there)."""
    scores, targets = _check(scores, targets)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, scores.shape[1])
    hits = np.take_along_axis(targets, top_k_indices(scores, k), axis=1).sum(axis=1)
    sizes = targets.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, hits / np.minimum(k, sizes), np.nan)


def mtop_k(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Eq. 3: the mean of eq. 2 over the samples that have at least one label (NaN if none has)."""
    values = mtop_k_per_sample(scores, targets, k)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


def official_mtop_k(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Eq. 3 by the official scripts' convention: every sample counts in N, one without labels
    scores 0, and the top k are `torch.topk`'s (its order among tied scores, as the official
    code ranks them). NaN for an empty split."""
    import torch

    scores, targets = _check(scores, targets)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not len(scores):
        return math.nan
    k = min(k, scores.shape[1])
    top = torch.from_numpy(scores.astype(np.float32)).topk(k, dim=1, largest=True, sorted=True).indices.numpy()
    hits = np.take_along_axis(targets, top, axis=1).sum(axis=1)
    sizes = targets.sum(axis=1)
    values = np.where(sizes > 0, hits / np.maximum(np.minimum(k, sizes), 1), 0.0)
    return float(values.mean())


def per_category_auc(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """ROC AUC per category; NaN where the category has no positive (or no negative) sample."""
    from sklearn.metrics import roc_auc_score  # here, not at the top: predict's top-k needs no scikit-learn

    scores, targets = _check(scores, targets)
    aucs = np.full(scores.shape[1], np.nan)
    for c in range(scores.shape[1]):
        positives = int(targets[:, c].sum())
        if 0 < positives < len(targets):
            aucs[c] = roc_auc_score(targets[:, c], scores[:, c])
    return aucs


def per_category_ap(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Average precision per category; NaN where the category has no positive sample."""
    from sklearn.metrics import average_precision_score

    scores, targets = _check(scores, targets)
    aps = np.full(scores.shape[1], np.nan)
    for c in range(scores.shape[1]):
        if targets[:, c].any():
            aps[c] = average_precision_score(targets[:, c], scores[:, c])
    return aps


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


def mean_auc(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean ROC AUC over the categories that have both positives and negatives."""
    return _nanmean(per_category_auc(scores, targets))


def mean_ap(scores: np.ndarray, targets: np.ndarray) -> float:
    """mAP over the categories that have positives."""
    return _nanmean(per_category_ap(scores, targets))


def summary(
    scores: np.ndarray, targets: np.ndarray, ks: Sequence[int] = TOP_KS, count_unlabelled: bool = False
) -> dict[str, float]:
    """The headline numbers: mtop{k} for each k, auc, map (what validation logs)."""
    top = official_mtop_k if count_unlabelled else mtop_k
    result = {mtop_key(k): top(scores, targets, k) for k in ks}
    result["auc"] = mean_auc(scores, targets)
    result["map"] = mean_ap(scores, targets)
    return result


def random_scores(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Uniform random scores: the paper's "Random performance" row."""
    return np.random.default_rng(seed).random(shape)


def evaluate_scores(
    scores: np.ndarray,
    targets: np.ndarray,
    vocab: Vocabulary | Sequence[str],
    seed: int = 0,
    count_unlabelled: bool = False,
) -> dict:
    """Every emoji-prediction metric of a split as JSON-ready data (the evaluation JSON keys of docs/architecture.md).

    `n` is every sample of the split, `unlabelled` how many of them have no label, and
    `mtop_convention` says how mTop-k treated those (module docstring): "skip unlabelled" (ours)
    or "official" (`count_unlabelled`: scored 0 and counted in N, torch.topk ties).
    `random` holds the same headline numbers for uniform random scores on the same targets;
    `per_category` one row per emoji (auc and ap are None where undefined); `skipped_categories`
    lists the emojis left out of the mean AUC because the split has no positive (or no negative)."""
    scores, targets = _check(scores, targets)
    emojis = list(vocab.emojis) if isinstance(vocab, Vocabulary) else list(vocab)
    if len(emojis) != scores.shape[1]:
        raise ValueError(f"vocabulary has {len(emojis)} emojis but the scores have {scores.shape[1]} columns")
    aucs, aps = per_category_auc(scores, targets), per_category_ap(scores, targets)
    positives = targets.sum(axis=0)
    top = official_mtop_k if count_unlabelled else mtop_k
    result: dict = {mtop_key(k): top(scores, targets, k) for k in TOP_KS}
    result.update(
        auc=_nanmean(aucs),
        map=_nanmean(aps),
        **{N_KEY: int(len(scores))},
        unlabelled=int((targets.sum(axis=1) == 0).sum()),
        mtop_convention="official" if count_unlabelled else "skip unlabelled",
    )
    result[RANDOM_KEY] = {
        **summary(random_scores(scores.shape, seed), targets, count_unlabelled=count_unlabelled),
        N_KEY: int(len(scores)),
    }
    result[PER_CATEGORY_KEY] = [
        {"emoji": e, "name": emoji_name(e), "auc": _none(aucs[c]), "ap": _none(aps[c]), "positives": int(positives[c])}
        for c, e in enumerate(emojis)
    ]
    result["skipped_categories"] = [e for c, e in enumerate(emojis) if np.isnan(aucs[c])]
    result[RANDOM_KEY] = {k: _none(v) for k, v in result[RANDOM_KEY].items()}
    return {k: _none(v) for k, v in result.items()}


def _none(value):
    """JSON has no NaN: an undefined metric is null (other values pass through)."""
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value
