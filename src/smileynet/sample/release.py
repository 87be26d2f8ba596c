"""The official Visual Smiley Dataset layout, written and read back.

`train.csv`, `valid.csv`, `test.csv`: columns `url` and `labels` (a list literal of category
indices, "[3, 17]"), and any others (a `post_id` or `tweet_id` column becomes the manifest's
`post_id`); `categories.csv`: `category`, `unicode` (or `category` alone, holding the emoji or
its name: the official scripts read no other column). A user holding the public release reads it
with `read_release` and goes straight to download or training; `sample --from-release` copies
its files as they are (`write_release(..., source=)`), so every column and glyph survives.
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from smileynet.contracts import CATEGORIES_FILE, RELEASE_COLUMNS, SPLITS, release_csv_name
from smileynet.data.release import read_release_split, release_split_path
from smileynet.errors import UserError
from smileynet.vocab import Vocabulary, default_vocabulary


@dataclass(frozen=True)
class Release:
    """A release folder: its vocabulary and one manifest-shaped frame (rows of every split)."""

    vocab: Vocabulary
    manifest: pl.DataFrame


def write_release(manifest: pl.DataFrame, vocab: Vocabulary, out: Path, source: Path | None = None) -> None:
    """Write the three split CSVs and categories.csv (each atomically). With `source`, a release
    folder that `manifest` was read from, its files are copied unchanged instead (extra columns,
    label spelling and glyphs as found); only what it lacks is written."""
    for split in SPLITS:
        name = release_csv_name(split)
        if source is not None and _copy_as_found(source / name, out / name):
            continue
        rows = manifest.filter(pl.col("split") == split)
        path = out / name
        tmp = out / f".{name}.tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(RELEASE_COLUMNS)
            for url, labels in zip(rows["url"].to_list(), rows["labels"].to_list()):
                writer.writerow([url, "[" + ", ".join(str(i) for i in labels) + "]"])
        os.replace(tmp, path)
    if source is None or not _copy_as_found(source / CATEGORIES_FILE, out / CATEGORIES_FILE):
        vocab.write_categories_csv(out / CATEGORIES_FILE)


def _copy_as_found(found: Path, path: Path) -> bool:
    """Copy `found` to `path` atomically (nothing to do when they are one file); False if absent."""
    if not found.is_file():
        return False
    if path.exists() and os.path.samefile(found, path):
        return True
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.copyfile(found, tmp)
    os.replace(tmp, path)
    return True


def read_release(folder: str | Path) -> Release:
    """Read a release folder (the split CSVs present, and categories.csv, else the default 92)
    through the one release reader, `smileynet.data.release`."""
    folder = Path(folder)
    categories = folder / CATEGORIES_FILE
    vocab = Vocabulary.from_categories_csv(categories) if categories.is_file() else default_vocabulary()
    frames = []
    for split in SPLITS:
        if not release_split_path(folder, split).is_file():
            continue
        rows = read_release_split(folder, split, len(vocab))
        frames.append(
            pl.DataFrame(
                {
                    "image_id": [row.image_id for row in rows],
                    "post_id": pl.Series([row.post_id for row in rows], dtype=pl.String),
                    "url": [row.url for row in rows],
                    "created_at": pl.Series([None] * len(rows), dtype=pl.Datetime("us", "UTC")),
                    "window": pl.Series([None] * len(rows), dtype=pl.Int32),
                    "labels": pl.Series([row.labels for row in rows], dtype=pl.List(pl.Int32)),
                    "emojis": [[vocab.emojis[i] for i in row.labels] for row in rows],
                    "split": [split] * len(rows),
                },
                schema_overrides={"image_id": pl.String, "url": pl.String, "emojis": pl.List(pl.String)},
            )
        )
    if not frames:
        raise UserError(f"{folder}: no train.csv, valid.csv or test.csv found")
    return Release(vocab, pl.concat(frames))
