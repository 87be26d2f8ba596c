"""Hours and machines for each stage at full scale, from the rates the benchmarks measured.

Reads benchmarks/figures.toml (measured figures quoted from benchmarks/README.md, GPU estimates,
workload sizes) and prints the Markdown table of docs/scale.md; rerun it after new benchmark
figures and paste its output there (a test checks the two agree).

    .venv/bin/python benchmarks/cost_model.py [--figures benchmarks/figures.toml]

The model is deliberately simple: each stage is bound by its slowest resource (CPU cores for
collect, download and the input pipeline; GPUs for training and embedding), work splits evenly
over cores and machines (collect cuts a month into ~700 tasks of 64 MiB, download into shards of
10,000 images), and start-up, the final merge and network latency are ignored.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass
from pathlib import Path

FIGURES = Path(__file__).with_name("figures.toml")
MIB = 1 << 20


@dataclass
class Row:
    stage: str
    work: str
    setup: str
    rate: str
    compute: str
    wall_s: float


def load(path: Path = FIGURES) -> tuple[dict, dict[str, dict]]:
    """(workload, {figure name: {value, kind, source[, quote]}})."""
    data = tomllib.loads(path.read_text())
    workload = data.pop("workload")
    return workload, data


def rows(workload: dict, figures: dict[str, dict]) -> list[Row]:
    f = {name: entry["value"] for name, entry in figures.items()}
    mark = {name: " (estimate)" if entry["kind"] == "estimate" else "" for name, entry in figures.items()}
    cores, machines, gpus = workload["cores_per_machine"], workload["cluster_machines"], workload["gpus_per_node"]
    out = []

    # collect: bz2 decompression is most of the work, so the month's compressed bytes bound it better
    # than its record count (real statuses are bigger than the benchmark's); take the larger.
    rate = f["collect_records_per_core_s"]
    bench_bytes_per_record = f["collect_bench_bz2_mib"] * MIB / f["collect_bench_records"]
    efficiency = f["collect_two_worker_speedup"] / 2  # per worker, measured at 2 and assumed to hold
    core_s = (
        max(workload["month_posts"] / rate, workload["month_bz2_gb"] * 1e9 / (rate * bench_bytes_per_record))
        / efficiency
    )
    work = f"stream-grab month: {workload['month_bz2_gb']:g} GB bz2, {workload['month_posts'] / 1e6:.0f}M posts"
    rate_text = f"{rate * bench_bytes_per_record / MIB:.2f} MiB/s of bz2 ({rate:,.0f} records/s) per core, {efficiency:.0%} per-worker efficiency"
    out.append(
        Row("collect", work, f"1 machine, {cores} cores", rate_text, f"{core_s / 3600:.1f} core-h", core_s / cores)
    )
    out.append(
        Row(
            "collect",
            work,
            f"{machines} machines, {machines * cores} cores (Dask)",
            rate_text,
            f"{core_s / 3600:.1f} core-h",
            core_s / (cores * machines),
        )
    )

    # download: decoding and resizing the photos bound it per core, the machine's link per machine
    rate = f["download_images_per_s"] / f["download_processes"]
    core_s = workload["images"] / rate
    link_rate = f["link_gbit_per_s"] * 1e9 / 8 / (f["image_kib"] * 1024)
    per_machine = min(cores * rate, link_rate)
    bound = "the link" if link_rate < cores * rate else "the CPU"
    work = f"{workload['images'] / 1e6:g}M images"
    rate_text = (
        f"{rate:g} images/s per core (640x480 photos); a {f['link_gbit_per_s']:g} Gbit/s link carries "
        f"{link_rate:,.0f} images/s of {f['image_kib']:g} KiB: {bound} bounds a machine"
    )
    out.append(
        Row(
            "download",
            work,
            f"1 machine, {cores} cores",
            rate_text,
            f"{core_s / 3600:.1f} core-h",
            workload["images"] / per_machine,
        )
    )
    out.append(
        Row(
            "download",
            work,
            f"{machines} machines, {machines * cores} cores (Spark)",
            rate_text,
            f"{core_s / 3600:.1f} core-h",
            workload["images"] / (per_machine * machines),
        )
    )

    # train: the GPU bounds the step; the reader needs rate / (per-core reader rate) cores beside it
    images = workload["steps"] * workload["batch"]
    reader = f["train_reader_images_per_core_s"]
    work = f"{workload['steps'] // 1000}k steps x {workload['batch']} = {images / 1e6:.1f}M images"
    single = f["gpu_train_images_per_s"]
    setups = [
        ("1 GPU", single, 1, f"{single:,.0f} images/s per GPU{mark['gpu_train_images_per_s']}"),
        (
            f"{gpus} GPUs, 1 node, batch {workload['batch']} ({workload['batch'] // gpus} per GPU)",
            gpus * single * f["gpu_scaling_8_batch_128"],
            gpus,
            f"{f['gpu_scaling_8_batch_128']:.0%} of linear scaling{mark['gpu_scaling_8_batch_128']}",
        ),
        (
            f"{gpus} GPUs, 1 node, batch {workload['batch'] * gpus} ({workload['steps'] // gpus // 1000}k steps)",
            gpus * single * f["gpu_scaling_8_large_batch"],
            gpus,
            f"{f['gpu_scaling_8_large_batch']:.0%} of linear scaling{mark['gpu_scaling_8_large_batch']}",
        ),
    ]
    for setup, rate, n, rate_text in setups:
        wall = images / rate
        feed = f"; input needs {rate / reader:.1f} cores ({reader:,.0f} images/s per core)"
        out.append(Row("train", work, setup, rate_text + feed, f"{n * wall / 3600:.1f} GPU-h", wall))

    # embed: CPU (ONNX Runtime) or GPU, inputs split evenly over ranks
    work = f"{workload['images'] / 1e6:g}M images"
    per_core = f["embed_cpu_images_per_s"] / f["embed_cpu_threads"]
    core_s = workload["images"] / per_core
    rate_text = f"{per_core:.1f} images/s per core (ONNX Runtime fp32, decoding included)"
    out.append(
        Row(
            "embed",
            work,
            f"{machines} machines, {machines * cores} cores",
            rate_text,
            f"{core_s / 3600:.0f} core-h",
            core_s / (cores * machines),
        )
    )
    rate = f["gpu_embed_images_per_s"]
    reader = f["embed_reader_images_per_core_s"]
    rate_text = (
        f"{rate:,.0f} images/s per GPU{mark['gpu_embed_images_per_s']}; input needs {rate / reader:.1f} cores per GPU"
    )
    for n in (1, gpus):
        out.append(
            Row(
                "embed",
                work,
                f"{n} GPU{'s' if n > 1 else ''}",
                rate_text,
                f"{workload['images'] / rate / 3600:.2f} GPU-h",
                workload["images"] / rate / n,
            )
        )
    return out


def duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
    return f"{seconds / 3600:.1f} h"


def table(model: list[Row]) -> str:
    lines = ["| stage | work | on | rate used | compute | wall clock |", "| --- | --- | --- | --- | ---: | ---: |"]
    lines += [f"| {r.stage} | {r.work} | {r.setup} | {r.rate} | {r.compute} | {duration(r.wall_s)} |" for r in model]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=Path, default=FIGURES, help="figures file (default: benchmarks/figures.toml)")
    args = parser.parse_args()
    print(table(rows(*load(args.figures))))


if __name__ == "__main__":
    main()
