"""Options every command spells the same way, and the few things every command does first."""

from __future__ import annotations

import logging
import math
import os
import re
import typing
from dataclasses import dataclass
from typing import Any

import typer

from smileynet.errors import UserError
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


@dataclass(frozen=True)
class Bounds:
    """What a numeric flag accepts: from `low` (itself allowed when `inclusive`) to `high`."""

    low: float = 0
    inclusive: bool = False
    high: float | None = None

    def describe(self, kind: type) -> str:
        noun = "an integer" if kind is int else "a number"
        if self.high is not None:
            return f"{noun} from {_plain(self.low)} to {_plain(self.high)}"
        return f"{noun} {'>=' if self.inclusive else '>'} {_plain(self.low)}"


POSITIVE = Bounds()
AT_LEAST_ZERO = Bounds(inclusive=True)
MAX_INT = 2**63 - 1  # what numpy, torch and pyarrow hold without overflow

# The numeric flags that accept something other than "above 0", the same in every command. Every
# other int or float option of every command must be a finite number above 0.
FLAG_BOUNDS: dict[str, Bounds] = {
    "--seed": Bounds(inclusive=True, high=2**32 - 1),  # numpy's legacy seeding takes no more
    "--workers": AT_LEAST_ZERO,  # 0: read in the main process
    "--retries": AT_LEAST_ZERO,
    "--warmup-steps": AT_LEAST_ZERO,
    "--weight-decay": AT_LEAST_ZERO,
    "--val-every": AT_LEAST_ZERO,  # 0: validate at the end only
    "--val-batches": AT_LEAST_ZERO,  # 0: the whole split
    "--val-per-class": AT_LEAST_ZERO,
    "--test-per-class": AT_LEAST_ZERO,
    "--examples": AT_LEAST_ZERO,
    "--max-wait-ms": AT_LEAST_ZERO,  # 0: no waiting for other requests
    "--jpeg-quality": Bounds(low=1, inclusive=True, high=100),
    "--port": Bounds(low=1, inclusive=True, high=65535),
}

_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_MAX_NUMBER_CHARS = 64


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def parse_number(text: str, kind: type, flag: str, bounds: Bounds = POSITIVE) -> int | float:
    """`text` as the int or float a flag takes, within `bounds`; anything else (NaN, inf, a
    5000-digit number, a word) is one UserError naming the flag."""
    wanted = bounds.describe(kind)
    shown = repr(text[:20] + ("..." if len(text) > 20 else ""))
    number: int | float
    try:
        if kind is int:
            if not _INTEGER.fullmatch(text.strip()):
                raise ValueError(text)
            number = int(text.strip())
        else:
            if len(text) > _MAX_NUMBER_CHARS:
                raise ValueError(text)
            number = float(text)
    except ValueError:
        raise UserError(f"{flag} must be {wanted}, got {shown}") from None
    high = bounds.high if bounds.high is not None else (MAX_INT if kind is int else math.inf)
    low_ok = number >= bounds.low if bounds.inclusive else number > bounds.low
    if not (math.isfinite(number) and low_ok and number <= high):
        raise UserError(f"{flag} must be {wanted}, got {shown}")
    return number


def _numeric_kind(param: Any) -> type | None:
    """int or float for a parameter typed so (`int | None` too), else None."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    return kinds[0] if len(kinds) == 1 and kinds[0] in (int, float) else None


def _checking(process: Any, kind: type, flag: str, bounds: Bounds) -> Any:
    def checked(ctx: Any, value: Any) -> Any:
        if isinstance(value, str):
            value = parse_number(value, kind, flag, bounds)
        elif isinstance(value, (list, tuple)):
            value = type(value)(parse_number(v, kind, flag, bounds) if isinstance(v, str) else v for v in value)
        return process(ctx, value)

    return checked


def guard_numbers(command: Any) -> None:
    """Check every int and float option of `command` where it is parsed: a value typed on the
    command line (or from the environment) goes through `parse_number` before typer sees it."""
    for param in getattr(command, "params", ()):
        kind = _numeric_kind(param)
        if kind is None or getattr(param, "_numbers_guarded", False):
            continue
        flag = max(getattr(param, "opts", None) or [param.name], key=len)
        param.process_value = _checking(param.process_value, kind, flag, FLAG_BOUNDS.get(flag, POSITIVE))
        param._numbers_guarded = True


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
    """A command whose numeric options are checked (`guard_numbers`) and whose help is plain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        guard_numbers(self)


class Group(PlainHelp, typer.core.TyperGroup):
    """A group whose subcommands, however they were made, get the same numeric checks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        guard_numbers(self)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            guard_numbers(command)
        return command
