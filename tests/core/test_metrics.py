"""smileynet.metrics: mTop-k against hand-computed cases and scikit-learn, AUC/mAP against scikit-learn."""

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, top_k_accuracy_score

from smileynet import metrics
from smileynet.vocab import Vocabulary


def test_mtop_k_hand_cases():
    scores = np.array(
        [
            [0.9, 0.8, 0.1, 0.0],  # labels {0, 2}: top-1 {0} -> 1/1; top-3 {0,1,2} -> 2/2
            [0.1, 0.2, 0.3, 0.4],  # labels {0}: top-1 {3} -> 0; top-3 {3,2,1} -> 0/1
            [0.5, 0.1, 0.4, 0.3],  # labels {1, 2, 3}: top-1 {0} -> 0; top-3 {0,2,3} -> 2/3
        ]
    )
    targets = np.array([[1, 0, 1, 0], [1, 0, 0, 0], [0, 1, 1, 1]])
    np.testing.assert_allclose(metrics.mtop_k_per_sample(scores, targets, 1), [1, 0, 0])
    np.testing.assert_allclose(metrics.mtop_k_per_sample(scores, targets, 3), [1, 0, 2 / 3])
    assert metrics.mtop_k(scores, targets, 3) == pytest.approx((1 + 0 + 2 / 3) / 3)
    # k beyond the vocabulary: every label is in the "top k"
    assert metrics.mtop_k(scores, targets, 5) == 1.0


def test_mtop_k_ties_go_to_the_lower_index_and_unlabelled_samples_are_left_out():
    scores = np.array([[0.5, 0.5, 0.5], [0.2, 0.9, 0.1]])
    targets = np.array([[1, 0, 0], [0, 0, 0]])
    assert metrics.mtop_k(scores, targets, 1) == 1.0
    assert metrics.mtop_k(np.array([[0.5, 0.5]]), np.array([[0, 1]]), 1) == 0.0
    assert np.isnan(metrics.mtop_k(scores[1:], targets[1:], 1))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_mtop_k_equals_top_k_accuracy_on_single_label_data(k):
    rng = np.random.default_rng(k)
    scores = rng.random((300, 12))
    labels = rng.integers(0, 12, 300)
    targets = np.eye(12)[labels]
    assert metrics.mtop_k(scores, targets, k) == pytest.approx(
        top_k_accuracy_score(labels, scores, k=k, labels=range(12))
    )


def test_auc_and_map_match_scikit_learn_and_skip_categories_without_positives():
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 6)) < 0.2).astype(np.float32)
    targets[:, 4] = 0  # no positive
    scores = rng.normal(size=(200, 6)) + 1.5 * targets
    kept = [0, 1, 2, 3, 5]
    per = metrics.per_category_auc(scores, targets)
    assert np.isnan(per[4])
    np.testing.assert_allclose(per[kept], [roc_auc_score(targets[:, c], scores[:, c]) for c in kept])
    assert metrics.mean_auc(scores, targets) == pytest.approx(
        roc_auc_score(targets[:, kept], scores[:, kept], average="macro")
    )
    assert metrics.mean_ap(scores, targets) == pytest.approx(
        average_precision_score(targets[:, kept], scores[:, kept], average="macro")
    )


def test_evaluate_scores_has_the_design_keys_and_is_strict_json():
    vocab = Vocabulary.from_emojis(["😂", "😍", "👻", "💀"])
    rng = np.random.default_rng(1)
    targets = np.zeros((400, 4))
    targets[np.arange(400), rng.integers(0, 3, 400)] = 1  # 💀 never appears
    scores = rng.normal(size=(400, 4)) + 2 * targets
    result = metrics.evaluate_scores(scores, targets, vocab)
    for key in ("mtop1", "mtop3", "mtop5", "auc", "map", "n", "random", "per_category"):
        assert key in result
    assert set(result["random"]) >= {"mtop1", "mtop3", "mtop5", "auc", "map", "n"}
    assert result["n"] == 400 and result["skipped_categories"] == ["💀"]
    skull = result["per_category"][3]
    assert skull["emoji"] == "💀" and skull["auc"] is None and skull["positives"] == 0
    assert result["auc"] > 0.8 and abs(result["random"]["auc"] - 0.5) < 0.1
    assert result["mtop1"] > result["random"]["mtop1"]
    json.dumps(result, allow_nan=False)


