"""`smileynet train`: set up, loop, validate at intervals, checkpoint, log. Read it top to bottom.

A run folder holds:
- `config.yaml`: the resolved TrainConfig (repeat the run with `--config RUN/config.yaml`);
- `metrics.csv`: one row per `log_every` steps (and at every validation and checkpoint), columns
    step          optimizer steps done
    epoch         epoch of the last batch of the row (0-based)
    loss          mean training BCE over the steps since the previous row (all processes)
    lr            learning rate of the last step
    images_per_s  training images per second since the previous row (all processes)
    elapsed_s     seconds of training so far (over resumes)
    gpu_mem_gb    peak GPU memory allocated by process 0 (empty on CPU)
    val_loss, val_auc, val_mtop1, val_mtop3, val_mtop5, val_map
                  validation metrics, on rows where validation ran (else empty);
- `tensorboard/`: the same numbers as TensorBoard events;
- `checkpoints/state.pt` (resumable state), `checkpoints/last/`, `checkpoints/best/` (model dirs;
  best by validation mean AUC);
- `model/`: the final model dir: the best checkpoint when validation ran, else the last weights;
- `train_summary.json`: which weights `model/` holds, steps, skipped samples, processes and their
  backend (gloo, nccl; none for a plain single process).
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from smileynet import distributed, metrics
from smileynet.data.transforms import normalize
from smileynet.distributed import resolve_device
from smileynet.errors import UserError
from smileynet.files import atomic_write_text, write_config, write_json
from smileynet.model import SmileyNet, create_model, load, save
from smileynet.progress import progress
from smileynet.train.checkpoint import load_state, rng_state, save_state, set_rng_state
from smileynet.train.config import TrainConfig
from smileynet.train.evaluation import autocast, bce, predict_scores
from smileynet.vocab import Vocabulary

COLUMNS = [
    "step",
    "epoch",
    "loss",
    "lr",
    "images_per_s",
    "elapsed_s",
    "gpu_mem_gb",
    "val_loss",
    "val_auc",
    "val_mtop1",
    "val_mtop3",
    "val_mtop5",
    "val_map",
]


def say(message: str, quiet: bool = False) -> None:
    if not quiet:
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warmup, then constant (the paper) or cosine to zero at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "cosine":
        progress_ = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * min(progress_, 1.0)))
    return config.lr


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
        )
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if config.precision == "fp32" or (config.precision == "auto" and device.type != "cuda"):
        return None
    if config.precision == "fp16" or (config.precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def steps_per_epoch(data: Path, batch_size: int) -> int:
    from smileynet.data import split_sizes

    size = split_sizes(data, "train")
    if not size:
        raise UserError(
            f"{data}: --epochs needs the size of the train split (shards without img2dataset stats): use --steps"
        )
    return math.ceil(size / batch_size)


def class_pos_weight(data: Path, num_classes: int) -> torch.Tensor:
    """negatives / positives per emoji over the train split (1 where an emoji has no positive)."""
    from smileynet.data.layout import BadLabels, parse_labels
    from smileynet.data.samples import iter_samples

    positives, total = torch.zeros(num_classes), 0
    for sample in iter_samples(data, "train"):
        try:
            labels = parse_labels(sample.meta.get("labels"), num_classes)
        except BadLabels:
            continue  # the loader skips it too
        for label in set(labels):
            positives[label] += 1
        total += 1
    return torch.where(positives > 0, (total - positives) / positives.clamp(min=1), torch.ones(num_classes))


def train_batches(
    config: TrainConfig,
    num_classes: int,
    batch_size: int,
    info: distributed.DistInfo,
    position: tuple[int, int],
    skipped: Counter,
) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """Endless (epoch, next batch, images, targets) from `position` on; each epoch a new shuffle.
    `skipped` holds every sample skipped so far, up to the batch just given."""
    from smileynet.data.loader import build_loader
    from smileynet.data.transforms import train_transform

    low, high = config.crop_scale
    crop = train_transform(config.image_size, (low, high))
    epoch, batch = position
    while True:
        loader = build_loader(
            Path(config.data),
            "train",
            num_classes=num_classes,
            image_size=config.image_size,
            batch_size=batch_size,
            train=True,
            seed=config.seed,
            epoch=epoch,
            workers=config.workers,
            rank=info.rank,
            world_size=info.world_size,
            start_batch=batch,
            transform=crop,
        )
        start, counted = batch, Counter[str]()
        for images, targets in loader:
            batch += 1
            skipped.update(loader.skipped - counted)  # as it goes: a run may stop mid-epoch
            counted = Counter(loader.skipped)
            yield epoch, batch, images, targets
        skipped.update(loader.skipped - counted)
        if batch == start == 0:
            raise UserError(
                f"{config.data}: no readable training images"
                + (f" (skipped: {dict(loader.skipped)})" if loader.skipped else "")
            )
        epoch, batch = epoch + 1, 0


class MetricsLog:
    """metrics.csv (appended row by row) and TensorBoard events, written by process 0 only."""

    def __init__(self, run: Path, resume_step: int | None, tensorboard: bool) -> None:
        self.path = run / "metrics.csv"
        rows = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step") and int(r["step"]) <= resume_step]
        lines = [",".join(COLUMNS)] + [",".join(r.get(c, "") or "" for c in COLUMNS) for r in rows]
        atomic_write_text(self.path, "\n".join(lines) + "\n")  # a killed run's rows after its checkpoint go
        self.file = open(self.path, "a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.file, COLUMNS)
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tensorboard"), purge_step=resume_step)

    def write(self, row: dict) -> None:
        self.writer.writerow({c: _cell(row.get(c)) for c in COLUMNS})
        self.file.flush()
        if self.tb is not None:
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)) and math.isfinite(value):
                    self.tb.add_scalar(
                        ("val/" if key.startswith("val_") else "train/") + key.removeprefix("val_"), value, row["step"]
                    )
            self.tb.flush()

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def validate(
    model: SmileyNet,
    config: TrainConfig,
    device: torch.device,
    dtype: torch.dtype | None,
    batch_size: int,
    info: distributed.DistInfo,
) -> dict[str, float]:
    """val_* numbers on the valid split (the whole split unless `val_batches` caps each process's
    batches). Every process scores its own share of the split with process 0's weights and
    batch-norm statistics; the scores are gathered and the metrics computed once on all of them,
    so they are those of one process validating alone (up to float rounding). Called by every
    process; the numbers come back on process 0 only."""
    from smileynet.data.loader import build_loader

    distributed.broadcast_buffers(model)
    loader = build_loader(
        Path(config.data),
        "valid",
        num_classes=model.config.num_classes,
        image_size=config.image_size,
        batch_size=batch_size,
        train=False,
        seed=config.seed,
        workers=config.workers,
        rank=info.rank,
        world_size=info.world_size,
    )
    scores, targets = predict_scores(
        model,
        loader,
        device,
        dtype=dtype,
        max_batches=config.val_batches,
        channels_last=config.channels_last and device.type == "cuda",
    )
    classes = model.config.num_classes
    rows = distributed.all_gather_rows(np.concatenate([scores, targets], axis=1), device)
    scores, targets = rows[:, :classes], rows[:, classes:]
    if not info.is_main or not len(scores):
        return {}
    values = metrics.summary(scores, targets)
    return {"val_loss": bce(scores, targets), **{f"val_{k}": v for k, v in values.items()}}


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train SmileyNet as `config` says; returns the final model dir (RUN/model)."""
    device_name = resolve_device(config.device)
    info = distributed.init("cuda" if device_name.startswith("cuda") else "cpu")
    try:
        return _train(config, resume, info, device_name)
    finally:
        distributed.shutdown()


