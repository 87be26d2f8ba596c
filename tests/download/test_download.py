"""`smileynet download` against a real HTTP server on 127.0.0.1: real JPEG/PNG/WebP/GIF bytes,
broken bytes, 404s, a slow response, redirects, a decompression bomb. Each image's colour encodes
its id (red) and label (green), so the test can see that labels travel with the right images."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from PIL import Image
from scipy.stats import iqr, kstest

from smileynet.data import build_loader, iter_samples
from smileynet.data.transforms import eval_transform
from smileynet.download.shards import DownloadConfig, download, download_split, failure_reason
from smileynet.download.url_tables import split_tables
from smileynet.errors import UserError
from smileynet.vocab import Vocabulary

FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
VOCAB = Vocabulary.from_emojis(["😀", "😂", "😍", "💀", "😴"])


def label_of(i: int) -> int:
    return i % len(VOCAB)


def image_bytes(i: int, fmt: str, size=(40, 30), exif_rotate: bool = False) -> bytes:
    image = Image.new("RGB", size, (8 + 4 * i, 20 + 40 * label_of(i), 128))
    out = io.BytesIO()
    options = {"quality": 95} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    if exif_rotate:
        exif = Image.Exif()
        exif[0x0112] = 6  # stored sideways, shown upright after a 90 degree turn
        options["exif"] = exif
    image.save(out, fmt, **options)
    return out.getvalue()


def decode_id_label(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    r, g, _ = image.getpixel((image.width // 2, image.height // 2))
    return round((r - 8) / 4), round((g - 20) / 40)


class Site:
    """What the server answers, by path: bytes, a status, a delay or a redirect."""

    def __init__(self, delay: float = 0.0) -> None:
        self.routes: dict[str, tuple] = {}
        self.delay = delay
        self.hits: Counter = Counter()

    def url(self, server, path: str) -> str:
        return f"http://127.0.0.1:{server.server_address[1]}{path}"


def serve(site: Site):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            site.hits[self.path] += 1
            kind, *args = site.routes.get(self.path, ("status", 404))
            if site.delay:
                time.sleep(site.delay)
            if kind == "bytes":
                self.send_response(200)
                self.send_header("Content-Length", str(len(args[0])))
                self.end_headers()
                self.wfile.write(args[0])
            elif kind == "slow":
                time.sleep(args[0])
                self.send_response(200)
                self.end_headers()
            elif kind == "zeros":  # no Content-Length: the body ends when the connection does
                self.send_response(200)
                self.end_headers()
                try:
                    for _ in range(args[0] // 65536):
                        self.wfile.write(bytes(65536))
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif kind == "dribble":  # one byte of body at a time, each read well within --timeout
                self.send_response(200)
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                        time.sleep(args[0])
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif kind == "redirect":
                self.send_response(302)
                self.send_header("Location", args[0])
                self.end_headers()
            else:
                self.send_error(args[0])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_manifest(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "image_id": [r["image_id"] for r in rows],
            "post_id": [r["post_id"] for r in rows],
            "url": [r["url"] for r in rows],
            "created_at": pa.array(
                [datetime(2019, 1, 1 + i % 28, tzinfo=UTC) for i in range(len(rows))], pa.timestamp("us", "UTC")
            ),
            "window": [0] * len(rows),
            "labels": pa.array([r["labels"] for r in rows], pa.list_(pa.int32())),
            "emojis": [[VOCAB.emojis[i] for i in r["labels"]] for r in rows],
            "split": [r["split"] for r in rows],
        }
    )
    pq.write_table(table, folder / "manifest.parquet")
    VOCAB.write_categories_csv(folder / "categories.csv")


def good_row(site, server, i: int, split: str, fmt: str = "JPEG", redirect: bool = False, **kw) -> dict:
    path = f"/img/{i}.{fmt.lower()}"
    site.routes[path] = ("bytes", image_bytes(i, fmt, **kw))
    url = site.url(server, path)
    if redirect:
        site.routes[f"/r/{i}"] = ("redirect", path)
        url = site.url(server, f"/r/{i}")
    return {"image_id": f"{i}_0", "post_id": str(i), "url": url, "labels": [label_of(i)], "split": split}


def shard_samples_of(tar: Path) -> list[dict]:
    return list(wds.DataPipeline(wds.SimpleShardList([str(tar)]), wds.tarfile_to_samples()))


def shard_samples(folder: Path) -> list[dict]:
    return [sample for tar in sorted(folder.glob("*.tar")) for sample in shard_samples_of(tar)]


def downloaded_config(root: Path) -> DownloadConfig:
    """The settings of the shared download below: `root/ds` into `root/shards`."""
    return DownloadConfig(
        root / "ds",
        root / "shards",
        image_size=32,
        processes=1,
        threads=4,
        shard_size=8,
        retries=0,
        timeout=2,
        max_pixels=1_000_000,
        quiet=True,
        allow_private_network=True,
    )


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory):
    """One download of a manifest with every kind of success and failure (shared by the tests below)."""
    root = tmp_path_factory.mktemp("download")
    site = Site()
    server = serve(site)
    rows = [good_row(site, server, i, "train", FORMATS[i % 4]) for i in range(12)]
    rows += [good_row(site, server, i, "train", redirect=True) for i in (12, 13)]
    rows.append(good_row(site, server, 14, "train", exif_rotate=True, size=(160, 120)))  # decoded in draft mode
    site.routes["/bad/page.jpg"] = ("bytes", b"<html><body>Sorry, this page is not available</body></html>")
    site.routes["/bad/cut.jpg"] = ("bytes", image_bytes(50, "JPEG", size=(400, 300))[:1500])
    site.routes["/bad/slow.jpg"] = ("slow", 6.0)
    site.routes["/bad/loop.jpg"] = ("redirect", "/bad/loop.jpg")
    site.routes["/bad/bomb.png"] = ("bytes", image_bytes(51, "PNG", size=(3000, 3000)))
    for n, path in enumerate(
        ["/bad/page.jpg", "/bad/cut.jpg", "/bad/missing.jpg", "/bad/slow.jpg", "/bad/loop.jpg", "/bad/bomb.png"]
    ):
        rows.append(
            {
                "image_id": f"bad{n}",
                "post_id": f"bad{n}",
                "url": site.url(server, path),
                "labels": [0],
                "split": "train",
            }
        )
    rows += [good_row(site, server, i, "valid", FORMATS[i % 4]) for i in range(20, 24)]
    rows.append(
        {"image_id": "v404", "post_id": "v404", "url": site.url(server, "/gone.jpg"), "labels": [1], "split": "valid"}
    )
    rows += [good_row(site, server, i, "test") for i in range(30, 33)]
    write_manifest(root / "ds", rows)
    config = downloaded_config(root)
    try:
        summary = download(config)
    finally:
        server.shutdown()
    return root / "shards", summary, site


def test_summary_counts_every_failure_by_reason(downloaded):
    shards, summary, site = downloaded
    train = summary["splits"]["train"]
    assert (train["count"], train["successes"], train["shards"]) == (21, 15, 3)
    assert train["failures"] == {
        "not an image": 1,
        "truncated or corrupt image": 1,
        "http 404": 1,
        "timeout": 1,
        "redirect loop": 1,
        "too many pixels": 1,
    }
    assert summary["splits"]["valid"] | {"failures": None} == {
        "count": 5,
        "successes": 4,
        "failed_to_download": 1,
        "failed_to_resize": 0,
        "shards": 1,
        "failures": None,
    }
    assert summary["splits"]["valid"]["failures"] == {"http 404": 1}
    assert summary["splits"]["test"]["successes"] == 3
    assert summary["total"]["successes"] == 22 and summary["total"]["failures"]["http 404"] == 2
    assert json.loads((shards / "download_summary.json").read_text()) == summary
    assert (shards / "categories.csv").read_text() == (shards.parent / "ds" / "categories.csv").read_text()


def test_shards_hold_each_image_once_with_its_labels(downloaded):
    shards, _, _ = downloaded
    for split, ids in {"train": range(15), "valid": range(20, 24), "test": range(30, 33)}.items():
        tars = sorted(p.name for p in (shards / split).glob("*.tar"))
        assert tars == [f"{n:05d}.tar" for n in range(len(tars))]
        samples = shard_samples(shards / split)
        metas = [json.loads(s["json"]) for s in samples]
        assert sorted(m["image_id"] for m in metas) == sorted(f"{i}_0" for i in ids)
        for sample, meta in zip(samples, metas):
            sample_id, label = decode_id_label(sample["jpg"])
            assert meta["image_id"] == f"{sample_id}_0" and meta["post_id"] == str(sample_id)
            assert meta["labels"] == [label] == [label_of(sample_id)]
            assert meta["emojis"] == [VOCAB.emojis[label]]
            assert meta["url"].startswith("http://127.0.0.1:") and meta["created_at"].startswith("2019-01-")
            image = Image.open(io.BytesIO(sample["jpg"]))
            assert image.format == "JPEG" and min(image.size) == 32
            assert image.size == ((32, 43) if sample_id == 14 else (43, 32))  # EXIF rotation applied


def test_reader_trains_on_downloaded_shards(downloaded):
    shards, _, _ = downloaded
    loader = build_loader(shards, "train", num_classes=len(VOCAB), image_size=16, batch_size=4, train=True, workers=0)
    batches = list(loader)
    assert sum(len(images) for images, _ in batches) == 15 and not loader.skipped
    assert {s.id for s in iter_samples(shards, "valid")} == {f"{i}_0" for i in range(20, 24)}


def test_rerun_is_a_no_op_and_other_input_is_refused(downloaded, tmp_path):
    shards, summary, site = downloaded
    before = {p: p.stat().st_mtime_ns for p in shards.rglob("*.tar")}
    hits = sum(site.hits.values())
    config = downloaded_config(shards.parent)
    assert download(config) == summary
    assert sum(site.hits.values()) == hits
    assert {p: p.stat().st_mtime_ns for p in shards.rglob("*.tar")} == before
    table = pq.read_table(shards.parent / "ds" / "manifest.parquet")
    write_manifest(tmp_path / "other", [{**r, "url": r["url"] + "?v=2"} for r in table.to_pylist()])
    with pytest.raises(UserError, match="different input"):
        download(DownloadConfig(tmp_path / "other", shards, shard_size=8, quiet=True, allow_private_network=True))
    with pytest.raises(UserError, match="shard-size 8"):
        download(DownloadConfig(shards.parent / "ds", shards, shard_size=5, quiet=True, allow_private_network=True))


def test_release_csvs_are_accepted(tmp_path):
    site = Site()
    server = serve(site)
    try:
        (tmp_path / "rel").mkdir()
        VOCAB.write_categories_csv(tmp_path / "rel" / "categories.csv")
        lines = ["url,labels"] + [f'{good_row(site, server, i, "test")["url"]},"[{label_of(i)}, 4]"' for i in range(3)]
        (tmp_path / "rel" / "test.csv").write_text("\n".join(lines) + "\n")
        summary = download(
            DownloadConfig(
                tmp_path / "rel",
                tmp_path / "out",
                image_size=24,
                processes=1,
                threads=2,
                quiet=True,
                allow_private_network=True,
            )
        )
    finally:
        server.shutdown()
    assert list(summary["splits"]) == ["test"] and summary["splits"]["test"]["successes"] == 3
    metas = sorted((s.meta for s in iter_samples(tmp_path / "out", "test")), key=lambda m: m["url"])
    assert [m["labels"] for m in metas] == [[0, 4], [1, 4], [2, 4]]
    assert metas[1]["emojis"] == [VOCAB.emojis[1], VOCAB.emojis[4]]


def test_bad_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no manifest"):
        download(DownloadConfig(tmp_path, tmp_path / "out"))
    with pytest.raises(UserError, match="distributor"):
        download(DownloadConfig(tmp_path, tmp_path / "out", distributor="slurm"))


def test_fetch_policy_refusals_are_counted_and_nothing_else_is_read(tmp_path):
    """Local files, other protocols, the metadata address, endless and slow bodies: each url is
    refused under its own reason, and no byte of the local file reaches a shard."""
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(image_bytes(90, "JPEG"))
    site = Site()
    server = serve(site)
    try:
        rows = [good_row(site, server, 0, "train")]
        site.routes["/to-file"] = ("redirect", secret.as_uri())
        site.routes["/to-ftp"] = ("redirect", "ftp://127.0.0.1:9/x.jpg")
        site.routes["/to-metadata"] = ("redirect", "http://169.254.169.254/latest/meta-data/")
        site.routes["/zeros"] = ("zeros", 50_000_000)
        site.routes["/dribble"] = ("dribble", 0.3)
        urls = [
            secret.as_uri(),
            "ftp://127.0.0.1:9/x.jpg",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/x.jpg",
            "http://224.0.0.1/x.jpg",
        ] + [site.url(server, p) for p in ("/to-file", "/to-ftp", "/to-metadata", "/zeros", "/dribble")]
        rows += [
            {"image_id": f"h{n}", "post_id": f"h{n}", "url": url, "labels": [0], "split": "train"}
            for n, url in enumerate(urls)
        ]
        write_manifest(tmp_path / "ds", rows)
        summary = download(
            DownloadConfig(
                tmp_path / "ds",
                tmp_path / "out",
                image_size=24,
                processes=1,
                threads=4,
                retries=1,
                timeout=5,
                deadline=1.5,
                max_bytes=1_000_000,
                quiet=True,
                allow_private_network=True,
            )
        )
        assert summary["splits"]["train"]["failures"] == {
            "refused: not http or https": 4,
            "refused: link-local address": 3,
            "refused: multicast address": 1,
            "refused: over --max-bytes": 1,
            "refused: over the deadline": 1,
        }
        assert summary["splits"]["train"]["successes"] == 1
        assert site.hits["/dribble"] == site.hits["/zeros"] == 1  # --retries 1 does not try a refused url again
        assert [json.loads(s["json"])["image_id"] for s in shard_samples(tmp_path / "out" / "train")] == ["0_0"]
        assert {
            (p.stat().st_size > 0, p.with_name(p.stem + "_stats.json").is_file())
            for p in (tmp_path / "out" / "train").glob("*.tar")
        } == {(True, True)}

        hits = sum(site.hits.values())  # without the flag, the loopback server itself is refused, unasked
        summary = download(
            DownloadConfig(
                tmp_path / "ds", tmp_path / "strict", image_size=24, processes=1, threads=4, retries=0, quiet=True
            )
        )
        assert summary["splits"]["train"]["failures"]["refused: loopback address"] == 6
        assert summary["splits"]["train"]["successes"] == 0 and sum(site.hits.values()) == hits
    finally:
        server.shutdown()


PEAK_SCRIPT = """
import json, resource, sys
from smileynet.download.shards import DownloadConfig, download
import img2dataset.downloader, img2dataset.reader, img2dataset.writer  # their imports alone take ~0.8 GB
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = download(DownloadConfig(sys.argv[1], sys.argv[2], image_size=64, processes=1, threads=2, retries=0,
                                  allow_private_network=True, quiet=True))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"summary": summary, "growth": (after - before) * 1024}))
