"""Evaluation protocols: small functions over cached embedding arrays (dinov2's shape).

Every cross-validated protocol takes `folds`, a list of (train, test) index arrays into the
rows of `x`, and returns per-fold accuracies; `summary` turns them into mean and std.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata

Folds = list[tuple[np.ndarray, np.ndarray]]


def summary(values: list[float]) -> dict[str, object]:
    """Mean and standard deviation (ddof=0) over folds, with the folds themselves."""
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std()), "folds": [float(v) for v in array]}


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> Folds:
    """Seeded stratified k-fold over `labels` (positions 0..n-1)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = np.bincount(labels).min() if len(labels) else 0
    if k < 2 or smallest < k:
        raise ValueError(
            f"{k}-fold cross-validation needs at least {k} samples of every class (smallest has {smallest})"
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros(len(labels)), labels)]


def knn_predictions(x: np.ndarray, y: np.ndarray, folds: Folds, workers: int | None = None) -> list[np.ndarray]:
    """1-nearest-neighbour (Euclidean) predictions on each fold's test rows (paper Table 2)."""
    from sklearn.neighbors import KNeighborsClassifier

    predictions = []
    for train, test in folds:
        knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute", n_jobs=workers)
        predictions.append(knn.fit(x[train], y[train]).predict(x[test]))
    return predictions


def make_head(kind: str, seed: int):
    """t(.): a linear classifier (multinomial logistic regression) or a one-hidden-layer MLP,
    both on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    if kind == "mlp":
        return make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=200, random_state=seed)
        )
    raise ValueError(f"unknown head {kind!r}: use linear or mlp")


def head_predictions(
    x: np.ndarray, y: np.ndarray, folds: Folds, kind: str = "linear", seed: int = 0
) -> list[np.ndarray]:
    """The transfer head t(.) trained on each fold's train rows, predicting its test rows (Table 3).
    A head that stops at its iteration cap is still a head: that warning is not repeated per fold."""
    from sklearn.exceptions import ConvergenceWarning

    predictions = []
    for train, test in folds:
        head = make_head(kind, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            predictions.append(head.fit(x[train], y[train]).predict(x[test]))
    return predictions


def fold_accuracies(
    predictions: list[np.ndarray], y: np.ndarray, folds: Folds, mapping: np.ndarray | None = None
) -> list[float]:
    """Accuracy per fold; `mapping` first maps classes (e.g. emotion -> sentiment) on both sides."""
    values = []
    for predicted, (_, test) in zip(predictions, folds):
        truth = y[test]
        if mapping is not None:
            predicted, truth = mapping[predicted], mapping[truth]
        values.append(float(np.mean(predicted == truth)))
    return values


def confusion(predictions: list[np.ndarray], y: np.ndarray, folds: Folds, num_classes: int) -> np.ndarray:
    """Counts summed over the folds' test rows: rows are true classes, columns predictions (Fig. 6)."""
    from sklearn.metrics import confusion_matrix

    truth = np.concatenate([y[test] for _, test in folds])
    return confusion_matrix(truth, np.concatenate(predictions), labels=np.arange(num_classes))


def zero_shot_scores(logits: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sentiment score per image: the weighted sum of its emoji probabilities; > 0 means positive."""
    return expit(np.asarray(logits, dtype=np.float64)) @ weights


def spearman_columns(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Spearman's rho of every column of `x` with `target` (0 where a column is constant)."""
    ranks = rankdata(x, axis=0)
    ranks -= ranks.mean(axis=0)
    t = rankdata(target)
    t -= t.mean()
    denom = np.sqrt((ranks**2).sum(axis=0) * (t**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ranks * t[:, None]).sum(axis=0) / denom
    return np.nan_to_num(rho)


def top_correlated(rho: np.ndarray, k: int, negative: bool = False) -> list[tuple[int, float]]:
    """The k columns with the highest rho (or the lowest, for the negative side), as (index, rho)."""
    order = np.argsort(rho, kind="stable") if negative else np.argsort(-rho, kind="stable")
    return [(int(i), float(rho[i])) for i in order[:k]]


def class_correlations(x: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """Spearman's rho of each embedding dimension with each class (one-vs-rest): classes x dims (Table 5)."""
    return np.stack([spearman_columns(x, (y == c).astype(np.float64)) for c in range(num_classes)])


def emotional_fingerprint(logits: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """Each emoji's mean response (sigmoid probability) over the images of each class:
    emojis x classes, the paper's emoji emotional fingerprint (Fig. 7)."""
    probs = expit(np.asarray(logits, dtype=np.float64))
    return np.stack(
        [probs[y == c].mean(axis=0) if np.any(y == c) else np.zeros(probs.shape[1]) for c in range(num_classes)], axis=1
    )


def pca_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """The first two principal components (Fig. 4)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(x)


def tsne_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE map of the rows of `x` (Fig. 8: emojis by fingerprint), standardised per column.
    Exact gradients: a vocabulary is a few hundred rows at most, where Barnes-Hut is slower."""
    from sklearn.manifold import TSNE

    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-12)
    perplexity = float(min(30.0, max(1.0, (len(x) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", method="exact", random_state=seed).fit_transform(x)
