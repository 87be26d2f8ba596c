"""The model dir: `config.json` + `model.safetensors`, loadable without the code that trained it."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from smileynet.errors import UserError
from smileynet.files import atomic_write_text
from smileynet.model.factory import ModelConfig, SmileyNet

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save(model: SmileyNet, path: str | Path) -> Path:
    """Write the model dir atomically (weights first, config last: a config means a complete dir)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in _unwrap(model).state_dict().items()}
    tmp = path / f".{WEIGHTS_FILE}.tmp"
    save_file(state, str(tmp))
    tmp.replace(path / WEIGHTS_FILE)
    atomic_write_text(path / CONFIG_FILE, json.dumps(_unwrap(model).config.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return path


def load(path: str | Path, device: str = "cpu") -> SmileyNet:
    """A ready model (eval mode) with its vocabulary and preprocessing, from a model dir."""
    path = Path(path)
    if path.is_file() and path.name in (CONFIG_FILE, WEIGHTS_FILE):
        path = path.parent
    config_file, weights_file = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not config_file.is_file() or not weights_file.is_file():
        raise UserError(f"{path}: not a model dir (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        config = ModelConfig.from_dict(json.loads(config_file.read_text("utf-8")))
    except json.JSONDecodeError as err:
        raise UserError(f"{config_file}: invalid JSON ({err})") from None
    model = SmileyNet(config)
    try:
        missing, unexpected = model.load_state_dict(load_file(str(weights_file)), strict=False)
    except Exception as err:
        raise UserError(f"{weights_file}: weights do not fit {config.arch} ({err})") from None
    if missing or unexpected:
        raise UserError(f"{weights_file}: weights do not fit {config.arch} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device).eval()


def _unwrap(model):
    return getattr(model, "module", getattr(model, "_orig_mod", model))
