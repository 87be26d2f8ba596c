"""What to download: one url table per split, from a `sample` folder or the official release CSVs.

img2dataset copies the table's extra columns into every sample's `.json`, so the table carries
exactly what the shards must: `labels`, `emojis`, `url`, `post_id`, `created_at` (ISO text: JSON
has no timestamp type) and `image_id`.

The manifest is in date order; `shuffled` puts each split's rows in a seeded random order before
img2dataset cuts them into shards, so every shard (and so every training batch, which the loader
draws from a few shards through a small buffer) is a near-uniform draw over the split's whole time
span, as the paper's temporal sampling means it to be, not a run of 2-3 days. The same seed gives
the same order, so a rerun cuts the same shards and resume (img2dataset's incremental mode) fills
in exactly the missing ones.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from smileynet.contracts import SPLITS
from smileynet.data.layout import BadLabels, dataset_vocabulary, parse_labels
from smileynet.data.release import read_release_split, release_split_path
from smileynet.errors import UserError

COLUMNS = ("url", "labels", "emojis", "post_id", "created_at", "image_id")
SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("labels", pa.list_(pa.int32())),
        ("emojis", pa.list_(pa.string())),
        ("post_id", pa.string()),
        ("created_at", pa.string()),
        ("image_id", pa.string()),
    ]
)


def split_tables(source: Path, splits: tuple[str, ...] = SPLITS) -> dict[str, pa.Table]:
    """{split: table} for the splits `source` holds (a split with no rows is left out)."""
    source = Path(source)
    if not source.is_dir():
        raise UserError(f"not a folder: {source} (expected a `smileynet sample` output or release CSVs)")
    if (source / "manifest.parquet").is_file():
        tables = _from_manifest(source / "manifest.parquet", splits, len(dataset_vocabulary(source)))
    elif any((source / f"{s}.csv").is_file() for s in splits):
        tables = _from_release(source, splits)
    else:
        raise UserError(f"{source}: no manifest.parquet and no {'/'.join(splits)}.csv to download")
    tables = {s: t for s, t in tables.items() if t.num_rows}
    if not tables:
        raise UserError(f"{source}: nothing to download (no rows in {', '.join(splits)})")
    return tables


def shuffled(table: pa.Table, seed: int, split: str) -> pa.Table:
    """`table`'s rows in a random order fixed by (`seed`, `split`)."""
    rng = np.random.default_rng([seed, zlib.crc32(split.encode("utf-8"))])
    return table.take(pa.array(rng.permutation(table.num_rows)))


def _from_manifest(path: Path, splits: tuple[str, ...], num_classes: int) -> dict[str, pa.Table]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise UserError(f"{path}: not a readable parquet file ({err})") from None
    missing = {"url", "labels", "split"} - set(table.column_names)
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(sorted(missing))}")
    for row, labels in enumerate(table.column("labels").to_pylist()):
        try:
            parse_labels(labels, num_classes)
        except BadLabels as err:
            raise UserError(f"{path}: row {row}: {err}") from None
    n = table.num_rows
    created = table.column("created_at") if "created_at" in table.column_names else pa.nulls(n, pa.string())
    if pa.types.is_timestamp(created.type):
        created = pc.strftime(created, format="%Y-%m-%dT%H:%M:%SZ")
    table = pa.table(
        {
            "url": table.column("url").cast(pa.string()),
            "labels": table.column("labels").cast(pa.list_(pa.int32())),
            "emojis": _column(table, "emojis", pa.list_(pa.string())),
            "post_id": _column(table, "post_id", pa.string()),
            "created_at": created.cast(pa.string()),
            "image_id": _column(table, "image_id", pa.string()),
            "split": table.column("split").cast(pa.string()),
        }
    )
    return {s: table.filter(pc.equal(table["split"], s)).drop(["split"]) for s in splits}


def _from_release(source: Path, splits: tuple[str, ...]) -> dict[str, pa.Table]:
    """The public Visual Smiley Dataset layout, through the one release reader
    (`smileynet.data.release`): `url`, `labels` ("[3, 17]") + categories.csv."""
    vocab = dataset_vocabulary(source)
    tables = {}
    for split in splits:
        if not release_split_path(source, split).is_file():
            continue
        rows = read_release_split(source, split, len(vocab))
        tables[split] = pa.table(
            {
                "url": pa.array([row.url for row in rows], pa.string()),
                "labels": pa.array([row.labels for row in rows], pa.list_(pa.int32())),
                "emojis": pa.array([[vocab.emojis[i] for i in row.labels] for row in rows], pa.list_(pa.string())),
                "post_id": pa.array([row.post_id for row in rows], pa.string()),
                "created_at": pa.array([row.extra.get("created_at") for row in rows], pa.string()),
                "image_id": pa.array([row.image_id for row in rows], pa.string()),
            }
        )
    return tables


def _column(table: pa.Table, name: str, kind: pa.DataType) -> pa.ChunkedArray | pa.Array:
    if name in table.column_names:
        return table.column(name).cast(kind)
    return pa.nulls(table.num_rows, kind)
