"""CPU embedding throughput of ResNet50 at 224: eager torchvision fp32 against SmileyNet's runtimes.

Same images, same weights, same run. The baseline is plain eager torchvision fp32 (NCHW, batch
32, torch.no_grad). Variants: SmileyNet's torch runner (inference_mode, channels_last), the same with
bf16 autocast (uses AMX/AVX512-BF16 where the CPU has them), ONNX Runtime fp32 (all graph
optimisations, one thread per core) and ONNX Runtime int8 (static QDQ quantisation, calibrated
on separate images). Each variant runs in its own process so that its peak RSS is its own, and
the eager baseline is timed again in that process right after it, in alternating passes, so that
every ratio is taken under the same load (the machine may be shared).

Model rows time the forward pass on pre-decoded uint8 batches (normalisation included); the
`extract torch|onnx` rows time `smileynet.inference.extract` from the JPEG files, decoding with 2
threads included, against the model-only eager baseline (so their ratios are conservative).
No ImageNet weights are reachable offline: the ResNet50 of the speed table has random weights
whose batch-norm statistics are re-estimated on the benchmark images, so activations have
realistic ranges; but such a network barely separates images, so its agreement figures say
little about a trained one.

The int8 agreement is therefore measured apart, on models trained here: for each of
--agreement-seeds seeds, a --agreement-arch model (default resnet18 at 64 px, 92 outputs) is
trained for --agreement-steps Adam steps on generated pictures whose labels are what they show
(one of 24 classes per colour and kind of shape drawn on them), exported to ONNX and quantised
to int8 exactly as `smileynet export --int8-calibration` does (on separate calibration
pictures); held-out pictures then give the top-1 / top-5 agreement of int8 with the float model
and the held-out mAP of both. The spread over seeds is printed.

    .venv/bin/python benchmarks/bench_embed.py                    # 32 images, 3 trained seeds: 37 min on 2 busy cores
    .venv/bin/python benchmarks/bench_embed.py --images 256 --repeats 3
    .venv/bin/python benchmarks/bench_embed.py --smoke            # seconds: checks that the script runs
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("eager", "torch", "torch-bf16", "onnx", "onnx-int8")


def cpu_info() -> dict:
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return {"model": model, "cores": os.cpu_count(), "flags": [f for f in wanted if f in flags]}


def pictures(folder: Path, n: int, seed: int) -> list[Path]:
    """JPEGs with shapes and gradients (photo-like statistics, unlike noise), 320x240 to 640x480."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        w, h = (320, 240) if i % 2 else (640, 480)
        x = np.linspace(0, 1, w)[None, :, None]
        y = np.linspace(0, 1, h)[:, None, None]
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        image = Image.fromarray((a * x + b * y * (1 - x)).clip(0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.integers(3, 12)):
            box = sorted(rng.integers(0, w, 2)), sorted(rng.integers(0, h, 2))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([box[0][0], box[1][0], box[0][1], box[1][1]], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 2))))
        path = folder / f"{i:05d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def decoded(paths: list[Path], size: int):
    import torch

    from smileynet.data.transforms import eval_transform
    from smileynet.images import open_image

    transform = eval_transform(size)
    return torch.stack([transform(open_image(p)) for p in paths])


def prepare(args, work: Path) -> None:
    """Model dir with re-estimated batch-norm statistics, its ONNX export and int8 quantisation."""
    import torch

    from smileynet.data.transforms import normalize
    from smileynet.inference.quantize import quantize_int8
    from smileynet.inference.torch_runtime import export_onnx
    from smileynet.model import create_model, save

    torch.manual_seed(args.seed)
    images = pictures(work / "images", args.images, args.seed)
    calibration = pictures(work / "calibration", args.calibration, args.seed + 1)
    model = create_model(args.arch, num_classes=92, image_size=args.size)
    model.train()
    with torch.no_grad():
        for momentum_batch in decoded(calibration, args.size).split(16):
            model(normalize(momentum_batch, model.config))
        torch.nn.init.normal_(model.head.weight, std=0.05)
    model.eval()
    save(model, work / "model")
    data = export_onnx(model, work / "model.onnx")
    if "onnx-int8" in args.variants:
        (work / "model-int8.onnx").write_bytes(
            quantize_int8(data, decoded(calibration, args.size).split(args.batch_size))
        )
    (work / "images.txt").write_text("".join(f"{p}\n" for p in images))


