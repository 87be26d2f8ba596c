"""Training and evaluation batches from shards or local images, reproducible and resumable.

The shard pipeline is open_clip's: shard list -> epoch-seeded shard shuffle -> split by node
-> split by worker -> tar to samples (`smileynet.data.tar`: a corrupt tar is counted, the others
are read) -> sample shuffle buffer -> batch -> decode + augment. Two changes, both for exact resume:

- samples are grouped into batches *before* decoding, so `start_batch` skips batches without
  decoding them, and a corrupt image only makes its batch smaller instead of shifting every
  later batch;
- the augmentation of batch k of worker w is seeded from (seed, epoch, rank, w, k), so a resumed
  run crops and flips exactly as the uninterrupted one would have.

Per image the work is one JPEG decode (simplejpeg for the plain JPEGs that `download` writes)
and one OpenCV resize into the batch array; see `decode_batch`.

Batches come out of the DataLoader round-robin over its workers, so the order is fixed by
(seed, epoch, workers, rank, world_size). Corrupt samples never stop training: they are counted
by reason in `Loader.skipped`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
import webdataset as wds
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from smileynet.data.layout import (
    IMAGE_KEYS,
    BadLabels,
    LocalRecord,
    dataset_vocabulary,
    layout,
    local_records,
    parse_labels,
    shard_paths,
)
from smileynet.data.tar import CorruptShard, count_tar_samples, tar_samples
from smileynet.errors import UserError
from smileynet.images import BadImage, decode_rgb_array

if TYPE_CHECKING:
    from smileynet.data.transforms import CropTransform

log = logging.getLogger(__name__)

SHUFFLE_BUFFER = 2000
SHUFFLE_INITIAL = 500


def derive_seed(*parts: int) -> int:
    """One well-mixed 32-bit seed from several integers (seed, epoch, rank, worker, batch...)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def short_reason(err: BaseException) -> str:
    """The countable part of an error message: "truncated or corrupt image (...)" -> "truncated or corrupt image"."""
    text = str(err.args[0]) if err.args else type(err).__name__
    return text.split(" (")[0].split(": ")[0].strip() or type(err).__name__


# -- shard stages (plain functions of the shard list, so the main process can replay them to plan a resume) --


def shuffle_shards(shards: list[str], seed: int, epoch: int) -> list[str]:
    """Every epoch sees the shards in a new order, the same one on every rank."""
    shards = list(shards)
    random.Random(derive_seed(seed, epoch)).shuffle(shards)
    return shards


def split_by_node(shards: list[str], rank: int, world_size: int) -> list[str]:
    return shards[rank::world_size]


def split_by_worker(shards: list[str], worker: int, workers: int) -> list[str]:
    return shards[worker::workers]


def round_robin_resume(batches_per_worker: list[int], start_batch: int) -> tuple[list[int], int]:
    """Where to resume the DataLoader's round-robin (batch r of each worker in turn, exhausted workers
    passed over) at output `start_batch`: how many batches each worker skips, and the worker next
    in turn (the DataLoader always starts with its worker 0, so the workers are rotated to match)."""
    skips = [0] * len(batches_per_worker)
    taken = 0
    for r in range(max(batches_per_worker, default=0)):
        for w, n in enumerate(batches_per_worker):
            if taken == start_batch:
                return skips, w
            if n > r:
                skips[w] += 1
                taken += 1
    return skips, 0


# -- decoding a batch (shared by both layouts) --


