"""Sentiment and emotion benchmarks read in their original layouts.

- Twitter I (You et al. 2015): an image folder (`images/` or `Agg_AMT_Candidates/`, else the
  root itself) and `twitter_{five,four,three}_agrees.txt` with `<file> <label>` lines, 1 =
  positive. The published 5-fold lists, when present, sit in
  `ground_truth/{five,four,three}_agrees/test{1..5}/{train,test}.txt` (the layout of the
  benchmark's public fold release); without the agree files the labels come from those lists.
- FI (You et al. 2016): `<emotion>/<emotion>_NNNN.jpg` for the 8 Mikels emotions. Flickr's
  "photo no longer available" placeholders are byte-identical files: content found in
  `PLACEHOLDER_COPIES` or more files is dropped and counted.
- Any labelled folder tree (`<label>/<image>`) or CSV (`path,label`, paths relative to the CSV).

Readers only list files and labels; decoding (and skipping what does not decode) is the
extractor's job, so a benchmark of 23k images is listed in a second.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smileynet.errors import UserError
from smileynet.images import list_images

AGREE_SPLITS = ("five_agrees", "four_agrees", "three_agrees")
TWITTER_IMAGE_DIRS = ("images", "Agg_AMT_Candidates")
MIKELS_EMOTIONS = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
POSITIVE_EMOTIONS = frozenset({"amusement", "awe", "contentment", "excitement"})
SENTIMENT_NAMES = {"negative": 0, "neg": 0, "0": 0, "positive": 1, "pos": 1, "1": 1}
PLACEHOLDER_COPIES = 5


@dataclass
class Split:
    """One evaluation set: indices into the benchmark's samples, and its folds when published."""

    name: str
    indices: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]] | None = None  # (train, test) indices into the benchmark


