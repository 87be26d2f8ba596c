"""collect at scale: the stream grab layout, broken compressed data, parallel and Dask runs,
and resumption after a kill, each giving byte-identical posts.parquet."""

from __future__ import annotations

import bz2
import gzip
import io
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import zstandard

from smileynet.collect import collect
from smileynet.collect.archives import expand_inputs, make_tasks

SMILEYS = ["\U0001f602", "\U0001f60d", "\U0001f480", "\U0001f62d", "\U0001f60a"]


def status(i: int, minute: int = 0) -> dict:
    """A minimal v1.1 streaming status; every third has a photo, every fifth a hashtag."""
    text = f"post {i} {SMILEYS[i % 5]}" + (f" {SMILEYS[(i + 1) % 5]}" if i % 7 == 0 else "")
    media = [{"type": "photo", "url": "https://t.co/m", "media_url_https": f"https://pbs.twimg.com/media/{i}.jpg"}]
    return {
        "created_at": f"Thu Jun 08 15:{minute % 60:02d}:{i % 60:02d} +0000 2017",
        "id": i,
        "id_str": str(i),
        "text": text,
        "user": {"id_str": str(i % 13)},
        "lang": "en",
        "in_reply_to_status_id": None,
        "entities": {"urls": [], "hashtags": [{"text": "x"}] if i % 5 == 0 else [], "user_mentions": []},
        "extended_entities": {"media": media} if i % 3 == 0 else {},
    }


def minute_lines(start: int, n: int, minute: int) -> bytes:
    lines = []
    for i in range(start, start + n):
        lines.append(orjson.dumps(status(i, minute)))
        if i % 10 == 0:
            lines.append(b'{"delete":{"status":{"id":1,"id_str":"1","user_id":2}}}')
    lines.append(b'{"limit":{"track":12,"timestamp_ms":"1496935407000"}}')
    return b"\n".join(lines) + b"\n"


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def stream_grab(path: Path, minutes: int = 6, per_minute: int = 40, start: int = 0) -> Path:
    """The Archive Team layout: a tar of per-minute .json.bz2 (multi-stream) and .json.gz files plus junk."""
    with tarfile.open(path, "w") as tar:
        for m in range(minutes):
            data = minute_lines(start + m * per_minute, per_minute, m)
            half = len(data) // 2
            cut = data.rindex(b"\n", 0, half) + 1
            if m % 2 == 0:  # multi-stream bz2, as pbzip2 writes it
                add(tar, f"2017/06/08/15/{m:02d}.json.bz2", bz2.compress(data[:cut]) + bz2.compress(data[cut:]))
            else:
                add(tar, f"2017/06/08/15/{m:02d}.json.gz", gzip.compress(data))
            add(tar, f"2017/06/08/15/._{m:02d}.json.bz2", b"\x00\x05\x16\x07AppleDouble junk")
        add(tar, "2017/06/08/README.txt.md", b"not a json member")
    return path


def expected_kept(ids: range) -> set[str]:
    return {str(i) for i in ids if i % 3 == 0 and i % 5 != 0}


def test_stream_grab_tar_and_zip(tmp_path):
    tar = stream_grab(tmp_path / "twitter-stream-2017-06-08.tar")
    report = collect([tar], tmp_path / "out", workers=1, quiet=True)
    posts = pq.read_table(tmp_path / "out" / "posts.parquet").to_pylist()
    assert {p["post_id"] for p in posts} == expected_kept(range(240))
    dropped = report["totals"]["dropped"]
    assert dropped["not_a_post"] == 24 + 6 and dropped["malformed"] == 0
    assert report["totals"]["read"] == 240 + 30
    zipped = tmp_path / "grab.zip"
    with zipfile.ZipFile(zipped, "w") as z, tarfile.open(tar) as t:
        for member in t.getmembers():
            z.writestr(member.name, t.extractfile(member).read())
    collect([zipped], tmp_path / "zip", workers=1, quiet=True)
    assert (tmp_path / "zip" / "posts.parquet").read_bytes() == (tmp_path / "out" / "posts.parquet").read_bytes()


