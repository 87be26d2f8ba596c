"""The light install for real: a fresh virtualenv with `pip install 'smileynet[lite]'` (no torch,
OpenCV or scipy) predicts with an exported model, and its top emojis are the torch path's.

Slow: 200-255 s on a 2-core machine with a load average of 14 (35 s of CPU), nearly all of it the
install (wheels from pip's cache or the configured index; the project is built from a copy of
its sources, so the checkout stays clean)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from smileynet.model import create_model, save
from smileynet.vocab import default_vocabulary

REPO = Path(__file__).resolve().parents[2]


def tops(lines: str) -> dict[str, list[str]]:
    rows = [json.loads(line) for line in lines.splitlines()]
    return {Path(row["path"]).name: [e["emoji"] for e in row["top"]] for row in rows}


@pytest.mark.e2e
def test_a_venv_with_only_lite_predicts_the_torch_top_k(tmp_path, run_cli):
    pytest.importorskip("onnxruntime")
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv's own smileynet, not src/
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", f"{source}[lite]"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    probe = "import importlib.util as u; print([m for m in ('torch', 'cv2', 'scipy') if u.find_spec(m)])"
    assert subprocess.run([python, "-c", probe], capture_output=True, text=True, env=env).stdout.strip() == "[]"

    torch.manual_seed(1)
    emojis = list(default_vocabulary().emojis)[:24]
    save(create_model("tiny", len(emojis), vocab=emojis, image_size=48), tmp_path / "model")
    assert run_cli("export", tmp_path / "model", "--onnx", tmp_path / "model.onnx")[0] == 0
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(2)
    for n, (h, w) in enumerate([(30, 44), (120, 90), (300, 200), (48, 48), (70, 250)]):
        y, x = np.mgrid[0:h, 0:w] / max(h, w)
        smooth = np.stack([np.sin(7 * x + n), np.cos(5 * y), x * y], -1) * 100 + 120
        pixels = np.clip(smooth + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(images / f"{n}.{'jpg' if n % 2 else 'png'}", quality=95)
    code, expected, err = run_cli("predict", tmp_path / "model", images, "--json", "--backend", "torch")
    assert code == 0, err
    light = subprocess.run(
        [env_dir / "bin" / "smileynet", "predict", tmp_path / "model.onnx", images, "--json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert light.returncode == 0, light.stderr
    assert tops(light.stdout) == tops(expected) and len(tops(expected)) == 5
    refused = subprocess.run(
        [env_dir / "bin" / "smileynet", "predict", tmp_path / "model", images], capture_output=True, text=True, env=env
    )
    assert refused.returncode == 1 and "pip install 'smileynet[torch]'" in refused.stderr
