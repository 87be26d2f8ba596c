"""The `smileynet` command. Each command lives in its stage's `cli.py`; this file only lists them."""

from __future__ import annotations

import sys

import typer

from smileynet import __version__
from smileynet.cli_common import Command, Group
from smileynet.errors import UserError

PIPELINE = """Pipeline: collect -> sample -> download -> train -> evaluate -> predict/embed/export/serve
-> transfer -> report. `smileynet demo` runs all of it on a generated world."""


def _version(value: bool) -> None:
    if value:
        print(f"smileynet {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="smileynet",
    cls=Group,
    help="SmileyNet: emoji embedding for visual sentiment analysis.\n\n" + PIPELINE,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """SmileyNet: emoji embedding for visual sentiment analysis."""


def _register() -> None:
    from smileynet.collect import cli as collect
    from smileynet.demo import cli as demo
    from smileynet.download import cli as download
    from smileynet.inference import cli as inference
    from smileynet.publish import cli as publish
    from smileynet.report import cli as report
    from smileynet.sample import cli as sample
    from smileynet.serve import cli as serve
    from smileynet.train import cli as train
    from smileynet.transfer import cli as transfer

    for function in (
        collect.collect,
        sample.sample,
        download.download,
        train.train,
        train.evaluate,
        inference.predict,
        inference.embed,
        inference.export,
        transfer.transfer,
        report.report,
        serve.serve,
        publish.card,
        publish.push,
        demo.demo,
    ):
        app.command(cls=Command)(function)
    from smileynet.listen import cli as listen

    app.add_typer(listen.app, name="listen")


_register()


def main() -> None:
    """Entry point: bad input ends in one line on stderr and exit status 1, never a traceback."""
    try:
        app()
    except UserError as err:
        print(f"smileynet: error: {err}", file=sys.stderr)
        sys.exit(1)
    except OSError as err:  # disk full, a file where a folder should be: the machine's answer, in one line
        where = f"{err.filename}: " if err.filename else ""
        print(f"smileynet: error: {where}{err.strerror or err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("smileynet: interrupted", file=sys.stderr)
        sys.exit(130)