"""


def test_hostile_bodies_download_in_bounded_memory(tmp_path):
    """An endless body (no Content-Length) stops at --max-bytes (default 20 MB); a 49000 x 1 PNG
    (a few hundred bytes that a short-side resize to 64 px would turn into 2.3 GB of pixels) is
    refused from its header. The download's peak memory grows by a bounded amount."""
    site = Site()
    server = serve(site)
    strip = io.BytesIO()
    Image.new("L", (49000, 1), 255).save(strip, "PNG")
    site.routes["/zeros"] = ("zeros", 1_000_000_000)
    site.routes["/strip.png"] = ("bytes", strip.getvalue())
    rows = [good_row(site, server, 0, "train")]
    rows += [
        {"image_id": f"h{n}", "post_id": f"h{n}", "url": site.url(server, path), "labels": [0], "split": "train"}
        for n, path in enumerate(["/zeros", "/strip.png"])
    ]
    write_manifest(tmp_path / "ds", rows)
    try:
        result = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / "ds"), str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    train = report["summary"]["splits"]["train"]
    assert train["failures"] == {"refused: over --max-bytes": 1, "extreme aspect ratio": 1} and train["successes"] == 1
    assert report["growth"] < 150e6, f"peak RSS grew by {report['growth'] / 1e6:.0f} MB"
    assert (tmp_path / "out" / "train" / "00000.tar").stat().st_size > 0
    assert (tmp_path / "out" / "train" / "00000_stats.json").is_file()


