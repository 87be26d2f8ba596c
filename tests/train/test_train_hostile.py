"""Training and evaluation on shards that hold malformed JPEGs: each is a counted skip, and
`train_summary.json` counts them even when the run stops in the middle of an epoch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import webdataset as wds

from smileynet.train import TrainConfig, evaluate, train
from smileynet.vocab import Vocabulary

EMOJIS = ["😀", "😭"]
# SOI, then straight to a start-of-scan segment: no frame header (simplejpeg raises ValueError on it)
NO_FRAME_JPEG = b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + bytes(64) + b"\xff\xd9"


def shards(root: Path, size: int, jpeg_bytes) -> int:
    """train/ and test/ shards where every other sample is a JPEG with no frame header; returns
    how many such samples each split holds."""
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(root / "categories.csv")
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        with wds.TarWriter(str(root / split / "00000.tar")) as sink:
            for n in range(size):
                label = n // 2 % 2
                data = NO_FRAME_JPEG if n % 2 else jpeg_bytes(40 + 150 * label, size=20)
                sink.write({"__key__": f"{n:06d}", "jpg": data, "json": json.dumps({"labels": [label]}).encode()})
        (root / split / "00000_stats.json").write_text(json.dumps({"successes": size}))
    return size // 2


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_run_that_stops_mid_epoch_counts_the_malformed_jpegs_it_skipped(tmp_path, jpeg_bytes):
    bad = shards(tmp_path / "data", 64, jpeg_bytes)
    config = TrainConfig(
        data=str(tmp_path / "data"),
        out=str(tmp_path / "run"),
        arch="tiny",
        steps=2,
        batch_size=8,
        image_size=16,
        workers=0,
        val_every=0,
        checkpoint_every=2,
        quiet=True,
        tensorboard=False,
    ).check()
    model = train(config)
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text("utf-8"))
    skipped = sum(summary["skipped_samples"].values())
    assert 0 < skipped < bad  # two batches of eight draw some of them, not all 32
    result = evaluate(model, tmp_path / "data", "test", workers=0, device="cpu", quiet=True)
    assert result["n"] == 64 - bad
    assert sum(result["skipped_images"].values()) == bad
