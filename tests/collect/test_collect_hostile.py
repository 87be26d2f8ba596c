"""collect on hostile inputs: memory bounded whatever a file inflates to, a line over the
maximum skipped and counted, a BOM, an output folder given as input, unreadable inputs and
outputs: a result or one line, never a traceback."""

from __future__ import annotations

import bz2
import errno
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smileynet.collect import collect
from smileynet.errors import UserError

JOY = "\U0001f602"
MiB = 1 << 20


def status(id_: str = "1001") -> bytes:
    """A Mastodon REST status that collect keeps (docs.joinmastodon.org/entities/Status)."""
    return orjson.dumps(
        {
            "id": id_,
            "uri": f"https://masto.example/users/alice/statuses/{id_}",
            "created_at": "2024-06-01T12:00:00.000Z",
            "account": {"id": "7", "url": "https://masto.example/@alice"},
            "content": f"<p>sunny {JOY}</p>",
            "language": "en",
            "in_reply_to_id": None,
            "reblog": None,
            "mentions": [],
            "tags": [],
            "media_attachments": [{"id": "9", "type": "image", "url": f"https://files.masto.example/{id_}.jpg"}],
        }
    )


PEAK = """
import json, resource, sys
from smileynet.collect.collector import collect_task
from smileynet.collect.archives import expand_inputs, make_tasks
[warm, task] = make_tasks(expand_inputs([sys.argv[3], sys.argv[1]]))
collect_task(warm, sys.argv[2])  # imports, regexes, the parquet writer: the baseline is a one-post input
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = collect_task(task, sys.argv[2])
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"grew_mib": grew / 1024, "counts": report["counts"], "malformed": report["malformed"]}))
"""


def read_in_subprocess(path: Path, tmp_path: Path) -> dict:
    """One task of `path` in a fresh interpreter: its counts and how much its peak RSS grew."""
    parts, warm = tmp_path / "parts", tmp_path / "warm.jsonl"
    parts.mkdir()
    warm.write_bytes(status("0") + b"\n")
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path), str(parts), str(warm)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.timeout(120)
def test_a_bz2_bomb_is_read_in_bounded_memory(tmp_path):
    """A ~1 KB bz2 inflating to 200 MiB of zeros (one line) between two posts."""
    packer = bz2.BZ2Compressor(9)
    parts = [packer.compress(status("1") + b"\n")]
    zeros = bytes(8 * MiB)
    parts += [packer.compress(zeros) for _ in range(25)]
    parts += [packer.compress(b"\n" + status("2") + b"\n"), packer.flush()]
    path = tmp_path / "bomb.jsonl.bz2"
    path.write_bytes(b"".join(parts))
    assert path.stat().st_size < 4096
    result = read_in_subprocess(path, tmp_path)
    assert result["counts"]["read"] == 3 and result["counts"]["malformed"] == 1
    assert [m["line"] for m in result["malformed"]] == [2]
    assert result["malformed"][0]["error"].startswith("line too long")
    assert result["grew_mib"] < 48, result  # the old reader held the 200 MiB line (and the inflated step) whole


@pytest.mark.timeout(120)
def test_a_long_line_without_newline_is_skipped_in_bounded_memory(tmp_path):
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as f:
        f.write(status("1") + b"\n")
        f.writelines(b"x" * MiB for _ in range(96))  # 96 MiB, no newline to the end of the file
    result = read_in_subprocess(path, tmp_path)
    assert result["counts"]["read"] == 2 and result["counts"]["malformed"] == 1
    assert result["malformed"][0] == {"member": "", "line": 2, "error": f"line too long (over {8 * MiB} bytes)"}
    assert result["grew_mib"] < 40, result


def blocks(chunks: list[bytes], max_line: int) -> list:
    from smileynet.collect.archives import split_lines

    return [(n, lines, str(err) if err else None) for _, n, lines, err in split_lines("", iter(chunks), max_line)]


def test_the_splitter_numbers_lines_across_chunks_and_skips_only_the_long_one():
    chunks = [b"ab", b"c\nd", b"ef", b"ghij", b"klm\nn\n", b"o"]
    got = blocks(chunks, 8)
    assert [lines for _, lines, _ in got if lines] == [[b"abc"], [b"n"], [b"o"]]
    assert [(n, e) for n, _, e in got if e] == [(2, "line too long (over 8 bytes)")]
    assert [n for n, lines, _ in got if lines] == [1, 3, 4]
    assert blocks([b"\xef\xbb\xbf{}\n{}"], 8) == [(1, [b"{}"], None), (2, [b"{}"], None)]
    assert blocks([b"x" * 5, b"y" * 5], 8) == [(1, [], "line too long (over 8 bytes)")]


def test_a_utf8_bom_does_not_cost_the_first_record(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + status("1") + b"\n" + status("2") + b"\n")
    report = collect([path], tmp_path / "out", workers=1, quiet=True)
    assert report["totals"]["read"] == 2 and report["totals"]["kept"] == 2
    assert report["totals"]["dropped"]["malformed"] == 0