def test_failure_reasons():
    assert failure_reason("HTTP Error 404: Not Found") == "http 404"
    assert failure_reason("<urlopen error timed out>") == "timeout"
    assert failure_reason("The read operation timed out") == "timeout"
    assert failure_reason("<urlopen error [Errno 111] Connection refused>") == "connection refused"
    assert failure_reason("refused: link-local address") == "refused: link-local address"
    assert (
        failure_reason("refused: loopback address (--allow-private-network allows it)") == "refused: loopback address"
    )
    assert (
        failure_reason(
            "HTTP Error 302: The HTTP server returned a redirect error that would lead to an infinite loop.\nThe last 30x error message was:\nFound"
        )
        == "redirect loop"
    )


@pytest.mark.e2e
def test_kill_and_resume_completes_missing_shards_only(tmp_path):
    """Kill the command once its first shard is finished; the rerun fetches only the rest."""
    site = Site(delay=0.4)
    server = serve(site)
    try:
        rows = [good_row(site, server, i, "train") for i in range(10)]
        write_manifest(tmp_path / "ds", rows)
        out = tmp_path / "shards"
        command = [
            sys.executable,
            "-m",
            "smileynet",
            "download",
            str(tmp_path / "ds"),
            "--out",
            str(out),
            "--splits",
            "train",
            "--shard-size",
            "2",
            "--processes",
            "1",
            "--threads",
            "1",
            "--retries",
            "0",
            "--image-size",
            "24",
            "--quiet",
            "--allow-private-network",
        ]
        process = subprocess.Popen(
            command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            while not list((out / "train").glob("*_stats.json")) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        finished = {p.name.split("_")[0] for p in (out / "train").glob("*_stats.json")}
        assert finished and len(finished) < 5, "the kill must land mid-download"
        kept = {name: (out / "train" / f"{name}.tar").stat().st_mtime_ns for name in finished}
        assert len(list(iter_samples(out, "train"))) == 2 * len(finished)  # a half-written shard is not read
        fetched_before = Counter(site.hits)
        summary = download(
            DownloadConfig(
                tmp_path / "ds",
                out,
                splits=("train",),
                image_size=24,
                processes=2,
                threads=2,
                shard_size=2,
                retries=0,
                quiet=True,
                allow_private_network=True,
            )
        )  # img2dataset's process pool
    finally:
        server.shutdown()
    assert summary["splits"]["train"] | {"failures": None} == {
        "count": 10,
        "successes": 10,
        "failed_to_download": 0,
        "failed_to_resize": 0,
        "shards": 5,
        "failures": None,
    }
    ids = [json.loads(s["json"])["image_id"] for s in shard_samples(out / "train")]
    assert sorted(ids) == sorted(f"{i}_0" for i in range(10))
    assert {name: (out / "train" / f"{name}.tar").stat().st_mtime_ns for name in finished} == kept
    refetched = [path for path, n in site.hits.items() if fetched_before[path] and n > fetched_before[path]]
    finished_ids = [
        json.loads(s["json"])["image_id"] for name in finished for s in shard_samples_of(out / "train" / f"{name}.tar")
    ]
    finished_paths = {f"/img/{image_id.split('_')[0]}.jpeg" for image_id in finished_ids}
    assert len(finished_paths) == 2 * len(finished) and not finished_paths & set(refetched)


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=pytest.mark.e2e)])  # 2: a spawned pool, ~20 s
def test_img2dataset_output_goes_to_its_log_unless_verbose(run_cli, tmp_path, processes):
    site = Site()
    server = serve(site)
    rows = [good_row(site, server, i, "train") for i in range(6)]
    rows.append(
        {"image_id": "gone", "post_id": "gone", "url": site.url(server, "/gone.jpg"), "labels": [0], "split": "train"}
    )
    write_manifest(tmp_path / "ds", rows)
    common = [
        "--image-size",
        "32",
        "--processes",
        str(processes),
        "--threads",
        "2",
        "--shard-size",
        "4",
        "--splits",
        "train",
        "--allow-private-network",
        "--retries",
        "0",
        "--timeout",
        "5",
    ]
    try:
        code, out, err = run_cli("download", tmp_path / "ds", "--out", tmp_path / "quiet", *common)
        assert code == 0, err
        assert out.splitlines()[0].startswith("train: 6/7 images") and "bandwidth" not in out + err
        assert not re.search(r"\d+it \[|it/s\]", err), err  # no raw tqdm line: our progress instead
        assert re.search(r"download train: 2 shard in [\d.]+ s", err), err
        assert "bandwidth" in (tmp_path / "quiet" / "train" / "img2dataset.log").read_text()
        if processes == 1:
            code, out, err = run_cli("download", tmp_path / "ds", "--out", tmp_path / "verbose", *common, "--verbose")
            assert code == 0 and "bandwidth" in out
    finally:
        server.shutdown()


