"""Emoji prediction on a split: scores of the whole split, then `smileynet.metrics` on them.

Shared by training (periodic validation) and `smileynet evaluate` (a model dir on any split).
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from smileynet import metrics
from smileynet.contracts import METRIC_KEYS, METRIC_TITLES, N_KEY, RANDOM_KEY
from smileynet.data.transforms import normalize
from smileynet.distributed import resolve_device
from smileynet.errors import UserError
from smileynet.files import parse_json, write_json
from smileynet.model import SmileyNet, load
from smileynet.model.model_dir import model_dir_of
from smileynet.progress import progress


def autocast(device: torch.device, dtype: torch.dtype | None):
    """bf16/fp16 autocast on the device, or nothing for fp32."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


@torch.no_grad()
def predict_scores(
    model: SmileyNet,
    loader,
    device: torch.device,
    *,
    dtype: torch.dtype | None = None,
    max_batches: int = 0,
    total: int | None = None,
    quiet: bool = True,
    channels_last: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (float32 N x C) and targets of every batch of `loader` (at most `max_batches` if > 0).
    The model is put in eval mode and given back in the mode it was in."""
    was_training = model.training
    model.eval()
    scores, targets = [], []
    try:
        for i, (images, target) in enumerate(progress(loader, total=total, desc="evaluate", unit="batch", quiet=quiet)):
            if max_batches and i >= max_batches:
                break
            x = normalize(images.to(device, non_blocking=True), model.config)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                logits = model(x)
            scores.append(logits.float().cpu().numpy())
            targets.append(target.numpy())
    finally:
        model.train(was_training)
    if not scores:
        return np.zeros((0, model.config.num_classes), np.float32), np.zeros((0, model.config.num_classes), np.float32)
    return np.concatenate(scores), np.concatenate(targets)


def bce(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean binary cross-entropy of logits, as the training loss computes it."""
    loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(scores), torch.from_numpy(targets))
    return float(loss)


def evaluate(
    model_path: Path,
    data: Path,
    split: str = "test",
    *,
    out: Path | None = None,
    batch_size: int = 64,
    workers: int = 2,
    device: str = "cpu",
    seed: int = 0,
    count_unlabelled: bool = False,
    quiet: bool = False,
) -> dict:
    """Every emoji-prediction metric of a model dir on one split of a data folder (the evaluation JSON keys
    of docs/architecture.md), with a random-scores baseline; written to `out` when given.
    `count_unlabelled`: mTop-k by the official scripts' convention (`smileynet.metrics`)."""
    from smileynet.data import dataset_vocabulary
    from smileynet.data.loader import build_loader

    device_ = torch.device(resolve_device(device))
    model_path = model_dir_of(model_path)
    model = load(model_path, device=str(device_))
    vocab = dataset_vocabulary(Path(data))
    if model.vocab and list(vocab.emojis) != model.vocab:
        raise UserError(
            f"{data}: its {len(vocab)} categories differ from the model's {len(model.vocab)}-emoji vocabulary "
            f"(categories.csv must list the model's emojis in the same order)"
        )
    loader = build_loader(
        Path(data),
        split,
        num_classes=model.config.num_classes,
        image_size=model.config.image_size,
        batch_size=batch_size,
        train=False,
        seed=seed,
        workers=workers,
    )
    scores, targets = predict_scores(model, loader, device_, total=loader.num_batches, quiet=quiet)
    if not len(scores):
        raise UserError(f"{data}: no readable images in the {split} split")
    result = metrics.evaluate_scores(
        scores, targets, model.vocab or list(vocab.emojis), seed=seed, count_unlabelled=count_unlabelled
    )
    result = {
        "model": str(model_path),
        "data": str(data),
        "split": split,
        "train_sampling": training_sampling(Path(model_path)),
        **result,
        "skipped_images": dict(loader.skipped),
    }
    if out is not None:
        write_json(out, result)
    if loader.skipped and not quiet:
        print(f"evaluate: skipped unreadable samples: {dict(loader.skipped)}", file=sys.stderr)
    return result


def training_sampling(model_dir: Path) -> str | None:
    """How the model's training data was sampled (`dataset_sampling` of the `data` in the
    config.yaml of the run that holds `model_dir`), or None when that is not known."""
    from smileynet.files import read_config

    for run in (model_dir.parent, model_dir.parent.parent):  # RUN/model, RUN/checkpoints/best
        if (run / "config.yaml").is_file():
            try:
                data = read_config(run / "config.yaml").get("data")
            except Exception:  # an unreadable config only loses the provenance
                return None
            return dataset_sampling(Path(data)) if data else None
    return None


def dataset_sampling(data: Path) -> str | None:
    """How the data was sampled ("temporal" or "raw", `sample --sampling`), read from the
    `sample_report.json` of the data folder, or of the folder `download` read it from
    (`download_config.yaml`'s `source`); None when neither says (a release, older outputs)."""
    from smileynet.files import read_config

    data = Path(data)
    folders = [data]
    try:
        source = (
            read_config(data / "download_config.yaml").get("source")
            if (data / "download_config.yaml").is_file()
            else None
        )
    except Exception:  # an unreadable config only loses the provenance
        source = None
    if source:
        folders.append(Path(source))
    for folder in folders:
        try:
            value = parse_json((folder / "sample_report.json").read_bytes()).get("sampling")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str):
            return value
    return None


def dumps(result: dict) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False)


def summary_table(result: dict) -> str:
    """The headline numbers against random scores, a few lines for a terminal (the JSON has the rest)."""
    columns = [(METRIC_TITLES[key], key) for key in METRIC_KEYS]

    def row(name: str, values: dict) -> str:
        cells = ("-" if values.get(key) is None else f"{values[key]:.3f}" for _, key in columns)
        return f"{name:<10}" + "".join(f"{cell:>8}" for cell in cells)

    header = f"{'':<10}" + "".join(f"{title:>8}" for title, _ in columns)
    return "\n".join(
        [
            header,
            row("SmileyNet", result),
            row("random", result[RANDOM_KEY]),
            f"{result[N_KEY]} images, {result['split']} split of {result['data']}",
        ]
    )