def make_forward(variant: str, work: Path, threads: int):
    """A function from a uint8 batch to logits (numpy) for one variant; the `extract` variants ignore
    the batch and run on all the image files, decoding included."""
    import torch

    from smileynet.data.transforms import normalize
    from smileynet.inference.runtime import OnnxRunner
    from smileynet.inference.torch_runtime import TorchRunner
    from smileynet.model import load

    model = load(work / "model")
    if variant == "eager":
        import torchvision

        net = torchvision.models.get_model(model.config.arch, num_classes=92).eval()
        state = {k.removeprefix("backbone."): v for k, v in model.state_dict().items() if k.startswith("backbone.")}
        state |= {"fc.weight": model.head.weight, "fc.bias": model.head.bias}
        net.load_state_dict(state)

        def forward(batch):
            with torch.no_grad():
                return net(normalize(batch, model.config)).numpy()

        return forward
    if variant.startswith("extract"):
        from smileynet.inference import extract, make_runner

        runner = make_runner(model, variant.split()[1])
        paths = [Path(p) for p in (work / "images.txt").read_text().split()]
        return lambda _: extract(runner, paths, batch_size=32, workers=2).logits
    if variant in ("torch", "torch-bf16"):
        runner = TorchRunner(model, precision="bf16" if variant == "torch-bf16" else "fp32")
    else:
        runner = OnnxRunner(work / ("model-int8.onnx" if variant == "onnx-int8" else "model.onnx"), threads=threads)
    return lambda batch: runner(batch)[0]


