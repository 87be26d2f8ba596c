"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from __future__ import annotations

from pathlib import Path

import typer

from smileynet.cli_common import QUIET, SEED, VERBOSE, WORKERS, start


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the world and every stage's outputs."),
    minutes: float = typer.Option(
        10.0, "--minutes", help="Time budget on a 2-core CPU: scales the world and the training."
    ),
    preset: str = typer.Option(
        "full", "--preset", help="full, or tiny (a few hundred posts, a handful of steps: for tests)."
    ),
    open_report: bool = typer.Option(
        True, "--open/--no-open", help="Open the report in a browser at the end (graphical sessions only)."
    ),
    seed: int = SEED,
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """The whole pipeline on a generated world: collect, sample, download, train, evaluate, transfer, report.

    Rerunning continues where a previous run stopped; finished stages are skipped."""
    start("demo", quiet, verbose, extra="all")
    from smileynet.demo.pipeline import run_demo

    run_demo(out, minutes=minutes, seed=seed, preset=preset, quiet=quiet, open_report=open_report, workers=workers)
