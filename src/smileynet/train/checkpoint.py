"""Resumable training state, written atomically and read back without unpickling code.

`RUN/checkpoints/state.pt` holds model, optimizer, grad scaler, step, RNG states, every rank's data
position (epoch, next batch) and the best validation so far: all plain tensors, numbers, strings
and lists, so `torch.load(weights_only=True)` reads it. `last/` and `best/` beside it are model dirs.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from smileynet.errors import UserError
from smileynet.files import atomic_write_bytes

STATE_FILE = "state.pt"


def rng_state() -> dict[str, Any]:
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    assert isinstance(keys, np.ndarray)  # the legacy tuple: (name, keys, pos, has_gauss, cached)
    state = {
        "torch": torch.get_rng_state(),
        "python": [version, list(mt), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(folder: Path, state: dict[str, Any]) -> Path:
    """Serialise in memory, then write to a temp file and rename: a kill never leaves half a state."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path = Path(folder) / STATE_FILE
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_state(folder: Path) -> dict[str, Any]:
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise UserError(f"--resume: no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"{path}: unreadable checkpoint ({type(err).__name__}: {err})") from None
