"""smileynet.data: shards, release CSV and image-folder layouts, determinism, resume, corrupt samples.

Every image is one flat colour that encodes its sample id (red) and its label (green), so a crop
or flip keeps both readable: labels must travel with the right image through every path."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch
import webdataset as wds
from PIL import Image

from smileynet.data import build_loader, dataset_vocabulary, iter_samples, split_sizes
from smileynet.errors import UserError
from smileynet.vocab import Vocabulary

NUM_CLASSES = 5


def colour_jpeg(sample_id: int, label: int, size: int = 24, fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", (size + sample_id % 7, size), (8 + 4 * sample_id, 20 + 40 * label, 128))
    out = io.BytesIO()
    image.save(out, fmt, quality=95)
    return out.getvalue()


def read_ids(images: torch.Tensor) -> list[int]:
    red = images[:, 0].float().mean(dim=(1, 2))
    return [int(round((r - 8) / 4)) for r in red.tolist()]


def read_labels(images: torch.Tensor) -> list[int]:
    green = images[:, 1].float().mean(dim=(1, 2))
    return [int(round((g - 20) / 40)) for g in green.tolist()]


def label_of(sample_id: int) -> int:
    return sample_id % NUM_CLASSES


def write_shards(folder: Path, sizes: list[int], start: int = 0) -> list[int]:
    """img2dataset's layout: NNNNN.tar with KEY.jpg + KEY.json (+ NNNNN_stats.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    sample_id = start
    for shard, size in enumerate(sizes):
        with wds.TarWriter(str(folder / f"{shard:05d}.tar")) as sink:
            for _ in range(size):
                meta = {
                    "labels": [label_of(sample_id)],
                    "emojis": ["x"],
                    "url": f"http://h/{sample_id}.jpg",
                    "post_id": str(sample_id),
                    "created_at": "2019-01-01",
                    "image_id": f"{sample_id}_0",
                }
                sink.write(
                    {
                        "__key__": f"{shard:05d}{sample_id:04d}",
                        "jpg": colour_jpeg(sample_id, label_of(sample_id)),
                        "json": json.dumps(meta).encode(),
                    }
                )
                ids.append(sample_id)
                sample_id += 1
        (folder / f"{shard:05d}_stats.json").write_text(json.dumps({"successes": size}))
    return ids


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> tuple[Path, list[int]]:
    root = tmp_path_factory.mktemp("shards")
    ids = write_shards(root / "train", [7, 5, 9, 3, 6])
    write_shards(root / "valid", [4, 4], start=100)
    Vocabulary.from_emojis(["😀", "😂", "😍", "💀", "😴"]).write_categories_csv(root / "categories.csv")
    return root, ids


def collect(loader) -> tuple[list[int], list[torch.Tensor]]:
    ids, batches = [], []
    for images, targets in loader:
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 16, 16)
        assert targets.dtype == torch.float32 and targets.shape == (len(images), NUM_CLASSES)
        assert read_labels(images) == targets.argmax(1).tolist()
        assert targets.sum(1).tolist() == [1.0] * len(images)
        ids += read_ids(images)
        batches.append(images)
    return ids, batches


def load(data, split="train", **kw):
    args = dict(num_classes=NUM_CLASSES, image_size=16, batch_size=4, train=True, workers=0)
    return build_loader(data, split, **{**args, **kw})


def test_dataset_vocabulary(shards, tmp_path):
    assert len(dataset_vocabulary(shards[0])) == 5
    assert len(dataset_vocabulary(tmp_path)) == 92


def test_eval_reads_every_sample_once_in_order(shards):
    root, ids = shards
    seen, _ = collect(load(root, train=False))
    assert seen == ids
    assert split_sizes(root, "train") == len(ids)


