"""The paper's temporal sampling and balanced splits, on columns (polars), seeded.

`temporal_sample`: 30-day windows counted from the first post; in each window at most `cap`
posts per emoji. Every post gets one random priority from the seed, and each (window, emoji)
keeps its `cap` posts of lowest priority; a post picked through several of its emojis is kept
once. `assign_splits`: validation and test take about `val_per_class` / `test_per_class` images
of every category (rarest categories first, so shared posts do not starve them), never more
than half of a category's images; the rest is train. Splits are by post, so no post is in two.
`raw_train`: Table 1's "Raw-Dist." variant, the same number of training images drawn uniformly
from every post instead of through the windows.

Ours, not the paper's: windows start at the first post (the paper names the period, Jan 2016 -
Jul 2018, not where a window starts), and a post chosen through any of its emojis is kept once,
so its other emojis can pass `cap` in that window: `cap` bounds the posts drawn *through* an
emoji, not every post that carries it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from smileynet.contracts import SPLITS
from smileynet.vocab import Vocabulary

SAMPLINGS = ("temporal", "raw")


def label_posts(posts: pl.DataFrame, vocab: Vocabulary) -> pl.DataFrame:
    """Keep the vocabulary emojis of each post (as `labels` indices); drop posts left with none,
    and repeated post ids (first kept)."""
    mapping = {e: i for i, e in enumerate(vocab.emojis)}
    return (
        posts.sort("created_at", "post_id")
        .unique("post_id", keep="first", maintain_order=True)
        .with_columns(pl.col("emojis").list.eval(pl.element().filter(pl.element().is_in(list(mapping)))))
        .with_columns(labels=pl.col("emojis").list.eval(pl.element().replace_strict(mapping, return_dtype=pl.Int32)))
        .filter(pl.col("labels").list.len() > 0, pl.col("image_urls").list.len() > 0)
    )


def add_windows(posts: pl.DataFrame, window_days: int = 30) -> pl.DataFrame:
    """`posts` plus `window`: the number of the `window_days`-long window, counted from the first post."""
    if posts.is_empty():
        return posts.with_columns(window=pl.lit(0, pl.Int32))
    first = posts["created_at"].min()
    return posts.with_columns(
        window=((pl.col("created_at") - first).dt.total_seconds() // (window_days * 86400)).cast(pl.Int32)
    )


def temporal_sample(posts: pl.DataFrame, window_days: int = 30, cap: int = 4000, seed: int = 0) -> pl.DataFrame:
    """`posts` (sorted, with `labels`) plus a `window` column, keeping at most `cap` posts drawn
    through each emoji per window (co-labels of a kept post may add more, module docstring)."""
    if posts.is_empty():
        return add_windows(posts, window_days)
    posts = add_windows(posts, window_days).with_columns(
        priority=pl.Series(np.random.default_rng(seed).random(len(posts)))
    )
    chosen = (
        posts.select("post_id", "window", "priority", "labels")
        .explode("labels")
        .filter(pl.col("priority").rank("ordinal").over("window", "labels") <= cap)
        .select("post_id")
        .unique()
    )
    return posts.filter(pl.col("post_id").is_in(chosen["post_id"].implode())).drop("priority")


def assign_splits(
    posts: pl.DataFrame, num_classes: int, val_per_class: int = 500, test_per_class: int = 1000, seed: int = 0
) -> pl.DataFrame:
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


def raw_train(posts: pl.DataFrame, manifest: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """Table 1's Raw-Dist. variant of a temporal `manifest`: its valid and test rows unchanged,
    and as many training images as its train split holds, drawn uniformly at random (seeded) from
    all the other `posts` (windowed, with `labels`), so the images follow the raw label
    distribution. Posts are drawn whole, in random order; the last one drawn may give only its
    first images, so the train split has exactly the temporal one's size."""
    size = int((manifest["split"] == "train").sum())
    held = manifest.filter(pl.col("split") != "train")
    pool = posts.filter(~pl.col("post_id").is_in(held["post_id"].unique().implode())).with_columns(
        split=pl.lit("train")
    )
    order = np.random.default_rng(seed + 2).permutation(len(pool))
    drawn = manifest_rows(pool[order]).head(size)["image_id"]
    every = manifest_rows(pool)
    train = every.filter(pl.col("image_id").is_in(drawn.implode()))
    return pl.concat([held, train]).sort("created_at", "post_id", maintain_order=True)


def manifest_rows(posts: pl.DataFrame) -> pl.DataFrame:
    """One row per image: `image_id` = `{post_id}_{n}`."""
    return (
        posts.with_columns(n=pl.int_ranges(0, pl.col("image_urls").list.len()))
        .explode("image_urls", "n")
        .select(
            image_id=pl.col("post_id") + "_" + pl.col("n").cast(pl.String),
            post_id="post_id",
            url="image_urls",
            created_at="created_at",
            window="window",
            labels="labels",
            emojis="emojis",
            split="split",
        )
    )
