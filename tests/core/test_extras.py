"""Optional extras: pyproject.toml and `smileynet.extras` agree, and a command whose extra is
missing (simulated by hiding one of its modules) says in one line what to install."""

from __future__ import annotations

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
    for heavy in ("img2dataset", "dask", "fastapi", "tensorboard", "onnxruntime", "pyspark", "polars"):
        assert heavy not in base
    for needed in ("torch", "torchvision", "safetensors", "pillow", "numpy", "emoji"):
        assert needed in base


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
]


@pytest.mark.parametrize("args, extra", COMMANDS, ids=[" ".join(a[:1] + a[-1:]) for a, _ in COMMANDS])
def test_a_missing_extra_is_one_line_naming_the_install(run_cli, monkeypatch, args, extra):
    hidden = EXTRAS[extra][0]
    hide(monkeypatch, hidden)
    code, out, err = run_cli(*args)
    assert code == 1
    assert err.count("\n") == 1 and f"pip install 'smileynet[{extra}]'" in err and hidden in err, err


def test_the_base_install_predicts_embeds_and_exports(run_cli, monkeypatch, tmp_path):
    """Every module of every extra hidden, as in a base install: the base commands still work."""
    torch.manual_seed(0)
    save(create_model("tiny", 3, vocab=["😀", "😂", "😍"], image_size=32), tmp_path / "model")
    (tmp_path / "images").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
        tmp_path / "images" / "a.png"
    )
    hide(monkeypatch, *EXTRAS["all"])
    assert run_cli("predict", tmp_path / "model", tmp_path / "images", "--json")[0] == 0
    assert run_cli("embed", tmp_path / "model", tmp_path / "images", "--out", tmp_path / "e.parquet", "--quiet")[0] == 0
    code, out, err = run_cli("export", tmp_path / "model", "--onnx", tmp_path / "m.onnx")
    assert code == 0 and (tmp_path / "m.onnx").stat().st_size > 0 and "smileynet[onnx]" in out
