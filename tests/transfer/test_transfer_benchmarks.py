"""Benchmark readers: Twitter I (both layouts, the real published fold lists), FI, folder/CSV."""

import numpy as np
import pytest

from smileynet.errors import UserError
from smileynet.transfer.benchmarks import (
    MIKELS_EMOTIONS,
    class_sentiment,
    load_benchmark,
)


def fold_names(fixtures, split, fold, part):
    text = (fixtures / "twitter-i-folds" / "ground_truth" / split / f"test{fold}" / f"{part}.txt").read_text()
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def test_published_fold_lists_drive_the_twitter_splits(tmp_path, shared_fixtures, jpeg_bytes):
    """Labels from the real fold lists (no agree files), images named as in the benchmark."""
    (tmp_path / "ground_truth").symlink_to(shared_fixtures / "twitter-i-folds" / "ground_truth")
    images = tmp_path / "images"
    images.mkdir()
    names = {
        n
        for split in ("five_agrees", "four_agrees", "three_agrees")
        for k in range(1, 6)
        for n in fold_names(shared_fixtures, split, k, "test")
    }
    assert "1005887100_428632757510471681_BfLPOMjCYAADZ0V.jpg" in names
    data = jpeg_bytes(128, size=8)
    for name in sorted(names)[1:]:  # one image is missing from disk
        (images / name).write_bytes(data)
    bench = load_benchmark("twitter", tmp_path)
    assert bench.fold_source == "published" and bench.classes == ["negative", "positive"]
    assert bench.skipped == {"missing file": 1} and len(bench.paths) == len(names) - 1
    sizes = {s.name: len(s.indices) for s in bench.splits}
    missing = sorted(names)[0]
    for split, published in (("five_agrees", 880), ("four_agrees", 1115), ("three_agrees", 1265)):
        listed = {n for k in range(1, 6) for n in fold_names(shared_fixtures, split, k, "test")}
        assert len(listed) == published and sizes[split] == published - (missing in listed)
    assert len(names) == 1269  # the paper's Twitter I size
    five = next(s for s in bench.splits if s.name == "five_agrees")
    assert len(five.folds) == 5
    train, test = five.folds[1]
    assert not set(train) & set(test)
    by_name = {p.name: i for i, p in enumerate(bench.paths)}
    assert {bench.paths[i].name for i in test} == set(fold_names(shared_fixtures, "five_agrees", 2, "test")) - {missing}
    assert {bench.paths[i].name for i in train} == set(fold_names(shared_fixtures, "five_agrees", 2, "train")) - {
        missing
    }
    assert bench.labels[by_name["1005887100_428632757510471681_BfLPOMjCYAADZ0V.jpg"]] == 0
    assert bench.labels[by_name["1939748214_466054312657829888_BnfB7ZICMAAtq8i.jpg"]] == 1
    assert np.array_equal(bench.sentiment, bench.labels)


def test_agg_amt_candidates_layout_with_agree_files(tmp_path, jpeg_bytes):
    folder = tmp_path / "Agg_AMT_Candidates"
    folder.mkdir()
    lines = {
        "five_agrees": ["a.jpg 1", "b.jpg 0"],
        "four_agrees": ["a.jpg 1", "b.jpg 0", "c.jpg 1"],
        "three_agrees": ["a.jpg 1", "b.jpg 0", "c.jpg 1", "d.jpg 0"],
    }
    for split, rows in lines.items():
        (tmp_path / f"twitter_{split}.txt").write_text("\n".join(rows) + "\n")
    for name in "abcd":
        (folder / f"{name}.jpg").write_bytes(jpeg_bytes(10, size=8))
    bench = load_benchmark("twitter", tmp_path)
    assert bench.fold_source == "stratified" and all(s.folds is None for s in bench.splits)
    assert [p.name for p in bench.paths] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert list(bench.labels) == [1, 0, 1, 0]
    assert {s.name: len(s.indices) for s in bench.splits} == {"five_agrees": 2, "four_agrees": 3, "three_agrees": 4}


def test_twitter_rejects_bad_lines_and_empty_roots(tmp_path):
    with pytest.raises(UserError, match="looked for ground_truth/twitter_"):
        load_benchmark("twitter", tmp_path)
    (tmp_path / "twitter_five_agrees.txt").write_text("a.jpg positive\n")
    with pytest.raises(UserError, match="line 1"):
        load_benchmark("twitter", tmp_path)
    with pytest.raises(UserError, match="not found"):
        load_benchmark("fi", tmp_path / "nowhere")


def test_fi_layout_drops_repeated_placeholders(tmp_path, jpeg_bytes):
    placeholder = jpeg_bytes(200, size=12)
    for e, emotion in enumerate(MIKELS_EMOTIONS):
        folder = tmp_path / emotion
        folder.mkdir()
        for n in range(3):
            (folder / f"{emotion}_{n:04d}.jpg").write_bytes(jpeg_bytes(20 * e + n, size=8))
    for n in range(6):
        (tmp_path / MIKELS_EMOTIONS[n % 8] / f"{MIKELS_EMOTIONS[n % 8]}_{100 + n:04d}.jpg").write_bytes(placeholder)
    bench = load_benchmark("fi", tmp_path)
    assert bench.classes == list(MIKELS_EMOTIONS) and len(bench.paths) == 24
    assert bench.skipped == {"placeholder (repeated identical file)": 6}
    assert list(np.bincount(bench.labels)) == [3] * 8
    assert list(bench.sentiment[bench.labels == 0]) == [1, 1, 1]  # amusement is positive
    assert list(bench.sentiment[bench.labels == 7]) == [0, 0, 0]  # sadness is negative


def test_folder_tree_and_csv(tmp_path, jpeg_bytes):
    for label in ("cats", "dogs"):
        (tmp_path / "tree" / label / "sub").mkdir(parents=True)
        for n in range(2):
            (tmp_path / "tree" / label / "sub" / f"{n}.png").write_bytes(jpeg_bytes(n, size=8))
    (tmp_path / "tree" / "cats" / "notes.txt").write_text("not an image")
    bench = load_benchmark("folder", tmp_path / "tree")
    assert bench.classes == ["cats", "dogs"] and len(bench.paths) == 4 and bench.sentiment is None

    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "x.jpg").write_bytes(jpeg_bytes(1, size=8))
    (tmp_path / "csv" / "y.jpg").write_bytes(jpeg_bytes(2, size=8))
    (tmp_path / "csv" / "labels.csv").write_text("path,label\nx.jpg,positive\ny.jpg,negative\ngone.jpg,negative\n")
    bench = load_benchmark("folder", tmp_path / "csv")
    assert [p.name for p in bench.paths] == ["x.jpg", "y.jpg"] and bench.skipped == {"missing file": 1}
    assert list(bench.sentiment) == [1, 0]
    (tmp_path / "csv" / "bad.csv").write_text("file,class\nx.jpg,a\n")
    with pytest.raises(UserError, match="path,label"):
        load_benchmark("folder", tmp_path / "csv" / "bad.csv")


def test_class_sentiment_mappings():
    assert class_sentiment(["negative", "positive"]) == [0, 1]
    assert class_sentiment(["0", "1"]) == [0, 1]
    assert class_sentiment(["anger", "awe"]) == [0, 1]
    assert class_sentiment(["cats", "dogs"]) is None
    assert class_sentiment(["positive", "pos"]) is None