def multi_hot(batch_labels: list[list[int]], num_classes: int) -> torch.Tensor:
    """float32 N x C with a 1 at each label of each sample (labels already range-checked)."""
    targets = torch.zeros(len(batch_labels), num_classes, dtype=torch.float32)
    for row, labels in enumerate(batch_labels):
        targets[row, labels] = 1.0
    return targets


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Per-image crops are far too small to split over threads: with workers=0 the trainer's
    intra-op pools (torch's and OpenCV's) would make them 10x slower on a busy machine."""
    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv_threads)


def decode_batch(
    items: list[tuple[Any, Any]], transform: CropTransform, num_classes: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, Counter]:
    """(image bytes or path, labels) pairs -> uint8 N x 3 x S x S, float32 N x C, skipped reasons.

    Each image is decoded and cropped straight into its slot of one N x S x S x 3 array, so the
    batch is never stacked; it comes out as an NCHW view in channels_last memory layout, the one
    training uses. Image i of the batch takes row i of the batch's draws (seeded by `seed`), so a
    corrupt image does not change its neighbours' crops. An item whose image is None carries its
    reason in place of labels (a sample without an image)."""
    size = transform.size
    pixels = np.empty((len(items), size, size, 3), np.uint8)
    draws = np.random.default_rng(seed).random((len(items), transform.draws_per_image)).tolist()
    targets: list = []
    skipped: Counter[str] = Counter()
    with one_thread():
        for i, (source, labels) in enumerate(items):
            if source is None:
                skipped[labels] += 1
                continue
            if any(not 0 <= label < num_classes for label in labels):  # a shard written with another vocabulary
                skipped["label outside the vocabulary"] += 1
                continue
            try:
                image = decode_rgb_array(source)
            except BadImage as err:
                skipped[short_reason(err)] += 1
                continue
            transform.apply(image, draws[i], pixels[len(targets)])
            targets.append(labels)
    images = torch.from_numpy(pixels[: len(targets)]).permute(0, 3, 1, 2)
    return images, multi_hot(targets, num_classes), skipped


def shard_item(sample: dict[str, Any], num_classes: int) -> tuple[Any, Any]:
    """A webdataset sample dict -> (image bytes, labels), or (None, reason): a sample without its
    `.json` or with labels that are not indices of the vocabulary is skipped, never guessed."""
    image = next((sample[k] for k in IMAGE_KEYS if k in sample), None)
    if image is None:
        return None, "no image in sample"
    if "json" not in sample:
        return None, "no json in sample"
    try:
        meta = json.loads(sample["json"])
    except (ValueError, RecursionError):
        return None, "bad json"
    if not isinstance(meta, dict):
        return None, "bad json"
    try:
        return image, parse_labels(meta.get("labels"), num_classes)
    except BadLabels as err:
        return None, err.reason


class ShardBatches(IterableDataset):
    """One DataLoader worker's share of the shards, as decoded batches plus skipped-sample counts."""

    def __init__(
        self,
        worker_shards: list[list[str]],
        skips: list[int],
        first_worker: int,
        *,
        batch_size: int,
        train: bool,
        transform: CropTransform,
        num_classes: int,
        seed: int,
        epoch: int,
        rank: int,
        shuffle_buffer: int,
    ) -> None:
        self.worker_shards, self.skips, self.first_worker = worker_shards, skips, first_worker
        self.batch_size, self.train, self.transform = batch_size, train, transform
        self.num_classes, self.seed, self.epoch, self.rank = num_classes, seed, epoch, rank
        self.shuffle_buffer = shuffle_buffer

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict[str, int]]]:
        info = get_worker_info()
        worker = (self.first_worker + (info.id if info is not None else 0)) % len(self.worker_shards)
        shards = self.worker_shards[worker]
        if not shards:
            return
        tar_errors: Counter = Counter()

        def samples() -> Iterator[dict[str, Any]]:
            for shard in shards:
                try:
                    yield from tar_samples(shard)
                except CorruptShard as err:
                    tar_errors["corrupt shard"] += 1
                    log.warning("skipping the rest of a corrupt shard: %s", err)

        stages: list[Any] = [samples]
        if self.train:
            rng = random.Random(derive_seed(self.seed, self.epoch, self.rank, worker))
            stages.append(wds.shuffle(self.shuffle_buffer, min(SHUFFLE_INITIAL, self.shuffle_buffer), rng=rng))
        stages.append(wds.batched(self.batch_size, collation_fn=None, partial=True))
        for k, raw in enumerate(wds.DataPipeline(*stages)):
            if k < self.skips[worker]:
                continue
            seed = derive_seed(self.seed, self.epoch, self.rank, worker, k)
            images, targets, skipped = decode_batch(
                [shard_item(s, self.num_classes) for s in raw], self.transform, self.num_classes, seed
            )
            skipped.update(tar_errors)
            tar_errors.clear()
            yield images, targets, dict(skipped)
        if tar_errors:
            yield torch.empty(0, dtype=torch.uint8), torch.empty(0, self.num_classes), dict(tar_errors)


