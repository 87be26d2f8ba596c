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
No ImageNet weights are reachable offline: the ResNet50 has random weights whose batch-norm
statistics are re-estimated on the benchmark images, so activations have realistic ranges and
top-1/top-5 agreement means something (on a trained model they are usually higher).

    .venv/bin/python benchmarks/bench_embed.py                    # 32 images: ~3 min on 2 idle cores
    .venv/bin/python benchmarks/bench_embed.py --images 256 --repeats 3
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
    from smileynet.inference.runtime import export_onnx
    from smileynet.model import create_model, save

    torch.manual_seed(args.seed)
    images = pictures(work / "images", args.images, args.seed)
    calibration = pictures(work / "calibration", args.calibration, args.seed + 1)
    model = create_model("resnet50", num_classes=92, image_size=args.size)
    model.train()
    with torch.no_grad():
        for momentum_batch in decoded(calibration, args.size).split(16):
            model(normalize(momentum_batch, model.config))
        torch.nn.init.normal_(model.head.weight, std=0.05)
    model.eval()
    save(model, work / "model")
    data = export_onnx(model, work / "model.onnx")
    if "onnx-int8" in args.variants:
        (work / "model-int8.onnx").write_bytes(quantize_int8(data, decoded(calibration, args.size).split(args.batch_size)))
    (work / "images.txt").write_text("".join(f"{p}\n" for p in images))


def make_forward(variant: str, work: Path, threads: int):
    """A function from a uint8 batch to logits (numpy) for one variant; the `extract` variants ignore
    the batch and run on all the image files, decoding included."""
    import torch

    from smileynet.data.transforms import normalize
    from smileynet.inference.runtime import OnnxRunner, TorchRunner
    from smileynet.model import load

    model = load(work / "model")
    if variant == "eager":
        import torchvision

        net = torchvision.models.resnet50(num_classes=92).eval()
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
    return {"variant": variant, "images_per_s": len(paths) / min(candidate_times),
            "eager_images_per_s": len(paths) / min(eager_times), "peak_rss_mb": peak}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def agreement(reference: np.ndarray, other: np.ndarray) -> dict:
    sig = lambda z: 1 / (1 + np.exp(-z.astype(np.float64)))  # noqa: E731
    top5 = lambda z: np.argsort(-z, axis=1, kind="stable")[:, :5]  # noqa: E731
    return {"max_prob_diff": float(np.abs(sig(reference) - sig(other)).max()),
            "top1": float((reference.argmax(1) == other.argmax(1)).mean()),
            "top5_identical": float((top5(reference) == top5(other)).all(1).mean())}


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
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        work = Path(args.work)
        print(json.dumps(run_variant(args, work, args.worker)))
        return

    info = cpu_info()
    print(f"CPU: {info['model']}, {info['cores']} cores, flags: {' '.join(info['flags']) or 'none of note'}")
    print(f"resnet50 at {args.size}, {args.images} images, batch {args.batch_size}, {args.threads} threads, "
          f"best of {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        prepare(args, work)
        print(f"prepared model, ONNX export{' and int8 quantisation' if 'onnx-int8' in args.variants else ''} "
              f"in {time.perf_counter() - start:.0f} s")
        jobs = ["eager"] + [v for v in args.variants if v != "eager"] + ["extract torch", "extract onnx"]
        results = []
        for job in jobs:
            command = [sys.executable, __file__, "--worker", job, "--work", str(work)] + [
                f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                if k in ("images", "batch_size", "size", "threads", "repeats", "seed")]
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{job}: failed\n{run.stderr[-1500:]}")
                continue
            results.append((job, json.loads(run.stdout.strip().splitlines()[-1])))
        reference = np.load(work / "logits-eager.npy")
        print("\n| variant | images/s | eager images/s (same process) | x eager | peak RSS MB | max prob diff | top-1 agree | top-5 identical |")
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


if __name__ == "__main__":
    main()
