"""The model dir: `config.json` + `model.safetensors`, loadable without the code that trained it.

Reading a config needs no torch (the hub download checks one before anything is built); saving
and loading weights import torch and safetensors when called.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from smileynet.errors import UserError
from smileynet.files import atomic_write_bytes, atomic_write_text, parse_json, read_bounded_text
from smileynet.model.config import ModelConfig

if TYPE_CHECKING:
    from smileynet.model.factory import SmileyNet

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_CONFIG_BYTES = 1 << 20  # a config with 10,000 emojis is ~100 KB


def save(model: SmileyNet, path: str | Path) -> Path:
    """Write the model dir atomically (weights first, config last: a config means a complete dir),
    readable as the umask allows (safetensors' own `save_file` makes 0600 files, unfit to share)."""
    from safetensors.torch import save as safetensors_bytes

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in _unwrap(model).state_dict().items()}
    atomic_write_bytes(path / WEIGHTS_FILE, safetensors_bytes(state))
    atomic_write_text(
        path / CONFIG_FILE, json.dumps(_unwrap(model).config.to_dict(), indent=2, ensure_ascii=False) + "\n"
    )
    return path


def load(path: str | Path, device: str = "cpu") -> SmileyNet:
    """A ready model (eval mode) with its vocabulary and preprocessing, from a model dir, one of
    its two files, a run folder (its final model, `RUN/model/`) or a hub repo (`hf-hub:USER/NAME`)."""
    from safetensors.torch import load_file

    from smileynet.model.factory import SmileyNet

    path = model_dir_of(path)
    config_file, weights_file = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not config_file.is_file() or not weights_file.is_file():
        raise UserError(f"{path}: not a model dir (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    config = read_config(config_file)
    model = SmileyNet(config)
    try:
        missing, unexpected = model.load_state_dict(load_file(str(weights_file)), strict=False)
    except Exception as err:
        raise UserError(f"{weights_file}: weights do not fit {config.arch} ({err})") from None
    if missing or unexpected:
        raise UserError(
            f"{weights_file}: weights do not fit {config.arch} (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.to(device).eval()


def mark_demo(path: str | Path) -> None:
    """Mark a model dir as a demo model (`"demo": true` in config.json), so that whoever serves it
    says that it has only seen generated pictures."""
    config_file = model_dir_of(path) / CONFIG_FILE
    data = json.loads(read_bounded_text(config_file, MAX_CONFIG_BYTES, "a model config"))
    read_config(config_file)  # the same checks as loading
    data["demo"] = True
    atomic_write_text(config_file, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_config(config_file: Path) -> ModelConfig:
    """A model dir's config.json, checked (size, UTF-8, JSON, every field, the optional `demo`
    flag) before a model is built."""
    text = read_bounded_text(config_file, MAX_CONFIG_BYTES, "a model config")
    try:
        data = parse_json(text)
    except ValueError as err:
        raise UserError(f"{config_file}: invalid JSON ({str(err)[:80]})") from None
    return ModelConfig.from_dict(data, str(config_file))


def model_dir_of(path: str | Path) -> Path:
    """The model dir that `path` names: itself, the folder of its config.json / model.safetensors,
    a run folder's `model/`, or the download of a hub repo (`hf-hub:USER/NAME`)."""
    from smileynet.model.hub import resolve

    path = resolve(path)
    if path.is_file() and path.name in (CONFIG_FILE, WEIGHTS_FILE):
        return path.parent
    if not (path / CONFIG_FILE).is_file() and (path / "model" / CONFIG_FILE).is_file():
        return path / "model"
    return path


def _unwrap(model):
    return getattr(model, "module", getattr(model, "_orig_mod", model))
