"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from smileynet.cli_common import DEVICE, MODEL_HELP, QUIET, SEED, VERBOSE, WORKERS, default_workers, start
from smileynet.errors import UserError

BENCHMARKS = ("twitter", "twitter2", "fi", "emotionroi", "emotion6", "artphoto", "abstract", "folder")


def transfer(
    benchmark: str = typer.Argument(
        ...,
        help="twitter (Twitter I), twitter2 (Twitter II), fi (Flickr&Instagram), "
        "emotionroi, emotion6, artphoto, abstract (docs/benchmarks.md), or folder (class "
        "folders or a path,label CSV).",
    ),
    root: Path = typer.Option(..., "--root", help="The benchmark in its original layout."),
    model: Path = typer.Option(..., "--model", help=MODEL_HELP),
    out: Path = typer.Option(..., "--out", help="Output folder: results.json, figures, cache/."),
    baseline: str = typer.Option(
        None, "--baseline", help="ObjectNet baseline: 'imagenet', a model dir or a weights file."
    ),
    baseline_features: str = typer.Option(
        "logits",
        "--baseline-features",
        help="The baseline's embedding: logits (its output layer: the 1000 ImageNet classes for 'imagenet', the "
        "paper's ObjectNet) or pre_logits (the features before it, 2048-d for ResNet50).",
    ),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds when no published folds exist."),
    head: str = typer.Option("linear", "--head", help="Transfer head t(.): linear or mlp."),
    finetune: bool = typer.Option(False, "--finetune", help="Also fine-tune the whole network per fold (slow)."),
    finetune_epochs: int = typer.Option(5, "--finetune-epochs", help="Epochs of --finetune."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per batch for extraction."),
    device: str = DEVICE,
    seed: int = SEED,
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Sentiment and emotion transfer: 1-NN, transfer head, zero-shot, correlations, fingerprints."""
    start("transfer", quiet, verbose, extra="train")
    if benchmark not in BENCHMARKS:
        raise UserError(f"unknown benchmark {benchmark!r}: use {', '.join(BENCHMARKS)}")
    from smileynet.distributed import resolve_device
    from smileynet.transfer import TransferConfig, run_transfer

    results = run_transfer(
        TransferConfig(
            benchmark=benchmark,
            root=root,
            model=model,
            out=out,
            baseline=baseline,
            baseline_features=baseline_features,
            folds=folds,
            seed=seed,
            head=head,
            finetune=finetune,
            finetune_epochs=finetune_epochs,
            batch_size=batch_size,
            device=resolve_device(device),
            workers=default_workers(workers),
            quiet=quiet,
        )
    )
    summary = {
        name: {p: v["smileynet"]["accuracy"]["mean"] for p, v in split["protocols"].items()}
        for name, split in results["splits"].items()
    }
    print(json.dumps({"out": str(out), "images": results["images"], "accuracy": summary}, indent=2, ensure_ascii=False))
