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
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smileynet.errors import UserError
from smileynet.vocab import Vocabulary, default_vocabulary, parse_unicode_field

SPLITS = ("train", "valid", "test")
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
    """"shards", "csv" or "folder": how `split` of `data` is stored; a UserError when it is not there."""
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


def parse_labels(value: Any) -> list[int]:
    """Category indices from a list, a JSON/Python list literal ("[3, 17]"), or a bare number."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"labels are not a list literal: {text[:40]!r}") from None
    if isinstance(value, (int, float)):
        value = [value]
    return [int(v) for v in value]


def read_split_csv(data: Path, split: str, num_classes: int | None = None) -> list[LocalRecord]:
    """Rows of `DATA/{split}.csv`: `url` resolved against DATA, `labels` parsed and range-checked."""
    path = Path(data) / f"{split}.csv"
    records = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or [])
        if not {"url", "labels"} <= columns:
            raise UserError(f"{path}: expected columns 'url' and 'labels', found {', '.join(sorted(columns)) or 'none'}")
        for number, row in enumerate(reader, 2):
            try:
                labels = parse_labels(row["labels"])
            except ValueError as err:
                raise UserError(f"{path}: line {number}: {err}") from None
            _check_range(labels, num_classes, f"{path}: line {number}")
            image = Path(row["url"])
            if not image.is_absolute():
                image = Path(data) / image
            meta = {k: v for k, v in row.items() if k not in ("url", "labels") and v not in (None, "")}
            meta.update(labels=labels, url=row["url"])
            records.append(LocalRecord(image, labels, meta))
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
            records.append(LocalRecord(image, [index], {"labels": [index], "url": url}))
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


def _check_range(labels: list[int], num_classes: int | None, where: str) -> None:
    if num_classes is None:
        return
    bad = [i for i in labels if not 0 <= i < num_classes]
    if bad:
        raise UserError(f"{where}: label {bad[0]} outside the vocabulary of {num_classes} categories")
