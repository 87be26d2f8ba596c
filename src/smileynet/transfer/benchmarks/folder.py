"""Any labelled folder tree (`<label>/<image>`) or CSV (`path,label`, paths relative to the CSV):
the way in for a benchmark whose release layout no reader here knows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from smileynet.errors import UserError
from smileynet.files import read_bounded_text
from smileynet.transfer.benchmarks.base import Benchmark, Split, class_tree

MAX_CSV_BYTES = 256 << 20  # a million rows of long paths


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
    text = read_bounded_text(path, MAX_CSV_BYTES, "a labels CSV", encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not {"path", "label"} <= set(reader.fieldnames or []):
        raise UserError(f"{path}: expected a CSV with columns path,label")
    rows: list[tuple[str, str]] = []
    for row in reader:
        file, label = (row.get("path") or "").strip(), (row.get("label") or "").strip()
        if not file or not label or "\0" in file:
            raise UserError(f"{path}: line {reader.line_num}: needs a path and a label")
        rows.append((file, label))
    if not rows:
        raise UserError(f"{path}: expected a CSV with columns path,label")
    classes = sorted({label for _, label in rows})
    if len(classes) < 2:
        raise UserError(f"{path}: needs at least two labels")
    index = {c: i for i, c in enumerate(classes)}
    paths = [Path(file) if Path(file).is_absolute() else path.parent / file for file, _ in rows]
    labels = np.array([index[label] for _, label in rows], dtype=np.int64)
    bench = Benchmark("folder", path.parent, paths, labels, classes, [Split("all", np.arange(len(paths)))])
    return bench.drop_missing()
