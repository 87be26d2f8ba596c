"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

import typer

from smileynet.cli_common import not_built


def collect(ctx: typer.Context) -> None:
    """(not built yet)"""
    not_built("collect")
