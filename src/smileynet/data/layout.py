"""Where a split's samples live: WebDataset shards, a release-layout CSV, or a folder per emoji.

Three layouts answer the same questions (which samples, which labels), so the loaders above
never care which one the user has:

- shards: `DATA/{split}/*.tar` as `smileynet download` (img2dataset) writes them, `KEY.jpg`
  + `KEY.json` per sample, the JSON carrying `labels`, `emojis`, `url`, `post_id`, `created_at`;
- release CSV: `DATA/{split}.csv` with `url` (a local path, absolute or relative to DATA) and
  `labels` (a list literal such as `[3, 17]`), the public Visual Smiley Dataset's layout;
- image folder: `DATA/{split}/<emoji>/*.jpg`, one folder per category, named by the emoji
  (glyph or code points) or by its category name: for users who already sorted images on disk.

The vocabulary is `DATA/categories.csv` when there is one, else the default 92.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smileynet.contracts import SPLITS
from smileynet.errors import UserError
from smileynet.vocab import Vocabulary, default_vocabulary, parse_unicode_field

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")  # a shard sample's image, by extension


@dataclass
class LocalRecord:
    """One image on disk with its labels: a row of a release CSV or a file of an image folder."""

    path: Path
    labels: list[int]
    meta: dict[str, Any] = field(default_factory=dict)


def dataset_vocabulary(data: Path) -> Vocabulary:
    """The data folder's `categories.csv` (a user's 8-emoji set gives an 8-way model), else the default 92."""
    path = Path(data) / "categories.csv"
    if path.is_file():
        return Vocabulary.from_categories_csv(path)
    return default_vocabulary()


def check_data(data: Path) -> Path:
    data = Path(data)
    if not data.exists():
        raise UserError(f"data folder not found: {data}")
    if not data.is_dir():
        raise UserError(f"--data must be a folder (shards, release CSVs or image folders): {data}")
    return data


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    return split


def shard_paths(data: Path, split: str) -> list[Path]:
    """The split's tar shards in name order (img2dataset numbers them 00000.tar, 00001.tar...).

    Where img2dataset left `NNNNN_stats.json` files, only the shards that have one are finished:
    the tar of a download killed mid-shard is left out until a rerun completes it."""
    folder = Path(data) / split
    if not folder.is_dir():
        return []
    tars = sorted(folder.glob("*.tar"))
    finished = {p.name[: -len("_stats.json")] for p in folder.glob("*_stats.json")}
    return [t for t in tars if t.stem in finished] if finished else tars


def layout(data: Path, split: str) -> str:
    """ "shards", "csv" or "folder": how `split` of `data` is stored; a UserError when it is not there."""
    data = check_data(data)
    check_split(split)
    if shard_paths(data, split):
        return "shards"
    if (data / f"{split}.csv").is_file():
        return "csv"
    folder = data / split
    if folder.is_dir() and any(p.is_dir() for p in folder.iterdir()):
        return "folder"
    raise UserError(
        f"{data}: no {split} data (expected {split}/*.tar shards, {split}.csv, or {split}/<emoji>/ image folders)"
    )


def available_splits(data: Path) -> list[str]:
    found = []
    for split in SPLITS:
        try:
            layout(data, split)
        except UserError:
            continue
        found.append(split)
    return found


class BadLabels(ValueError):
    """A sample's labels are not a list of category indices of the vocabulary: the message says
    why, `reason` is the short form a reader counts skipped samples under."""

    def __init__(self, message: str, reason: str = "bad labels") -> None:
        super().__init__(message)
        self.reason = reason


MAX_LABELS_TEXT = 4096  # characters of one labels cell: a post has at most 5 emojis


def parse_labels(value: Any, num_classes: int) -> list[int]:
    """A sample's category indices, the one rule for every reader: a release CSV cell ("[3, 17]",
    "(2, 3)", "[2,]": a Python literal, as the official code reads it), a manifest's list or a
    shard `.json`'s list. Only a list or tuple of ints in 0..num_classes-1 passes; a float, a bool,
    None, a dict or a nested list is refused with the reason (never rounded to some label).
    Missing, empty text or [] is an unlabelled sample: []."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if len(text) > MAX_LABELS_TEXT:
            raise BadLabels(f"labels text longer than {MAX_LABELS_TEXT} characters")
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise BadLabels(f"labels are not a list literal like [3, 17]: {text[:40]!r}") from None
    if not isinstance(value, (list, tuple)):
        raise BadLabels(f"labels must be a list of category indices, got {type(value).__name__} {str(value)[:40]!r}")
    for label in value:
        if not isinstance(label, int) or isinstance(label, bool):
            raise BadLabels(f"label {str(label)[:40]!r} is not an integer category index")
        if not 0 <= label < num_classes:
            raise BadLabels(
                f"label {label if abs(label) < 10**12 else '(huge)'} outside the {num_classes} categories",
                "label outside the vocabulary",
            )
    return list(value)