@pytest.mark.parametrize("workers", [0, 2])
def test_train_is_deterministic_and_epoch_seeded(shards, workers):
    root, ids = shards
    first, batches = collect(load(root, seed=3, epoch=1, workers=workers))
    again, batches_again = collect(load(root, seed=3, epoch=1, workers=workers))
    other, _ = collect(load(root, seed=3, epoch=2, workers=workers))
    assert sorted(first) == ids
    assert first == again and all(torch.equal(a, b) for a, b in zip(batches, batches_again))
    assert sorted(other) == ids and other != first


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers", [0, 2, 3])
def test_start_batch_resumes_exactly(shards, workers):
    root, _ = shards
    _, full = collect(load(root, seed=5, workers=workers))
    for start in (1, 3, len(full) - 1):
        _, resumed = collect(load(root, seed=5, workers=workers, start_batch=start))
        assert len(resumed) == len(full) - start
        assert all(torch.equal(a, b) for a, b in zip(full[start:], resumed))


def test_ranks_partition_the_data(shards):
    root, ids = shards
    parts = [collect(load(root, rank=r, world_size=2, workers=2))[0] for r in range(2)]
    assert sorted(parts[0] + parts[1]) == ids
    assert not set(parts[0]) & set(parts[1])
    with pytest.raises(UserError):
        load(root, rank=0, world_size=9)