def test_evaluate_scores_rejects_shape_mismatch():
    with pytest.raises(ValueError):
        metrics.evaluate_scores(np.zeros((3, 4)), np.zeros((3, 4)), ["😂", "😍"])
    with pytest.raises(ValueError):
        metrics.mtop_k(np.zeros((3, 4)), np.zeros((3, 5)), 1)


def _official_formula(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """The official scripts' mTop-k written out sample by sample: torch.topk on the logits, then
    |top-k ∩ labels| / min(k, |labels|), 0 for a sample without labels, mean over every sample."""
    import torch

    top = torch.from_numpy(scores.astype(np.float32)).topk(k=k, dim=1, largest=True, sorted=True).indices.tolist()
    values = []
    for row, target in zip(top, targets):
        labels = set(np.flatnonzero(target).tolist())
        values.append(len(set(row) & labels) / min(k, len(labels)) if labels else 0.0)
    return sum(values) / len(values)


def _fixture_with_unlabelled_and_tied_rows():
    rng = np.random.default_rng(7)
    scores = rng.normal(size=(60, 10)).astype(np.float32)
    targets = (rng.random((60, 10)) < 0.2).astype(np.float32)
    targets[np.arange(60), np.arange(60) % 10] = 1
    targets[::6] = 0  # 10 samples without any label
    scores[1::5] = 0.25  # 12 rows where every category ties
    scores[2::7, :6] = 1.5  # and rows whose first six categories tie at the top
    return scores, targets


@pytest.mark.parametrize("k", [1, 3, 5])
def test_count_unlabelled_equals_the_official_formula_on_unlabelled_and_tied_rows(k):
    scores, targets = _fixture_with_unlabelled_and_tied_rows()
    assert metrics.official_mtop_k(scores, targets, k) == pytest.approx(
        _official_formula(scores, targets, k), abs=1e-12
    )


def test_our_convention_skips_unlabelled_rows_and_ranks_ties_by_the_lower_index():
    scores, targets = _fixture_with_unlabelled_and_tied_rows()
    labelled = targets.sum(axis=1) > 0
    expected = []
    for row, target in zip(scores[labelled], targets[labelled]):
        order = sorted(range(10), key=lambda c: (-row[c], c))[:3]
        expected.append(float(target[order].sum()) / min(3, int(target.sum())))
    assert metrics.mtop_k(scores, targets, 3) == pytest.approx(np.mean(expected), abs=1e-12)
    # the unlabelled rows alone pull the official number down by their share of N
    only_labelled = metrics.official_mtop_k(scores[labelled], targets[labelled], 3)
    assert metrics.official_mtop_k(scores, targets, 3) == pytest.approx(only_labelled * labelled.sum() / len(scores))


def test_evaluate_scores_reports_unlabelled_samples_and_the_convention_used():
    scores, targets = _fixture_with_unlabelled_and_tied_rows()
    emojis = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃"]
    ours = metrics.evaluate_scores(scores, targets, emojis)
    official = metrics.evaluate_scores(scores, targets, emojis, count_unlabelled=True)
    for result in (ours, official):
        assert result["n"] == 60 and result["unlabelled"] == 10
    assert ours["mtop_convention"] == "skip unlabelled" and official["mtop_convention"] == "official"
    assert official["mtop3"] == pytest.approx(_official_formula(scores, targets, 3))
    assert official["mtop3"] < ours["mtop3"]
    assert official["auc"] == ours["auc"]  # only mTop-k changes