def test_out_inside_the_input_folder_does_not_read_its_own_files(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(status("1") + b"\n" + status("2") + b"\n")
    first = collect([tmp_path], tmp_path, workers=1, quiet=True)
    second = collect([tmp_path], tmp_path, workers=1, quiet=True)
    assert first["totals"] == second["totals"]
    assert list(second["files"]) == [str(tmp_path / "a.jsonl")]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smileynet", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_out_that_is_a_file_and_a_bad_line_limit_are_one_line(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(status() + b"\n")
    (tmp_path / "taken").write_text("x")
    done = run_cli("collect", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "taken"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"smileynet: error: --out {tmp_path / 'taken'}: is a file, not a folder"]
    with pytest.raises(UserError, match="--max-line-bytes must be at least 1"):
        collect([tmp_path / "a.jsonl"], tmp_path / "o", max_line=0)


def test_an_unreadable_input_is_one_line_naming_it(tmp_path, monkeypatch):
    import builtins

    from smileynet.collect import archives

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_bytes(status() + b"\n")
    locked = tmp_path / "in" / "b.jsonl"
    locked.write_bytes(status() + b"\n")

    def refuse(path, *args, **kwargs):  # root reads a chmod-000 file: refuse it the way a kernel would
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(archives, "open", refuse, raising=False)
    with pytest.raises(UserError, match=f"cannot read {locked}: Permission denied"):
        collect([tmp_path / "in"], tmp_path / "out", workers=1, quiet=True)


def test_disk_full_while_writing_posts_is_one_line_and_keeps_the_earlier_outputs(tmp_path, monkeypatch, capsys):
    from smileynet import cli
    from smileynet.collect import merge

    path = tmp_path / "a.jsonl"
    path.write_bytes(status("1") + b"\n")
    collect([path], tmp_path / "out", workers=1, quiet=True)
    before = (tmp_path / "out" / "posts.parquet").read_bytes()
    path.write_bytes(status("1") + b"\n" + status("2") + b"\n")

    def full(target, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(merge, "_write_rows", full)
    monkeypatch.setattr(
        sys, "argv", ["smileynet", "collect", str(path), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]
    )
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"smileynet: error: {tmp_path / 'out' / '.posts.parquet.tmp'}: No space left on device"]
    assert (tmp_path / "out" / "posts.parquet").read_bytes() == before


def test_line_too_long_is_a_read_error_that_does_not_end_the_member():
    from smileynet.collect.archives import LineTooLong, ReadError

    assert issubclass(LineTooLong, ReadError)
    got = blocks([b"x" * 20 + b"\n", b"{}\n"], 8)
    assert got == [(1, [], "line too long (over 8 bytes)"), (2, [b"{}"], None)]


@settings(max_examples=300, deadline=1000)
@given(
    bom=st.booleans(),
    chunks=st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\x01", b"\n")), max_size=12),
    max_line=st.integers(1, 30),
)
def test_the_splitter_gives_every_line_or_its_skip_in_order(bom, chunks, max_line):
    from smileynet.collect.archives import BOM

    if bom and chunks:
        chunks[0] = BOM + chunks[0]
    text = b"".join(chunks)
    if chunks and chunks[0].startswith(BOM):  # a BOM is dropped where the member starts, nowhere else
        text = text.removeprefix(BOM)
    expected = text.split(b"\n")
    if expected[-1] == b"":
        expected.pop()
    got: dict[int, bytes | None] = {}
    for number, lines, error in blocks(chunks, max_line):
        if error:
            assert error == f"line too long (over {max_line} bytes)" and not lines
            got[number] = None
        for offset, line in enumerate(lines):
            got[number + offset] = line
    assert sorted(got) == list(range(1, len(got) + 1))
    assert [got[n] for n in sorted(got)] == [line if len(line) <= max_line else None for line in expected]


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children of children included)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.timeout(120)
def test_sigkill_of_collect_leaves_no_worker_alive(tmp_path):
    import os
    import signal
    import time

    (tmp_path / "in").mkdir()
    for k in range(4):  # tasks that keep a worker busy far longer than the test waits
        (tmp_path / "in" / f"{k}.jsonl").write_bytes((status(str(k)) + b"\n") * 150_000)
    collect_run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smileynet",
            "collect",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "2",
            "--quiet",
        ]
    )
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < 4 and time.monotonic() < deadline:  # resource tracker, forkserver, 2 workers
            seen |= descendants(collect_run.pid)
            time.sleep(0.2)
        assert len(seen) >= 4, seen
        time.sleep(1)
        collect_run.send_signal(signal.SIGKILL)
        collect_run.wait()
        deadline = time.monotonic() + 10
        while any(map(running, seen)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in seen if running(pid)]
    finally:
        for pid in seen:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(120)
def test_a_bzip2_member_of_a_zip_is_read_in_bounded_memory(tmp_path):
    import zipfile

    path = tmp_path / "bomb.zip"
    zeros = bytes(8 * MiB)
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open(zipfile.ZipInfo("m/posts.jsonl"), "w") as member:  # stored: read as it is
            member.write(status("1") + b"\n")
        info = zipfile.ZipInfo("m/bomb.jsonl")
        info.compress_type = zipfile.ZIP_BZIP2
        with archive.open(info, "w") as member:
            member.write(status("2") + b"\n")
            for _ in range(25):
                member.write(zeros)
            member.write(b"\n" + status("3") + b"\n")
        archive.writestr(zipfile.ZipInfo("m/other.jsonl"), status("4") + b"\n", compress_type=zipfile.ZIP_LZMA)
    assert path.stat().st_size < 16384
    result = read_in_subprocess(path, tmp_path)
    assert result["counts"]["read"] == 5 and result["counts"]["malformed"] == 2
    [too_long, lzma] = result["malformed"]
    assert too_long["member"] == "m/bomb.jsonl" and too_long["error"].startswith("line too long")
    assert lzma["member"] == "m/other.jsonl" and "zip member compressed with method 14" in lzma["error"]
    assert result["grew_mib"] < 48, result