class LocalBatches(Dataset):
    """Batches of local images (release CSV or image folders); item i is batch i of this rank."""

    def __init__(
        self,
        records: list[LocalRecord],
        batches: list[list[int]],
        *,
        transform: CropTransform,
        num_classes: int,
        seed: int,
        epoch: int,
        rank: int,
        first: int,
    ) -> None:
        self.records, self.batches, self.transform = records, batches, transform
        self.num_classes, self.seed, self.epoch, self.rank, self.first = num_classes, seed, epoch, rank, first

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, int]]:
        items = [(self.records[j].path, self.records[j].labels) for j in self.batches[i]]
        seed = derive_seed(self.seed, self.epoch, self.rank, 0, self.first + i)
        images, targets, skipped = decode_batch(items, self.transform, self.num_classes, seed)
        return images, targets, dict(skipped)


class Loader:
    """Iterable of (images uint8 N x 3 x S x S, targets float32 N x C); `skipped` counts corrupt samples
    by reason so far, `num_batches` is known for local layouts (None for shards)."""

    def __init__(self, loader: DataLoader, num_batches: int | None) -> None:
        self.loader, self.num_batches = loader, num_batches
        self.skipped: Counter = Counter()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, targets, skipped in self.loader:
            self.skipped.update(skipped)  # a plain dict: the DataLoader's collate would double a Counter
            if len(images):
                yield images, targets


def build_loader(
    data: Path,
    split: str,
    *,
    num_classes: int,
    image_size: int,
    batch_size: int,
    train: bool,
    seed: int = 0,
    epoch: int = 0,
    workers: int = 2,
    rank: int = 0,
    world_size: int = 1,
    start_batch: int = 0,
    shuffle_buffer: int = SHUFFLE_BUFFER,
    transform: CropTransform | None = None,
) -> Loader:
    """Batches of one split for one rank: shuffled and augmented when `train`, unshuffled with the
    eval crop otherwise (file order with workers <= 1; with more, the workers' shards interleave).
    `transform` replaces the crop (default: `train_transform(image_size)` when `train`, else
    `eval_transform(image_size)`), as open_clip's loaders take their preprocessing.
    Same (seed, epoch, workers) -> same batches; `start_batch` resumes mid-epoch (exact unless a
    whole batch was corrupt: an empty batch is not yielded, so the caller's count is one short)."""
    from smileynet.data.transforms import eval_transform, train_transform

    if batch_size < 1:
        raise UserError(f"batch size must be >= 1, got {batch_size}")
    if not 0 <= rank < world_size:
        raise UserError(f"rank {rank} outside world size {world_size}")
    data = Path(data)
    if transform is None:
        transform = train_transform(image_size) if train else eval_transform(image_size)
    kind = layout(data, split)
    if kind == "shards":
        shards = [str(p) for p in shard_paths(data, split)]
        if train and len(shards) < world_size:  # evaluation: ranks past the last shard get nothing
            raise UserError(f"{data / split}: {len(shards)} shards cannot be split over {world_size} ranks")
        if train:
            shards = shuffle_shards(shards, seed, epoch)
        mine = split_by_node(shards, rank, world_size)
        procs = max(1, min(workers, len(mine)))
        worker_shards = [split_by_worker(mine, w, procs) for w in range(procs)]
        skips, first_worker = [0] * procs, 0
        if start_batch:
            counts = [sum(count_tar_samples(s) for s in ws) for ws in worker_shards]
            skips, first_worker = round_robin_resume([math.ceil(n / batch_size) for n in counts], start_batch)
        shard_batches = ShardBatches(
            worker_shards,
            skips,
            first_worker,
            batch_size=batch_size,
            train=train,
            transform=transform,
            num_classes=num_classes,
            seed=seed,
            epoch=epoch,
            rank=rank,
            shuffle_buffer=shuffle_buffer,
        )
        loader = DataLoader(
            shard_batches, batch_size=None, num_workers=procs if workers > 0 else 0, persistent_workers=False
        )
        return Loader(loader, None)

    vocab = dataset_vocabulary(data)
    if len(vocab) > num_classes:
        raise UserError(f"{data}: {len(vocab)} categories but the model has {num_classes} outputs")
    records = local_records(data, split, vocab)
    order = np.arange(len(records))
    if train:
        order = np.random.default_rng(derive_seed(seed, epoch)).permutation(len(records))
    mine = order[rank::world_size].tolist()
    batches = [mine[i : i + batch_size] for i in range(0, len(mine), batch_size)]
    dataset = LocalBatches(
        records,
        batches[start_batch:],
        transform=transform,
        num_classes=num_classes,
        seed=seed,
        epoch=epoch,
        rank=rank,
        first=start_batch,
    )
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers)
    return Loader(loader, len(batches))
