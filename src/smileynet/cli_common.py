"""Options every command spells the same way, and the few things every command does first."""

from __future__ import annotations

import logging
import os

import typer

from smileynet.extras import installed, require

MODEL_HELP = (
    "A model dir (config.json + model.safetensors), a run folder (its model/), "
    "or a model shared on the Hugging Face Hub: hf-hub:USER/NAME."
)
MODEL = typer.Argument(..., help=MODEL_HELP)
SEED = typer.Option(0, "--seed", help="Random seed.")
WORKERS = typer.Option(
    None, "--workers", help="Parallel workers reading and decoding the inputs (default: one per core, at most 8)."
)
QUIET = typer.Option(False, "--quiet", "-q", help="No progress or summary lines (results and errors still print).")
VERBOSE = typer.Option(
    False, "--verbose", "-v", help="Also show what the libraries underneath print (img2dataset, uvicorn, ...)."
)
DEVICE = typer.Option("auto", "--device", help="auto (a CUDA GPU when there is one, else cpu), cpu or cuda[:N].")
BACKEND = typer.Option(
    "auto", "--backend", help="auto (ONNX Runtime on CPU when installed, else torch), torch or onnx."
)


def default_workers(workers: int | None) -> int:
    """What `--workers` means when not given: one per core, at most 8."""
    return workers if workers is not None else min(os.cpu_count() or 1, 8)


def model_extra(model: object, backend: str = "torch") -> str:
    """The extra that running MODEL on BACKEND needs: [lite] for an .onnx file (and a hub model
    where torch is not installed: its model.onnx runs), else [torch], or [onnx] for --backend onnx."""
    name = str(model)
    if name.endswith(".onnx") or (name.startswith("hf-hub:") and backend != "torch" and not installed("torch")):
        return "lite"
    return "onnx" if backend == "onnx" else "torch"


def start(command: str, quiet: bool, verbose: bool, extra: str | None = None) -> None:
    """What each command does before its work: check its extra is installed (one line naming the
    `pip install` when not) and set how much the libraries underneath may log."""
    if extra is not None:
        require(extra, f"smileynet {command}")
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)


class PlainHelp:
    """Help placeholders as Unix tools write them (MODEL, --out PATH, flags bare) rather than
    typer's `{model}`, `<path>` and `<bool>`."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if param.param_type_name == "argument":
                name = param.name.upper() + ("..." if param.nargs != 1 else "")
                usage = name if param.required else f"[{name}]"
                param._usage_display_name = lambda usage=usage: usage
                param._rich_display_name = lambda name=name: name
                param.display_type_rich = lambda ctx: None
            elif param.is_flag:
                param.display_type_rich = lambda ctx: None
            elif param.metavar is None:
                label = param.display_type(ctx).strip("<>").removeprefix("list[").removesuffix("]")
                param.metavar = {"str": "TEXT", "int": "N", "float": "X"}.get(label, label.upper())
        return params


class Command(PlainHelp, typer.core.TyperCommand):
    pass


class Group(PlainHelp, typer.core.TyperGroup):
    pass
