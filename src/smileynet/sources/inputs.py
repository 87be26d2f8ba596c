"""Input files -> units of work (tasks) -> blocks of JSON lines, whatever the packing.

Handles plain and `.bz2`/`.gz`/`.zst` files (multi-stream bz2 and multi-frame zstd included),
`.tar`/`.zip` archives of such files (the Archive Team stream grab: per-minute `.json.bz2`),
and skips junk members (dotfiles, `__MACOSX`, non-JSON names). An uncompressed `.tar` or a
`.zip` is split into several tasks of about `TASK_BYTES` so one big monthly archive still uses
every worker. A read error (a truncated stream) ends that member with an error line; lines read
before it are kept.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from smileynet.errors import UserError

TASK_BYTES = 64 << 20
CHUNK = 1 << 20
RAW_CHUNK = 256 << 10  # compressed bytes per step: data decoded before a corrupt block is kept
COMPRESSED = (".bz2", ".gz", ".zst")
JSON_NAMES = (".json", ".jsonl", ".ndjson", ".txt")
ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.zst", ".zip")


class ReadError(Exception):
    """A member could not be read to its end (truncated or corrupt compressed data)."""


@dataclass(frozen=True)
class Task:
    """A unit of work: a whole file, or a group of members of one archive."""

    index: int  # position of the input file, for a deterministic order
    path: str
    members: tuple[tuple[str, int, int], ...] | None = None  # (name, data offset, size) for tar; (name, 0, 0) for zip
    key: str = ""


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Files, and every non-hidden file under folders (sorted), in the order given."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and not _hidden(p.relative_to(path)) and _readable_name(p.name))
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"input not found: {path}")
    if not files:
        raise UserError("no input files found")
    return files


def make_tasks(files: list[Path], task_bytes: int = TASK_BYTES) -> list[Task]:
    tasks = []
    for index, path in enumerate(files):
        stat = path.stat()
        stamp = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]
        groups = _member_groups(path, task_bytes)
        if groups is None:
            tasks.append(Task(index, str(path), None, f"{index:05d}-00000-{stamp}"))
        else:
            tasks.extend(Task(index, str(path), tuple(g), f"{index:05d}-{n:05d}-{stamp}") for n, g in enumerate(groups))
    return tasks


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in rel.parts)


def _readable_name(name: str) -> bool:
    """Inside folders, only what looks like posts (a LICENSE or README beside them is not)."""
    name = name.lower()
    return _json_member(name) or name.endswith(ARCHIVES)


def _json_member(name: str) -> bool:
    base = name
    for suffix in COMPRESSED:
        base = base.removesuffix(suffix)
    return not _hidden(Path(name)) and base.endswith(JSON_NAMES)


def _member_groups(path: Path, task_bytes: int) -> list[list[tuple[str, int, int]]] | None:
    """Groups of JSON members for a seekable archive (plain tar, zip); None for anything else."""
    name = path.name.lower()
    if name.endswith(".tar"):
        try:
            with tarfile.open(path, "r:") as tar:
                members = [(m.name, m.offset_data, m.size) for m in tar if m.isfile() and _json_member(m.name)]
        except tarfile.TarError:
            return None  # read as a stream; the error is reported there
    elif name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [(i.filename, 0, i.compress_size) for i in archive.infolist()
                           if not i.is_dir() and _json_member(i.filename)]
        except zipfile.BadZipFile:
            return None
    else:
        return None
    groups: list[list[tuple[str, int, int]]] = [[]]
    size = 0
    for member in members:
        if size >= task_bytes:
            groups.append([])
            size = 0
        groups[-1].append(member)
        size += member[2]
    return groups


def iter_blocks(task: Task) -> Iterator[tuple[str, int, list[bytes], ReadError | None]]:
    """(member name or "", number of the first line, lines, the ReadError that ended the member
    or None). Blocks of lines rather than single lines: this is the innermost loop of collect."""
    for member, stream in _members(task):
        yield from _blocks(member, stream)


def _members(task: Task) -> Iterator[tuple[str, BinaryIO]]:
    path, lower = task.path, task.path.lower()
    if task.members is not None and lower.endswith(".tar"):
        with open(path, "rb") as f:
            for name, offset, size in task.members:
                yield name, _decompress(io.BufferedReader(_Window(f, offset, size), CHUNK), name)
    elif task.members is not None:
        with zipfile.ZipFile(path) as archive:
            for name, _, _ in task.members:
                with archive.open(name) as raw:
                    yield name, _decompress(raw, name)
    elif lower.endswith(ARCHIVES[:-1]):
        yield from _tar_stream(path)
    elif lower.endswith(".zip"):
        yield "", _Failing(zipfile.BadZipFile(f"not a readable zip archive: {path}"))
    else:
        with open(path, "rb") as raw:
            yield "", _decompress(raw, lower)


def _tar_stream(path: str) -> Iterator[tuple[str, BinaryIO]]:
    """A compressed tar read front to back (no random access)."""
    lower = path.lower()
    raw = open(path, "rb")
    try:
        outer = _decompress(raw, lower.removesuffix(".tar") if lower.endswith(".tar") else lower.replace(".tar", ""))
        with tarfile.open(fileobj=outer, mode="r|") as tar:
            try:
                for member in tar:
                    if member.isfile() and _json_member(member.name):
                        yield member.name, _decompress(tar.extractfile(member), member.name)
            except (tarfile.TarError, EOFError, OSError) as err:
                yield "", _Failing(err)
    except (tarfile.TarError, EOFError, OSError) as err:
        yield "", _Failing(err)
    finally:
        raw.close()


def _decompress(raw: BinaryIO, name: str) -> BinaryIO:
    name = name.lower()
    if name.endswith(".bz2"):
        return io.BufferedReader(_Streams(raw, bz2.BZ2Decompressor), CHUNK)
    if name.endswith((".gz", ".tgz")):
        return io.BufferedReader(_Streams(raw, lambda: zlib.decompressobj(zlib.MAX_WBITS | 16)), CHUNK)
    if name.endswith(".zst"):
        return io.BufferedReader(_Streams(raw, _zstd_decompressor), CHUNK)
    return raw


def _blocks(member: str, stream: BinaryIO) -> Iterator[tuple[str, int, list[bytes], ReadError | None]]:
    number, rest = 1, b""
    try:
        while chunk := stream.read1(CHUNK):  # read1: a later corrupt block cannot take earlier data with it
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield member, number, lines, None
            number += len(lines)
    except Exception as err:  # truncated/corrupt compressed data: bz2, zlib, zstd, tarfile each raise their own
        yield member, number, [], ReadError(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
        return
    if rest:
        yield member, number, [rest], None


class _Window(io.RawIOBase):
    """`size` bytes at `offset` of an open file: a tar member read without the tarfile module."""

    def __init__(self, f: BinaryIO, offset: int, size: int) -> None:
        self.f, self.pos, self.end = f, offset, offset + size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.end - self.pos)
        if n <= 0:
            return 0
        data = os.pread(self.f.fileno(), n, self.pos)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


class _Failing(io.RawIOBase):
    """A stream whose first read raises the archive's own error, so it is reported like any other."""

    def __init__(self, err: Exception) -> None:
        self.err = err

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        raise self.err


class _Streams(io.RawIOBase):
    """Concatenated compressed streams (multi-stream bz2, multi-member gzip, multi-frame zstd),
    decompressed in large steps (the stdlib file classes feed 8 KB at a time, which is slower),
    and a cut inside a stream reported as EOFError instead of a silent end."""

    def __init__(self, raw: BinaryIO, new_decompressor) -> None:
        self.raw, self.new = raw, new_decompressor
        self.stream = new_decompressor()
        self.inside = False
        self.pending = memoryview(b"")  # decoded, not yet read: a view, so reading on copies nothing

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending and (chunk := self.raw.read(RAW_CHUNK)):
            out = []
            while chunk:
                if self.stream.eof:
                    self.stream = self.new()
                out.append(self.stream.decompress(chunk))
                self.inside = not self.stream.eof
                chunk = self.stream.unused_data if self.stream.eof else b""
            self.pending = memoryview(b"".join(out))
        if not self.pending and self.inside:
            raise EOFError("compressed stream ended before its end marker (truncated)")
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _zstd_decompressor():
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()
