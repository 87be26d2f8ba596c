"""Find the report's inputs by the files they hold, in any mix of files and folders.

Each stage's outputs have a name or a shape that gives them away (docs/architecture.md): `collect_report.json`,
`posts.parquet`, `manifest.parquet`, `categories.csv` (with `train/valid/test.csv` beside it and no
manifest: a release-layout dataset), `stats/`, a run's `metrics.csv`, an
evaluation JSON (keys `mtop1` and `auc`), transfer's `results.json`, `emoji_fingerprints.csv`, a
model dir (`config.json` + `model.safetensors`). Folders are searched a few levels deep; caches,
checkpoints and shards are not opened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from smileynet.contracts import (
    CATEGORIES_FILE,
    COLLECT_REPORT_FILE,
    MANIFEST_FILE,
    POSTS_FILE,
    SPLITS,
    STATS_DIR,
    is_evaluation_result,
    is_transfer_results,
    release_csv_name,
)
from smileynet.errors import UserError
from smileynet.files import parse_json

MAX_DEPTH = 4
SKIP_DIRS = {"cache", "checkpoints", "__pycache__", "node_modules"}
MAX_JSON_BYTES = 20 * 1024 * 1024


@dataclass
class Inputs:
    """The recognised inputs, each list sorted and without duplicates."""

    collect_reports: list[Path] = field(default_factory=list)
    posts: list[Path] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    categories: list[Path] = field(default_factory=list)
    stats_dirs: list[Path] = field(default_factory=list)
    releases: list[Path] = field(default_factory=list)  # train/valid/test.csv + categories.csv, no manifest
    runs: list[Path] = field(default_factory=list)  # folders holding metrics.csv
    evaluations: list[Path] = field(default_factory=list)
    transfers: list[Path] = field(default_factory=list)  # results.json files
    fingerprints: list[Path] = field(default_factory=list)  # emoji_fingerprints.csv beside no results.json
    models: list[Path] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.__dataclass_fields__)


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def read_json(path: Path) -> object:
    """The JSON value of an input file, or None when it cannot be one: unreadable, over
    MAX_JSON_BYTES, not UTF-8, not JSON, nested too deep, or a number over Python's digit limit."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return None
        return parse_json(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None


def _add_file(found: Inputs, path: Path) -> None:
    name = path.name
    if name == COLLECT_REPORT_FILE:
        found.collect_reports.append(path)
    elif name == POSTS_FILE:
        found.posts.append(path)
    elif name == MANIFEST_FILE:
        found.manifests.append(path)
        if (path.parent / STATS_DIR).is_dir():
            found.stats_dirs.append(path.parent / STATS_DIR)
    elif name == CATEGORIES_FILE:
        found.categories.append(path)
        folder = path.parent
        if not (folder / MANIFEST_FILE).exists() and any((folder / release_csv_name(s)).is_file() for s in SPLITS):
            found.releases.append(folder)
    elif name == "metrics.csv":
        found.runs.append(path.parent)
    elif name == "emoji_fingerprints.csv":
        if not (path.parent / "results.json").is_file():
            found.fingerprints.append(path)
    elif name.endswith(".json") and name != "config.json":
        data = read_json(path)
        if is_transfer_results(data):
            found.transfers.append(path)
        elif is_evaluation_result(data):
            found.evaluations.append(path)


def _walk(found: Inputs, folder: Path, depth: int) -> None:
    if is_model_dir(folder):
        found.models.append(folder)
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir():
            if entry.name in (POSTS_FILE, MANIFEST_FILE):
                _add_file(found, path)  # a parquet dataset written as a folder of parts
            elif depth < MAX_DEPTH and entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                _walk(found, path, depth + 1)
        elif entry.is_file():
            _add_file(found, path)


def find_inputs(paths: list[Path]) -> Inputs:
    """Everything the report can show under `paths`; a path that does not exist is an error."""
    found = Inputs()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError(f"input not found: {path}")
        if path.is_dir():
            _walk(found, path, 0)
        else:
            _add_file(found, path)
    for name in found.__dataclass_fields__:
        setattr(found, name, sorted(dict.fromkeys(p.resolve() for p in getattr(found, name))))
    return found