def run_variant(args, work: Path, variant: str) -> dict:
    """In a fresh process: time the variant, then eager fp32 in alternating passes (best of `repeats`
    each), so that the ratio is measured under the same machine load even on a shared machine."""
    import torch

    torch.set_num_threads(args.threads)
    paths = [Path(p) for p in (work / "images.txt").read_text().split()]
    batches = decoded(paths, args.size).split(args.batch_size)
    whole = variant.startswith("extract")

    def timed(forward, all_files: bool) -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        logits = forward(None) if all_files else np.concatenate([forward(b) for b in batches])
        return time.perf_counter() - start, logits

    candidate = make_forward(variant, work, args.threads)
    candidate(batches[0])  # warm-up (allocations, oneDNN/ORT kernel choice)
    seconds, logits = timed(candidate, whole)
    candidate_times, eager_times = [seconds], []
    peak = peak_rss_mb()  # before the baseline model joins this process
    eager = candidate if variant == "eager" else make_forward("eager", work, args.threads)
    eager(batches[0])
    for repeat in range(args.repeats):
        if repeat:
            candidate_times.append(timed(candidate, whole)[0])
        eager_times.append(timed(eager, False)[0])
    if not whole:
        np.save(work / f"logits-{variant}.npy", logits)
    return {
        "variant": variant,
        "images_per_s": len(paths) / min(candidate_times),
        "eager_images_per_s": len(paths) / min(eager_times),
        "peak_rss_mb": peak,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def agreement(reference: np.ndarray, other: np.ndarray) -> dict:
    sig = lambda z: 1 / (1 + np.exp(-z.astype(np.float64)))  # noqa: E731
    top5 = lambda z: np.argsort(-z, axis=1, kind="stable")[:, :5]  # noqa: E731
    return {
        "max_prob_diff": float(np.abs(sig(reference) - sig(other)).max()),
        "top1": float((reference.argmax(1) == other.argmax(1)).mean()),
        "top5_identical": float((top5(reference) == top5(other)).all(1).mean()),
    }


PALETTE = (
    (230, 40, 40),
    (40, 190, 60),
    (50, 80, 230),
    (240, 220, 40),
    (230, 60, 220),
    (40, 220, 230),
    (250, 140, 30),
    (20, 20, 20),
)
SHAPES = ("ellipse", "rectangle", "triangle")


def labelled_pictures(n: int, size: int, seed: int):
    """`n` uint8 pictures (N x 3 x S x S) on grey-ish gradients with 1-3 shapes each, and their
    multi-hot targets over 92 outputs: class colour * 3 + kind for every shape drawn (24 used)."""
    import torch
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    pixels = np.empty((n, size, size, 3), np.uint8)
    targets = np.zeros((n, 92), np.float32)
    ramp = np.linspace(0, 1, size)[None, :, None]
    for i in range(n):
        a, b = rng.uniform(70, 190, 3), rng.uniform(70, 190, 3)
        image = Image.fromarray(np.broadcast_to(a * ramp + b * (1 - ramp), (size, size, 3)).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.integers(1, 4)):
            colour, kind = int(rng.integers(len(PALETTE))), int(rng.integers(len(SHAPES)))
            w, h = rng.integers(size // 4, size // 2, 2)
            x, y = rng.integers(0, size - w), rng.integers(0, size - h)
            fill = tuple(int(c) for c in np.clip(np.array(PALETTE[colour]) + rng.normal(0, 12, 3), 0, 255))
            if SHAPES[kind] == "triangle":
                draw.polygon([(x, y + h), (x + w, y + h), (x + w // 2, y)], fill=fill)
            else:
                (draw.ellipse if SHAPES[kind] == "ellipse" else draw.rectangle)([x, y, x + w, y + h], fill=fill)
            targets[i, colour * len(SHAPES) + kind] = 1
        pixels[i] = np.asarray(image)
        pixels[i] = np.clip(pixels[i] + rng.normal(0, 6, pixels[i].shape), 0, 255)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(targets)


def trained_agreement(args, seed: int) -> dict:
    """Train a model on labelled pictures, quantise it to int8, compare on held-out pictures."""
    import torch

    from smileynet import metrics
    from smileynet.data.transforms import normalize
    from smileynet.inference.quantize import quantize_int8
    from smileynet.inference.runtime import OnnxRunner
    from smileynet.inference.torch_runtime import TorchRunner, export_onnx
    from smileynet.model import create_model

    size, batch = args.agreement_size, 32
    images, targets = labelled_pictures(args.agreement_train, size, seed=1000 * seed + 1)
    held_out, held_targets = labelled_pictures(args.agreement_images, size, seed=1000 * seed + 2)
    calibration, _ = labelled_pictures(args.calibration, size, seed=1000 * seed + 3)
    torch.manual_seed(seed)
    model = create_model(args.agreement_arch, num_classes=92, image_size=size)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.train_threads)
    start = time.perf_counter()
    model.train()
    for _ in range(args.agreement_steps):
        index = torch.randint(0, len(images), (batch,), generator=generator)
        x = normalize(images[index], model.config)
        if torch.rand((), generator=generator) < 0.5:
            x = x.flip(3)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), targets[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    train_seconds = time.perf_counter() - start
    torch.set_num_threads(threads)
    model.eval()

    def logits_of(runner) -> np.ndarray:
        return np.concatenate([runner(b)[0] for b in held_out.split(batch)])

    reference = logits_of(TorchRunner(model))
    data = export_onnx(model)
    float_onnx = logits_of(OnnxRunner(data, threads=args.threads))
    int8 = logits_of(OnnxRunner(quantize_int8(data, calibration.split(batch)), threads=args.threads))
    used = slice(0, len(PALETTE) * len(SHAPES))
    return {
        "seed": seed,
        "train_s": train_seconds,
        "final_loss": loss.item(),
        "map_float": metrics.mean_ap(reference[:, used], held_targets.numpy()[:, used]),
        "map_int8": metrics.mean_ap(int8[:, used], held_targets.numpy()[:, used]),
        "onnx_float": agreement(reference, float_onnx),
        "int8": agreement(reference, int8),
    }


def print_agreement(args, results: list[dict]) -> None:
    print(
        f"\nint8 on trained models: {args.agreement_arch} at {args.agreement_size} px, {args.agreement_steps} Adam steps "
        f"of 32 on {args.agreement_train} labelled pictures; {args.agreement_images} held-out pictures, "
        f"{args.calibration} calibration pictures; reference: the float model in torch"
    )
    print(
        "| seed | train s | final loss | held-out mAP float | mAP int8 | int8 max prob diff | int8 top-1 agree "
        "| int8 top-5 identical | ONNX fp32 top-5 identical |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        a = r["int8"]
        print(
            f"| {r['seed']} | {r['train_s']:.0f} | {r['final_loss']:.3f} | {r['map_float']:.3f} | {r['map_int8']:.3f} "
            f"| {a['max_prob_diff']:.1e} | {a['top1']:.1%} | {a['top5_identical']:.1%} "
            f"| {r['onnx_float']['top5_identical']:.1%} |"
        )
    for key, label in (("top1", "top-1 agreement"), ("top5_identical", "top-5 identical")):
        values = [r["int8"][key] for r in results]
        print(
            f"int8 {label} over {len(values)} seeds: min {min(values):.1%}, mean {np.mean(values):.1%}, "
            f"max {max(values):.1%}"
        )
    drops = [r["map_float"] - r["map_int8"] for r in results]
    print(f"held-out mAP lost to int8: min {min(drops):.4f}, mean {np.mean(drops):.4f}, max {max(drops):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--calibration", type=int, default=32, help="separate images for BN statistics and int8 ranges")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--extract",
        nargs="*",
        default=["torch", "onnx"],
        choices=["torch", "onnx"],
        help="backends of the `extract` rows (from the JPEG files)",
    )
    parser.add_argument("--arch", default="resnet50", help="a torchvision ResNet for the speed table")
    parser.add_argument(
        "--agreement-seeds", type=int, default=3, help="trained models for the int8 agreement (0: none)"
    )
    parser.add_argument("--agreement-arch", default="resnet18")
    parser.add_argument("--agreement-size", type=int, default=64)
    parser.add_argument("--agreement-steps", type=int, default=200)
    parser.add_argument("--agreement-train", type=int, default=2048, help="generated training pictures")
    parser.add_argument("--agreement-images", type=int, default=256, help="held-out pictures")
    parser.add_argument(
        "--train-threads",
        type=int,
        default=1,
        help="torch threads while training those models (on a shared machine, more were slower)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.smoke:
        args.images, args.calibration, args.batch_size, args.size, args.repeats, args.arch = 4, 4, 4, 64, 1, "resnet18"
        args.agreement_seeds, args.agreement_steps, args.agreement_train, args.agreement_images = 1, 2, 8, 8
        args.agreement_size, args.variants, args.extract = 32, ["eager", "onnx-int8"], ["onnx"]
    if args.worker:
        work = Path(args.work)
        print(json.dumps(run_variant(args, work, args.worker)))
        return

    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
    info = cpu_info()
    print(f"CPU: {info['model']}, {info['cores']} cores, flags: {' '.join(info['flags']) or 'none of note'}")
    print(
        f"{args.arch} at {args.size}, {args.images} images, batch {args.batch_size}, {args.threads} threads, "
        f"best of {args.repeats}; load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        prepare(args, work)
        print(
            f"prepared model, ONNX export{' and int8 quantisation' if 'onnx-int8' in args.variants else ''} "
            f"in {time.perf_counter() - start:.0f} s"
        )
        jobs = ["eager"] + [v for v in args.variants if v != "eager"] + [f"extract {b}" for b in args.extract]
        results = []
        for job in jobs:
            command = [sys.executable, __file__, "--worker", job, "--work", str(work)] + [
                f"--{k.replace('_', '-')}={v}"
                for k, v in vars(args).items()
                if k in ("images", "batch_size", "size", "threads", "repeats", "seed", "arch")
            ]
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{job}: failed\n{run.stderr[-1500:]}")
                continue
            results.append((job, json.loads(run.stdout.strip().splitlines()[-1])))
        reference = np.load(work / "logits-eager.npy")
        print(
            "\n| variant | images/s | eager images/s (same process) | x eager | peak RSS MB | max prob diff | top-1 agree | top-5 identical |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for job, r in results:
            ratio = r["images_per_s"] / r["eager_images_per_s"]
            row = f"| {job} | {r['images_per_s']:.1f} | {r['eager_images_per_s']:.1f} | {ratio:.2f} | {r['peak_rss_mb']:.0f} |"
            logits = work / f"logits-{job}.npy"
            if logits.is_file():
                a = agreement(reference, np.load(logits))
                row += f" {a['max_prob_diff']:.1e} | {a['top1']:.1%} | {a['top5_identical']:.1%} |"
            else:
                row += " | | |"
            print(row)
    if args.agreement_seeds:
        print_agreement(args, [trained_agreement(args, seed) for seed in range(args.agreement_seeds)])


if __name__ == "__main__":
    main()
