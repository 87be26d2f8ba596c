"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from smileynet.cli_common import QUIET, VERBOSE, start
from smileynet.errors import UserError
from smileynet.extras import require

RUN = typer.Argument(..., help="A run folder (its model/, config.yaml, reports) or a model dir.")
LICENSE = typer.Option("mit", "--license", help="The license the card declares (a Hub license id).")


def push(
    run: Path = RUN,
    repo: str = typer.Option(..., "--repo", help="The Hub model repo, USER/NAME (created when missing)."),
    out: Path = typer.Option(None, "--out", help="Where to write the repo folder first (default RUN/hub)."),
    token_env: str = typer.Option("HF_TOKEN", "--token-env", help="The environment variable holding a write token."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    license: str = LICENSE,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Publish a run on the Hugging Face Hub: config.json, model.safetensors, model.onnx and a model card."""
    start("push", quiet, verbose, extra="onnx")
    require("hub", "smileynet push")
    from smileynet.publish.push import hub_folder, repo_id_of, upload

    repo_id = repo_id_of(repo)
    token = os.environ.get(token_env)
    if not token:
        raise UserError(f"set {token_env} to a Hugging Face write token (or name another variable with --token-env)")
    folder = hub_folder(run, repo_id, out or run / "hub", license)
    url = upload(folder, repo_id, token, private)
    if not quiet:
        print(f"{folder} -> {url}")


def card(
    run: Path = RUN,
    out: Path = typer.Option(None, "--out", help="Output file (default RUN/README.md)."),
    repo: str = typer.Option(None, "--repo", help="The Hub repo USER/NAME the card names (default: the run's name)."),
    license: str = LICENSE,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Write the model card of a run (what `push` uploads as README.md), from the run's and its data's files."""
    start("card", quiet, verbose)
    from smileynet.publish.card import write_card
    from smileynet.publish.push import repo_id_of

    path = write_card(run, out, repo_id_of(repo) if repo else None, license)
    if not quiet:
        print(path)