@dataclass
class Benchmark:
    """Image paths with integer labels; `sentiment` (0/1 per sample) when the classes imply one."""

    kind: str
    root: Path
    paths: list[Path]
    labels: np.ndarray
    classes: list[str]
    splits: list[Split]
    skipped: Counter = field(default_factory=Counter)
    fold_source: str = "stratified"

    @property
    def sentiment(self) -> np.ndarray | None:
        mapping = class_sentiment(self.classes)
        return None if mapping is None else np.asarray(mapping)[self.labels]

    def drop(self, keep: np.ndarray, reasons: list[str]) -> Benchmark:
        """The benchmark without the samples where `keep` is False (counted by reason)."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1
        skipped = Counter(self.skipped)
        skipped.update(r for r, k in zip(reasons, keep) if not k)

        def remap(idx: np.ndarray) -> np.ndarray:
            idx = idx[keep[idx]]
            return new_index[idx]

        splits = [
            Split(s.name, remap(s.indices), None if s.folds is None else [(remap(a), remap(b)) for a, b in s.folds])
            for s in self.splits
        ]
        return Benchmark(self.kind, self.root, [p for p, k in zip(self.paths, keep) if k], self.labels[keep],
                         self.classes, splits, skipped, self.fold_source)


def class_sentiment(classes: list[str]) -> list[int] | None:
    """0/1 polarity per class: sentiment names themselves, or Mikels emotions (positive =
    amusement, awe, contentment, excitement, as the paper maps them); None otherwise."""
    names = [c.lower() for c in classes]
    if all(n in SENTIMENT_NAMES for n in names) and len({SENTIMENT_NAMES[n] for n in names}) == 2:
        return [SENTIMENT_NAMES[n] for n in names]
    if all(n in MIKELS_EMOTIONS for n in names) and len(names) > 1:
        return [int(n in POSITIVE_EMOTIONS) for n in names]
    return None


def load_benchmark(kind: str, root: str | Path) -> Benchmark:
    root = Path(root)
    if not root.exists():
        raise UserError(f"benchmark root not found: {root}")
    if kind == "twitter":
        return load_twitter(root)
    if kind == "fi":
        return load_fi(root)
    if kind == "folder":
        return load_folder(root)
    raise UserError(f"unknown benchmark {kind!r}: use twitter, fi or folder")


def _read_pairs(path: Path) -> list[tuple[str, int]]:
    pairs = []
    for number, line in enumerate(path.read_text("utf-8-sig").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1"):
            raise UserError(f"{path}: line {number}: expected '<file> <0|1>', got {line.strip()!r}")
        pairs.append((parts[0], int(parts[1])))
    return pairs


def _published_folds(root: Path, split: str) -> list[tuple[list[tuple[str, int]], list[tuple[str, int]]]] | None:
    base = root / "ground_truth" / split
    folds = []
    for k in range(1, 100):
        fold = base / f"test{k}"
        if not fold.is_dir():
            break
        if not (fold / "train.txt").is_file() or not (fold / "test.txt").is_file():
            raise UserError(f"{fold}: a published fold needs train.txt and test.txt")
        folds.append((_read_pairs(fold / "train.txt"), _read_pairs(fold / "test.txt")))
    return folds or None


def load_twitter(root: Path) -> Benchmark:
    """Twitter I in either layout; the union of the agree splits is the sample list."""
    image_dir = next((root / d for d in TWITTER_IMAGE_DIRS if (root / d).is_dir()), root)
    per_split: dict[str, list[tuple[str, int]]] = {}
    folds_by_split = {}
    for split in AGREE_SPLITS:
        folds = _published_folds(root, split)
        listing = next((root / n for n in (f"twitter_{split}.txt", f"{split}.txt", f"{split[:-1]}.txt") if (root / n).is_file()), None)
        if listing is not None:
            per_split[split] = _read_pairs(listing)
        elif folds is not None:
            per_split[split] = sorted({pair for _, test in folds for pair in test})
        if folds is not None:
            folds_by_split[split] = folds
    if not per_split:
        raise UserError(f"{root}: no twitter_{{five,four,three}}_agrees.txt and no ground_truth/ fold lists")

    label_of: dict[str, int] = {}
    for split, pairs in per_split.items():
        for name, label in pairs:
            if label_of.setdefault(name, label) != label:
                raise UserError(f"{root}: {name} is labelled {label_of[name]} and {label} in different splits")
    names = sorted(label_of)
    index = {n: i for i, n in enumerate(names)}
    paths = [image_dir / n for n in names]
    exists = np.array([p.is_file() for p in paths])

    splits = []
    for split in AGREE_SPLITS:
        if split not in per_split:
            continue
        indices = np.array([index[n] for n, _ in per_split[split]], dtype=np.int64)
        folds = None
        if split in folds_by_split:
            folds = [(np.array([index[n] for n, _ in train if n in index], dtype=np.int64),
                      np.array([index[n] for n, _ in test if n in index], dtype=np.int64))
                     for train, test in folds_by_split[split]]
        splits.append(Split(split, indices, folds))
    bench = Benchmark("twitter", root, paths, np.array([label_of[n] for n in names], dtype=np.int64),
                      ["negative", "positive"], splits,
                      fold_source="published" if folds_by_split else "stratified")
    return bench.drop(exists, ["missing file"] * len(paths))


def _class_tree(kind: str, root: Path, classes: list[str]) -> Benchmark:
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = list_images(root / name)
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise UserError(f"{root}: no images under {', '.join(classes)}")
    return Benchmark(kind, root, paths, np.array(labels, dtype=np.int64), classes, [Split("all", np.arange(len(paths)))])


def load_fi(root: Path) -> Benchmark:
    """FI: one folder per Mikels emotion; placeholders (repeated identical files) are dropped."""
    present = [e for e in MIKELS_EMOTIONS if (root / e).is_dir()]
    if len(present) < 2:
        raise UserError(f"{root}: expected FI emotion folders ({', '.join(MIKELS_EMOTIONS)})")
    bench = _class_tree("fi", root, present)
    digests = [hashlib.sha1(p.read_bytes()).hexdigest() for p in bench.paths]
    copies = Counter(digests)
    keep = np.array([copies[d] < PLACEHOLDER_COPIES for d in digests])
    return bench.drop(keep, ["placeholder (repeated identical file)"] * len(keep))


def load_folder(root: Path) -> Benchmark:
    """A CSV (`path,label`; `--root` the CSV or a folder holding `labels.csv`) or a class tree."""
    csv_path = root if root.is_file() else root / "labels.csv"
    if csv_path.is_file():
        return _load_csv(csv_path)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise UserError(f"{root}: expected a labels.csv or at least two class folders")
    return _class_tree("folder", root, classes)


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
    return bench.drop(np.array([p.is_file() for p in paths]), ["missing file"] * len(paths))
