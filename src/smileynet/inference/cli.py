"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

import typer

from smileynet.cli_common import not_built


def predict(ctx: typer.Context) -> None:
    """(not built yet)"""
    not_built("predict")


def embed(ctx: typer.Context) -> None:
    """(not built yet)"""
    not_built("embed")


def export(ctx: typer.Context) -> None:
    """(not built yet)"""
    not_built("export")