def read_split_csv(data: Path, split: str, num_classes: int) -> list[LocalRecord]:
    """Rows of `DATA/{split}.csv` (through the one release reader, `smileynet.data.release`):
    `url` resolved against DATA; meta holds `image_id`, `url`, `labels`, `post_id` and the other columns."""
    from smileynet.data.release import read_release_split  # it imports parse_labels from here

    records = []
    for row in read_release_split(data, split, num_classes):
        image = Path(row.url)
        if not image.is_absolute():
            image = Path(data) / image
        meta: dict[str, Any] = dict(row.extra)
        if row.post_id is not None:
            meta["post_id"] = row.post_id
        meta.update(image_id=row.image_id, labels=row.labels, url=row.url)
        records.append(LocalRecord(image, row.labels, meta))
    return records


def read_image_folder(data: Path, split: str, vocab: Vocabulary) -> list[LocalRecord]:
    """`DATA/{split}/<emoji>/*` single-label images; a subfolder that names no category is an error."""
    from smileynet.images import (
        list_images,  # PIL only when a folder is read: the layout helpers stay light
    )

    by_name = {name.lower(): i for i, name in enumerate(vocab.names)}
    records = []
    for folder in sorted(p for p in (Path(data) / split).iterdir() if p.is_dir()):
        index = by_name.get(folder.name.lower())
        if index is None:
            try:
                key = parse_unicode_field(folder.name.replace("_", " "))
                index = vocab.index(key) if key in vocab else None
            except UserError:
                index = None
        if index is None:
            raise UserError(f"{folder}: folder name is not an emoji or category of the vocabulary")
        for image in list_images(folder):
            url = str(image.relative_to(data))
            records.append(LocalRecord(image, [index], {"image_id": url, "labels": [index], "url": url}))
    return records


def local_records(data: Path, split: str, vocab: Vocabulary) -> list[LocalRecord]:
    """The records of a CSV or image-folder split, with `emojis` filled in from the vocabulary."""
    kind = layout(data, split)
    if kind == "csv":
        records = read_split_csv(data, split, len(vocab))
    elif kind == "folder":
        records = read_image_folder(data, split, vocab)
    else:
        raise ValueError(f"{split} of {data} is stored as shards, not local files")
    for record in records:
        record.meta.setdefault("emojis", [vocab.emojis[i] for i in record.labels])
    return records


def split_sizes(data: Path, split: str) -> int | None:
    """Samples in a split: img2dataset's `*_stats.json` successes for shards, rows for local layouts."""
    kind = layout(data, split)
    if kind == "shards":
        total = 0
        for shard in shard_paths(data, split):
            stats = shard.with_name(f"{shard.stem}_stats.json")
            if not stats.is_file():
                return None
            total += int(json.loads(stats.read_text()).get("successes", 0))
        return total
    return len(local_records(data, split, dataset_vocabulary(data)))
