"""Small outside files with hostile content (bad UTF-8, short rows, wrong JSON types, 5000-digit
numbers, ONNX graphs that disagree with their metadata) end in one line or are left out, never a
traceback."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from smileynet.errors import UserError
from smileynet.files import parse_json
from smileynet.model import create_model, load, save
from smileynet.transfer.benchmarks.folder import load_folder
from smileynet.vocab import load_vocabulary

HUGE = "9" * 5000  # past Python's int max str digits (4300)
LATIN1 = "😀\n".encode() + b"caf\xe9\n"


@pytest.mark.parametrize("name", ["emojis.txt", "categories.csv"])
def test_a_vocab_file_that_is_not_utf8_is_one_line(tmp_path, name):
    path = tmp_path / name
    path.write_bytes((b"category,unicode\n" if name.endswith(".csv") else b"") + LATIN1)
    with pytest.raises(UserError, match="not UTF-8"):
        load_vocabulary(path)


def test_the_vocab_flag_reports_a_non_utf8_file_in_one_line(run_cli, tmp_path):
    (tmp_path / "emojis.txt").write_bytes(LATIN1)
    (tmp_path / "in.json").write_text("[]")
    code, _, err = run_cli(
        "collect", tmp_path / "in.json", "--out", tmp_path / "out", "--vocab", tmp_path / "emojis.txt"
    )
    assert code == 1 and "not UTF-8" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"path,label\na.jpg,cat\n" + b"b\xff.jpg,dog\n", "not UTF-8"),
        (b"path,label\na.jpg,cat\nb.jpg\n", "line 3: needs a path and a label"),
        (b"path,label\na.jpg,cat\n,dog\n", "line 3: needs a path and a label"),
        (b"path\na.jpg\n", "columns path,label"),
    ],
)
def test_a_hostile_transfer_labels_csv_is_one_line(tmp_path, content, reason):
    (tmp_path / "labels.csv").write_bytes(content)
    with pytest.raises(UserError, match=reason):
        load_folder(tmp_path)


def tiny_model_dir(path):
    torch.manual_seed(0)
    return save(create_model("tiny", 2, vocab=["😀", "😭"], image_size=16), path)


def test_a_5000_digit_number_in_config_json_is_one_line(tmp_path):
    model = tiny_model_dir(tmp_path / "m")
    config = json.loads((model / "config.json").read_text("utf-8"))
    text = json.dumps(config).replace(f'"num_classes": {config["num_classes"]}', f'"num_classes": {HUGE}')
    (model / "config.json").write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match="num_classes must be an integer"):
        load(model)


@pytest.mark.parametrize(
    "summary",
    [
        "[1, 2]",
        '"text"',
        f'{{"steps": {HUGE}}}',
        f'{{"steps": {"9" * 4000}, "skipped_samples": {{"bad": {"9" * 4000}}}}}',
    ],
)
def test_report_json_of_the_wrong_type_or_with_huge_numbers_is_left_out(tmp_path, summary):
    from smileynet.report import ReportConfig, build_report

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "metrics.csv").write_text("step,loss\n1,0.5\n2,0.4\n")
    (run / "train_summary.json").write_text(summary)
    (run / "model" / "config.json").write_text(summary)
    (tmp_path / "eval.json").write_text(f'{{"mtop1": {HUGE}, "auc": 0.5, "n": {"9" * 4000}}}')
    (tmp_path / "e2.json").write_text(f'{{"mtop1": {"9" * 4000}, "auc": [], "per_category": "x"}}')
    (tmp_path / "collect_report.json").write_text(summary)
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "sample_report.json").write_text(summary)
    out = build_report(ReportConfig(inputs=[tmp_path], out=tmp_path / "r.html", quiet=True))
    assert "Training" in out.read_text("utf-8")


def onnx_with(tmp_path, edit) -> object:
    import onnx

    from smileynet.inference.torch_runtime import export_onnx

    graph = onnx.load_from_string(export_onnx(create_model("tiny", 2, vocab=["😀", "😭"], image_size=16)))
    edit(graph)
    path = tmp_path / "m.onnx"
    path.write_bytes(graph.SerializeToString())
    return path


def set_config(graph, **changes) -> None:
    (entry,) = [p for p in graph.metadata_props if p.key == "smileynet_config"]
    entry.value = json.dumps({**json.loads(entry.value), **changes})


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda g: g.graph.output.pop(), "expected input images and outputs logits, features"),
        (lambda g: set_config(g, num_classes=3, vocab=["😀", "😭", "😂"]), "has 2 emojis where its metadata says 3"),
        (lambda g: set_config(g, image_size=32), "has 16 crop where its metadata says 32"),
        (lambda g: set_config(g, num_classes=int(HUGE[:30])), "num_classes must be an integer"),
    ],
)
def test_an_onnx_graph_that_disagrees_with_its_metadata_is_one_line(tmp_path, edit, reason):
    pytest.importorskip("onnxruntime")
    from smileynet.inference.runtime import OnnxRunner

    with pytest.raises(UserError, match=reason):
        OnnxRunner(onnx_with(tmp_path, edit))


def test_an_exported_graph_still_loads(tmp_path):
    pytest.importorskip("onnxruntime")
    from smileynet.inference.runtime import OnnxRunner

    runner = OnnxRunner(onnx_with(tmp_path, lambda g: None))
    assert runner.config.num_classes == 2 and runner.num_features > 0


def json_values():
    numbers = st.one_of(st.integers(-(10**40), 10**40), st.floats(allow_nan=False), st.booleans(), st.none())
    return st.recursive(numbers | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3), max_leaves=8)


def small_ints_only(value) -> bool:
    if isinstance(value, list):
        return all(small_ints_only(v) for v in value)
    return not isinstance(value, int) or isinstance(value, bool) or abs(value) < 10**18


@given(st.one_of(st.text(max_size=60), json_values().map(json.dumps)))
def test_parse_json_gives_a_value_without_huge_ints_or_a_value_error(text):
    try:
        value = parse_json(text)
    except ValueError:
        return
    assert small_ints_only(value)


def test_parse_json_survives_deep_nesting_and_huge_numbers():
    with pytest.raises(ValueError):
        parse_json("[" * 100_000)
    assert parse_json(HUGE) == float("inf")
    assert parse_json("-" + HUGE) == float("-inf")
    assert parse_json("123") == 123


@pytest.mark.parametrize(
    "content, reason",
    [(b"lr: caf\xe9\n", "not UTF-8"), (b"lr: [\n", "not YAML"), (b"- 1\n", "must be a YAML mapping")],
)
def test_a_hostile_train_config_file_is_one_line(run_cli, tmp_path, content, reason):
    (tmp_path / "config.yaml").write_bytes(content)
    code, _, err = run_cli("train", "--data", tmp_path, "--out", tmp_path / "run", "--config", tmp_path / "config.yaml")
    assert code == 1 and reason in err and err.count("\n") == 1, err


@pytest.mark.parametrize("report", ["[" * 100_000, "[1]", f'{{"sampling": {HUGE}}}', '"x'])
def test_a_hostile_sample_report_only_loses_the_sampling_name(tmp_path, report):
    from smileynet.train.evaluation import dataset_sampling

    (tmp_path / "sample_report.json").write_text(report)
    assert dataset_sampling(tmp_path) is None
