"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from __future__ import annotations

from pathlib import Path

import typer

from smileynet.cli_common import DEVICE, MODEL, QUIET, VERBOSE, WORKERS, default_workers, start
from smileynet.errors import UserError


def train(
    data: Path = typer.Option(
        None, "--data", help="Shards folder from `smileynet download`, or release CSVs + local images."
    ),
    out: Path = typer.Option(..., "--out", help="Run folder: model/, checkpoints/, metrics.csv, config.yaml."),
    config: Path = typer.Option(None, "--config", help="YAML file of settings (defaults < file < flags)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    arch: str = typer.Option(
        None, "--arch", help="resnet50 (default), any torchvision classifier, timm/NAME, or tiny."
    ),
    pretrained: str = typer.Option(None, "--pretrained", help="none (default), imagenet, or a local weights file."),
    steps: int = typer.Option(None, "--steps", help="Optimizer steps (default 320000, the paper's)."),
    epochs: int = typer.Option(None, "--epochs", help="Train this many epochs instead of --steps."),
    batch_size: int = typer.Option(None, "--batch-size", help="Global batch size (default 128)."),
    optimizer: str = typer.Option(None, "--optimizer", help="adam (default, the paper), adamw or sgd."),
    lr: float = typer.Option(None, "--lr", help="Learning rate (default 1e-4)."),
    weight_decay: float = typer.Option(None, "--weight-decay", help="Weight decay (default 0)."),
    schedule: str = typer.Option(None, "--schedule", help="constant (default, the paper) or cosine."),
    warmup_steps: int = typer.Option(None, "--warmup-steps", help="Linear warmup steps (default 0)."),
    image_size: int = typer.Option(None, "--image-size", help="Training crop size (default 224)."),
    crop_scale: str = typer.Option(
        None,
        "--crop-scale",
        help="Area range LOW,HIGH of the random resized crop, as "
        "fractions of the image (default 0.5,1: the official "
        "code's; torchvision's default is 0.08,1).",
    ),
    pos_weight: str = typer.Option(
        None, "--pos-weight", help="none (default) or balanced (negatives/positives per emoji)."
    ),
    device: str = typer.Option(None, "--device", help="auto (default), cpu or cuda."),
    precision: str = typer.Option(
        None, "--precision", help="auto (default: bf16 on GPUs that have it), fp32, bf16, fp16."
    ),
    channels_last: bool = typer.Option(
        None, "--channels-last/--no-channels-last", help="channels_last memory format (default on)."
    ),
    compile: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile the model (default off)."),
    log_every: int = typer.Option(None, "--log-every", help="Steps per metrics.csv row (default 50)."),
    val_every: int = typer.Option(
        None, "--val-every", help="Steps between validations (default 2000; 0: at the end only)."
    ),
    val_batches: int = typer.Option(None, "--val-batches", help="Cap on validation batches (default 0: all)."),
    checkpoint_every: int = typer.Option(None, "--checkpoint-every", help="Steps between checkpoints (default 2000)."),
    tensorboard: bool = typer.Option(
        None, "--tensorboard/--no-tensorboard", help="Write TensorBoard events (default on)."
    ),
    seed: int = typer.Option(None, "--seed", help="Random seed (default 0)."),
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Train SmileyNet (the paper's recipe by default; torchrun for several GPUs or nodes)."""
    flags = {k: v for k, v in locals().items() if k not in ("config", "resume", "verbose")}
    flags["quiet"] = quiet or None  # a flag can only switch it on: off is "not given"
    start("train", quiet, verbose, extra="train")
    from smileynet.files import read_config
    from smileynet.train.config import resolve
    from smileynet.train.trainer import train as run_training

    base = None
    if resume:
        saved = out / "config.yaml"
        if not saved.is_file():
            raise UserError(f"--resume: {out} holds no config.yaml (not a run folder)")
        base = read_config(saved)
    elif (out / "checkpoints" / "state.pt").is_file():
        raise UserError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    resolved = resolve(flags, config, base)
    model_dir = run_training(resolved, resume=resume)
    if not resolved.quiet:
        print(model_dir)


def evaluate(
    model: Path = MODEL,
    data: Path = typer.Option(..., "--data", help="Shards folder, or release CSVs + local images."),
    split: str = typer.Option("test", "--split", help="train, valid or test."),
    out: Path = typer.Option(None, "--out", help="Write every metric (per emoji too) as JSON to this file."),
    json_out: bool = typer.Option(False, "--json", help="Print that JSON instead of the table."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per batch."),
    device: str = DEVICE,
    seed: int = typer.Option(0, "--seed", help="Seed of the random-scores baseline."),
    count_unlabelled: bool = typer.Option(
        False,
        "--count-unlabelled",
        help="mTop-k as the official scripts compute it: a sample without labels scores 0 and counts in n, "
        "ties ranked by torch.topk (default: such samples are left out, ties go to the lower index). "
        "The JSON's mtop_convention says which; `unlabelled` always counts them.",
    ),
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Emoji prediction metrics (mTop-1/3/5, mean ROC AUC, mAP) against random scores; per emoji in --out FILE."""
    start("evaluate", quiet, verbose, extra="train")
    from smileynet.train.evaluation import dumps, summary_table
    from smileynet.train.evaluation import evaluate as run_evaluation

    result = run_evaluation(
        model,
        data,
        split,
        out=out,
        batch_size=batch_size,
        device=device,
        seed=seed,
        quiet=quiet,
        count_unlabelled=count_unlabelled,
        workers=default_workers(workers),
    )
    print(dumps(result) if json_out else summary_table(result))
