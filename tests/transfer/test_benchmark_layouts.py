"""The benchmarks beyond the paper and Twitter I's release layout, each laid out with files named
as its release names them (tiny generated images): classes, counts and folds as read."""

import io

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from smileynet.errors import UserError
from smileynet.transfer.benchmarks import (
    EKMAN_EMOTIONS,
    MIKELS_EMOTIONS,
    class_sentiment,
    load_benchmark,
)
from smileynet.transfer.benchmarks.emotions import (
    read_abstract_votes,
    read_emotionroi_list,
)
from smileynet.transfer.benchmarks.twitter import (
    AGREE_SPLITS,
    read_pairs,
    read_twitter2_labels,
)
from smileynet.transfer.experiment import _split_folds


def _tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (128, 128, 128)).save(buffer, format="JPEG")
    return buffer.getvalue()


JPEG = _tiny_jpeg()


def jpeg(path):
    """A tiny JPEG at `path` (parents made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(JPEG)


def listed(path):
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- Twitter I


def twitter_release(root, folds_dir, with_folds=True):
    """The release (`images/`, `ground_truth/twitter_*_agrees.txt`), agree files written from the
    real fold lists, with those fold lists unpacked into the same `ground_truth/`."""
    truth = root / "ground_truth"
    truth.mkdir(parents=True)
    labels = {}
    for split in AGREE_SPLITS:
        rows = [r for k in range(1, 6) for r in listed(folds_dir / split / f"test{k}" / "test.txt")]
        (truth / f"twitter_{split}.txt").write_text("".join(f"{n} {y}\r\n" for n, y in rows))
        labels.update(rows)
        if with_folds:
            (truth / split).symlink_to(folds_dir / split)
    for name in labels:
        jpeg(root / "images" / name)
    return labels


def test_twitter_i_release_layout_with_the_published_folds(tmp_path, shared_fixtures):
    folds_dir = shared_fixtures / "twitter-i-folds" / "ground_truth"
    labels = twitter_release(tmp_path, folds_dir)
    bench = load_benchmark("twitter", tmp_path)
    assert len(bench.paths) == len(labels) == 1269 and not bench.skipped
    assert bench.fold_source == "published" and {s.name: len(s.indices) for s in bench.splits} == {
        "five_agrees": 880,
        "four_agrees": 1115,
        "three_agrees": 1265,
    }
    by_name = {p.name: i for i, p in enumerate(bench.paths)}
    assert all(bench.labels[by_name[n]] == int(y) for n, y in labels.items())
    four = next(s for s in bench.splits if s.name == "four_agrees")
    train, test = four.folds[4]
    published = folds_dir / "four_agrees" / "test5"
    assert {bench.paths[i].name for i in test} == {n for n, _ in listed(published / "test.txt")}
    assert {bench.paths[i].name for i in train} == {n for n, _ in listed(published / "train.txt")}
    assert all(p.parent == tmp_path / "images" for p in bench.paths)


def test_twitter_i_release_layout_without_folds_draws_them(tmp_path, shared_fixtures):
    twitter_release(tmp_path, shared_fixtures / "twitter-i-folds" / "ground_truth", with_folds=False)
    (tmp_path / "images" / "1005887100_428632757510471681_BfLPOMjCYAADZ0V.jpg").unlink()
    bench = load_benchmark("twitter", tmp_path)
    assert bench.fold_source == "stratified" and all(s.folds is None for s in bench.splits)
    assert bench.skipped == {"missing file": 1} and len(bench.paths) == 1268


def test_twitter_i_errors_name_what_was_looked_for(tmp_path):
    with pytest.raises(UserError, match=r"looked for ground_truth/twitter_\{five,four,three\}_agrees.txt"):
        load_benchmark("twitter", tmp_path)
    (tmp_path / "ground_truth").mkdir()
    (tmp_path / "ground_truth" / "twitter_five_agrees.txt").write_text("a.jpg 1\nb.jpg 0\n")
    with pytest.raises(UserError, match="none of the 2 listed images is in .*images, Agg_AMT_Candidates"):
        load_benchmark("twitter", tmp_path)
    (tmp_path / "ground_truth" / "twitter_five_agrees.txt").write_text("../../etc/passwd 1\n")
    with pytest.raises(UserError, match="line 1: not a file name inside the benchmark"):
        load_benchmark("twitter", tmp_path)


# ---------------------------------------------------------------- Twitter II


def test_twitter_ii_partitions_are_the_published_folds(tmp_path):
    base = tmp_path / "twitter"
    base.mkdir()
    rows = ["Image\tSentiment"] + [f"{n}.jpg\t{'negative' if n % 4 == 0 else 'positive'}" for n in range(1, 31)]
    (base / "groundTruthLabel.txt").write_text("\r\n".join(rows) + "\r\n")
    for n in range(1, 31):
        if n % 6:  # the label file lists candidates that are not in the benchmark
            jpeg(base / f"partition{(n - 1) // 6 + 1}" / f"{n}.jpg")
    jpeg(base / "partition5" / "99.jpg")  # no label
    bench = load_benchmark("twitter2", tmp_path)
    assert bench.kind == "twitter2" and bench.classes == ["negative", "positive"]
    assert len(bench.paths) == 25 and bench.skipped == {"not in groundTruthLabel.txt": 1}
    assert list(np.bincount(bench.labels)) == [5, 20] and np.array_equal(bench.sentiment, bench.labels)
    (split,) = bench.splits
    assert bench.fold_source == "published" and len(split.folds) == 5
    for k, (train, test) in enumerate(split.folds, 1):
        assert {bench.paths[i].parent.name for i in test} == {f"partition{k}"}
        assert sorted([*train, *test]) == list(range(25))
    assert load_benchmark("twitter2", base).paths == bench.paths  # --root the twitter/ folder itself


def test_twitter_ii_errors(tmp_path):
    with pytest.raises(UserError, match="looked for groundTruthLabel.txt"):
        load_benchmark("twitter2", tmp_path)
    (tmp_path / "groundTruthLabel.txt").write_text("Image\tSentiment\n1.jpg\tneutral\n")
    with pytest.raises(UserError, match="line 2: expected '<file><TAB>positive|negative'"):
        load_benchmark("twitter2", tmp_path)
    (tmp_path / "groundTruthLabel.txt").write_text("Image\tSentiment\n1.jpg\tpositive\n")
    with pytest.raises(UserError, match="partition1 .. partition5"):
        load_benchmark("twitter2", tmp_path)


# ---------------------------------------------------------------- EmotionROI and Emotion6


def test_emotionroi_published_split(tmp_path):
    lines = {"training.txt": [], "testing.txt": []}
    for emotion in EKMAN_EMOTIONS:
        for n in range(1, 6):
            name = f"{emotion}/{n}.jpg"
            jpeg(tmp_path / "images" / name)
            jpeg(tmp_path / "ground_truth" / name)  # the stimuli maps: not samples
            lines["training.txt" if n <= 3 else "testing.txt"].append(name)
    (tmp_path / "images" / "joy" / "5.jpg").unlink()
    (tmp_path / "training_testing_split").mkdir()
    for file, names in lines.items():
        (tmp_path / "training_testing_split" / file).write_text("\n".join(names) + "\n")
    bench = load_benchmark("emotionroi", tmp_path)
    assert bench.classes == list(EKMAN_EMOTIONS) and class_sentiment(bench.classes) is None
    assert len(bench.paths) == 29 and bench.skipped == {"missing file": 1}
    assert list(np.bincount(bench.labels)) == [5, 5, 5, 4, 5, 5]
    (split,) = bench.splits
    ((train, test),) = split.folds
    assert bench.fold_source == "published" and len(train) == 18 and len(test) == 11
    assert all(bench.paths[i].stem in ("4", "5") for i in test)
    assert all(bench.paths[i].parts[-3] == "images" for i in range(29))

    (tmp_path / "training_testing_split" / "testing.txt").write_text("joy/1.jpg\n")
    with pytest.raises(UserError, match="joy/1.jpg is listed more than once"):
        load_benchmark("emotionroi", tmp_path)
    (tmp_path / "training_testing_split" / "testing.txt").write_text("joy/4.jpg\nhappy/1.jpg\n")
    with pytest.raises(UserError, match="testing.txt: line 2: expected '<emotion>/<file>'"):
        load_benchmark("emotionroi", tmp_path)
    for file in lines:
        (tmp_path / "training_testing_split" / file).unlink()
    bench = load_benchmark("emotionroi", tmp_path)  # no split files: the class folders, folds drawn
    assert bench.fold_source == "stratified" and len(bench.paths) == 29


def test_emotion6_class_folders(tmp_path):
    rows = ["\t".join(["image", "valence", "arousal", *EKMAN_EMOTIONS, "neutral"])]  # the distributions: not read
    for e, emotion in enumerate(EKMAN_EMOTIONS):
        for n in range(1, 4 + e):
            jpeg(tmp_path / "Emotion6" / "images" / emotion / f"{n}.jpg")
            rows.append(f"{emotion}/{n}.jpg\t5.1\t4.2\t0.1\t0.1\t0.1\t0.4\t0.1\t0.1\t0.1")
    (tmp_path / "Emotion6" / "ground_truth.txt").write_text("\n".join(rows) + "\n")
    bench = load_benchmark("emotion6", tmp_path / "Emotion6")
    assert bench.kind == "emotion6" and bench.classes == list(EKMAN_EMOTIONS) and bench.sentiment is None
    assert list(np.bincount(bench.labels)) == [3, 4, 5, 6, 7, 8] and bench.fold_source == "stratified"
    with pytest.raises(UserError, match="images/<emotion>/"):
        load_benchmark("emotion6", tmp_path)


# ---------------------------------------------------------------- ArtPhoto and Abstract


def test_artphoto_flat_folder(tmp_path):
    folder = tmp_path / "testImages_artphoto"
    spellings = {e: ("sad" if e == "sadness" else e) for e in MIKELS_EMOTIONS}
    for e, emotion in enumerate(MIKELS_EMOTIONS):
        for n in range(2 + e % 3):
            jpeg(folder / f"{spellings[emotion]}_{1000 + 10 * e + n}.jpg")
    (folder / "ReadMe.rtf").write_text("{\\rtf1 not an image}")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    jpeg(folder / "untitled.jpg")
    bench = load_benchmark("artphoto", tmp_path)
    assert bench.classes == list(MIKELS_EMOTIONS) and bench.skipped == {"no emotion in the file name": 1}
    assert list(np.bincount(bench.labels)) == [2, 3, 4, 2, 3, 4, 2, 3]
    assert all(bench.paths[i].name.startswith("sad_") for i in np.flatnonzero(bench.labels == 7))
    assert list(bench.sentiment[bench.labels == 7]) == [0, 0, 0] and list(bench.sentiment[bench.labels == 2]) == [1] * 4
    assert load_benchmark("artphoto", folder).paths == bench.paths


def test_abstract_votes_ties_dropped(tmp_path):
    folder = tmp_path / "testImages_abstract"
    header = ",'Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad'"
    votes = {
        "abstract_1.jpg": [5, 0, 1, 0, 2, 3, 1, 2],
        "abstract_2.jpg": [0, 1, 0, 9, 0, 1, 2, 1],
        "abstract_3.jpg": [4, 0, 0, 4, 1, 1, 2, 2],  # a tie: dropped
        "abstract_4.jpg": [0, 0, 1, 2, 0, 0, 3, 8],
        "abstract_5.jpg": [1, 0, 0, 7, 0, 2, 1, 3],
        "abstract_6.jpg": [0, 0, 0, 0, 0, 0, 0, 0],  # no votes: a tie too
        "abstract_7.jpg": [0, 0, 0, 1, 0, 0, 0, 6],
    }
    lines = [header] + [f"'{name}',{','.join(map(str, v))}" for name, v in votes.items()]
    folder.mkdir()
    (folder / "ABSTRACT_groundTruth.csv").write_text("\n".join(lines) + "\n")
    for name in votes:
        if name != "abstract_7.jpg":
            jpeg(folder / name)
    bench = load_benchmark("abstract", tmp_path)
    assert bench.classes == ["amusement", "contentment", "sadness"]
    assert [p.name for p in bench.paths] == ["abstract_1.jpg", "abstract_2.jpg", "abstract_4.jpg", "abstract_5.jpg"]
    assert list(bench.labels) == [0, 1, 2, 1] and list(bench.sentiment) == [1, 1, 0, 1]
    assert bench.skipped == {"tied votes": 2, "missing file": 1}
    with pytest.raises(UserError, match=r"abstract all: 2-fold .*\(smallest has 1\); lower --folds"):
        _split_folds(bench, bench.splits[0], 2, seed=0)  # a class smaller than the folds: says what to do
    (folder / "ABSTRACT_groundTruth.csv").write_text(header + "\n'abstract_1.jpg',1,2,3\n")
    with pytest.raises(UserError, match="line 2: expected a file and 8 vote counts"):
        load_benchmark("abstract", folder)


def test_unknown_benchmark_lists_them_all(tmp_path):
    with pytest.raises(UserError, match="use twitter, twitter2, fi, emotionroi, emotion6, artphoto, abstract, folder"):
        load_benchmark("iaps", tmp_path)


# ---------------------------------------------------------------- the parsers of release files


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)))
@example(b". 1\n")
@example(b"Image\tSentiment\n./\tpositive\n")
def test_release_listings_parse_or_refuse_in_one_line(tmp_path_factory, data):
    """Any bytes: a parse or a UserError, never another exception (the files come from outside)."""
    path = tmp_path_factory.mktemp("listing") / "list.txt"
    path.write_bytes(data)
    for parse in (read_pairs, read_twitter2_labels, read_abstract_votes, read_emotionroi_list):
        try:
            parse(path)
        except UserError as err:
            assert "\n" not in str(err).strip()


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.text("abc0123456789_", min_size=1, max_size=12).map(lambda s: s + ".jpg"), st.booleans(), max_size=20
    )
)
def test_twitter_ii_labels_round_trip(tmp_path_factory, labels):
    path = tmp_path_factory.mktemp("labels") / "groundTruthLabel.txt"
    rows = [f"{n}\t{'positive' if y else 'negative'}" for n, y in labels.items()]
    path.write_text("\r\n".join(["Image\tSentiment", *rows]) + "\r\n")
    if not labels:
        with pytest.raises(UserError, match="no labelled images"):
            read_twitter2_labels(path)
    else:
        assert read_twitter2_labels(path) == {n: int(y) for n, y in labels.items()}
    with open(path, "a") as f:
        f.write("a.jpg\tpositive\na.jpg\tnegative\n")
    with pytest.raises(UserError, match="a.jpg is labelled both positive and negative"):
        read_twitter2_labels(path)
