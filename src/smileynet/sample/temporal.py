"""The paper's temporal sampling and balanced splits, on columns (polars), seeded.

`temporal_sample`: 30-day windows counted from the first post; in each window at most `cap`
posts per emoji. Every post gets one random priority from the seed, and each (window, emoji)
keeps its `cap` posts of lowest priority; a post picked through several of its emojis is kept
once. `assign_splits`: validation and test take about `val_per_class` / `test_per_class` images
of every category (rarest categories first, so shared posts do not starve them), never more
than half of a category's images; the rest is train. Splits are by post, so no post is in two.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from smileynet.vocab import Vocabulary

SPLITS = ("train", "valid", "test")


def label_posts(posts: pl.DataFrame, vocab: Vocabulary) -> pl.DataFrame:
    """Keep the vocabulary emojis of each post (as `labels` indices); drop posts left with none,
    and repeated post ids (first kept)."""
    mapping = {e: i for i, e in enumerate(vocab.emojis)}
    return (posts.sort("created_at", "post_id")
            .unique("post_id", keep="first", maintain_order=True)
            .with_columns(pl.col("emojis").list.eval(pl.element().filter(pl.element().is_in(list(mapping)))))
            .with_columns(labels=pl.col("emojis").list.eval(pl.element().replace_strict(mapping, return_dtype=pl.Int32)))
            .filter(pl.col("labels").list.len() > 0, pl.col("image_urls").list.len() > 0))


def temporal_sample(posts: pl.DataFrame, window_days: int = 30, cap: int = 4000, seed: int = 0) -> pl.DataFrame:
    """`posts` (sorted, with `labels`) plus a `window` column, keeping at most `cap` posts per
    emoji per window."""
    if posts.is_empty():
        return posts.with_columns(window=pl.lit(0, pl.Int32))
    first = posts["created_at"].min()
    seconds = window_days * 86400
    posts = posts.with_columns(
        window=((pl.col("created_at") - first).dt.total_seconds() // seconds).cast(pl.Int32),
        priority=pl.Series(np.random.default_rng(seed).random(len(posts))),
    )
    chosen = (posts.select("post_id", "window", "priority", "labels").explode("labels")
              .filter(pl.col("priority").rank("ordinal").over("window", "labels") <= cap)
              .select("post_id").unique())
    return posts.filter(pl.col("post_id").is_in(chosen["post_id"].implode())).drop("priority")


def assign_splits(posts: pl.DataFrame, num_classes: int, val_per_class: int = 500, test_per_class: int = 1000,
                  seed: int = 0) -> pl.DataFrame:
    """`posts` plus a `split` column (train/valid/test), balanced per category by images."""
    labels = posts["labels"].to_list()
    images = posts["image_urls"].list.len().to_numpy()
    rng = np.random.default_rng(seed + 1)
    by_class: list[list[int]] = [[] for _ in range(num_classes)]
    for p in rng.permutation(len(posts)):
        for c in labels[p]:
            by_class[c].append(int(p))
    totals = np.zeros(num_classes, dtype=np.int64)
    for p, post_labels in enumerate(labels):
        totals[post_labels] += images[p]
    held = val_per_class + test_per_class
    split = np.zeros(len(posts), dtype=np.int8)  # 0 train, 1 valid, 2 test
    counts = np.zeros((3, num_classes), dtype=np.int64)
    for c in np.argsort(totals, kind="stable"):
        scale = min(1.0, totals[c] / 2 / held) if held else 0.0
        targets = {2: int(test_per_class * scale), 1: int(val_per_class * scale)}
        for p in by_class[c]:
            want = [s for s in (2, 1) if counts[s, c] < targets[s]]
            if not want:
                break
            if split[p]:
                continue
            split[p] = want[0]
            counts[want[0], labels[p]] += images[p]
    return posts.with_columns(split=pl.Series([SPLITS[s] for s in split], dtype=pl.String))


def manifest_rows(posts: pl.DataFrame) -> pl.DataFrame:
    """One row per image: `image_id` = `{post_id}_{n}`."""
    return (posts.with_columns(n=pl.int_ranges(0, pl.col("image_urls").list.len()))
            .explode("image_urls", "n")
            .select(image_id=pl.col("post_id") + "_" + pl.col("n").cast(pl.String), post_id="post_id",
                    url="image_urls", created_at="created_at", window="window", labels="labels", emojis="emojis",
                    split="split"))