def day_image(day: int) -> bytes:
    """A flat picture whose red channel says its posting day (read back after the loader's crop)."""
    out = io.BytesIO()
    Image.new("RGB", (24, 24), (20 + 2 * day, 90, 90)).save(out, "JPEG", quality=95)
    return out.getvalue()


def first_batch_days(shards: Path, shuffle_buffer: int) -> np.ndarray:
    loader = build_loader(
        shards,
        "train",
        num_classes=len(VOCAB),
        image_size=16,
        batch_size=40,
        train=True,
        workers=0,
        shuffle_buffer=shuffle_buffer,
        transform=eval_transform(16),  # no colour change: the pixels keep the day
    )
    images, _ = next(iter(loader))
    return np.round((images[:, 0, 8, 8].float().numpy() - 20) / 2)


def test_a_training_batch_spans_the_whole_time_range(tmp_path):
    """The manifest is in date order; the shards hold its rows in a seeded random order, so a batch
    read through one shard and a small buffer (as 2000 samples of 10,000-sample shards at full
    scale) is a near-uniform draw over the split's 100 days, not a run of a few days."""
    days = 100
    site = Site()
    server = serve(site)
    rows = []
    for i in range(2 * days):
        day = i // 2
        site.routes[f"/d/{i}.jpg"] = ("bytes", day_image(day))
        rows.append({"image_id": f"{i}_0", "post_id": str(i), "url": site.url(server, f"/d/{i}.jpg"), "labels": [0]})
    table = pa.table(
        {
            "image_id": [r["image_id"] for r in rows],
            "post_id": [r["post_id"] for r in rows],
            "url": [r["url"] for r in rows],
            "created_at": pa.array(
                [datetime(2019, 1, 1, tzinfo=UTC) + timedelta(days=i // 2) for i in range(len(rows))],
                pa.timestamp("us", "UTC"),
            ),
            "window": [i // 60 for i in range(len(rows))],
            "labels": pa.array([r["labels"] for r in rows], pa.list_(pa.int32())),
            "emojis": [[VOCAB.emojis[0]] for _ in rows],
            "split": ["train"] * len(rows),
        }
    )
    (tmp_path / "ds").mkdir()
    pq.write_table(table, tmp_path / "ds" / "manifest.parquet")
    VOCAB.write_categories_csv(tmp_path / "ds" / "categories.csv")
    common = {"splits": ("train",), "image_size": 24, "threads": 4, "shard_size": 40, "retries": 0, "quiet": True}
    try:
        download(DownloadConfig(tmp_path / "ds", tmp_path / "shards", allow_private_network=True, **common))
        in_date_order = DownloadConfig(tmp_path / "ds", tmp_path / "dated", allow_private_network=True, **common)
        download_split(split_tables(tmp_path / "ds", ("train",))["train"], tmp_path / "dated" / "train", in_date_order)
    finally:
        server.shutdown()
    VOCAB.write_categories_csv(tmp_path / "dated" / "categories.csv")

    stored = [int(json.loads(s["json"])["post_id"]) // 2 for s in shard_samples_of(tmp_path / "shards/train/00000.tar")]
    assert len(stored) == 40 and np.ptp(stored) > 0.8 * days  # the first shard alone spans the split

    batch = first_batch_days(tmp_path / "shards", shuffle_buffer=8)
    assert len(batch) == 40 and set(batch) <= set(range(days))
    assert np.ptp(batch) >= 0.8 * (days - 1) and iqr(batch) > 0.35 * days  # uniform: 0.99 and 0.5
    assert kstest(batch / days, "uniform").pvalue > 0.05
    # the same loader over shards written in date order: most of a batch is from a few weeks
    dated = first_batch_days(tmp_path / "dated", shuffle_buffer=8)
    assert iqr(dated) < 0.15 * days and kstest(dated / days, "uniform").pvalue < 1e-6
