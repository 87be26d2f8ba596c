"""sample: posts.parquet -> manifest.parquet, the release CSVs and stats figures.

Reads only the columns it needs (ids, times, emojis, image URLs), never the texts.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from smileynet.contracts import MANIFEST_FILE, STATS_DIR, manifest_schema
from smileynet.errors import UserError
from smileynet.files import write_config, write_json
from smileynet.sample.datasheet import post_dates, write_datasheet
from smileynet.sample.release import read_release, write_release
from smileynet.sample.stats import write_stats
from smileynet.sample.temporal import (
    SAMPLINGS,
    SPLITS,
    add_windows,
    assign_splits,
    label_posts,
    manifest_rows,
    raw_train,
    temporal_sample,
)
from smileynet.vocab import Vocabulary, load_vocabulary

COLUMNS = ["post_id", "created_at", "emojis", "image_urls"]


def read_posts(posts: Path) -> pl.DataFrame:
    """The columns sample needs, from a posts.parquet file or a folder of parquet parts."""
    import pyarrow.dataset as ds

    if not posts.exists():
        raise UserError(f"posts not found: {posts}")
    try:
        table = ds.dataset(posts, format="parquet", exclude_invalid_files=True).to_table(columns=COLUMNS)
    except Exception as err:  # pyarrow raises several types for a missing column or a broken file
        raise UserError(f"{posts}: not a posts parquet with columns {', '.join(COLUMNS)} ({err})") from None
    frame = pl.DataFrame(pl.from_arrow(table))
    return frame.with_columns(pl.col("created_at").cast(pl.Datetime("us", "UTC")))


def resolve_vocab(posts: Path, vocab: str | Path | None) -> Vocabulary:
    """`vocab` if given, else the categories.csv collect wrote beside the posts, else the 92."""
    if vocab is not None:
        return load_vocabulary(vocab)
    beside = (posts if posts.is_dir() else posts.parent) / "categories.csv"
    return Vocabulary.from_categories_csv(beside) if beside.is_file() else load_vocabulary(None)


def sample(
    posts: str | Path | None,
    out: str | Path,
    *,
    window_days: int = 30,
    cap: int = 4000,
    val_per_class: int = 500,
    test_per_class: int = 1000,
    seed: int = 0,
    vocab: str | Path | None = None,
    from_release: str | Path | None = None,
    sampling: str = "temporal",
) -> dict:
    """Build the dataset in `out` from `posts` (or re-lay an official release with
    `from_release`); returns the summary also written to `out/sample_report.json`.

    `sampling`: "temporal" (the paper's windows and cap) or "raw" (Table 1's Raw-Dist.: the same
    valid and test splits as temporal with the same seed, and a train split of the same size drawn
    uniformly from every other post, `temporal.raw_train`)."""
    if window_days < 1 or cap < 1 or val_per_class < 0 or test_per_class < 0:
        raise UserError("--window-days and --cap must be >= 1, --val-per-class and --test-per-class >= 0")
    if sampling not in SAMPLINGS:
        raise UserError(f"unknown --sampling {sampling!r}: use {' or '.join(SAMPLINGS)}")
    if sampling != "temporal" and from_release is not None:
        raise UserError("--sampling raw draws from posts: it does not apply to --from-release")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "command": "sample",
        "posts": str(posts) if posts else None,
        "window_days": window_days,
        "cap": cap,
        "val_per_class": val_per_class,
        "test_per_class": test_per_class,
        "seed": seed,
        "vocab": str(vocab) if vocab else None,
        "from_release": str(from_release) if from_release else None,
        "sampling": sampling,
    }
    if from_release is not None:
        release = read_release(from_release)
        vocabulary, manifest = release.vocab, release.manifest
        before = windows_before = windows_after = None
        collected = None
    else:
        if posts is None:
            raise UserError("give a posts.parquet (or --from-release DIR)")
        posts = Path(posts)
        vocabulary = resolve_vocab(posts, vocab)
        labelled = label_posts(read_posts(posts), vocabulary)
        if labelled.is_empty():
            raise UserError(f"{posts}: no post with an image and a vocabulary emoji")
        kept = temporal_sample(labelled, window_days, cap, seed)
        kept = assign_splits(kept, len(vocabulary), val_per_class, test_per_class, seed)
        manifest = manifest_rows(kept)
        windowed = add_windows(labelled, window_days)
        if sampling == "raw":
            manifest = raw_train(windowed, manifest, seed)
        before = labelled["labels"].to_list()
        windows_before = dict(windowed["window"].value_counts().iter_rows())
        windows_after = dict(manifest.unique("post_id")["window"].value_counts().iter_rows())
        collected = len(labelled)
    _write_manifest(manifest, out / MANIFEST_FILE)
    write_release(manifest, vocabulary, out, source=Path(from_release) if from_release is not None else None)
    after = {split: manifest.filter(pl.col("split") == split)["labels"].to_list() for split in SPLITS}
    figures = write_stats(out / STATS_DIR, vocabulary, after, before, windows_before, windows_after, window_days)
    report = {
        "sampling": sampling if from_release is None else None,
        "posts_in": collected,
        "posts_kept": manifest["post_id"].n_unique() if from_release is None else None,
        "images": len(manifest),
        "windows": len(windows_after) if windows_after else None,
        "categories": len(vocabulary),
        "splits": {s: int((manifest["split"] == s).sum()) for s in SPLITS},
        "figures": [p.name for p in figures],
        "dates": post_dates(manifest["created_at"]) if "created_at" in manifest.columns else None,
    }
    write_json(out / "sample_report.json", report)
    write_config(out / "config.yaml", config)
    write_datasheet(out, report, config, Path(posts) if posts is not None and from_release is None else None)
    return report


def _write_manifest(manifest: pl.DataFrame, path: Path) -> None:
    """Write the manifest in the contract's schema (`contracts.manifest_schema`), atomically."""
    import pyarrow.parquet as pq

    schema = manifest_schema()
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(manifest.select(schema.names).to_arrow().cast(schema), tmp)
    tmp.replace(path)
