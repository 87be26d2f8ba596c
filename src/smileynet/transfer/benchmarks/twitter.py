"""The two Twitter sentiment benchmarks, positive vs negative.

Twitter I (You et al. 2015, "Robust image sentiment analysis using progressively trained and
domain transferred deep networks"; 1269 images, 882 / 1116 / 1269 with five / at least four /
at least three of five AMT workers agreeing; http://www.cs.rochester.edu/u/qyou/DeepSent/
deepsentiment.html). The release unpacks as `images/` and
`ground_truth/twitter_{five,four,three}_agrees.txt`, `<file> <label>` per line, 1 = positive
(the paths public fold-making scripts for it open: `twitter_dataset/ground_truth/
twitter_five_agrees.txt`, `twitter_dataset/images/`). The published 5-fold lists
(imatge-upc/sentiment-2017-imavis, `ground_truth/`) unpack into the same folder as
`ground_truth/{five,four,three}_agrees/test{1..5}/{train,test}.txt`, same line format. Read
here in any combination: the agree files in `ground_truth/` or at the root (older copies, with
`images/`, `Agg_AMT_Candidates/` or the root itself holding the images), the fold lists with or
without them; without agree files the labels come from the fold lists.

Twitter II (Borth et al. 2013, SentiBank's "Twitter benchmark dataset",
http://www.ee.columbia.edu/ln/dvmm/vso/download/twitter_dataset.html): `twitter/` holding
`groundTruthLabel.txt` (tab-separated, header `Image<TAB>Sentiment`, rows `<n>.jpg<TAB>positive`
or `negative`) and the images in five folders `partition1` .. `partition5` (the layout of the
archive mirrored in siddhaling/AlexNet-like-Convolutional-Neural-Networkd-for-Sentiment-Image-
Analysis-and-Prediction-on-SentiBank, `twitter.rar`). The label file lists every candidate
tweet; the benchmark is the images in the partitions. The partitions are taken as the release's
5 folds (fold k tests on partition k and trains on the other four), which is what their names
and the mirrored loader's use of them (train on four, test on the last) point to; the release
page is not at hand to confirm it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from smileynet.errors import UserError
from smileynet.images import list_images
from smileynet.transfer.benchmarks.base import (
    SENTIMENT_NAMES,
    Benchmark,
    Split,
    first_dir,
    read_lines,
    relative_name,
    shown,
    single_split,
)

AGREE_SPLITS = ("five_agrees", "four_agrees", "three_agrees")
TWITTER_IMAGE_DIRS = ("images", "Agg_AMT_Candidates")
LABEL_DIRS = ("ground_truth", ".")  # where Twitter I's agree files sit: the release's folder first
TWITTER2_LABELS = "groundTruthLabel.txt"
PARTITION = re.compile(r"partition(\d+)$")

Pairs = list[tuple[str, int]]


def read_pairs(path: Path) -> Pairs:
    """`<file> <0|1>` lines (a Twitter I agree file or fold list)."""
    pairs = []
    for number, line in read_lines(path):
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("0", "1"):
            raise UserError(f"{path}: line {number}: expected '<file> <0|1>', got {shown(line)}")
        pairs.append((str(relative_name(path, number, parts[0])), int(parts[1])))
    return pairs


def published_folds(root: Path, split: str) -> list[tuple[Pairs, Pairs]] | None:
    base = root / "ground_truth" / split
    folds = []
    for k in range(1, 100):
        fold = base / f"test{k}"
        if not fold.is_dir():
            break
        if not (fold / "train.txt").is_file() or not (fold / "test.txt").is_file():
            raise UserError(f"{fold}: a published fold needs train.txt and test.txt")
        folds.append((read_pairs(fold / "train.txt"), read_pairs(fold / "test.txt")))
    return folds or None


def agree_file(root: Path, split: str) -> Path | None:
    names = (f"twitter_{split}.txt", f"{split}.txt", f"{split[:-1]}.txt")
    return next((root / d / n for d in LABEL_DIRS for n in names if (root / d / n).is_file()), None)


def load_twitter(root: Path) -> Benchmark:
    """Twitter I in any of its layouts; the union of the agree splits is the sample list."""
    per_split: dict[str, Pairs] = {}
    folds_by_split = {}
    for split in AGREE_SPLITS:
        folds = published_folds(root, split)
        listing = agree_file(root, split)
        if listing is not None:
            per_split[split] = read_pairs(listing)
        elif folds is not None:
            per_split[split] = sorted({pair for _, test in folds for pair in test})
        if folds is not None:
            folds_by_split[split] = folds
    if not per_split:
        raise UserError(
            f"{root}: no Twitter I labels: looked for ground_truth/twitter_{{five,four,three}}_agrees.txt, "
            "the same files at the root, and fold lists ground_truth/{five,four,three}_agrees/test1/"
        )

    label_of: dict[str, int] = {}
    for pairs in per_split.values():
        for name, label in pairs:
            if label_of.setdefault(name, label) != label:
                raise UserError(f"{root}: {name} is labelled {label_of[name]} and {label} in different splits")
    names = sorted(label_of)
    image_dir = first_dir(root, TWITTER_IMAGE_DIRS) or root
    paths = [image_dir / n for n in names]
    if not any(p.is_file() for p in paths):
        raise UserError(
            f"{root}: none of the {len(names)} listed images is in {image_dir} "
            f"(looked for {', '.join(TWITTER_IMAGE_DIRS)} or the root itself)"
        )

    index = {n: i for i, n in enumerate(names)}
    splits = []
    for split in AGREE_SPLITS:
        if split not in per_split:
            continue
        indices = np.array([index[n] for n, _ in per_split[split]], dtype=np.int64)
        split_folds: list[tuple[np.ndarray, np.ndarray]] | None = None
        if split in folds_by_split:
            split_folds = [
                (
                    np.array([index[n] for n, _ in train if n in index], dtype=np.int64),
                    np.array([index[n] for n, _ in test if n in index], dtype=np.int64),
                )
                for train, test in folds_by_split[split]
            ]
        splits.append(Split(split, indices, split_folds))
    bench = Benchmark(
        "twitter",
        root,
        paths,
        np.array([label_of[n] for n in names], dtype=np.int64),
        ["negative", "positive"],
        splits,
        fold_source="published" if folds_by_split else "stratified",
    )
    return bench.drop_missing()


def read_twitter2_labels(path: Path) -> dict[str, int]:
    """groundTruthLabel.txt: `<file><TAB>positive|negative` under a header row -> {file: 0/1}."""
    labels: dict[str, int] = {}
    lines = read_lines(path)
    for number, text in lines:
        cells = [c.strip() for c in next(csv.reader([text], delimiter="\t"))]
        if number == lines[0][0] and [c.lower() for c in cells] == ["image", "sentiment"]:
            continue
        if len(cells) != 2 or cells[1].lower() not in ("positive", "negative"):
            raise UserError(f"{path}: line {number}: expected '<file><TAB>positive|negative', got {shown(text)}")
        name, label = str(relative_name(path, number, cells[0])), SENTIMENT_NAMES[cells[1].lower()]
        if labels.setdefault(name, label) != label:
            raise UserError(f"{path}: line {number}: {name} is labelled both positive and negative")
    if not labels:
        raise UserError(f"{path}: no labelled images")
    return labels


def load_twitter2(root: Path) -> Benchmark:
    """Twitter II: the images in `partition<k>/`, labelled by groundTruthLabel.txt, folds = partitions."""
    base = root if (root / TWITTER2_LABELS).is_file() else root / "twitter"
    if not (base / TWITTER2_LABELS).is_file():
        raise UserError(f"{root}: no Twitter II labels: looked for {TWITTER2_LABELS} in {root} and {root / 'twitter'}")
    labels = read_twitter2_labels(base / TWITTER2_LABELS)
    partitions = sorted((int(m.group(1)), d) for d in base.iterdir() if d.is_dir() and (m := PARTITION.match(d.name)))
    if len(partitions) < 2:
        raise UserError(f"{base}: Twitter II needs its partition1 .. partition5 image folders, found {len(partitions)}")
    paths, targets, fold_of, unlabelled = [], [], [], 0
    for fold, (_, folder) in enumerate(partitions):
        for file in list_images(folder):
            if file.name not in labels:
                unlabelled += 1
                continue
            paths.append(file)
            targets.append(labels[file.name])
            fold_of.append(fold)
    position = np.array(fold_of, dtype=np.int64)
    folds = [(np.flatnonzero(position != k), np.flatnonzero(position == k)) for k in range(len(partitions))]
    bench = single_split("twitter2", root, paths, targets, ["negative", "positive"], folds)
    if unlabelled:
        bench.skipped[f"not in {TWITTER2_LABELS}"] = unlabelled
    return bench
