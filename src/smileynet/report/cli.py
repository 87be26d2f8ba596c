"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from __future__ import annotations

from pathlib import Path

import typer

from smileynet.cli_common import MODEL_HELP, QUIET, VERBOSE, start


def report(
    inputs: list[Path] = typer.Argument(
        ..., help="Output folders or files of collect, sample, train, evaluate, transfer."
    ),
    out: Path = typer.Option(..., "--out", help="The HTML file to write."),
    images: list[Path] = typer.Option(
        None, "--images", help="Images or folders to show with their top-5 emojis (Fig. 5)."
    ),
    model: Path = typer.Option(
        None, "--model", help=MODEL_HELP + " For --images; default: the first model dir among the inputs."
    ),
    examples: int = typer.Option(12, "--examples", help="At most this many example images."),
    title: str = typer.Option("SmileyNet report", "--title", help="Page title."),
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """One self-contained HTML page: dataset, training, Table 1, transfer tables and figures."""
    start("report", quiet, verbose, extra="report")
    from smileynet.report import ReportConfig, build_report

    path = build_report(
        ReportConfig(
            inputs=list(inputs),
            out=out,
            images=list(images or []),
            model=model,
            examples=examples,
            title=title,
            quiet=quiet,
        )
    )
    if not quiet:
        print(path)
