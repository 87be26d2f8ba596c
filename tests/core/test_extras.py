"""Optional extras: pyproject.toml and `smileynet.extras` agree, and a command whose extra is
missing (simulated by hiding one of its modules) says in one line what to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from smileynet.extras import EXTRAS, missing_modules
from smileynet.model import create_model, save

REPO = Path(__file__).resolve().parents[2]


def hide(monkeypatch, *modules: str) -> None:
    """Make `import module` fail as it does where the package is not installed."""
    for name in modules:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.setitem(sys.modules, loaded, None)
        monkeypatch.setitem(sys.modules, name, None)


def test_pyproject_extras_are_the_known_ones():
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert set(extras) - {"dev"} == set(EXTRAS)
    assert extras["all"] == [f"smileynet[{','.join(sorted(set(EXTRAS) - {'all'}))}]"]
    base = " ".join(project["dependencies"])
    for heavy in ("torch", "opencv", "scipy", "pyarrow", "onnx", "safetensors", "simplejpeg", "fastapi", "polars"):
        assert heavy not in base
    for needed in ("pillow", "numpy", "emoji", "typer", "rich", "tqdm", "pyyaml"):
        assert needed in base
    assert [d.split(">")[0] for d in extras["lite"]] == ["onnxruntime"]
    torch_extra = " ".join(extras["torch"])
    for needed in ("torch", "torchvision", "safetensors", "opencv", "simplejpeg", "scipy", "pyarrow", "webdataset"):
        assert needed in torch_extra
    for stage in ("data", "train", "serve", "report", "onnx", "timm"):
        assert "smileynet[torch]" in extras[stage], stage


def test_makefile_installs_all_and_the_test_tools():
    assert "'.[all,dev]'" in (REPO / "Makefile").read_text("utf-8")


def test_missing_modules_sees_a_hidden_module(monkeypatch):
    assert missing_modules("serve") == []
    hide(monkeypatch, "fastapi")
    assert missing_modules("serve") == ["fastapi"]


COMMANDS = [
    (["collect", "in", "--out", "o"], "data"),
    (["sample", "p", "--out", "o"], "data"),
    (["download", "d", "--out", "o"], "data"),
    (["download", "d", "--out", "o", "--distributor", "pyspark"], "spark"),
    (["train", "--data", "d", "--out", "o"], "train"),
    (["evaluate", "m", "--data", "d"], "train"),
    (["transfer", "fi", "--root", "r", "--model", "m", "--out", "o"], "train"),
    (["report", "r", "--out", "o.html"], "report"),
    (["serve", "m"], "serve"),
    (["demo", "--out", "o"], "all"),
    (["listen", "bluesky", "--out", "o"], "data"),
    (["predict", "m", "i", "--backend", "onnx"], "onnx"),
    (["embed", "m", "i", "--out", "e.parquet", "--backend", "onnx"], "onnx"),
    (["predict", "m", "i"], "torch"),
    (["predict", "m.onnx", "i"], "lite"),
    (["embed", "m", "i", "--out", "e.parquet"], "torch"),
    (["export", "m", "--onnx", "m.onnx", "--no-check"], "torch"),
    (["push", "r", "--repo", "u/n"], "onnx"),
    (["push", "r", "--repo", "u/n", "--private"], "hub"),
]


@pytest.mark.parametrize("args, extra", COMMANDS, ids=[" ".join(a[:1] + a[-1:]) for a, _ in COMMANDS])
def test_a_missing_extra_is_one_line_naming_the_install(run_cli, monkeypatch, args, extra):
    hidden = EXTRAS[extra][0]
    hide(monkeypatch, hidden)
    code, out, err = run_cli(*args)
    assert code == 1
    assert err.count("\n") == 1 and f"pip install 'smileynet[{extra}]'" in err and hidden in err, err


@pytest.fixture
def tiny(tmp_path):
    torch.manual_seed(0)
    save(create_model("tiny", 3, vocab=["😀", "😂", "😍"], image_size=32), tmp_path / "model")
    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(0)
    for n, (h, w) in enumerate([(40, 40), (70, 50), (20, 90)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / "images" / f"{n}.png")
    return tmp_path


def test_the_torch_install_predicts_embeds_and_exports(run_cli, monkeypatch, tiny):
    """Every module of every extra but [torch] hidden: the model-dir commands still work."""
    hide(monkeypatch, *(m for m in EXTRAS["all"] if m not in EXTRAS["torch"]))
    assert run_cli("predict", tiny / "model", tiny / "images", "--json")[0] == 0
    assert run_cli("embed", tiny / "model", tiny / "images", "--out", tiny / "e.parquet", "--quiet")[0] == 0
    code, out, err = run_cli("export", tiny / "model", "--onnx", tiny / "m.onnx")
    assert code == 0 and (tiny / "m.onnx").stat().st_size > 0 and "smileynet[onnx]" in out


def test_the_light_install_predicts_with_an_onnx_file_as_torch_does(run_cli, monkeypatch, tiny):
    """Only [lite] importable (torch, OpenCV, scipy... hidden): an exported model gives the torch top-k."""
    code, torch_out, err = run_cli("predict", tiny / "model", tiny / "images", "--json", "--backend", "torch")
    assert code == 0 and run_cli("export", tiny / "model", "--onnx", tiny / "m.onnx")[0] == 0
    hide(monkeypatch, *(m for m in EXTRAS["all"] if m not in EXTRAS["lite"]))
    code, out, err = run_cli("predict", tiny / "m.onnx", tiny / "images", "--json")
    assert code == 0, err

    def tops(lines: str) -> list[list[str]]:
        return [[e["emoji"] for e in json.loads(line)["top"]] for line in lines.splitlines()]

    assert tops(out) == tops(torch_out) and len(tops(out)) == 3
    code, out, err = run_cli("predict", tiny / "model", tiny / "images")
    assert code == 1 and "pip install 'smileynet[torch]'" in err and err.count("\n") == 1


def test_the_cli_starts_without_importing_torch_opencv_or_scipy():
    code = (
        "import sys, smileynet.cli; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'cv2', 'scipy'}))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"
