"""Options every command spells the same way."""

from __future__ import annotations

import typer

SEED = typer.Option(0, "--seed", help="Random seed.")
WORKERS = typer.Option(None, "--workers", help="Worker processes (default: all cores).")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress output.")