@dataclass
class Setup:
    """What the loop works with, built once: where things go, the model and how it learns."""

    run: Path
    data: Path
    device: torch.device
    batch_size: int  # per process
    vocab: Vocabulary
    has_valid: bool
    quiet: bool
    model: SmileyNet  # the plain model (what is saved); the loop may run a compiled / DDP wrapper of it
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    criterion: nn.Module
    dtype: torch.dtype | None

    @property
    def ckpt_dir(self) -> Path:
        return self.run / "checkpoints"


@dataclass
class Start:
    """Where the loop starts: step 0, or where a killed run's resumable state left off."""

    step: int = 0
    positions: list[tuple[int, int]] = field(default_factory=list)  # per rank: (epoch, batch) of the data
    best: dict = field(default_factory=lambda: {"auc": -math.inf, "step": None})
    elapsed_before: float = 0.0
    resumed: bool = False


def set_up(config: TrainConfig, info: distributed.DistInfo, device_name: str) -> Setup:
    """Check the data and flags, then build the model, optimizer, loss and precision."""
    from smileynet.data.layout import available_splits, dataset_vocabulary, layout

    run, data = Path(config.out), Path(config.data)
    layout(data, "train")  # a missing folder or split fails here, in one line
    device = torch.device(f"cuda:{info.local_rank}" if device_name == "cuda" and info.distributed else device_name)
    if config.batch_size % info.world_size:
        raise UserError(f"--batch-size {config.batch_size} does not split evenly over {info.world_size} processes")
    if config.epochs is not None:
        config.steps = config.epochs * steps_per_epoch(data, config.batch_size)
    vocab = dataset_vocabulary(data)

    torch.manual_seed(config.seed)
    model = create_model(
        config.arch, len(vocab), config.pretrained, vocab=list(vocab.emojis), image_size=config.image_size
    )
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    dtype = autocast_dtype(config, device)
    pos_weight = class_pos_weight(data, len(vocab)).to(device) if config.pos_weight == "balanced" else None
    return Setup(
        run=run,
        data=data,
        device=device,
        batch_size=config.batch_size // info.world_size,
        vocab=vocab,
        has_valid="valid" in available_splits(data),
        quiet=config.quiet or not info.is_main,
        model=model,
        optimizer=make_optimizer(config, model),
        scaler=torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
        criterion=nn.BCEWithLogitsLoss(pos_weight=pos_weight),
        dtype=dtype,
    )


