"""The GPU paths end to end, as one table: run by `benchmarks/gpu_check.sh` (see there for usage).

Every check runs the script or command a user runs, in its own process:
1. `bench_train.py`: ResNet50 at 224, batch 256, bf16 autocast, channels_last, `torch.compile`,
   training images/s on synthetic batches and on real shards (goals: >= 5000 img/s, real >= 0.9x
   synthetic); its shards are kept for the next checks (a copy of the first one is the valid split);
2. `torchrun --nproc_per_node=1 -m smileynet train` on those shards: one process still joins a
   process group (nccl on a GPU) and trains through DDP, with sharded validation and a checkpoint;
3. `smileynet evaluate` of the trained model on the valid split;
4. `smileynet embed` of the valid split (torch backend, on the device);
5. `smileynet serve` on the device, one `POST /v1/predict` with a JPEG from the shards.
With `--tiny` every check runs at tiny sizes (arch tiny, 32 px, a few steps, no compile) and the
throughput goals are not checked: that is how the tests keep this script working without a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_IMG_S, GOAL_REAL_OVER_SYNTHETIC = 5000, 0.9


class CheckFailed(Exception):
    pass


def run(command: list[str], log: Path, timeout: float, env: dict | None = None) -> str:
    """Run a command, its output kept in `log`; a non-zero exit or a timeout fails the check."""
    try:
        result = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"timed out after {timeout:.0f} s") from None
    log.write_text(f"$ {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    if result.returncode != 0:
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [""]
        raise CheckFailed(f"exit {result.returncode}: {tail[0][:200]} (log: {log})")
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_train_throughput(args, work: Path) -> tuple[str, str, bool]:
    command = [
        sys.executable,
        "benchmarks/bench_train.py",
        "--device",
        args.device,
        "--work",
        str(work / "data"),
        "--json",
        str(work / "train.json"),
    ]
    command += ["--smoke"] if args.tiny else []
    run(command, work / "bench_train.log", timeout=args.timeout)
    figures = json.loads((work / "train.json").read_text())
    shards = Path(figures["shards"])
    (shards / "valid").mkdir(exist_ok=True)
    shutil.copy(min((shards / "train").glob("*.tar")), shards / "valid" / "00000.tar")
    synthetic, real = figures["synthetic_img_s"], figures["real_img_s"]
    ratio = real / synthetic
    met = args.tiny or (real >= GOAL_IMG_S and ratio >= GOAL_REAL_OVER_SYNTHETIC)
    setup = f"{figures['arch']} {figures['image_size']} px, batch {figures['batch_size']}" + (
        ", compiled" if figures["compile"] else ""
    )
    return (
        f"{setup}: real shards {real:.0f} img/s, synthetic {synthetic:.0f} img/s, real {ratio:.2f}x synthetic",
        "-" if args.tiny else f">= {GOAL_IMG_S} img/s, >= {GOAL_REAL_OVER_SYNTHETIC}x",
        met,
    )


def check_torchrun(args, work: Path) -> tuple[str, str, bool]:
    shards = work / "data" / "shards"
    steps = 4 if args.tiny else 40
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        "-m",
        "smileynet",
        "train",
        "--data",
        str(shards),
        "--out",
        str(work / "run"),
        "--device",
        args.device,
        "--steps",
        str(steps),
        "--log-every",
        str(steps),
        "--checkpoint-every",
        str(steps),
        "--val-every",
        "0",
        "--val-batches",
        "2",
        "--precision",
        "bf16",
        "--channels-last",
        "--quiet",
        "--no-tensorboard",
        "--workers",
        str(args.workers),
    ]
    command += (
        ["--arch", "tiny", "--image-size", "32", "--batch-size", "8", "--no-compile"]
        if args.tiny
        else ["--arch", "resnet50", "--image-size", "224", "--batch-size", "256", "--compile"]
    )
    start = time.perf_counter()
    run(command, work / "torchrun.log", timeout=args.timeout)
    seconds = time.perf_counter() - start
    summary = json.loads((work / "run" / "train_summary.json").read_text())
    rows = (work / "run" / "metrics.csv").read_text().splitlines()
    last = dict(zip(rows[0].split(","), rows[-1].split(",")))
    loss, auc = float(last["loss"]), last["val_auc"]
    ok = (
        summary["processes"] == 1
        and summary["backend"] == ("nccl" if args.device == "cuda" else "gloo")
        and math.isfinite(loss)
        and auc != ""
    )
    return (
        f"{steps} steps through DDP ({summary['backend']}), {float(last['images_per_s']):.0f} img/s, loss {loss:.3f}, "
        f"val auc {float(auc or 'nan'):.3f}; {seconds:.0f} s with start-up",
        "exit 0, finite loss, validated",
        ok,
    )


def check_evaluate(args, work: Path) -> tuple[str, str, bool]:
    out = work / "evaluate.json"
    run(
        [
            sys.executable,
            "-m",
            "smileynet",
            "evaluate",
            str(work / "run" / "model"),
            "--data",
            str(work / "data" / "shards"),
            "--split",
            "valid",
            "--device",
            args.device,
            "--workers",
            str(args.workers),
            "--out",
            str(out),
            "--quiet",
        ],
        work / "evaluate.log",
        timeout=args.timeout,
    )
    result = json.loads(out.read_text())
    return (
        f"{result['n']} images, auc {result['auc']:.3f}, mtop5 {result['mtop5']:.3f}",
        "every image scored",
        result["n"] > 0,
    )


def check_embed(args, work: Path) -> tuple[str, str, bool]:
    start = time.perf_counter()
    stdout = run(
        [
            sys.executable,
            "-m",
            "smileynet",
            "embed",
            str(work / "run" / "model"),
            str(work / "data" / "shards"),
            "--split",
            "valid",
            "--out",
            str(work / "embed.parquet"),
            "--device",
            args.device,
            "--backend",
            "torch",
            "--workers",
            str(args.workers),
            "--quiet",
        ],
        work / "embed.log",
        timeout=args.timeout,
    )
    seconds = time.perf_counter() - start
    summary = json.loads(stdout.strip().splitlines()[-1])
    return (
        f"{summary['rows']} rows, {summary['failed']} failed, {seconds:.0f} s with start-up",
        "no failure",
        bool(summary["rows"]) and summary["failed"] == 0,
    )


def check_serve(args, work: Path) -> tuple[str, str, bool]:
    from smileynet.data import iter_samples

    jpeg = next(iter_samples(work / "data" / "shards", "valid")).image
    port = free_port()
    with open(work / "serve.log", "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smileynet",
                "serve",
                str(work / "run" / "model"),
                "--port",
                str(port),
                "--device",
                args.device,
                "--quiet",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        answer, ms = one_request(args, work, server, port, jpeg)
    top = answer.json().get("top", []) if answer.status_code == 200 else []
    return (
        f"HTTP {answer.status_code}, {len(top)} emojis, {ms:.0f} ms",
        "HTTP 200 with emojis",
        answer.status_code == 200 and bool(top),
    )


def one_request(args, work: Path, server: subprocess.Popen, port: int, jpeg: bytes):
    """Wait for the server's health check, then time one prediction; the server is stopped either way."""
    import httpx

    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + args.timeout
        while True:
            if server.poll() is not None:
                raise CheckFailed(f"the server exited with {server.returncode} (log: {work / 'serve.log'})")
            if time.monotonic() > deadline:
                raise CheckFailed("the server did not become healthy in time")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        start = time.perf_counter()
        answer = httpx.post(f"{url}/v1/predict", files={"file": ("x.jpg", jpeg, "image/jpeg")}, timeout=60)
        ms = (time.perf_counter() - start) * 1000
    finally:
        server.terminate()
        server.wait(timeout=30)
    return answer, ms


