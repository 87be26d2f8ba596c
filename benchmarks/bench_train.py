"""Training throughput: our input pipeline vs synthetic tensors, and vs the official release's pipeline.

    .venv/bin/python benchmarks/bench_train.py                      # CPU, small (~1-3 min)
    .venv/bin/python benchmarks/bench_train.py --device cuda        # GPU: ResNet50 224, batch 256, bf16,
                                                                    # channels_last, compiled, real vs synthetic

Everything is measured in the same run on generated data:
- "photos": JPEGs at --source-size (what social-media URLs serve), and WebDataset shards of the same
  pictures resized to --shard-size on the short side (what `smileynet download` writes);
- input pipeline alone, images/s per core: ours (`smileynet.data.build_loader`, --workers processes,
  random resized crop + flip, uint8) vs the official release's (one `requests.get` per sample from a
  `python -m http.server` on 127.0.0.1, PIL decode, its torchvision transforms with and without its
  --input_aug, DataLoader without workers), the ratio taken against the faster of the two;
- training images/s of the model (--arch): synthetic in-memory uint8 batches vs our loader
  (and vs the official loader on CPU), so real/synthetic says how much the pipeline costs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

EMOJIS = ["😂", "😍", "😭", "😊", "😘", "💀", "👻", "😴"]
SHARD_SAMPLES = 500


def picture(i: int, size: tuple[int, int]) -> Image.Image:
    """A photo-like picture: colour gradients with texture in 8x8 blocks, so JPEG sizes and decode
    times are realistic (drawn at 1/8 scale and enlarged: generating it stays cheap)."""
    rng = np.random.default_rng(i)
    w, h = size
    y, x = np.mgrid[0 : h // 8 + 1, 0 : w // 8 + 1].astype(np.float32)
    base = rng.uniform(0, 255, (3, 1, 1)) + rng.uniform(-1.5, 1.5, (3, 1, 1)) * (x + y)
    pixels = np.clip(base.transpose(1, 2, 0) + rng.normal(0, 25, x.shape + (3,)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).resize((w, h), Image.BILINEAR)


def make_photo(args: tuple[int, Path, tuple[int, int], int, bool]) -> tuple[int, bytes, list[int]]:
    """Photo i: written at source size for the HTTP server when `full`; its shard version returned."""
    i, photos, size, shard_size, full = args
    scale = shard_size / min(size)
    small_size = (round(size[0] * scale), round(size[1] * scale))
    if full:
        image = picture(i, size)
        image.save(photos / f"{i:06d}.jpg", quality=90)
        small = image.resize(small_size, Image.BILINEAR)
    else:
        small = picture(i, small_size)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=95)
    labels = sorted({i % len(EMOJIS), (i * 7) % len(EMOJIS)})
    return i, buffer.getvalue(), labels


def make_data(
    root: Path, count: int, full: int, size: tuple[int, int], shard_size: int, processes: int
) -> tuple[Path, Path]:
    """`count` pictures as shards; the first `full` also as source-size JPEGs for the HTTP server."""
    import webdataset as wds

    from smileynet.vocab import Vocabulary

    photos, shards = root / "photos", root / "shards"
    photos.mkdir(parents=True)
    (shards / "train").mkdir(parents=True)
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(shards / "categories.csv")
    writer = None
    with ProcessPoolExecutor(processes) as pool:
        for i, jpeg, labels in pool.map(
            make_photo, [(i, photos, size, shard_size, i < full) for i in range(count)], chunksize=16
        ):
            if i % SHARD_SAMPLES == 0:
                if writer is not None:
                    writer.close()
                writer = wds.TarWriter(str(shards / "train" / f"{i // SHARD_SAMPLES:05d}.tar"))
            writer.write(
                {
                    "__key__": f"{i:06d}",
                    "jpg": jpeg,
                    "json": json.dumps({"labels": labels, "url": f"{i:06d}.jpg"}).encode(),
                }
            )
    writer.close()
    return photos, shards


class OfficialDataset(torch.utils.data.Dataset):
    """The release's loader as its code does it (twitter-research/visual-sentiment-analysis,
    data/datasets.py and model/nn_factory.py): `requests.get(url).content` per sample, PIL decode and
    `.convert("RGB")`, then its default transform: `Resize(224) + CenterCrop(224)` as train_model.sh
    runs it, or `RandomResizedCrop(224, scale=(0.5, 1)) + flip` with its --input_aug; ToTensor, Normalize."""

    def __init__(self, base: str, count: int, image_size: int, augment: bool) -> None:
        from torchvision import transforms

        self.base, self.count = base, count
        crop = (
            [transforms.RandomResizedCrop(image_size, scale=(0.5, 1.0)), transforms.RandomHorizontalFlip()]
            if augment
            else [transforms.Resize(image_size), transforms.CenterCrop(image_size)]
        )
        self.transform = transforms.Compose(
            crop
            + [
                transforms.ToTensor(),
                transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            ]
        )

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int):
        import requests

        image = Image.open(io.BytesIO(requests.get(f"{self.base}/{i:06d}.jpg").content)).convert("RGB")
        target = torch.zeros(len(EMOJIS))
        target[sorted({i % len(EMOJIS), (i * 7) % len(EMOJIS)})] = 1
        return self.transform(image), target


def our_batches(shards: Path, args, epochs_needed: int = 1000):
    """Our loader, epoch after epoch (as training consumes it)."""
    from smileynet.data import build_loader

    for epoch in range(epochs_needed):
        yield from build_loader(
            shards,
            "train",
            num_classes=len(EMOJIS),
            image_size=args.image_size,
            batch_size=args.batch_size,
            train=True,
            epoch=epoch,
            workers=args.workers,
        )


def endless(loader):
    while True:
        yield from loader


def pipeline_rate(batches, limit_images: int) -> float:
    """Images/s of a batch iterator alone (first batch excluded: worker start-up)."""
    iterator = iter(batches)
    next(iterator)
    seen, start = 0, time.perf_counter()
    for images, _ in iterator:
        seen += len(images)
        if seen >= limit_images:
            break
    return seen / (time.perf_counter() - start)


def train_rate(batches, args, device: torch.device, steps: int, normalised: bool = False) -> float:
    """Training images/s over `steps` steps after `args.warmup` warm-up steps, the loop of smileynet train."""
    from smileynet.data.transforms import normalize
    from smileynet.model import create_model

    torch.manual_seed(0)
    model = create_model(args.arch, len(EMOJIS), image_size=args.image_size).to(
        device, memory_format=torch.channels_last
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    step_model = torch.compile(model) if args.compile else model
    dtype = torch.bfloat16 if device.type == "cuda" else None
    iterator = iter(batches)
    seen, start = 0, None
    for step in range(args.warmup + steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            seen, start = 0, time.perf_counter()
        images, targets = next(iterator)
        if device.type == "cuda" and not images.is_cuda:
            images, targets = images.pin_memory(), targets.pin_memory()
        images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        x = images if normalised else normalize(images, model.config)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = step_model(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def synthetic(args, device: torch.device):
    """One fixed uint8 batch, held in host memory (copied each step, as real batches are)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(
        0, 256, (args.batch_size, 3, args.image_size, args.image_size), dtype=torch.uint8, generator=generator
    )
    targets = (torch.rand(args.batch_size, len(EMOJIS), generator=generator) < 0.2).float()
    while True:
        yield images, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--images", type=int, default=None, help="generated photos (default 256 cpu, 60000 cuda)")
    parser.add_argument("--source-size", default="1024x768", help="size of the photos the HTTP server serves")
    parser.add_argument("--shard-size", type=int, default=256, help="short side in the shards (download's default)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 cpu, 256 cuda")
    parser.add_argument("--arch", default=None, help="default tiny on cpu, resnet50 on cuda")
    parser.add_argument(
        "--workers", type=int, default=None, help="our loader's processes (default 1 cpu, cores-2 cuda)"
    )
    parser.add_argument("--steps", type=int, default=None, help="timed training steps (default 6 cpu, 100 cuda)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 2 cpu, 30 cuda)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="default on for cuda")
    parser.add_argument(
        "--official-images",
        type=int,
        default=None,
        help="photos served over HTTP for the official pipeline (default 96)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating pipeline measurements (median)")
    parser.add_argument(
        "--work", type=Path, default=None, help="keep the generated photos and shards in this (new) folder"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
        args.images, args.source_size, args.shard_size, args.image_size, args.batch_size = 64, "160x120", 48, 32, 8
        args.arch, args.steps, args.warmup, args.official_images, args.rounds = "tiny", 2, 1, 16, 1
    gpu = args.device == "cuda"
    cores = os.cpu_count() or 1
    args.images = args.images or (60_000 if gpu else 256)
    args.batch_size = args.batch_size or (256 if gpu else 32)
    args.arch = args.arch or ("resnet50" if gpu else "tiny")
    args.workers = args.workers if args.workers is not None else (max(cores - 2, 1) if gpu else 1)
    args.steps = args.steps or (100 if gpu else 6)
    args.warmup = args.warmup if args.warmup is not None else (30 if gpu else 2)
    args.compile = gpu if args.compile is None else args.compile
    args.official_images = args.official_images or 96
    size = tuple(int(v) for v in args.source_size.split("x"))
    device = torch.device(args.device)
    if gpu and not torch.cuda.is_available():
        sys.exit("bench_train: --device cuda but no CUDA GPU is visible")
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        start = time.perf_counter()
        args.official_images = min(args.official_images, args.images)
        photos, shards = make_data(
            args.work or Path(tmp), args.images, args.official_images, size, args.shard_size, cores
        )
        print(
            f"machine: {cores} CPU cores, torch {torch.__version__}, device {device}"
            + (f" ({torch.cuda.get_device_name()})" if gpu else "")
        )
        print(
            f"data: {args.images} photos {args.source_size} -> shards at {args.shard_size} px "
            f"({time.perf_counter() - start:.1f} s); crop {args.image_size}, batch {args.batch_size}, arch {args.arch}, "
            f"our loader workers {args.workers}"
        )

        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(photos)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port NNNNN ..."
            port = int(line.split(" port ")[1].split()[0])
            officials = {
                name: torch.utils.data.DataLoader(
                    OfficialDataset(f"http://127.0.0.1:{port}", args.official_images, args.image_size, augment),
                    batch_size=args.batch_size,
                    shuffle=True,
                    num_workers=0,
                )
                for name, augment in (("as shipped", False), ("--input_aug", True))
            }
            rounds = []  # alternate the pipelines, so that load changing on a shared machine hits all alike
            for _ in range(args.rounds):
                ours = pipeline_rate(our_batches(shards, args), args.images - args.batch_size) / args.workers
                rounds.append([ours] + [pipeline_rate(endless(o), args.official_images) for o in officials.values()])
            ours_per_core, *official_rates = (float(np.median(v)) for v in zip(*rounds))
            # against the faster of the two official variants, round by round
            ratios = [ours / max(rest) for ours, *rest in rounds]
            ratio = float(np.median(ratios))
            print(
                f"input pipeline alone (median of {args.rounds} alternating rounds): ours {ours_per_core:.0f} img/s "
                f"per core; official (requests + PIL, no workers) on one core: "
                + ", ".join(f"{name} {rate:.0f} img/s" for name, rate in zip(officials, official_rates))
                + f" -> {ratio:.1f}x the faster per core (rounds: {', '.join(f'{r:.1f}x' for r in ratios)})"
            )

            synthetic_rate = train_rate(synthetic(args, device), args, device, args.steps)
            real_rate = train_rate(our_batches(shards, args), args, device, args.steps)
            print(
                f"training {args.arch}: synthetic {synthetic_rate:.0f} img/s, real shards {real_rate:.0f} img/s "
                f"-> real/synthetic {real_rate / synthetic_rate:.2f}"
            )
            if not gpu:
                official_train = train_rate(
                    endless(officials["as shipped"]),
                    args,
                    device,
                    max(1, args.official_images // args.batch_size - 1),
                    normalised=True,
                )
                print(
                    f"training {args.arch} fed by the official pipeline: {official_train:.0f} img/s "
                    f"-> ours {real_rate / official_train:.1f}x"
                )
            figures = {
                "device": args.device,
                "arch": args.arch,
                "image_size": args.image_size,
                "batch_size": args.batch_size,
                "compile": args.compile,
                "synthetic_img_s": synthetic_rate,
                "real_img_s": real_rate,
                "pipeline_img_s_per_core": ours_per_core,
                "shards": str(shards) if args.work else None,
            }
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2))
            if gpu:
                print(
                    f"GPU memory peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB; goals: >= 5000 img/s, "
                    f"real >= 0.9x synthetic"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
