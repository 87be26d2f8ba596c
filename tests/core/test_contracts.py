"""The shared contracts: one release-CSV reader that sample, download, train/evaluate/embed and
the report agree through (image ids, urls, labels), and its behaviour on any input."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smileynet import contracts
from smileynet.data.layout import local_records
from smileynet.data.release import iter_release_rows
from smileynet.data.samples import iter_samples
from smileynet.download.url_tables import split_tables
from smileynet.errors import UserError
from smileynet.report.dataset import release_emoji_counts
from smileynet.sample.release import read_release
from smileynet.vocab import Vocabulary

EMOJIS = ["😂", "😍", "👻", "💀"]
VOCAB = Vocabulary.from_emojis(EMOJIS)


def write_split(root: Path, split: str, header: list[str], rows: list[list[str]]) -> Path:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    path = root / f"{split}.csv"
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def release_folder(tmp_path: Path) -> Path:
    """train.csv without ids, valid.csv with an image_id and tweet_id column, test.csv with post_id;
    the images exist on disk so the local readers can open them."""
    root = tmp_path / "release"
    (root / "img").mkdir(parents=True)
    for i in range(7):
        (root / "img" / f"{i}.jpg").write_bytes(b"\xff\xd8 not decoded here")
    VOCAB.write_categories_csv(root / "categories.csv")
    write_split(root, "train", ["url", "labels"], [["img/0.jpg", "[0, 3]"], ["img/1.jpg", "[2]"], ["img/2.jpg", "[]"]])
    write_split(
        root,
        "valid",
        ["tweet_id", "url", "labels", "image_id"],
        [["91", "img/3.jpg", "(1,)", "v-a"], ["92", "img/4.jpg", "[1, 0]", ""]],
    )
    write_split(root, "test", ["url", "labels", "post_id"], [["img/5.jpg", "[3]", "p5"], ["img/6.jpg", "[2,]", ""]])
    return root


EXPECTED = {
    "train": [
        ("train_0", "img/0.jpg", [0, 3], None),
        ("train_1", "img/1.jpg", [2], None),
        ("train_2", "img/2.jpg", [], None),
    ],
    "valid": [("v-a", "img/3.jpg", [1], "91"), ("valid_1", "img/4.jpg", [1, 0], "92")],
    "test": [("test_0", "img/5.jpg", [3], "p5"), ("test_1", "img/6.jpg", [2], None)],
}


def test_the_reader_names_every_row_by_the_documented_rule(release_folder):
    for split, expected in EXPECTED.items():
        rows = list(iter_release_rows(release_folder / f"{split}.csv", split, len(VOCAB)))
        assert [(r.image_id, r.url, r.labels, r.post_id) for r in rows] == expected
    assert contracts.release_image_id("train", 7) == "train_7"


def test_sample_download_data_and_report_agree_on_ids_urls_and_labels(release_folder):
    manifest = read_release(release_folder).manifest
    tables = split_tables(release_folder)
    for split, expected in EXPECTED.items():
        ids = [e[0] for e in expected]
        urls = [e[1] for e in expected]
        labels = [e[2] for e in expected]
        posts = [e[3] for e in expected]
        rows = manifest.filter(manifest["split"] == split)
        assert (rows["image_id"].to_list(), rows["url"].to_list(), rows["labels"].to_list()) == (ids, urls, labels)
        assert rows["post_id"].to_list() == posts
        table = tables[split].to_pydict()
        assert (table["image_id"], table["url"], table["labels"], table["post_id"]) == (ids, urls, labels, posts)
        records = local_records(release_folder, split, VOCAB)
        assert [(r.meta["image_id"], r.meta["url"], r.labels) for r in records] == list(zip(ids, urls, labels))
        assert [r.path for r in records] == [release_folder / u for u in urls]
        samples = list(iter_samples(release_folder, split))
        assert [(s.id, s.meta["labels"]) for s in samples] == list(zip(ids, labels))
    counts, refused = release_emoji_counts(release_folder, VOCAB)
    assert refused == []
    for split, expected in EXPECTED.items():
        assert counts[split] == Counter(EMOJIS[i] for e in expected for i in e[2])


def test_every_stage_refuses_the_same_bad_row_with_file_and_line(release_folder):
    write_split(release_folder, "test", ["url", "labels"], [["img/5.jpg", "[1]"], ["img/6.jpg", "[9]"]])
    expected = f"{release_folder / 'test.csv'}: line 3: label 9 outside the 4 categories"
    for read in (
        lambda: read_release(release_folder),
        lambda: split_tables(release_folder),
        lambda: local_records(release_folder, "test", VOCAB),
    ):
        with pytest.raises(UserError) as err:
            read()
        assert str(err.value) == expected
    counts, refused = release_emoji_counts(release_folder, VOCAB)
    assert refused == [expected] and "test" not in counts and counts["train"]


def test_shared_names_are_the_contracts_own():
    from importlib import import_module

    collector, layout, dataset, temporal = map(
        import_module,
        [
            "smileynet.collect.collector",
            "smileynet.data.layout",
            "smileynet.report.dataset",
            "smileynet.sample.temporal",
        ],
    )

    assert collector.DROP_REASONS is dataset.DROP_REASONS is contracts.DROP_REASONS
    assert contracts.DROP_REASONS.index("sensitive") == contracts.DROP_REASONS.index("deleted") + 1
    assert layout.SPLITS is temporal.SPLITS is contracts.SPLITS == ("train", "valid", "test")
    assert contracts.EVALUATION_KEYS == ("mtop1", "mtop3", "mtop5", "auc", "map", "n", "random", "per_category")


def test_evaluation_json_has_the_contract_keys():
    import numpy as np

    from smileynet.metrics import evaluate_scores

    rng = np.random.default_rng(0)
    targets = (rng.random((12, 4)) > 0.6).astype(np.float32)
    result = evaluate_scores(rng.random((12, 4)), targets, EMOJIS)
    assert set(contracts.EVALUATION_KEYS) <= set(result)
    assert set(contracts.METRIC_KEYS) <= set(result[contracts.RANDOM_KEY])
    assert contracts.is_evaluation_result(result)


label_lists = st.lists(st.integers(0, len(EMOJIS) - 1), max_size=5)
cells = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cells, label_lists, st.one_of(st.none(), cells)), max_size=8), bom=st.booleans())
def test_what_a_release_writer_writes_reads_back_row_for_row(tmp_path, rows, bom):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["url", "labels", "post_id"])
    for url, labels, post in rows:
        writer.writerow([url, "[" + ", ".join(map(str, labels)) + "]", post or ""])
    path = tmp_path / "train.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode("utf-8"))
    read = list(iter_release_rows(path, "train", len(EMOJIS)))
    assert [(r.url, r.labels, r.post_id) for r in read] == [(u, labels, p or None) for u, labels, p in rows]
    assert [r.image_id for r in read] == [f"train_{i}" for i in range(len(rows))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(lambda t: ("url,labels\n" + t).encode("utf-8")))
def test_any_bytes_give_rows_or_one_line_user_error(tmp_path, data):
    path = tmp_path / "valid.csv"
    path.write_bytes(data)
    try:
        for row in iter_release_rows(path, "valid", len(EMOJIS)):
            assert row.url and all(0 <= i < len(EMOJIS) for i in row.labels)
    except UserError as err:
        assert str(err).startswith(f"{path}: ") and "\n" not in str(err)


def test_a_header_without_the_columns_is_one_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('"ur\nl",labels\nimg/0.jpg,[1]\n')
    with pytest.raises(UserError) as err:
        list(iter_release_rows(path, "train", len(EMOJIS)))
    assert str(err.value) == f"{path}: expected columns 'url' and 'labels', found 'labels', 'ur\\nl'"


def test_a_huge_cell_is_refused_not_held(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("url,labels\n" + "x" * 300_000 + ",[1]\n")
    with pytest.raises(UserError, match=r"train.csv: line \d+: not a readable UTF-8 CSV \(field larger than"):
        list(iter_release_rows(path, "train", len(EMOJIS)))
