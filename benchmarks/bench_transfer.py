"""Transfer protocols on FI-sized embeddings: wall time and peak memory, extraction apart.

Every protocol of `smileynet transfer` runs on synthetic embeddings shaped like FI (8 emotion
classes; the 92-d emoji embedding and the 2048-d ObjectNet baseline features), 5-fold. The
baseline of the ratios is the same protocol on the 92-d embedding in the same run: the
"x" column says how much the 2048-d features cost relative to it. Extraction (decoding images
and the forward pass) is timed apart, on a few generated images, and extrapolated.

    .venv/bin/python benchmarks/bench_transfer.py             # FI size, 23,308 images: ~1-3 min
    .venv/bin/python benchmarks/bench_transfer.py --n 4000    # smaller
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from smileynet.lexicon import zero_shot_weights
from smileynet.transfer import protocols
from smileynet.transfer.benchmarks import MIKELS_EMOTIONS, POSITIVE_EMOTIONS

FI_SIZE = 23_308


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels over 8 classes, 92-d logits and 2048-d non-negative features with class signal."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(MIKELS_EMOTIONS), n)
    logits = (rng.normal(0, 1.5, (len(MIKELS_EMOTIONS), 92))[y] + rng.normal(0, 2.0, (n, 92)) - 3).astype(np.float32)
    features = np.maximum(rng.normal(0, 0.5, (len(MIKELS_EMOTIONS), 2048))[y] + rng.normal(0, 1.0, (n, 2048)), 0)
    return logits, features.astype(np.float32), y


def timed(label: str, table: list, fn, *args, **kwargs):
    tracemalloc.reset_peak()
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    table.append((label, seconds, tracemalloc.get_traced_memory()[1] / 2**20))
    return result


def extraction(images: int, arch: str, size: int) -> float:
    """Images per second of `smileynet.inference.extract` on generated JPEGs."""
    from PIL import Image

    from smileynet.inference import extract
    from smileynet.model import create_model

    model = create_model(arch, 92, image_size=size).eval()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(images):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (size + 32, size + 32, 3), dtype=np.uint8)).save(buffer, format="JPEG")
            paths.append(Path(tmp) / f"{i}.jpg")
            paths[-1].write_bytes(buffer.getvalue())
        extract(model, [str(p) for p in paths[:8]], batch_size=8)  # warm-up
        start = time.perf_counter()
        extract(model, [str(p) for p in paths], batch_size=32, features="both")
        return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=FI_SIZE, help=f"images (default: FI's {FI_SIZE})")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--extract-images", type=int, default=32)
    parser.add_argument("--arch", default="resnet50", help="model for the extraction timing (the paper: resnet50)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
        args.n, args.folds, args.extract_images, args.arch, args.image_size = 400, 2, 4, "tiny", 32

    logits, features, y = synthetic(args.n, seed=0)
    folds = protocols.stratified_folds(y, args.folds, seed=0)
    mapping = np.array([int(e in POSITIVE_EMOTIONS) for e in MIKELS_EMOTIONS])
    sentiment = mapping[y]
    tracemalloc.start()
    rows: list = []
    wall = time.perf_counter()
    for name, x in (("emoji 92-d", logits), ("ObjectNet 2048-d", features)):
        timed(f"1-NN          {name}", rows, protocols.knn_predictions, x, y, folds)
        timed(f"linear head   {name}", rows, protocols.head_predictions, x, y, folds, "linear")
    weights = zero_shot_weights(np.array([1.0, -1.0] * 46), binary=True)
    timed("zero-shot     emoji 92-d", rows, protocols.zero_shot_scores, logits, weights)
    timed("spearman      emoji 92-d", rows, protocols.spearman_columns, logits, sentiment)
    timed("class corr.   emoji 92-d", rows, protocols.class_correlations, logits, y, 8)
    fp = timed("fingerprint   emoji 92-d", rows, protocols.emotional_fingerprint, logits, y, 8)
    timed("t-SNE         92 emojis", rows, protocols.tsne_2d, fp)
    timed("PCA           emoji 92-d", rows, protocols.pca_2d, logits)
    protocols_seconds = time.perf_counter() - wall
    tracemalloc.stop()

    print(f"transfer protocols, {args.n} images x 8 classes, {args.folds}-fold; python {sys.version.split()[0]}")
    print(f"{'protocol':46s} {'seconds':>8s} {'peak MiB':>9s}")
    for label, seconds, peak in rows:
        print(f"{label:46s} {seconds:8.2f} {peak:9.1f}")
    by_label = {label: seconds for label, seconds, _ in rows}
    for protocol in ("1-NN", "linear head"):
        small = by_label[f"{protocol:14s}emoji 92-d"]
        large = by_label[f"{protocol:14s}ObjectNet 2048-d"]
        print(f"{protocol}: ObjectNet 2048-d / emoji 92-d = {large / small:.1f}x time")
    peak = max(p for _, _, p in rows)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"all protocols: {protocols_seconds:.1f} s wall; peak traced memory {peak:.0f} MiB; process peak RSS {rss:.0f} MiB"
    )
    rate = extraction(args.extract_images, args.arch, args.image_size)
    print(
        f"extraction (apart): {args.arch} at {args.image_size}px, {rate:.1f} images/s on this CPU "
        f"-> {FI_SIZE / rate / 60:.1f} min for FI's {FI_SIZE} images"
    )


if __name__ == "__main__":
    main()
