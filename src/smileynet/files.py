"""Atomic file writes and the resolved config saved next to every output."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from smileynet.errors import UserError


def read_bounded_text(path: Path, max_bytes: int, what: str, encoding: str = "utf-8") -> str:
    """The text of an outside file that must be small (a config, a listing): its size is checked
    before it is read, and a file too large or not UTF-8 is one line naming the file."""
    if path.stat().st_size > max_bytes:
        raise UserError(f"{path}: larger than {max_bytes >> 10} KiB: not {what}")
    try:
        return path.read_bytes().decode(encoding)
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte {err.start})") from None


def parse_json(text: str | bytes) -> Any:
    """JSON from outside. An integer past int64 becomes a float (inf past float's range), so no
    5000-digit number reaches code that formats or converts it; anything that is not JSON (bad
    syntax, bad UTF-8, nesting too deep) is a ValueError."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def _bounded_int(text: str) -> int | float:
    return int(text) if len(text) <= 18 else float(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_config(path: str | Path, config: dict[str, Any]) -> None:
    """The fully resolved configuration of a run, as YAML, so it can be repeated from its folder."""
    atomic_write_text(path, yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True))


MAX_CONFIG_BYTES = 1 << 20  # a run's config.yaml is about 1 KB


def read_config(path: str | Path) -> dict[str, Any]:
    """A YAML settings file (train --config, a run's config.yaml): at most 1 MiB of UTF-8 holding
    a mapping, else one line naming the file."""
    text = read_bounded_text(Path(path), MAX_CONFIG_BYTES, "a config file")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise UserError(f"{path}: not YAML{line}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config file must be a YAML mapping")
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
