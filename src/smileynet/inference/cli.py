"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from smileynet.cli_common import (
    BACKEND,
    DEVICE,
    MODEL,
    QUIET,
    SEED,
    VERBOSE,
    WORKERS,
    default_workers,
    model_extra,
    start,
)
from smileynet.errors import UserError


def predict(
    model: Path = MODEL,
    images: list[Path] = typer.Argument(..., help="Image files and folders (searched recursively)."),
    top_k: int = typer.Option(5, "--top-k", help="Emojis to show per image."),
    json_lines: bool = typer.Option(
        False, "--json", help="JSON lines ({path, top: [{emoji, name, probability}]}) instead of a table."
    ),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per batch."),
    backend: str = BACKEND,
    device: str = DEVICE,
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Top emojis of each image; unreadable images are listed on stderr with the reason and skipped.

    An exported MODEL.onnx needs only `pip install 'smileynet[lite]'` (no torch)."""
    extra = model_extra(model, backend)
    start("predict", quiet, verbose, extra=extra)
    from smileynet.inference.predict import predict_files, render_table
    from smileynet.inference.runtime import make_runner
    from smileynet.model.config import DEMO_NOTE

    if extra != "lite":  # an .onnx file runs on ONNX Runtime's CPU provider; torch resolves the rest
        from smileynet.distributed import resolve_device

        device = resolve_device(device)
    if top_k < 1:
        raise UserError("--top-k must be at least 1")
    runner = make_runner(model, backend, batch_size=batch_size, device=device)
    if runner.config.demo:
        print(f"note: {model} is {DEMO_NOTE}", file=sys.stderr)
    rows, failures = predict_files(
        runner,
        images,
        top_k,
        batch_size=batch_size,
        backend=backend,
        workers=default_workers(workers),
        device=device,
        quiet=quiet,
    )
    for path, reason in failures:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if json_lines:
        for path, top in rows:
            print(json.dumps({"path": path, "top": top}, ensure_ascii=False))
    elif rows:
        from rich.console import Console

        Console().print(render_table(rows))
    if not rows:
        raise UserError(f"none of the {len(failures)} images could be read")


def embed(
    model: Path = MODEL,
    inputs: list[Path] = typer.Argument(
        ...,
        help="Image files, image folders (searched recursively), list files (one path per line), "
        "or one dataset (shards or release CSVs).",
    ),
    out: Path = typer.Option(..., "--out", help="Output FILE.parquet: id, path, embedding (logits), probs."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per batch."),
    backend: str = BACKEND,
    device: str = DEVICE,
    split: str = typer.Option(None, "--split", help="Dataset split to embed (default: all present)."),
    part_rows: int = typer.Option(2048, "--part-rows", help="Rows per part file: what a killed run can lose at most."),
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Emoji embeddings to parquet: streaming, resumable (rerun skips ids already written), torchrun-aware.

    Under torchrun, --device cuda means one GPU per rank."""
    start("embed", quiet, verbose, extra="onnx" if backend == "onnx" else "torch")
    from smileynet.inference.embed import EmbedConfig
    from smileynet.inference.embed import embed as run_embed

    summary = run_embed(
        EmbedConfig(
            model=model,
            inputs=inputs,
            out=out,
            batch_size=batch_size,
            backend=backend,
            device=device,
            split=split,
            workers=default_workers(workers),
            part_rows=part_rows,
            quiet=quiet,
        )
    )
    if summary["rows"] is not None:
        print(json.dumps(summary, ensure_ascii=False))


def export(
    model: Path = MODEL,
    out: Path = typer.Option(
        ..., "--out", "--onnx", help="Output FILE.onnx (uint8 pixels in; logits and features out)."
    ),
    check: bool = typer.Option(
        None,
        "--check/--no-check",
        show_default=False,
        help="Compare ONNX Runtime with PyTorch (max abs prob diff < 1e-4, same top-5) before writing "
        "(default: when ONNX Runtime is installed).",
    ),
    int8: Path = typer.Option(
        None,
        "--int8-calibration",
        help="Image folder: write an int8-quantised graph calibrated on these images (lossy, faster on CPU).",
    ),
    calibration_images: int = typer.Option(64, "--calibration-images", help="Images of --int8-calibration to use."),
    seed: int = SEED,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Export the model to ONNX, checked against PyTorch (optionally quantised to int8)."""
    start("export", quiet, verbose, extra="onnx" if check or int8 is not None else "torch")
    from smileynet.inference.export import export as run_export

    summary = run_export(
        model, out, check=check, seed=seed, int8_calibration=int8, calibration_images=calibration_images
    )
    print(json.dumps(summary, ensure_ascii=False))
