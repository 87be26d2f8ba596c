"""Files the tools write get the usual permissions (0666 less the umask), written atomically."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager

import pytest
import torch

from smileynet.files import atomic_write_bytes, write_json
from smileynet.model import create_model, save


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def write_model(folder):
    save(create_model("tiny", 3, vocab=["😀", "😂", "😍"], image_size=32), folder / "model")
    return [folder / "model" / "config.json", folder / "model" / "model.safetensors"]


def write_onnx(folder):
    from smileynet.inference.torch_runtime import export_onnx

    export_onnx(create_model("tiny", 3, image_size=32).eval(), folder / "m.onnx")
    return [folder / "m.onnx"]


def write_checkpoint(folder):
    from smileynet.train.checkpoint import save_state

    return [save_state(folder, {"step": 3, "weights": torch.zeros(2)})]


def write_files(folder):
    atomic_write_bytes(folder / "a.bin", b"x")
    write_json(folder / "b.json", {"a": 1})
    return [folder / "a.bin", folder / "b.json"]


@pytest.mark.parametrize("writer", [write_files, write_model, write_onnx, write_checkpoint])
def test_outputs_are_0644_under_umask_022_and_leave_no_temp_files(tmp_path, writer):
    with umask(0o022):
        paths = writer(tmp_path)
    assert {p.name: oct(mode(p)) for p in paths} == {p.name: "0o644" for p in paths}
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_a_stricter_umask_is_respected(tmp_path):
    with umask(0o077):
        paths = write_model(tmp_path)
    assert all(mode(p) == 0o600 for p in paths)
