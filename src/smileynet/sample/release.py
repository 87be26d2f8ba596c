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

from smileynet.data.layout import BadLabels, parse_labels
from smileynet.errors import UserError
from smileynet.vocab import Vocabulary, default_vocabulary

SPLITS = ("train", "valid", "test")
POST_ID_COLUMNS = ("post_id", "tweet_id")


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
        if source is not None and _copy_as_found(source / f"{split}.csv", out / f"{split}.csv"):
            continue
        rows = manifest.filter(pl.col("split") == split)
        path = out / f"{split}.csv"
        tmp = out / f".{split}.csv.tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["url", "labels"])
            for url, labels in zip(rows["url"].to_list(), rows["labels"].to_list()):
                writer.writerow([url, "[" + ", ".join(str(i) for i in labels) + "]"])
        os.replace(tmp, path)
    if source is None or not _copy_as_found(source / "categories.csv", out / "categories.csv"):
        vocab.write_categories_csv(out / "categories.csv")


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
    """Read a release folder (the split CSVs present, and categories.csv, else the default 92)."""
    folder = Path(folder)
    categories = folder / "categories.csv"
    vocab = Vocabulary.from_categories_csv(categories) if categories.is_file() else default_vocabulary()
    frames = []
    for split in SPLITS:
        path = folder / f"{split}.csv"
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            try:
                urls, labels, post_ids = _release_rows(path, reader, len(vocab))
            except (csv.Error, UnicodeDecodeError) as err:
                raise UserError(f"{path}: line {reader.line_num}: not a readable UTF-8 CSV ({err})") from None
        frames.append(
            pl.DataFrame(
                {
                    "image_id": [f"{split}-{i:08d}" for i in range(len(urls))],
                    "post_id": pl.Series(post_ids, dtype=pl.String),
                    "url": urls,
                    "created_at": pl.Series([None] * len(urls), dtype=pl.Datetime("us", "UTC")),
                    "window": pl.Series([None] * len(urls), dtype=pl.Int32),
                    "labels": pl.Series(labels, dtype=pl.List(pl.Int32)),
                    "emojis": [[vocab.emojis[i] for i in row] for row in labels],
                    "split": [split] * len(urls),
                },
                schema_overrides={"emojis": pl.List(pl.String)},
            )
        )
    if not frames:
        raise UserError(f"{folder}: no train.csv, valid.csv or test.csv found")
    return Release(vocab, pl.concat(frames))


def _release_rows(
    path: Path, reader: csv.DictReader, num_classes: int
) -> tuple[list[str], list[list[int]], list[str | None]]:
    if not reader.fieldnames or not {"url", "labels"} <= set(reader.fieldnames):
        raise UserError(f"{path}: expected columns 'url' and 'labels'")
    post_column = next((c for c in POST_ID_COLUMNS if c in reader.fieldnames), None)
    urls, labels, post_ids = [], [], []
    for number, row in enumerate(reader, 2):
        if not row["url"]:
            raise UserError(f"{path}: line {number}: no url")
        try:
            labels.append(parse_labels(row["labels"], num_classes))
        except BadLabels as err:
            raise UserError(f"{path}: line {number}: {err}") from None
        urls.append(row["url"])
        post_ids.append((row[post_column] or None) if post_column else None)
    return urls, labels, post_ids