def test_broken_compressed_members_keep_every_line_before_and_after(tmp_path):
    good = minute_lines(0, 30, 0)
    lines = good.split(b"\n")
    broken = b"\n".join(lines[:10] + [b'{"id_str": "99", "text": "\xff\xfe bad utf-8"}', b"{not json"] + lines[10:])
    second = bz2.compress(minute_lines(115, 15, 1))  # a multi-stream member cut inside its second stream
    truncated = bz2.compress(minute_lines(100, 15, 1)) + second[: len(second) // 2]
    with tarfile.open(tmp_path / "grab.tar", "w") as tar:
        add(tar, "a/00.json.bz2", bz2.compress(broken))
        add(tar, "a/01.json.bz2", truncated)
        add(tar, "a/02.json.gz", gzip.compress(minute_lines(200, 30, 2)))
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(minute_lines(300, 30, 3))[:-30])
    zstd = zstandard.ZstdCompressor()  # two frames, cut inside the second
    (tmp_path / "cut.jsonl.zst").write_bytes(
        zstd.compress(minute_lines(400, 15, 4)) + zstd.compress(minute_lines(415, 15, 4))[:-40]
    )
    report = collect(
        [tmp_path / "grab.tar", tmp_path / "cut.jsonl.gz", tmp_path / "cut.jsonl.zst"],
        tmp_path / "out",
        workers=1,
        quiet=True,
    )
    kept = {p["post_id"] for p in pq.read_table(tmp_path / "out" / "posts.parquet").to_pylist()}
    assert expected_kept(range(30)) | expected_kept(range(200, 230)) <= kept
    assert expected_kept(range(100, 115)) <= kept  # the complete first stream of the truncated member survives
    files = report["files"]
    tar_errors = files[str(tmp_path / "grab.tar")]["malformed"]
    assert [(m["member"], m["line"]) for m in tar_errors[:2]] == [("a/00.json.bz2", 11), ("a/00.json.bz2", 12)]
    assert tar_errors[2]["member"] == "a/01.json.bz2" and tar_errors[2]["error"].startswith("EOFError")
    assert files[str(tmp_path / "cut.jsonl.gz")]["dropped"]["malformed"] == 1
    assert files[str(tmp_path / "cut.jsonl.zst")]["dropped"]["malformed"] == 1
    assert kept & expected_kept(range(300, 330)) and expected_kept(range(400, 415)) <= kept


def test_big_archive_is_split_into_tasks_with_the_same_output(tmp_path):
    tar = stream_grab(tmp_path / "grab.tar", minutes=8, per_minute=30)
    assert len(make_tasks(expand_inputs([tar]), task_bytes=1)) == 8
    collect([tar], tmp_path / "one", workers=1, quiet=True)
    collect([tar], tmp_path / "split", workers=2, task_bytes=1, run_rows=7, quiet=True)
    assert (tmp_path / "split" / "posts.parquet").read_bytes() == (tmp_path / "one" / "posts.parquet").read_bytes()


def many_inputs(folder: Path, files: int, per_file: int) -> Path:
    folder.mkdir()
    for f in range(files):
        data = minute_lines(f * per_file, per_file, f)
        if f == 3:  # the same statuses again in another file: duplicates
            data += minute_lines(0, per_file, 0)
        (folder / f"part-{f:03d}.jsonl.bz2").write_bytes(bz2.compress(data, 1))
    return folder


