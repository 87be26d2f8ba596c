"""The one reader of release CSVs (`{split}.csv` with `url` and `labels`, the public Visual Smiley
Dataset's layout). sample (`--from-release`), download, train/evaluate/embed and the report all
read a release through it, so they agree on every row's image id, url and labels.

Rows stream one at a time: memory holds one row, each cell is bounded by the csv module's field
limit and the labels text by `parse_labels`. A file that is not UTF-8 CSV, lacks a column, or has
a row without a url or with bad labels is a UserError naming the file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from smileynet.contracts import (
    RELEASE_COLUMNS,
    RELEASE_IMAGE_ID_COLUMN,
    RELEASE_POST_ID_COLUMNS,
    release_csv_name,
    release_image_id,
)
from smileynet.data.layout import BadLabels, parse_labels
from smileynet.errors import UserError

MAX_CELL_CHARS = 1 << 16  # one cell of a release CSV (a url, an id): far above any real one


@dataclass(frozen=True)
class ReleaseRow:
    """One data row: `image_id` (the `image_id` column, else `contracts.release_image_id`),
    `url` as written, `labels` checked against the vocabulary, `post_id` (from `post_id` or
    `tweet_id`, None when absent or empty), and every other non-empty column in `extra`."""

    image_id: str
    url: str
    labels: list[int]
    post_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def release_split_path(folder: Path, split: str) -> Path:
    return Path(folder) / release_csv_name(split)


def iter_release_rows(path: Path, split: str, num_classes: int) -> Iterator[ReleaseRow]:
    """The rows of one split CSV, in file order (a BOM does not cost the first row)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        try:
            yield from _rows(path, reader, split, num_classes)
        except (csv.Error, UnicodeDecodeError) as err:
            raise UserError(f"{path}: line {reader.line_num}: not a readable UTF-8 CSV ({err})") from None


def read_release_split(folder: Path, split: str, num_classes: int) -> list[ReleaseRow]:
    return list(iter_release_rows(release_split_path(folder, split), split, num_classes))


def _rows(path: Path, reader: csv.DictReader, split: str, num_classes: int) -> Iterator[ReleaseRow]:
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    if not set(RELEASE_COLUMNS) <= set(columns):
        found = ", ".join(repr(c[:40]) for c in sorted(columns)[:20]) or "none"
        raise UserError(f"{path}: expected columns 'url' and 'labels', found {found}")
    post_column = next((c for c in RELEASE_POST_ID_COLUMNS if c in columns), None)
    named = {*RELEASE_COLUMNS, RELEASE_IMAGE_ID_COLUMN, *RELEASE_POST_ID_COLUMNS}
    for row_number, row in enumerate(reader):
        line = row_number + 2
        try:
            labels = parse_labels(row.get("labels"), num_classes)
        except BadLabels as err:
            raise UserError(f"{path}: line {line}: {err}") from None
        url = row.get("url") or ""
        if not url:
            raise UserError(f"{path}: line {line}: no url")
        cells = {k: v for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
        if any(len(v) > MAX_CELL_CHARS for v in cells.values()):
            raise UserError(f"{path}: line {line}: a cell longer than {MAX_CELL_CHARS} characters")
        yield ReleaseRow(
            image_id=cells.get(RELEASE_IMAGE_ID_COLUMN) or release_image_id(split, row_number),
            url=url,
            labels=labels,
            post_id=(cells.get(post_column) or None) if post_column else None,
            extra={k: v for k, v in cells.items() if k not in named and v},
        )
