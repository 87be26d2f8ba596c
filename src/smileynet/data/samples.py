"""Raw samples (image bytes + metadata) of any data layout, in file order: what `embed` reads."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smileynet.data.layout import (
    IMAGE_KEYS,
    SPLITS,
    available_splits,
    check_data,
    check_split,
    dataset_vocabulary,
    layout,
    local_records,
    shard_paths,
)
from smileynet.data.tar import CorruptShard, tar_samples
from smileynet.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class Sample:
    """One image as stored: `id` is the manifest's image_id when the shard carries it, else the
    shard key (shards) or the path as written (local layouts); `meta` has labels, emojis, url,
    post_id, created_at where the data holds them."""

    id: str
    image: bytes
    meta: dict[str, Any] = field(default_factory=dict)


def iter_samples(data: Path, split: str | None = None) -> Iterator[Sample]:
    """Every sample of `split` (all splits present when None), streaming, never the whole set in memory.
    Unreadable tar members and missing files are logged and skipped: the caller sees good bytes only
    (decoding them is its job, and may still fail)."""
    data = check_data(data)
    splits = [check_split(split)] if split else available_splits(data)
    if not splits:
        raise UserError(f"{data}: no data found (expected shards or {'/'.join(SPLITS)} CSVs)")
    for name in splits:
        if layout(data, name) == "shards":
            yield from _shard_samples(data, name)
        else:
            yield from _local_samples(data, name)


def _shard_samples(data: Path, split: str) -> Iterator[Sample]:
    for shard in shard_paths(data, split):
        try:
            for sample in tar_samples(shard):
                image = next((sample[k] for k in IMAGE_KEYS if k in sample), None)
                if image is None:
                    log.warning("sample %s has no image; skipped", sample["__key__"])
                    continue
                try:
                    meta = json.loads(sample.get("json", b"{}"))
                except ValueError:
                    meta = {}
                meta.setdefault("split", split)
                yield Sample(str(meta.get("image_id") or sample["__key__"]), image, meta)
        except CorruptShard as err:
            log.warning("skipping the rest of a corrupt shard in %s: %s", split, err)


def _local_samples(data: Path, split: str) -> Iterator[Sample]:
    from smileynet.images import BadImage, read_image_file

    for record in local_records(data, split, dataset_vocabulary(data)):
        try:
            image = read_image_file(record.path)  # a regular file of bounded size, never a device or FIFO
        except BadImage as err:
            log.warning("%s: %s; skipped", record.path, err)
            continue
        yield Sample(str(record.meta["image_id"]), image, {**record.meta, "split": split})
