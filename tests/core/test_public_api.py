"""The public Python API: `smileynet.__all__`, and the README's Python block runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import smileynet
from smileynet.model import create_model, save
from smileynet.vocab import default_vocabulary

README = Path(__file__).resolve().parents[2] / "README.md"


def test_all_lists_the_public_names_and_each_resolves():
    assert {"load", "create_model", "predict", "embed", "list_archs", "build_loader", "__version__"} <= set(
        smileynet.__all__
    )
    for name in smileynet.__all__:
        assert getattr(smileynet, name) is not None
    assert set(smileynet.__all__) - {"__version__"} <= set(dir(smileynet))


def readme_python_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)
    assert len(blocks) == 1, "the README has exactly one Python block, the one this test runs"
    return blocks[0]


def test_readme_python_block_runs(tmp_path, monkeypatch):
    torch.manual_seed(0)
    save(create_model("tiny", 92, vocab=list(default_vocabulary().emojis), image_size=32), tmp_path / "run" / "model")
    pixels = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(readme_python_block(), str(README), "exec"), scope)
    # what the block computed by hand agrees with the library's own calls
    probs = torch.sigmoid(scope["logits"]).numpy()[0]
    assert scope["top"][0]["emoji"] == scope["model"].vocab[int(probs.argmax())]
    np.testing.assert_allclose(scope["emb"].logits[0], scope["logits"].numpy()[0], atol=1e-4)
