"""Shared pieces of the CLI layer: common options and the stub for commands not built yet."""

from __future__ import annotations

import sys

import typer

SEED = typer.Option(0, "--seed", help="Random seed.")
WORKERS = typer.Option(None, "--workers", help="Worker processes (default: all cores).")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress output.")


def not_built(command: str) -> None:
    print(f"smileynet {command}: not built yet", file=sys.stderr)
    raise typer.Exit(2)