def test_corrupt_samples_are_counted_not_fatal(tmp_path):
    folder = tmp_path / "train"
    ids = write_shards(folder, [6, 4])
    with wds.TarWriter(str(folder / "00002.tar")) as sink:
        sink.write({"__key__": "bad1", "jpg": b"<html>not found</html>", "json": b'{"labels": [1]}'})
        sink.write({"__key__": "bad2", "jpg": colour_jpeg(50, 0)[:200], "json": b'{"labels": [0]}'})
        sink.write({"__key__": "bad3", "json": b'{"labels": [0]}'})
        sink.write({"__key__": "bad4", "jpg": colour_jpeg(51, 1), "json": b"{not json"})
        sink.write({"__key__": "bad5", "jpg": colour_jpeg(53, 1), "json": b'{"labels": [1, 7]}'})
        sink.write(
            {
                "__key__": "good",
                "jpg": colour_jpeg(52, label_of(52)),
                "json": json.dumps({"labels": [label_of(52)]}).encode(),
            }
        )
    data = (folder / "00000.tar").read_bytes()
    (folder / "00003.tar").write_bytes(data[: len(data) // 2])  # a shard cut off mid-file
    for name in ("00002", "00003"):
        (folder / f"{name}_stats.json").write_text("{}")
    loader = load(tmp_path, train=False, workers=2)
    seen, _ = collect(loader)
    assert set(ids + [52]) <= set(seen)
    assert loader.skipped["not an image"] == 1
    assert loader.skipped["truncated or corrupt image"] == 1
    assert loader.skipped["no image in sample"] == 1
    assert loader.skipped["bad json"] == 1
    assert loader.skipped["label outside the vocabulary"] == 1
    assert loader.skipped["corrupt shard"] == 1


def write_local(root: Path, ids: list[int], absolute: bool) -> None:
    (root / "img").mkdir(parents=True)
    with open(root / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["url", "labels", "post_id"])
        for i in ids:
            path = root / "img" / f"{i}.png"
            path.write_bytes(colour_jpeg(i, label_of(i), fmt="PNG"))
            writer.writerow([str(path) if absolute else f"img/{i}.png", f"[{label_of(i)}]", f"p{i}"])
    Vocabulary.from_emojis(["😀", "😂", "😍", "💀", "😴"]).write_categories_csv(root / "categories.csv")


@pytest.mark.parametrize("absolute", [False, True])
def test_release_csv_of_local_paths(tmp_path, absolute):
    ids = list(range(11))
    write_local(tmp_path, ids, absolute)
    (tmp_path / "img" / "3.png").write_bytes(b"GIF89a broken")
    loader = load(tmp_path, seed=1, workers=2)
    seen, full = collect(loader)
    assert sorted(seen) == [i for i in ids if i != 3]
    assert loader.skipped == {"truncated or corrupt image": 1} or loader.skipped == {"not an image": 1}
    assert loader.num_batches == 3
    _, resumed = collect(load(tmp_path, seed=1, workers=0, start_batch=1))
    assert all(torch.equal(a, b) for a, b in zip(full[1:], resumed))
    samples = list(iter_samples(tmp_path, "train"))
    assert [s.meta["post_id"] for s in samples] == [f"p{i}" for i in ids]
    assert samples[0].meta["labels"] == [0] and samples[0].meta["emojis"] == ["😀"]


def test_image_folder_layout(tmp_path):
    vocab = Vocabulary.from_emojis(["😀", "😂", "😍", "💀", "😴"])
    vocab.write_categories_csv(tmp_path / "categories.csv")
    for i in range(8):
        folder = tmp_path / "valid" / (vocab.emojis[label_of(i)] if i % 2 else vocab.names[label_of(i)])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.jpg").write_bytes(colour_jpeg(i, label_of(i)))
    seen, _ = collect(load(tmp_path, "valid", train=False))
    assert sorted(seen) == list(range(8))
    (tmp_path / "valid" / "not-an-emoji").mkdir()
    with pytest.raises(UserError, match="not-an-emoji"):
        load(tmp_path, "valid", train=False)


def test_unfinished_shards_are_left_out(tmp_path):
    """A tar without img2dataset's `_stats.json` beside finished ones is a download killed mid-shard."""
    ids = write_shards(tmp_path / "train", [3, 2])
    write_shards(tmp_path / "partial", [4], start=40)
    (tmp_path / "partial" / "00000.tar").rename(tmp_path / "train" / "00002.tar")
    assert sorted(read_ids(torch.cat([i for i, _ in load(tmp_path, train=False)]))) == ids
    assert len(list(iter_samples(tmp_path, "train"))) == len(ids)


def test_iter_samples_from_shards(shards):
    root, ids = shards
    samples = list(iter_samples(root, "train"))
    assert [s.id for s in samples] == [f"{i}_0" for i in ids]
    assert all(s.meta["labels"] == [label_of(int(s.meta["post_id"]))] for s in samples)
    assert Image.open(io.BytesIO(samples[0].image)).size[1] == 24
    assert len(list(iter_samples(root))) == len(ids) + 8


def test_missing_data_is_a_user_error(tmp_path):
    with pytest.raises(UserError):
        load(tmp_path / "nope")
    with pytest.raises(UserError):
        load(tmp_path)
    with pytest.raises(UserError):
        load(tmp_path, split="dev")


def test_decode_batch_crops_each_image_into_its_slot_of_a_channels_last_batch():
    import numpy as np

    from smileynet.data.loader import decode_batch
    from smileynet.data.transforms import train_transform
    from smileynet.images import decode_rgb_array

    transform = train_transform(16)
    good = [(colour_jpeg(i, label_of(i), size=40), [label_of(i)]) for i in range(5)]
    images, targets, skipped = decode_batch(good, transform, NUM_CLASSES, seed=3)
    assert images.shape == (5, 3, 16, 16) and images.is_contiguous(memory_format=torch.channels_last)
    assert read_ids(images) == list(range(5)) and read_labels(images) == targets.argmax(1).tolist()
    draws = np.random.default_rng(3).random((5, transform.draws_per_image)).tolist()
    for i, (data, _) in enumerate(good):  # image i is cropped with row i of the batch's draws
        expected = np.empty((16, 16, 3), np.uint8)
        transform.apply(decode_rgb_array(data), draws[i], expected)
        assert torch.equal(images[i], torch.from_numpy(expected).permute(2, 0, 1))
    with_bad = good[:2] + [(b"not an image", [0])] + good[2:]
    again, _, skipped = decode_batch(with_bad, transform, NUM_CLASSES, seed=3)
    assert skipped == {"not an image": 1} and read_ids(again) == list(range(5))
    assert torch.equal(again[:2], images[:2])  # a bad image does not change the crops before it
