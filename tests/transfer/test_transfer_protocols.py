"""Transfer protocols on arrays with known answers."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from smileynet.lexicon import zero_shot_weights
from smileynet.transfer import protocols


def blobs(n=60, dim=12, classes=2, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = rng.normal(0, 5, size=(classes, dim))
    return centres[y] + rng.normal(0, spread, size=(n, dim)), y


def test_stratified_folds_partition_and_keep_class_balance():
    y = np.array([0] * 30 + [1] * 20)
    folds = protocols.stratified_folds(y, 5, seed=3)
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests) == list(range(50))
    for train, test in folds:
        assert not set(train) & set(test)
        assert np.sum(y[test] == 0) == 6 and np.sum(y[test] == 1) == 4
    again = protocols.stratified_folds(y, 5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, protocols.stratified_folds(y, 5, seed=4)))
    with pytest.raises(ValueError):
        protocols.stratified_folds(np.array([0] * 10 + [1] * 3), 5, seed=0)


@pytest.mark.parametrize("classes", [2, 4])
def test_separable_embeddings_give_perfect_1nn_and_heads(classes):
    x, y = blobs(classes=classes)
    folds = protocols.stratified_folds(y, 5, seed=0)
    knn = protocols.fold_accuracies(protocols.knn_predictions(x, y, folds), y, folds)
    linear = protocols.fold_accuracies(protocols.head_predictions(x, y, folds, "linear"), y, folds)
    mlp = protocols.fold_accuracies(protocols.head_predictions(x, y, folds, "mlp"), y, folds)
    assert knn == [1.0] * 5 and linear == [1.0] * 5 and mlp == [1.0] * 5
    assert protocols.summary(knn) == {"mean": 1.0, "std": 0.0, "folds": [1.0] * 5}


def test_labels_unrelated_to_embeddings_are_not_learned():
    x, _ = blobs(n=200, seed=1)
    y = np.random.default_rng(2).integers(0, 2, 200)
    folds = protocols.stratified_folds(y, 5, seed=0)
    knn = protocols.summary(protocols.fold_accuracies(protocols.knn_predictions(x, y, folds), y, folds))
    assert knn["mean"] < 0.7 and knn["std"] > 0


def test_mapped_accuracy_and_confusion():
    y = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    folds = [(np.arange(4), np.arange(4, 8))]
    predicted = [np.array([2, 1, 0, 0])]  # emotion wrong 3 of 4; sentiment right for 0->2, 2->0
    mapping = np.array([1, 0, 1, 0])
    assert protocols.fold_accuracies(predicted, y, folds) == [0.25]
    assert protocols.fold_accuracies(predicted, y, folds, mapping) == [0.75]
    matrix = protocols.confusion(predicted, y, folds, 4)
    assert matrix.sum() == 4 and matrix[0, 2] == 1 and matrix[3, 0] == 1 and matrix[1, 1] == 1


def test_zero_shot_weights_balance_the_polarities():
    scores = np.array([0.8, 0.2, 0.4, -0.5, 0.0])
    binary = zero_shot_weights(scores, binary=True)
    assert np.allclose(binary, [1 / 3, 1 / 3, 1 / 3, -1, 0])
    continuous = zero_shot_weights(scores, binary=False)
    assert np.allclose(continuous, [0.8 / 1.4, 0.2 / 1.4, 0.4 / 1.4, -1, 0])


def test_zero_shot_scores_follow_the_planted_emoji_responses():
    weights = zero_shot_weights(np.array([0.7, -0.6]), binary=True)
    logits = np.array([[4.0, -4.0], [-4.0, 4.0], [0.0, 0.0]])
    scores = protocols.zero_shot_scores(logits, weights)
    assert scores[0] > 0.9 and scores[1] < -0.9 and abs(scores[2]) < 1e-12


def test_spearman_columns_match_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    x[:, 3] = 1.0  # constant column: rho 0
    target = (x[:, 0] + 0.3 * rng.normal(size=50) > 0).astype(float)
    rho = protocols.spearman_columns(x, target)
    for j in (0, 1, 2, 4, 5):
        assert rho[j] == pytest.approx(spearmanr(x[:, j], target).statistic)
    assert rho[3] == 0.0
    assert protocols.top_correlated(rho, 1)[0][0] == 0
    assert protocols.top_correlated(-rho, 1, negative=True)[0][0] == 0


def test_emotional_fingerprint_is_the_mean_response_per_class():
    logits = np.array([[0.0, 10.0], [0.0, -10.0], [10.0, 0.0]])
    y = np.array([0, 0, 1])
    fp = protocols.emotional_fingerprint(logits, y, 3)
    assert fp.shape == (2, 3)
    assert fp[0, 0] == pytest.approx(0.5) and fp[1, 0] == pytest.approx(0.5, abs=1e-4)
    assert fp[0, 1] == pytest.approx(1.0, abs=1e-4) and fp[1, 1] == pytest.approx(0.5)
    assert list(fp[:, 2]) == [0.0, 0.0]


def test_class_correlations_find_the_planted_dimension():
    rng = np.random.default_rng(0)
    y = np.arange(80) % 4
    x = rng.normal(size=(80, 10))
    for c in range(4):
        x[y == c, 2 * c] += 5.0
    table = protocols.class_correlations(x, y, 4)
    assert table.shape == (4, 10)
    assert [int(np.argmax(row)) for row in table] == [0, 2, 4, 6]


def test_low_dimensional_maps_have_two_columns():
    x, _ = blobs(n=20)
    assert protocols.pca_2d(x).shape == (20, 2)
    assert protocols.tsne_2d(x[:8]).shape == (8, 2)
