"""Any labelled folder tree (`<label>/<image>`) or CSV (`path,label`, paths relative to the CSV):
the way in for a benchmark whose release layout no reader here knows."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from smileynet.errors import UserError
from smileynet.transfer.benchmarks.base import Benchmark, Split, class_tree


def load_folder(root: Path) -> Benchmark:
    """A CSV (`path,label`; `--root` the CSV or a folder holding `labels.csv`) or a class tree."""
    csv_path = root if root.is_file() else root / "labels.csv"
    if csv_path.is_file():
        return _load_csv(csv_path)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise UserError(f"{root}: expected a labels.csv or at least two class folders")
    return class_tree("folder", root, classes)


def _load_csv(path: Path) -> Benchmark:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "label"} <= rows[0].keys():
        raise UserError(f"{path}: expected a CSV with columns path,label")
    classes = sorted({r["label"].strip() for r in rows})
    if len(classes) < 2:
        raise UserError(f"{path}: needs at least two labels")
    index = {c: i for i, c in enumerate(classes)}
    paths = [Path(r["path"]) if Path(r["path"]).is_absolute() else path.parent / r["path"] for r in rows]
    labels = np.array([index[r["label"].strip()] for r in rows], dtype=np.int64)
    bench = Benchmark("folder", path.parent, paths, labels, classes, [Split("all", np.arange(len(paths)))])
    return bench.drop_missing()
