"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from __future__ import annotations

from pathlib import Path

import typer

from smileynet.cli_common import QUIET, VERBOSE, WORKERS, default_workers, start
from smileynet.extras import require


def download(
    source: Path = typer.Argument(
        ...,
        help="A `smileynet sample` output folder (manifest.parquet), or release CSVs (train/valid/test.csv + categories.csv).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Shards folder: OUT/{train,valid,test}/NNNNN.tar, categories.csv, download_summary.json."
    ),
    image_size: int = typer.Option(256, "--image-size", help="Short side of the stored images (keep-ratio resize)."),
    jpeg_quality: int = typer.Option(95, "--jpeg-quality", help="JPEG quality of the stored images."),
    processes: int = typer.Option(None, "--processes", help="Download processes (default: --workers)."),
    threads: int = typer.Option(32, "--threads", help="Download threads per process."),
    shard_size: int = typer.Option(10_000, "--shard-size", help="Samples per shard."),
    retries: int = typer.Option(2, "--retries", help="Retries per url after a failed download."),
    timeout: int = typer.Option(10, "--timeout", help="Seconds one read may wait for data."),
    deadline: float = typer.Option(
        30.0, "--deadline", help="Seconds one whole download may take (redirects, headers, body), per try."
    ),
    max_bytes: int = typer.Option(
        20_000_000, "--max-bytes", help="Refuse a response larger than this many bytes (read in chunks, never whole)."
    ),
    max_pixels: int = typer.Option(
        50_000_000, "--max-pixels", help="Refuse larger images (decompression bombs), from the header."
    ),
    allow_private_network: bool = typer.Option(
        False,
        "--allow-private-network",
        help="Allow urls on loopback and private addresses (a local image server); link-local, multicast and reserved addresses stay refused.",
    ),
    distributor: str = typer.Option(
        "multiprocessing",
        "--distributor",
        help="multiprocessing (this machine) or pyspark (a Spark session: local, or a cluster; pip install 'smileynet\\[spark]').",
    ),
    spark_master: str = typer.Option(
        None,
        "--spark-master",
        help="Spark master URL (spark://HOST:7077, yarn, k8s://...); default: MASTER or spark-defaults.conf, else local[--processes].",
    ),
    splits: str = typer.Option("train,valid,test", "--splits", help="Comma-separated splits to download."),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the random order the rows are written in (a batch then spans the whole time range)."
    ),
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Download the images into WebDataset shards with img2dataset; rerun to resume after a kill.

    img2dataset's own output goes to OUT/SPLIT/img2dataset.log (to the terminal with --verbose)."""
    start("download", quiet, verbose, extra="data")
    if distributor == "pyspark":
        require("spark", "smileynet download --distributor pyspark")
    from smileynet.download.shards import DownloadConfig, format_summary
    from smileynet.download.shards import download as run_download

    summary = run_download(
        DownloadConfig(
            source=source,
            out=out,
            image_size=image_size,
            jpeg_quality=jpeg_quality,
            processes=processes or default_workers(workers),
            threads=threads,
            shard_size=shard_size,
            retries=retries,
            timeout=timeout,
            max_pixels=max_pixels,
            max_bytes=max_bytes,
            deadline=deadline,
            allow_private_network=allow_private_network,
            distributor=distributor,
            spark_master=spark_master,
            splits=tuple(s.strip() for s in splits.split(",") if s.strip()),
            seed=seed,
            quiet=quiet,
            verbose=verbose,
        )
    )
    print(format_summary(summary))
    print(f"summary: {out / 'download_summary.json'}")