def restore(setup: Setup, config: TrainConfig, info: distributed.DistInfo, resume: bool) -> Start:
    """Step 0, or the state of a killed run (model, optimizer, scaler, RNGs, every rank's data position)."""
    start = Start(positions=[(0, 0)] * info.world_size)
    if resume and not (setup.ckpt_dir / "state.pt").is_file():
        say(f"train: {setup.run} has no checkpoint yet: starting from step 0", setup.quiet)
        resume = False
    if resume:
        state = load_state(setup.ckpt_dir)
        if state["vocab"] != list(setup.vocab.emojis):
            raise UserError(f"--resume: {setup.data} has a different vocabulary from the checkpoint's")
        setup.model.load_state_dict(state["model"])
        setup.optimizer.load_state_dict(state["optimizer"])
        setup.scaler.load_state_dict(state["scaler"])
        start = Start(state["step"], start.positions, state["best"], state["elapsed_s"], resumed=True)
        saved = [tuple(p) for p in state["positions"]]
        if len(saved) == info.world_size:
            start.positions = saved
        else:  # another number of processes: restart the data at the next epoch boundary
            start.positions = [(max(p[0] for p in saved) + 1, 0)] * info.world_size
            say(
                f"train: resuming on {info.world_size} processes (checkpoint had {len(saved)}): data restarts at "
                f"epoch {start.positions[0][0]}",
                setup.quiet,
            )
        set_rng_state(state["rng"])
        say(f"train: resumed {setup.run} at step {start.step}", setup.quiet)
    if start.step >= config.steps:
        raise UserError(
            f"{setup.run}: already trained {start.step} steps (of --steps {config.steps}); raise --steps to go on"
        )
    return start


