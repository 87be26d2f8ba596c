"""`smileynet serve` as a command: flags refused in one line, a busy port, an ONNX file as the
model, and a demo model that says what it has seen."""

from __future__ import annotations

import io
import json
import socket

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from smileynet.errors import UserError
from smileynet.inference.runtime import onnx_available
from smileynet.inference.torch_runtime import export_onnx
from smileynet.model import create_model, load, save
from smileynet.model.config import DEMO_NOTE
from smileynet.model.model_dir import mark_demo
from smileynet.serve.app import create_app
from smileynet.serve.predictor import Predictor


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    return save(create_model("tiny", 92, image_size=32).eval(), tmp_path_factory.mktemp("cli") / "model")


def photo() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize("flag", ["--header-timeout", "--body-timeout", "--max-upload-mb", "--decode-megapixels"])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_limits_that_are_not_positive_numbers_are_one_line(run_cli, tmp_path, flag, value):
    code, out, err = run_cli("serve", tmp_path, flag, value)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"smileynet: error: {flag} must be a number > 0")


def test_a_busy_port_is_one_line(run_cli, model_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_cli("serve", model_dir, "--port", port, "--backend", "torch", "--quiet")
    assert code == 1
    assert err == f"smileynet: error: port {port} on 127.0.0.1 is in use (another server is listening there): " + (
        "pick another with --port\n"
    )


def test_an_onnx_file_serves_like_its_model_dir(model_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    onnx_file = tmp_path / "model.onnx"
    export_onnx(load(model_dir), onnx_file)
    answers = []
    for model in (model_dir, onnx_file):
        with TestClient(create_app(Predictor.from_dir(model, backend="auto"))) as client:
            response = client.post("/v1/predict?top_k=3", files={"file": ("a.jpg", photo())})
            assert response.status_code == 200, response.text
            answers.append(response.json()["top"])
            assert client.get("/v1/model").json()["num_classes"] == 92
    assert [e["index"] for e in answers[0]] == [e["index"] for e in answers[1]]
    assert [e["probability"] for e in answers[0]] == pytest.approx([e["probability"] for e in answers[1]], abs=1e-4)
    with pytest.raises(UserError, match="onnx backend only"):
        Predictor.from_dir(onnx_file, backend="torch")


def test_a_demo_model_says_what_it_has_seen(model_dir, tmp_path):
    with TestClient(create_app(Predictor.from_dir(model_dir, backend="torch"))) as client:
        info = client.get("/v1/model").json()
    assert info["demo"] is False and info["note"] is None

    demo_dir = save(load(model_dir), tmp_path / "demo")
    assert "demo" not in json.loads((demo_dir / "config.json").read_text())
    mark_demo(demo_dir)
    assert json.loads((demo_dir / "config.json").read_text())["demo"] is True
    demo = load(demo_dir)
    assert demo.config.demo
    with TestClient(create_app(Predictor(demo))) as client:
        info = client.get("/v1/model").json()
    assert (
        info["demo"] is True
        and info["note"] == DEMO_NOTE == "a demo model that has only seen the demo's generated glyph pictures"
    )
    if onnx_available():  # an export keeps the mark in its metadata
        export_onnx(demo, tmp_path / "demo.onnx")
        assert Predictor.from_dir(tmp_path / "demo.onnx", backend="onnx").info()["note"] == DEMO_NOTE

    config = json.loads((demo_dir / "config.json").read_text())
    (demo_dir / "config.json").write_text(json.dumps(config | {"demo": "yes"}))
    with pytest.raises(UserError, match="demo must be true or false"):
        load(demo_dir)
