"""Benchmark `collect` on hostile inputs: one line without a newline, and a bz2 bomb.

For each size, in a fresh process each (peak memory = VmHWM): the time and peak memory of
collect's reader (`collect_task` on one file) on
- a plain file holding one line of SIZE bytes and no newline (skipped as "line too long"),
- a bz2 file of a few hundred bytes that inflates to SIZE bytes of zeros in one stream,
- baseline, same run: a plain file of SIZE bytes of ordinary 200-byte lines (not JSON: every line
  is counted malformed, so the cost is the reader's, not the filter's).
Goals: time linear in SIZE (the ratio to the baseline stays flat as SIZE doubles), and memory
flat (the same few MiB at every SIZE).

    python benchmarks/bench_hostile_inputs.py                 # 32, 64, 128 MiB
    python benchmarks/bench_hostile_inputs.py --sizes 128 512
"""

from __future__ import annotations

import argparse
import bz2
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MiB = 1 << 20
READ = """
import json, sys, time
from smileynet.collect.archives import expand_inputs, make_tasks
from smileynet.collect.collector import collect_task
[task] = make_tasks(expand_inputs([sys.argv[1]]))
start = time.perf_counter()
report = collect_task(task, sys.argv[2])
seconds = time.perf_counter() - start
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "malformed": report["counts"]["malformed"]}))
"""


def measure(path: Path, work: Path) -> dict:
    parts = work / f"parts-{path.name}"
    parts.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", READ, str(path), str(parts)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def write_inputs(work: Path, size: int) -> dict[str, Path]:
    long_line, bomb, baseline = (
        work / f"long-{size}.jsonl",
        work / f"bomb-{size}.jsonl.bz2",
        work / f"lines-{size}.jsonl",
    )
    block = b"x" * MiB
    with open(long_line, "wb") as f:
        f.writelines(block for _ in range(size // MiB))
    packer = bz2.BZ2Compressor(9)
    zeros = bytes(MiB)
    bomb.write_bytes(b"".join(packer.compress(zeros) for _ in range(size // MiB)) + packer.flush())
    line = b"y" * 199 + b"\n"
    with open(baseline, "wb") as f:
        f.writelines(line * (MiB // 200) for _ in range(size // MiB))
    return {"baseline (200-byte lines)": baseline, "one line, no newline": long_line, "bz2 bomb of zeros": bomb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128], help="input sizes in MiB")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
        args.sizes = [1, 2]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in args.sizes:
            inputs = write_inputs(work, size * MiB)
            results = {name: measure(path, work) for name, path in inputs.items()}
            base = results["baseline (200-byte lines)"]["seconds"]
            for name, result in results.items():
                rows.append(
                    (
                        size,
                        name,
                        inputs[name].stat().st_size,
                        result["seconds"],
                        result["seconds"] / base,
                        result["peak_mib"],
                    )
                )
            for path in inputs.values():
                path.unlink()
    print("| MiB | input | file bytes | s | x baseline | peak MiB |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for size, name, file_bytes, seconds, ratio, peak in rows:
        print(f"| {size} | {name} | {file_bytes} | {seconds:.2f} | {ratio:.2f} | {peak:.0f} |")
    for name in ("one line, no newline", "bz2 bomb of zeros"):
        times = [r[3] for r in rows if r[1] == name]
        print(f"{name}: time x{times[-1] / times[0]:.2f} for input x{args.sizes[-1] / args.sizes[0]:.0f}")


if __name__ == "__main__":
    main()
