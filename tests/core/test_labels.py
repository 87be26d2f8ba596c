"""One labels rule for every reader (release CSV for sample/download/train, manifest, shard .json):
the official literal forms pass, anything else is refused with the file, the line and the reason;
unlabelled samples are skipped and counted by evaluate."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import webdataset as wds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from smileynet.data.layout import BadLabels, local_records, parse_labels
from smileynet.download.url_tables import split_tables
from smileynet.errors import UserError
from smileynet.sample.release import read_release
from smileynet.vocab import Vocabulary

EMOJIS = ["😂", "😍", "👻", "💀"]
ACCEPTED = {"[3, 1]": [3, 1], "(2, 3)": [2, 3], "[2,]": [2], " [0] ": [0], "[]": []}
REFUSED = [
    "[1.9]",
    "True",
    "[True]",
    "{1: 2}",
    "[[1]]",
    "[None]",
    "None",
    "[1e400]",
    "[-5]",
    "[4]",
    "[10**6]",
    "[" + "9" * 5000 + "]",
    "3",
    "'[1]'",
    "[1, 'a']",
    "[" * 500,
]


def release(root: Path, cells: list[str], bom: bool = False) -> Path:
    """A release folder whose train.csv has one row per labels cell (urls are local image paths)."""
    root.mkdir(parents=True, exist_ok=True)
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(root / "categories.csv")
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["url", "labels"])
    for i, cell in enumerate(cells):
        writer.writerow([f"img/{i}.png", cell])
    (root / "train.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode("utf-8"))
    return root


READERS = {
    "sample --from-release": lambda root: read_release(root).manifest["labels"].to_list(),
    "download": lambda root: split_tables(root)["train"].column("labels").to_pylist(),
    "train/evaluate": lambda root: [r.labels for r in local_records(root, "train", Vocabulary.from_emojis(EMOJIS))],
}


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_accepts_the_official_literal_forms(tmp_path, reader):
    cells = [c for c in ACCEPTED if c != "[]"]
    assert READERS[reader](release(tmp_path, cells)) == [ACCEPTED[c] for c in cells]


@pytest.mark.parametrize("cell", REFUSED)
@pytest.mark.parametrize("reader", READERS)
def test_every_reader_refuses_what_is_not_a_list_of_indices_with_file_and_line(tmp_path, reader, cell):
    root = release(tmp_path, ["[0]", cell])
    with pytest.raises(UserError) as err:
        READERS[reader](root)
    message = str(err.value)
    assert message.startswith(f"{root / 'train.csv'}: line 3: ") and "\n" not in message


@pytest.mark.parametrize("reader", READERS)
def test_a_bom_does_not_cost_the_first_row(tmp_path, reader):
    assert READERS[reader](release(tmp_path, ["[1]", "[2]"], bom=True)) == [[1], [2]]


def manifest(root: Path, labels: list, split: str = "train") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(root / "categories.csv")
    pl.DataFrame(
        {
            "url": [f"http://127.0.0.1/{i}.jpg" for i in range(len(labels))],
            "labels": labels,
            "split": [split] * len(labels),
        }
    ).write_parquet(root / "manifest.parquet")
    return root


@pytest.mark.parametrize("bad", [[-5], [10**6], [4]])
def test_manifest_labels_out_of_range_are_refused_before_download(tmp_path, bad):
    root = manifest(tmp_path, [[0], bad])
    with pytest.raises(UserError, match=rf"manifest.parquet: row 1: label {bad[0]} outside the 4 categories"):
        split_tables(root)


def test_a_manifest_that_is_not_parquet_is_one_line(tmp_path):
    (tmp_path / "manifest.parquet").write_text("url,labels\nhttp://x/1.jpg,[1]\n")
    with pytest.raises(UserError, match="manifest.parquet: not a readable parquet file"):
        split_tables(tmp_path)


def test_shard_samples_without_json_or_with_bad_labels_are_skipped_and_counted(tmp_path, jpeg_bytes):
    from smileynet.data import build_loader

    (tmp_path / "test").mkdir()
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(tmp_path / "categories.csv")
    with wds.TarWriter(str(tmp_path / "test" / "00000.tar")) as sink:
        sink.write({"__key__": "good", "jpg": jpeg_bytes(10, size=16), "json": b'{"labels": [1]}'})
        sink.write({"__key__": "nojson", "jpg": jpeg_bytes(20, size=16)})
        for i, labels in enumerate(["[1.9]", "true", '{"1": 2}', "[[1]]", "[null]", "[-1]"]):
            sink.write(
                {"__key__": f"bad{i}", "jpg": jpeg_bytes(30, size=16), "json": b'{"labels": %s}' % labels.encode()}
            )
    loader = build_loader(tmp_path, "test", num_classes=4, image_size=16, batch_size=16, train=False, workers=0)
    [(images, targets)] = list(loader)
    assert len(images) == 1 and targets[0].tolist() == [0, 1, 0, 0]
    assert loader.skipped == {"no json in sample": 1, "bad labels": 5, "label outside the vocabulary": 1}


def test_evaluate_counts_unlabelled_samples_and_leaves_them_out_of_mtop(tmp_path):
    from smileynet import metrics
    from smileynet.model import create_model, save
    from smileynet.train import evaluate

    root = release(tmp_path / "data", ["[0]", "[]", "[1, 2]", "[]", "[3]"])
    (root / "test.csv").write_bytes((root / "train.csv").read_bytes())
    (root / "img").mkdir()
    for i in range(5):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(root / "img" / f"{i}.png")
    save(create_model("tiny", num_classes=4, vocab=EMOJIS, image_size=16), tmp_path / "model")
    result = evaluate(tmp_path / "model", root, "test", workers=0, quiet=True)
    assert result["unlabelled"] == 2 and result["skipped_images"] == {}
    labelled_only = release(tmp_path / "labelled", ["[0]", "[1, 2]", "[3]"])
    (labelled_only / "test.csv").write_text(
        "url,labels\n"
        + "".join(f'{root / "img" / f"{i}.png"},"{c}"\n' for i, c in [(0, "[0]"), (2, "[1, 2]"), (4, "[3]")])
    )
    reference = evaluate(tmp_path / "model", labelled_only, "test", workers=0, quiet=True)
    assert [result[f"mtop{k}"] for k in metrics.TOP_KS] == [reference[f"mtop{k}"] for k in metrics.TOP_KS]


@settings(max_examples=300, deadline=1000)
@given(text=st.text(max_size=60) | st.sampled_from(REFUSED + list(ACCEPTED)), num_classes=st.integers(1, 100))
def test_parse_labels_on_any_text_gives_indices_or_bad_labels(text, num_classes):
    try:
        labels = parse_labels(text, num_classes)
    except BadLabels as err:
        assert "\n" not in str(err) and err.reason in ("bad labels", "label outside the vocabulary")
        return
    assert all(type(i) is int and 0 <= i < num_classes for i in labels)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 200) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=1000)
@given(value=JSON)
def test_parse_labels_on_any_json_value_gives_indices_or_bad_labels(value):
    try:
        labels = parse_labels(value, 92)
    except BadLabels:
        return
    assert all(type(i) is int and 0 <= i < 92 for i in labels)
    assert labels == list(value or [])


@settings(max_examples=120, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: ("url,labels\n" + t).encode("utf-8")))
def test_the_release_csv_reader_on_any_bytes_gives_rows_or_user_error(tmp_path, data):
    (tmp_path / "train.csv").write_bytes(data)
    try:
        result = read_release(tmp_path)
    except UserError as err:
        assert "\n" not in str(err)
        return
    assert all(all(0 <= i < len(result.vocab) for i in row) for row in result.manifest["labels"].to_list())
