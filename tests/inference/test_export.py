"""ONNX export and the ONNX Runtime backend: same outputs as PyTorch."""

import json

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from scipy.special import expit

from smileynet.inference import extract
from smileynet.model import save

VOCAB = ["😂", "😍", "😭", "😡", "👻", "💀", "😴", "😱"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_model):
    model = tiny_model(VOCAB, image_size=48, seed=1, head_scale=30)
    with torch.no_grad():
        model.backbone[1].running_mean.uniform_(-0.2, 0.2)  # non-trivial batch-norm statistics
        model.backbone[1].running_var.uniform_(0.5, 2.0)
    return save(model, tmp_path_factory.mktemp("export") / "model")


def pictures(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (50 + i, 60, 3), dtype=np.uint8)) for i in range(n)]


def test_onnx_backend_matches_torch(model_dir):
    images = pictures(12)
    eager = extract(model_dir, images, batch_size=5, features="both")
    ort = extract(model_dir, images, batch_size=5, features="both", backend="onnx")
    assert ort.ids == eager.ids
    assert np.abs(expit(ort.logits) - expit(eager.logits)).max() < 1e-4
    np.testing.assert_allclose(ort.pre_logits, eager.pre_logits, atol=1e-4)
    for a, b in zip(eager.logits, ort.logits):
        assert list(np.argsort(-a)[:5]) == list(np.argsort(-b)[:5])
    assert np.ptp(eager.logits) > 1  # the comparison is between outputs that differ per image


def test_export_cli_writes_a_self_describing_onnx_file(model_dir, tmp_path, run_cli):
    code, out, err = run_cli("export", model_dir, "--out", tmp_path / "m.onnx")
    assert code == 0, err
    assert '"same_top5": true' in out
    graph = onnx.load(tmp_path / "m.onnx")
    assert [i.name for i in graph.graph.input] == ["images"]
    assert [o.name for o in graph.graph.output] == ["logits", "features"]
    assert "smileynet_config" in {p.key for p in graph.metadata_props}
    # the .onnx file alone is a model for extract (vocabulary and crop from its metadata)
    images = pictures(3)
    from_file = extract(tmp_path / "m.onnx", images, backend="onnx")
    np.testing.assert_allclose(from_file.logits, extract(model_dir, images).logits, atol=1e-4)


def test_export_cli_bad_input_is_one_line(model_dir, tmp_path, run_cli):
    code, _, err = run_cli("export", tmp_path / "nope", "--out", tmp_path / "m.onnx")
    assert code == 1 and err.startswith("smileynet: error:") and err.count("\n") == 1
    assert not (tmp_path / "m.onnx").exists()
    code, _, err = run_cli("export", model_dir, "--out", tmp_path / "m.txt")
    assert code == 1 and "--out must name a .onnx file" in err and not (tmp_path / "m.txt").exists()
    code, _, err = run_cli("export", model_dir)
    assert code != 0 and "Missing option '--out'" in err


def test_int8_export_is_quantised_calibrated_and_close(model_dir, tmp_path, run_cli):
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for i, image in enumerate(pictures(8)):
        image.save(calibration / f"{i}.png")
    (calibration / "broken.jpg").write_bytes(b"junk")  # skipped, not fatal
    # --onnx is the older name of --out
    code, out, err = run_cli("export", model_dir, "--onnx", tmp_path / "q.onnx", "--int8-calibration", calibration)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["int8"]["calibration_images"] == 8 and 0 <= summary["int8"]["top1_agreement"] <= 1
    graph = onnx.load(tmp_path / "q.onnx")
    assert any(node.op_type == "QuantizeLinear" for node in graph.graph.node)
    images = pictures(12)[8:]
    quantized = extract(tmp_path / "q.onnx", images, backend="onnx").logits  # crop and vocabulary from the metadata
    fp32 = extract(model_dir, images).logits
    assert quantized.shape == fp32.shape
    assert np.corrcoef(quantized.ravel(), fp32.ravel())[0, 1] > 0.9  # the same function, up to int8 noise