def test_parallel_and_dask_give_identical_output(tmp_path):
    from distributed import LocalCluster

    inputs = many_inputs(tmp_path / "in", files=6, per_file=200)
    one = collect([inputs], tmp_path / "one", workers=1, quiet=True)
    assert one["totals"]["dropped"]["duplicate"] == len(expected_kept(range(200)))
    two = collect([inputs], tmp_path / "two", workers=2, quiet=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = collect([inputs], tmp_path / "dask", scheduler=cluster.scheduler_address, quiet=True)
    reference = (tmp_path / "one" / "posts.parquet").read_bytes()
    assert (tmp_path / "two" / "posts.parquet").read_bytes() == reference
    assert (tmp_path / "dask" / "posts.parquet").read_bytes() == reference
    assert one["files"] == two["files"] == dask["files"]


def test_kill_and_resume_gives_the_uninterrupted_output(tmp_path):
    inputs = many_inputs(tmp_path / "in", files=40, per_file=1500)
    collect([inputs], tmp_path / "ref", workers=1, quiet=True)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "smileynet",
        "collect",
        str(inputs),
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]
    proc = subprocess.Popen(command)
    done = out / ".parts" / "done.txt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if done.exists() and len(done.read_text().split()) >= 3:
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert not (out / "posts.parquet").exists(), "the run finished before it could be killed"
    finished = len(done.read_text().split())
    report = collect([inputs], out, workers=1, resume=True, quiet=True)
    assert report["resumed_tasks"] == finished >= 3
    assert (out / "posts.parquet").read_bytes() == (tmp_path / "ref" / "posts.parquet").read_bytes()
    assert not (out / ".parts").exists()


def test_compressed_tars_are_read_as_streams(tmp_path):
    plain = stream_grab(tmp_path / "grab.tar", minutes=4, per_minute=20)
    data = plain.read_bytes()
    (tmp_path / "grab.tar.gz").write_bytes(gzip.compress(data))
    (tmp_path / "grab.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "grab.tar.bz2").write_bytes(bz2.compress(data))
    collect([plain], tmp_path / "plain", workers=1, quiet=True)
    for name in ("grab.tar.gz", "grab.tar.zst", "grab.tar.bz2"):
        report = collect([tmp_path / name], tmp_path / name.replace(".", "-"), workers=1, quiet=True)
        assert report["totals"]["dropped"]["malformed"] == 0
        assert (tmp_path / name.replace(".", "-") / "posts.parquet").read_bytes() == (
            tmp_path / "plain" / "posts.parquet"
        ).read_bytes()


def test_a_cut_compressed_tar_keeps_the_members_before_the_cut(tmp_path):
    plain = stream_grab(tmp_path / "grab.tar", minutes=6, per_minute=40)
    data = plain.read_bytes()
    with tarfile.open(plain) as tar:  # cut inside the fifth per-minute member's data
        fifth = [m for m in tar if m.name.endswith("/04.json.bz2")][0]
    (tmp_path / "cut.tar.gz").write_bytes(gzip.compress(data[: fifth.offset_data + 100]))
    report = collect([tmp_path / "cut.tar.gz"], tmp_path / "out", workers=1, quiet=True)
    assert report["totals"]["dropped"]["malformed"] >= 1
    kept = set(pq.read_table(tmp_path / "out" / "posts.parquet").column("post_id").to_pylist())
    assert kept == expected_kept(range(0, 4 * 40))


def test_many_runs_are_merged_a_bounded_number_at_a_time(tmp_path, monkeypatch):
    """Thousands of tasks must not mean thousands of open runs: with a fan-in of 3, 32 runs
    (and duplicates across them) give the same posts.parquet and report as a merge of all at once."""
    from smileynet.collect import merge

    grab = stream_grab(tmp_path / "grab.tar", minutes=6, per_minute=40)
    copy = tmp_path / "copy.tar"
    copy.write_bytes(grab.read_bytes())
    reference = collect([grab, copy], tmp_path / "ref", workers=1, quiet=True)
    open_runs = peak = 0
    batches = merge._batches

    def counted(path):
        nonlocal open_runs, peak
        open_runs += 1
        peak = max(peak, open_runs)
        try:
            yield from batches(path)
        finally:
            open_runs -= 1

    monkeypatch.setattr(merge, "MERGE_FANIN", 3)
    monkeypatch.setattr(merge, "_batches", counted)
    report = collect([grab, copy], tmp_path / "out", workers=1, quiet=True, run_rows=4)
    assert peak == 3
    assert report["totals"] == reference["totals"] and report["totals"]["dropped"]["duplicate"] > 0
    assert (tmp_path / "out" / "posts.parquet").read_bytes() == (tmp_path / "ref" / "posts.parquet").read_bytes()
