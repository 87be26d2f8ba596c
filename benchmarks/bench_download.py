"""Download and shard-reading throughput, each against a ceiling measured in the same run.

1. download: images/s from a loopback HTTP server into WebDataset shards (`smileynet download`:
   fetch, decode, resize to 256, re-encode, write), against fetching the same urls alone; and
   fetching them under the fetch policy (address checks, bounded chunked reads, the deadline
   watchdog) against the same plain fetch.
2. read: training images/s from those shards, per core (workers=0, one thread, CPU time):
   tar reading + JPEG decode + the paper's augmentation (random resized crop 224, flip) + batching,
   against decoding the same JPEG bytes alone with the fastest decoder at hand (the ceiling; Pillow's
   figure is printed too). Goal: read >= 0.8x decode-only. Tar reading alone (webdataset's and
   ours) is printed too, to show where the rest of the time goes.

    .venv/bin/python benchmarks/bench_download.py [--images 400] [--size 640x480] [--processes 2]
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import simplejpeg
import torch
import webdataset as wds
from PIL import Image

from smileynet.data import build_loader, iter_samples
from smileynet.data.tar import tar_samples
from smileynet.download.shards import DownloadConfig, download
from smileynet.fetch import FetchPolicy
from smileynet.images import open_image


def photo_like(rng: np.random.Generator, width: int, height: int) -> bytes:
    """Smooth colour fields plus noise: compresses like a photo, not like a flat test card."""
    small = rng.integers(0, 256, (height // 32 + 1, width // 32 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.BICUBIC)
    noise = rng.normal(0, 12, (height, width, 3))
    image = Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--size", default="640x480", help="served image size WxH")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
        args.images, args.size, args.processes, args.threads, args.batch_size = 16, "160x120", 1, 4, 8
    width, height = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        for i in range(args.images):
            (root / "www" / f"{i}.jpg").write_bytes(photo_like(rng, width, height))
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root / "www")))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        urls = [f"http://127.0.0.1:{server.server_address[1]}/{i}.jpg" for i in range(args.images)]
        (root / "ds").mkdir()
        pq.write_table(
            pa.table(
                {
                    "url": urls,
                    "labels": pa.array([[i % 92] for i in range(args.images)], pa.list_(pa.int32())),
                    "split": ["train"] * args.images,
                    "image_id": [f"{i}_0" for i in range(args.images)],
                }
            ),
            root / "ds" / "manifest.parquet",
        )

        def fetch(url: str) -> int:
            with urllib.request.urlopen(url) as r:
                return len(r.read())

        start = time.perf_counter()
        with ThreadPoolExecutor(args.processes * args.threads) as pool:
            fetched = sum(pool.map(fetch, urls))
        fetch_rate = args.images / (time.perf_counter() - start)

        opener = FetchPolicy(allow_private_network=True).opener()

        def fetch_under_policy(url: str) -> int:
            with opener.open(url) as r:
                return len(r.read())

        start = time.perf_counter()
        with ThreadPoolExecutor(args.processes * args.threads) as pool:
            assert sum(pool.map(fetch_under_policy, urls)) == fetched
        policy_rate = args.images / (time.perf_counter() - start)

        start, cpu_start = time.perf_counter(), cpu_seconds()
        summary = download(
            DownloadConfig(
                root / "ds",
                root / "shards",
                processes=args.processes,
                threads=args.threads,
                shard_size=max(50, args.images // 8),
                splits=("train",),
                quiet=True,
                allow_private_network=True,
            )
        )  # the loopback server
        download_rate = summary["total"]["successes"] / (time.perf_counter() - start)
        download_cpu = summary["total"]["successes"] / (cpu_seconds() - cpu_start)
        server.shutdown()
        print(
            f"download: {args.images} images of {width}x{height} ({fetched / args.images / 1024:.0f} KiB), "
            f"{args.processes} processes x {args.threads} threads"
        )
        print(f"  fetch only       {fetch_rate:8.1f} images/s")
        print(f"  fetch, policy    {policy_rate:8.1f} images/s  ({policy_rate / fetch_rate:.2f}x fetch only)")
        print(
            f"  download->shards {download_rate:8.1f} images/s  ({download_rate / fetch_rate:.2f}x fetch only; "
            f"includes process start-up)"
        )
        print(
            f"  download->shards {download_cpu:8.1f} images per CPU-second (all processes: fetch, decode, resize, "
            f"encode, write; start-up included)"
        )

        torch.set_num_threads(1)  # per core: one process, one thread, CPU time (other load on the box does not count)
        cv2.setNumThreads(1)
        shards = [str(p) for p in sorted((root / "shards" / "train").glob("*.tar"))]
        jpegs = [s.image for s in iter_samples(root / "shards", "train")]
        tar_rates = {
            "webdataset (tarfile)": cpu_rate(
                lambda: sum(1 for _ in wds.DataPipeline(wds.SimpleShardList(shards), wds.tarfile_to_samples()))
            ),
            "smileynet.data.tar": cpu_rate(lambda: sum(1 for shard in shards for _ in tar_samples(shard))),
        }
        decode_rates = {
            "Pillow (open_image)": cpu_rate(lambda: sum(1 for data in jpegs if open_image(data))),
            "libjpeg-turbo via simplejpeg": cpu_rate(
                lambda: sum(1 for data in jpegs if simplejpeg.decode_jpeg(data) is not None)
            ),
        }
        ceiling = max(decode_rates.values())  # the fastest decoder of the same bytes: the strict ceiling
        rates = {}
        for name, train_mode in (("train (crop 224 + flip)", True), ("eval (resize + centre crop)", False)):
            rates[name] = cpu_rate(
                lambda train_mode=train_mode: sum(
                    len(images)
                    for images, _ in build_loader(
                        root / "shards",
                        "train",
                        num_classes=92,
                        image_size=224,
                        batch_size=args.batch_size,
                        train=train_mode,
                        workers=0,
                    )
                )
            )
        print(
            f"read, per core (CPU time), {len(jpegs)} shard images of {min(Image.open(io.BytesIO(jpegs[0])).size)} px short side:"
        )
        for name, rate in tar_rates.items():
            print(f"  tar reading only, {name:28s}{rate:8.1f} images/s")
        for name, rate in decode_rates.items():
            print(f"  decode only, {name:31s}{rate:8.1f} images/s")
        for name, rate in rates.items():
            print(
                f"  loader {name:36s}{rate:8.1f} images/s  ({rate / ceiling:.2f}x the fastest decode alone, "
                f"{rate / decode_rates['Pillow (open_image)']:.2f}x Pillow's)"
            )


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (img2dataset's download processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_rate(count) -> float:
    """Images per CPU-second of this process: the best of three runs."""
    best = 0.0
    for _ in range(3):
        start = time.process_time()
        n = count()
        best = max(best, n / (time.process_time() - start))
    return best


if __name__ == "__main__":
    main()
