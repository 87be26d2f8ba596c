"""`smileynet serve` under load: latency percentiles and throughput, with and without micro-batching.

A real uvicorn server on 127.0.0.1 (in a thread of this process) answers a bounded load: N
requests, C in flight, 10 % malformed (random bytes, truncated JPEGs, empty files, invalid JSON,
bad base64), the rest 96-px JPEGs (multipart) and PNGs (JSON base64). The baseline is the same
server with micro-batching off (`max_batch=1`: one forward pass per request), in the same run;
"x" is the batched figure over the baseline's. Any 5xx answer fails the run (exit 1).

    .venv/bin/python benchmarks/bench_serve.py                          # tiny + resnet18: ~1-2 min
    .venv/bin/python benchmarks/bench_serve.py --archs resnet50 --image-size 224 --requests 400
"""

from __future__ import annotations

import argparse
import sys

import torch
from loadtest import background_server, make_requests, run_load

from smileynet.model import create_model
from smileynet.serve.app import create_app
from smileynet.serve.predictor import Predictor


def measure(model, requests, concurrency: int, max_batch: int, max_wait_ms: float) -> dict:
    app = create_app(Predictor(model), max_batch=max_batch, max_wait_ms=max_wait_ms)
    with background_server(app) as url:
        run_load(url, requests[: max(concurrency, len(requests) // 10)], concurrency)  # warm-up
        batcher = app.state.batcher
        batches, images = batcher.batches, batcher.images
        result = run_load(url, requests, concurrency)
        result["mean_batch"] = (batcher.images - images) / max(1, batcher.batches - batches)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--malformed", type=float, default=0.1)
    parser.add_argument("--archs", default="tiny,resnet18", help="comma-separated model archs (random weights)")
    parser.add_argument("--image-size", type=int, default=112, help="model input size")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
        args.requests, args.concurrency, args.archs, args.image_size = 20, 4, "tiny", 32

    requests = make_requests(args.requests, args.malformed, seed=0)
    print(
        f"{args.requests} requests, {args.concurrency} concurrent, {args.malformed:.0%} malformed; "
        f"torch threads {torch.get_num_threads()}; model input {args.image_size} px"
    )
    print(
        f"{'arch':<10} {'batching':<10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'req/s':>7} {'batch':>6} "
        f"{'5xx':>4}  statuses"
    )
    failed = False
    for arch in args.archs.split(","):
        torch.manual_seed(0)
        model = create_model(arch, 92, image_size=args.image_size).eval()
        rows = {}
        for label, max_batch in (("off", 1), ("on", args.max_batch)):
            rows[label] = r = measure(model, requests, args.concurrency, max_batch, args.max_wait_ms)
            failed |= r["server_errors"] > 0 or bool(r["errors"])
            print(
                f"{arch:<10} {label:<10} {r['p50_ms']:8.1f} {r['p90_ms']:8.1f} {r['p99_ms']:8.1f} "
                f"{r['throughput_rps']:7.1f} {r['mean_batch']:6.1f} {r['server_errors']:4d}  {r['statuses']}"
                + (f" transport errors: {r['errors'][:3]}" if r["errors"] else "")
            )
        on, off = rows["on"], rows["off"]
        print(
            f"{arch:<10} {'x on/off':<10} {on['p50_ms'] / off['p50_ms']:8.2f} {on['p90_ms'] / off['p90_ms']:8.2f} "
            f"{on['p99_ms'] / off['p99_ms']:8.2f} {on['throughput_rps'] / off['throughput_rps']:7.2f}"
        )
    if failed:
        print("FAILED: the server answered with 5xx or dropped connections", file=sys.stderr)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
