"""The training configuration: the paper's recipe as defaults, a YAML file over them, flags over both.

Saved resolved as `RUN/config.yaml`, so `smileynet train --config RUN/config.yaml` repeats a run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smileynet.errors import UserError
from smileynet.files import read_config

SCHEDULES = ("constant", "cosine")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
POS_WEIGHTS = ("none", "balanced")
OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass
class TrainConfig:
    """Every knob of a run. Defaults are the paper's (Sec. 3.2): ResNet50, BCE on sigmoid outputs,
    Adam lr 1e-4, batch 128, random resized crop 224 + flip, 320k iterations. The paper does not give
    the crop's scale range: `crop_scale` is the official code's (0.5, 1)."""

    data: str = ""
    out: str = ""
    arch: str = "resnet50"
    pretrained: str = "none"  # none | imagenet | PATH (state dict or safetensors)
    steps: int = 320_000
    epochs: int | None = None  # when set, steps = epochs x batches per epoch
    batch_size: int = 128  # global: split evenly over the processes of a distributed run
    optimizer: str = "adam"  # adam (the paper) | adamw | sgd (momentum 0.9, nesterov)
    lr: float = 1e-4
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant (the paper) | cosine (to 0 at the last step)
    warmup_steps: int = 0
    image_size: int = 224
    crop_scale: list[float] = dataclasses.field(default_factory=lambda: [0.5, 1.0])  # area range of the random crop
    pos_weight: str = "none"  # none | balanced: BCE positive weight (negatives / positives) per emoji
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto: bf16 on GPUs that have it, else fp16 on GPU, fp32 on CPU
    channels_last: bool = True
    compile: bool = False
    workers: int = 4  # data loader processes per training process
    seed: int = 0
    log_every: int = 50  # steps per metrics.csv row
    val_every: int = 2000  # steps between validations (0: only at the end)
    val_batches: int = 0  # cap on validation batches (0: the whole valid split)
    checkpoint_every: int = 2000  # steps between resumable checkpoints
    tensorboard: bool = True
    quiet: bool = False

    def check(self) -> TrainConfig:
        if not self.data:
            raise UserError("--data is required")
        if not self.out:
            raise UserError("--out is required")
        for name in ("steps", "batch_size", "image_size", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "val_every", "val_batches", "workers"):
            if getattr(self, name) < 0:
                raise UserError(f"{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        self.crop_scale = parse_crop_scale(self.crop_scale)
        if self.epochs is not None and self.epochs < 1:
            raise UserError(f"epochs must be >= 1, got {self.epochs}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UserError(f"lr must be a finite number > 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise UserError(f"weight-decay must be a finite number >= 0, got {self.weight_decay}")
        from smileynet.model.config import IMAGE_SIZES

        low, high = IMAGE_SIZES  # what a model dir's config.json may hold: a larger crop could never be loaded
        if not low <= self.image_size <= high:
            raise UserError(f"image-size must be from {low} to {high}, got {self.image_size}")
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("precision", PRECISIONS),
            ("pos_weight", POS_WEIGHTS),
            ("device", ("auto", "cpu", "cuda")),
        ):
            if getattr(self, name) not in allowed:
                raise UserError(f"unknown {name.replace('_', '-')} {getattr(self, name)!r}: use {', '.join(allowed)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def from_mapping(values: dict[str, Any], origin: str) -> dict[str, Any]:
    """Config keys with `-` or `_`; an unknown key is an error (a typo must not pass silently)."""
    result = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name not in FIELDS:
            raise UserError(f"{origin}: unknown setting {key!r}")
        result[name] = value
    return result


def resolve(flags: dict[str, Any], config_file: Path | None = None, base: dict[str, Any] | None = None) -> TrainConfig:
    """defaults < `base` (a resumed run's saved config) < `config_file` < flags that were given (not None)."""
    values: dict[str, Any] = {}
    if base:
        values.update(from_mapping(base, "saved config"))
    if config_file is not None:
        if not Path(config_file).is_file():
            raise UserError(f"config file not found: {config_file}")
        values.update(from_mapping(read_config(config_file), str(config_file)))
    values.update(from_mapping({k: v for k, v in flags.items() if v is not None}, "flags"))
    try:
        config = TrainConfig(**values)
    except TypeError as err:
        raise UserError(f"bad config: {err}") from None
    for f in dataclasses.fields(TrainConfig):  # YAML gives strings/ints: coerce to the field's type
        value = getattr(config, f.name)
        kind = type(getattr(TrainConfig(), f.name))
        if value is not None and kind in (int, float, bool, str) and not isinstance(value, kind):
            try:
                setattr(config, f.name, _coerce(value, kind))
            except ValueError:
                raise UserError(f"setting {f.name}: {value!r} is not a {kind.__name__}") from None
    config.data, config.out = str(config.data or ""), str(config.out or "")
    return config.check()


def parse_crop_scale(value: Any) -> list[float]:
    """ "0.5,1" (a flag) or [0.5, 1] (YAML) -> [0.5, 1.0], checked: 0 < low <= high <= 1."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        low, high = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise UserError(f"crop-scale must be two numbers LOW,HIGH such as 0.5,1; got {value!r}") from None
    if not 0 < low <= high <= 1:
        raise UserError(f"crop-scale must satisfy 0 < LOW <= HIGH <= 1; got {low},{high}")
    return [low, high]


def _coerce(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(value)
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return kind(value)
