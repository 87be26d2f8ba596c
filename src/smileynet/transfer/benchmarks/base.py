"""What every benchmark reader returns (`Benchmark`, `Split`) and the helpers they share.

Readers only list files and labels; decoding (and skipping what does not decode) is the
extractor's job, so a benchmark of 23k images is listed in a second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from smileynet.errors import UserError
from smileynet.files import read_bounded_text
from smileynet.images import list_images

MIKELS_EMOTIONS = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
POSITIVE_EMOTIONS = frozenset({"amusement", "awe", "contentment", "excitement"})
EKMAN_EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
SENTIMENT_NAMES = {"negative": 0, "neg": 0, "0": 0, "positive": 1, "pos": 1, "1": 1}
MISSING = "missing file"
MAX_LISTING_BYTES = 64 << 20


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
        return Benchmark(
            self.kind,
            self.root,
            [p for p, k in zip(self.paths, keep) if k],
            self.labels[keep],
            self.classes,
            splits,
            skipped,
            self.fold_source,
        )

    def drop_missing(self) -> Benchmark:
        """Without the listed files that are not on disk (counted as "missing file")."""
        return self.drop(np.array([p.is_file() for p in self.paths], dtype=bool), [MISSING] * len(self.paths))


def class_sentiment(classes: list[str]) -> list[int] | None:
    """0/1 polarity per class: sentiment names themselves, or Mikels emotions (positive =
    amusement, awe, contentment, excitement, as the paper maps them); None otherwise. Ekman's
    six (EmotionROI, Emotion6) get none: "surprise" has no agreed polarity."""
    names = [c.lower() for c in classes]
    if all(n in SENTIMENT_NAMES for n in names) and len({SENTIMENT_NAMES[n] for n in names}) == 2:
        return [SENTIMENT_NAMES[n] for n in names]
    if all(n in MIKELS_EMOTIONS for n in names) and len(names) > 1:
        return [int(n in POSITIVE_EMOTIONS) for n in names]
    return None


def single_split(
    kind: str,
    root: Path,
    paths: list[Path],
    labels: list[int],
    classes: list[str],
    folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> Benchmark:
    """A benchmark of one split, "all", with its published folds when there are."""
    if not paths:
        raise UserError(f"{root}: no {kind} images listed")
    split = Split("all", np.arange(len(paths)), folds)
    return Benchmark(
        kind,
        root,
        paths,
        np.array(labels, dtype=np.int64),
        classes,
        [split],
        fold_source="stratified" if folds is None else "published",
    )


def class_tree(kind: str, root: Path, classes: list[str], folder: Path | None = None) -> Benchmark:
    """`folder/<class>/**/<image>` (folder: `root` unless given) for each of `classes` (label
    order), all in one split."""
    folder = root if folder is None else folder
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = list_images(folder / name)
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise UserError(f"{folder}: no images under {', '.join(classes)}")
    return single_split(kind, root, paths, labels, classes)


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line of a listing, BOM and CRLF tolerated;
    a listing is outside input, so its size is bounded."""
    text = read_bounded_text(path, MAX_LISTING_BYTES, "a benchmark listing", encoding="utf-8-sig")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]


def shown(text: str) -> str:
    """A listing's line as an error message quotes it: repr'd, cut to a readable length."""
    return repr(text if len(text) <= 80 else text[:80] + "...")


def relative_name(path: Path, number: int, text: str) -> PurePosixPath:
    """A file name from a listing as a relative path that stays inside its folder: listings are
    outside input, so absolute paths and ".." are refused rather than followed."""
    name = PurePosixPath(text.replace("\\", "/"))
    if not name.parts or name.is_absolute() or ".." in name.parts or ":" in name.parts[0]:
        raise UserError(f"{path}: line {number}: not a file name inside the benchmark: {shown(text)}")
    return name


def first_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first of `names` that is a folder under `root`."""
    return next((root / n for n in names if (root / n).is_dir()), None)