def wrap(setup: Setup, config: TrainConfig, info: distributed.DistInfo) -> nn.Module:
    """The module the loop calls: the model, compiled and/or wrapped for DDP as configured."""
    from torch.nn.parallel import DistributedDataParallel

    model: nn.Module = setup.model
    if config.compile:
        model = cast(nn.Module, torch.compile(model))
    if info.distributed:
        model = DistributedDataParallel(model, device_ids=[setup.device.index] if setup.device.type == "cuda" else None)
    return model


def train_step(
    setup: Setup, model: nn.Module, config: TrainConfig, step: int, images: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """One optimizer step on one batch; returns the (detached) loss and the learning rate used."""
    device = setup.device
    if device.type == "cuda":
        images, targets = images.pin_memory(), targets.pin_memory()
    images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
    x = normalize(images, setup.model.config)
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    lr = learning_rate(config, step)
    for group in setup.optimizer.param_groups:
        group["lr"] = lr
    with autocast(device, setup.dtype):
        logits = model(x)
    loss = setup.criterion(logits.float(), targets)
    setup.optimizer.zero_grad(set_to_none=True)
    setup.scaler.scale(loss).backward()
    setup.scaler.step(setup.optimizer)
    setup.scaler.update()
    return loss.detach(), lr


def metrics_row(
    setup: Setup,
    info: distributed.DistInfo,
    done: int,
    steps_in_row: int,
    totals: torch.Tensor,
    seconds: float,
    elapsed: float,
    epoch: int,
    lr: float,
) -> dict:
    """A metrics.csv row from the numbers summed over all processes; a non-finite loss stops the run
    before anything more is saved."""
    if info.distributed:
        torch.distributed.all_reduce(totals)
    mean_loss = totals[0].item() / totals[2].item()
    if not math.isfinite(mean_loss):
        good = (
            f"the last good checkpoint (step {state_step(setup.ckpt_dir)}) is kept in {setup.ckpt_dir}"
            if (setup.ckpt_dir / "state.pt").is_file()
            else "no checkpoint was written before it"
        )
        raise UserError(
            f"training loss became {mean_loss} between steps {done - steps_in_row + 1} and {done}; "
            f"{good}; lower --lr or check the data"
        )
    device = setup.device
    return {
        "step": done,
        "epoch": epoch,
        "loss": mean_loss,
        "lr": lr,
        "images_per_s": totals[1].item() / max(seconds, 1e-9),
        "elapsed_s": elapsed,
        "gpu_mem_gb": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
    }


def save_checkpoint(
    setup: Setup,
    config: TrainConfig,
    info: distributed.DistInfo,
    done: int,
    position: tuple[int, int],
    best: dict,
    elapsed: float,
) -> None:
    """`checkpoints/last/` and the resumable state, with every rank's data position."""
    all_positions: list[tuple[int, int] | None] = [position]
    if info.distributed:
        all_positions = [None] * info.world_size
        torch.distributed.all_gather_object(all_positions, position)
    if info.is_main:
        save(setup.model, setup.ckpt_dir / "last")
        save_state(
            setup.ckpt_dir,
            {
                "model": setup.model.state_dict(),
                "optimizer": setup.optimizer.state_dict(),
                "scaler": setup.scaler.state_dict(),
                "step": done,
                "positions": [list(p) for p in all_positions if p is not None],  # all filled by the gather
                "rng": rng_state(),
                "best": best,
                "elapsed_s": elapsed,
                "vocab": list(setup.vocab.emojis),
                "config": config.to_dict(),
            },
        )


def finish(setup: Setup, config: TrainConfig, info: distributed.DistInfo, best: dict, skipped: Counter) -> Path:
    """RUN/model from the best checkpoint (else the last weights), and train_summary.json."""
    source = "best" if best["step"] is not None else "last"
    final = save(load(setup.ckpt_dir / source), setup.run / "model")
    if skipped:
        say(f"train: skipped unreadable samples: {dict(skipped)}", setup.quiet)
    write_json(
        setup.run / "train_summary.json",
        {
            "model_from": source,
            "best_step": best["step"],
            "best_val_auc": best["auc"] if best["step"] else None,
            "steps": config.steps,
            "skipped_samples": dict(skipped),
            "processes": info.world_size,
            "backend": torch.distributed.get_backend() if info.distributed else None,
        },
    )
    say(
        f"train: {final} holds the {source} weights"
        + (f" (val AUC {best['auc']:.4f} at step {best['step']})" if source == "best" else ""),
        setup.quiet,
    )
    return final


def _train(config: TrainConfig, resume: bool, info: distributed.DistInfo, device_name: str) -> Path:
    setup = set_up(config, info, device_name)
    start = restore(setup, config, info, resume)
    if info.is_main:
        setup.run.mkdir(parents=True, exist_ok=True)
        write_config(setup.run / "config.yaml", config.to_dict())
    model = wrap(setup, config, info)
    log = MetricsLog(setup.run, start.step if start.resumed else None, config.tensorboard) if info.is_main else None
    if not setup.has_valid:
        say(f"train: {setup.data} has no valid split: no validation; RUN/model will hold the last weights", setup.quiet)

    skipped: Counter = Counter()
    batches = train_batches(config, len(setup.vocab), setup.batch_size, info, start.positions[info.rank], skipped)
    best = start.best
    loss_sum = torch.zeros((), device=setup.device)
    images_seen, steps_in_row = 0, 0
    row_start = start_time = time.perf_counter()
    latest = {"loss": math.nan}  # of the last metrics row, for the progress line

    def status() -> str:
        return "" if math.isnan(latest["loss"]) else f"loss {latest['loss']:.4f}"

    model.train()
    for step in progress(
        range(start.step, config.steps),
        total=config.steps - start.step,
        desc="train",
        unit="step",
        quiet=setup.quiet,
        status=status,
    ):
        epoch, batch, images, targets = next(batches)
        loss, lr = train_step(setup, model, config, step, images, targets)
        loss_sum += loss
        images_seen += len(images)
        steps_in_row += 1

        done = step + 1
        last = done == config.steps
        do_val = setup.has_valid and ((config.val_every and done % config.val_every == 0) or last)
        do_ckpt = done % config.checkpoint_every == 0 or last
        if not (done % config.log_every == 0 or do_val or do_ckpt):
            continue

        now = time.perf_counter()
        totals = torch.tensor([loss_sum.item(), float(images_seen), float(steps_in_row)], dtype=torch.float64)
        row = metrics_row(
            setup, info, done, steps_in_row, totals, now - row_start, start.elapsed_before + now - start_time, epoch, lr
        )
        latest["loss"] = float(row["loss"])
        if do_val:
            row.update(validate(setup.model, config, setup.device, setup.dtype, setup.batch_size, info))
        if do_val and info.is_main:
            if row.get("val_auc") is not None and row["val_auc"] > best["auc"]:
                best = {"auc": row["val_auc"], "step": done}
                save(setup.model, setup.ckpt_dir / "best")
            say(
                f"train: step {done} loss {row['loss']:.4f} val auc {row.get('val_auc', math.nan):.4f} "
                f"mtop1 {row.get('val_mtop1', math.nan):.4f} mtop5 {row.get('val_mtop5', math.nan):.4f}",
                setup.quiet,
            )
        if log is not None:
            log.write(row)
        if do_ckpt:
            save_checkpoint(setup, config, info, done, (epoch, batch), best, row["elapsed_s"])
        distributed.barrier()
        loss_sum.zero_()
        images_seen, steps_in_row, row_start = 0, 0, time.perf_counter()

    if log is not None:
        log.close()
    if not info.is_main:
        return setup.run / "model"
    return finish(setup, config, info, best, skipped)


def state_step(ckpt_dir: Path) -> int | None:
    try:
        return int(load_state(ckpt_dir)["step"])
    except (UserError, KeyError):
        return None