CHECKS = (
    ("train throughput (bench_train)", check_train_throughput),
    ("torchrun, 1 process", check_torchrun),
    ("evaluate", check_evaluate),
    ("embed", check_embed),
    ("serve, one request", check_serve),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument(
        "--tiny", action="store_true", help="tiny sizes (seconds on a CPU); throughput goals not checked"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="loader processes (default: cores - 2, 1 with --tiny)"
    )
    parser.add_argument("--timeout", type=float, default=420, help="seconds per check")
    parser.add_argument("--keep", type=Path, default=None, help="keep the data, run and logs in this (new) folder")
    args = parser.parse_args()
    args.workers = args.workers if args.workers is not None else (1 if args.tiny else max(1, (os.cpu_count() or 1) - 2))

    import torch

    where = f"{torch.cuda.get_device_name()}" if args.device == "cuda" and torch.cuda.is_available() else "CPU"
    print(
        f"gpu_check: device {args.device} ({where}), {os.cpu_count()} cores, torch {torch.__version__}"
        + (", tiny sizes" if args.tiny else "")
    )
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: FAILED: --device cuda but torch sees no CUDA GPU")
        return 1
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows, failed = [], False
        start = time.perf_counter()
        for name, check in CHECKS:
            t = time.perf_counter()
            try:
                result, goal, ok = check(args, work)
            except Exception as err:  # a crashed check is a failed row; the later ones may still run
                result, goal, ok = f"{type(err).__name__}: {err}", "", False
            failed |= not ok
            rows.append((name, result, goal, "ok" if ok else "FAIL", time.perf_counter() - t))
            print(f"  {name}: {'ok' if ok else 'FAIL'} ({time.perf_counter() - t:.0f} s)", flush=True)
        print("\n| check | result | goal | status | s |\n| --- | --- | --- | --- | ---: |")
        for name, result, goal, status, seconds in rows:
            print(f"| {name} | {result} | {goal} | {status} | {seconds:.0f} |")
        print(f"\ngpu_check: {'FAILED' if failed else 'all checks passed'} in {time.perf_counter() - start:.0f} s")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
