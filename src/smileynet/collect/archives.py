"""Input files -> units of work (tasks) -> blocks of JSON lines, whatever the packing.

Handles plain and `.bz2`/`.gz`/`.zst` files (multi-stream bz2 and multi-frame zstd included),
`.tar`/`.zip` archives of such files (the Archive Team stream grab: per-minute `.json.bz2`),
and skips junk members (dotfiles, `__MACOSX`, non-JSON names). An uncompressed `.tar` or a
`.zip` is split into several tasks of about `TASK_BYTES` so one big monthly archive still uses
every worker. A read error (a truncated stream) ends that member with an error line; lines read
before it are kept.

Memory per input is bounded whatever it inflates to: decompressors hand out at most `DECODE_STEP`
bytes per step, and a line longer than `max_line` bytes is skipped to its newline (counted as
malformed, "line too long") without being held; a line's pieces are joined once, so time is
linear in its length.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from smileynet.errors import UserError

TASK_BYTES = 64 << 20
RAW_CHUNK = 256 << 10  # compressed bytes per step: data decoded before a corrupt block is kept
DECODE_STEP = 1 << 20  # decompressed bytes per step: a 400-byte bz2 of 1 GB of zeros never sits in memory whole
MAX_LINE = 8 << 20  # a post is a few KB; a longer line is skipped, never held
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark some editors write before the first line
COMPRESSED = (".bz2", ".gz", ".zst")
JSON_NAMES = (".json", ".jsonl", ".ndjson", ".txt")
ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.zst", ".zip")


class ReadError(Exception):
    """A member could not be read to its end (truncated or corrupt compressed data)."""


class LineTooLong(ReadError):
    """A line over the maximum length: skipped, and the member read on after it."""


@dataclass(frozen=True)
class Task:
    """A unit of work: a whole file, or a group of members of one archive."""

    index: int  # position of the input file, for a deterministic order
    path: str
    members: tuple[tuple[str, int, int], ...] | None = None  # (name, data offset, size) for tar; (name, 0, 0) for zip
    key: str = ""


def expand_inputs(inputs: list[str | Path], outputs: tuple[Path, ...] = ()) -> list[Path]:
    """Files, and every non-hidden file under folders (sorted), in the order given; never one of
    `outputs` (an output folder given as an input must not read back what a run wrote there).
    A file that cannot be opened is a UserError now, not a traceback in a worker later."""
    skip = {p.resolve() for p in outputs}
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not _hidden(p.relative_to(path))
                and _readable_name(p.name)
                and p.resolve() not in skip
            )
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"input not found: {path}")
    if not files:
        raise UserError("no input files found")
    for path in files:
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError as err:
            raise UserError(f"cannot read {path}: {err.strerror or err}") from None
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
                members = [
                    (i.filename, 0, i.compress_size)
                    for i in archive.infolist()
                    if not i.is_dir() and _json_member(i.filename)
                ]
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


def iter_blocks(task: Task, max_line: int = MAX_LINE) -> Iterator[tuple[str, int, list[bytes], ReadError | None]]:
    """(member name or "", number of the first line, lines, a ReadError or None): a LineTooLong
    stands for one skipped line, any other ReadError ended the member. Blocks of lines rather
    than single lines: this is the innermost loop of collect."""
    for member, chunks in _members(task):
        yield from split_lines(member, chunks, max_line)


def _members(task: Task) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Each member's decoded bytes, as the chunks the decompressor hands out: no file object
    between them, whose buffers would copy all of a month's text twice more."""
    path, lower = task.path, task.path.lower()
    if task.members is not None and lower.endswith(".tar"):
        with open(path, "rb") as f:
            for name, offset, size in task.members:
                yield name, _decoded(_window(f.fileno(), offset, size), name)
    elif task.members is not None:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
            for name, _, _ in task.members:
                info = archive.getinfo(name)
                if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    with archive.open(name) as raw:  # zipfile bounds what one read of these inflates to
                        yield name, _decoded(_pieces(raw), name)
                elif info.compress_type == zipfile.ZIP_BZIP2 and not info.flag_bits & 1:
                    yield name, _decoded(_decoded(_zip_raw(f.fileno(), info), ".bz2"), name)
                else:  # zipfile would inflate a whole compressed read at once: no bound on memory
                    yield (
                        name,
                        _failing(
                            ReadError(
                                f"zip member compressed with method {info.compress_type} "
                                "(only stored, deflate and bzip2 are read)"
                            )
                        ),
                    )
    elif lower.endswith(ARCHIVES[:-1]):
        yield from _tar_stream(path)
    elif lower.endswith(".zip"):
        yield "", _failing(zipfile.BadZipFile(f"not a readable zip archive: {path}"))
    else:
        with open(path, "rb") as raw:
            yield "", _decoded(_pieces(raw), lower)


def _tar_stream(path: str) -> Iterator[tuple[str, Iterator[bytes]]]:
    """A compressed tar read front to back (no random access)."""
    lower = path.lower()
    raw = open(path, "rb")
    try:
        outer = _decoded(
            _pieces(raw), lower.removesuffix(".tar") if lower.endswith(".tar") else lower.replace(".tar", "")
        )
        with tarfile.open(fileobj=_ChunkReader(outer), mode="r|") as tar:
            try:
                for member in tar:
                    if member.isfile() and _json_member(member.name):
                        yield member.name, _decoded(_pieces(tar.extractfile(member)), member.name)
            except (tarfile.TarError, EOFError, OSError) as err:
                yield "", _failing(err)
    except (tarfile.TarError, EOFError, OSError) as err:
        yield "", _failing(err)
    finally:
        raw.close()


def _pieces(raw: IO[bytes] | None) -> Iterator[bytes]:
    if raw is None:  # a tar member that is not a regular file
        return
    while piece := raw.read(RAW_CHUNK):
        yield piece


def _window(fd: int, offset: int, size: int) -> Iterator[bytes]:
    """`size` bytes at `offset` of an open file: a tar member read without the tarfile module."""
    end = offset + size
    while offset < end and (piece := os.pread(fd, min(RAW_CHUNK, end - offset), offset)):
        offset += len(piece)
        yield piece


def _zip_raw(fd: int, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A zip member's compressed bytes, found through its local header: zipfile inflates a bzip2
    member's every read whole, so it is decoded here in bounded steps like any .bz2 file."""
    header = os.pread(fd, 30, info.header_offset)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    yield from _window(fd, info.header_offset + 30 + name_length + extra_length, info.compress_size)


def _failing(err: Exception) -> Iterator[bytes]:
    """A member whose first read raises the archive's own error, so it is reported like any other."""
    yield from ()  # nothing: a generator, so the error comes when the member is read, not when it is listed
    raise err


def _decoded(pieces: Iterator[bytes], name: str) -> Iterator[bytes]:
    name = name.lower()
    if name.endswith(".bz2"):
        return _streams(pieces, bz2.BZ2Decompressor)
    if name.endswith((".gz", ".tgz")):
        return _streams(pieces, _GzipStream)
    if name.endswith(".zst"):
        return _streams(pieces, _zstd_decompressor)
    return pieces


def _streams(pieces: Iterator[bytes], new_decompressor) -> Iterator[bytes]:
    """Concatenated compressed streams (multi-stream bz2, multi-member gzip, multi-frame zstd),
    decompressed in large steps of at most `DECODE_STEP` output bytes (the stdlib file classes
    feed 8 KB at a time, which is slower), and a cut inside a stream reported as EOFError instead
    of a silent end. Each step's output is handed on at once: what was decoded before a corrupt
    block is kept."""
    stream, inside = new_decompressor(), False
    for piece in pieces:
        while True:
            if stream.eof:
                if not piece:
                    break
                stream = new_decompressor()
            if data := stream.decompress(piece, DECODE_STEP):
                yield data
            inside = not stream.eof
            piece = stream.unused_data if stream.eof else b""
            if not stream.eof and stream.needs_input:
                break
    if inside:
        raise EOFError("compressed stream ended before its end marker (truncated)")


class _GzipStream:
    """zlib's gzip decompressor with bz2's interface (`needs_input` instead of `unconsumed_tail`)."""

    def __init__(self) -> None:
        self.zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self.full = False  # the last step filled its output: more may be pending inside zlib

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self.zlib.decompress(self.zlib.unconsumed_tail + data if self.zlib.unconsumed_tail else data, max_length)
        self.full = len(out) == max_length
        return out

    @property
    def needs_input(self) -> bool:
        return not self.zlib.unconsumed_tail and not self.full

    @property
    def eof(self) -> bool:
        return self.zlib.eof

    @property
    def unused_data(self) -> bytes:
        return self.zlib.unused_data


def split_lines(
    member: str, chunks: Iterator[bytes], max_line: int = MAX_LINE
) -> Iterator[tuple[str, int, list[bytes], ReadError | None]]:
    """Blocks of lines out of chunks of bytes (see `iter_blocks`). A line cut at a chunk's end is
    kept as a list of pieces, joined once when its newline comes (linear in its length); once
    the pieces pass `max_line` bytes they are dropped and the rest of the line is skipped."""
    pending: list[bytes] = []
    number, held, skipping, first = 1, 0, False, True
    try:
        for chunk in chunks:
            if first:
                chunk, first = chunk.removeprefix(BOM), False
            cut = chunk.find(b"\n") if pending or skipping else -1
            if (pending or skipping) and cut < 0:
                held += len(chunk)
                skipping = skipping or held > max_line
                if skipping:
                    pending = []
                else:
                    pending.append(chunk)
                continue
            if skipping:
                yield member, number, [], LineTooLong(f"line too long (over {max_line} bytes)")
                number += 1
                lines = chunk[cut + 1 :].split(b"\n")
            elif pending:
                lines = chunk[cut + 1 :].split(b"\n")
                lines.insert(0, b"".join(pending) + chunk[:cut])
            else:
                lines = chunk.split(b"\n")
            rest = lines.pop()
            held, skipping = len(rest), len(rest) > max_line
            pending = [rest] if rest and not skipping else []
            if lines:
                yield from _checked(member, number, lines, max_line)
                number += len(lines)
    except Exception as err:  # truncated/corrupt compressed data: bz2, zlib, zstd, tarfile each raise their own
        yield member, number, [], ReadError(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
        return
    if skipping:
        yield member, number, [], LineTooLong(f"line too long (over {max_line} bytes)")
    elif pending:
        yield from _checked(member, number, [b"".join(pending)], max_line)


def _checked(
    member: str, number: int, lines: list[bytes], max_line: int
) -> Iterator[tuple[str, int, list[bytes], ReadError | None]]:
    """The block as it is, or split around its lines over `max_line` (each one a LineTooLong)."""
    if max(map(len, lines)) <= max_line:  # nearly always: one block
        yield member, number, lines, None
        return
    start = 0
    for i, line in enumerate(lines):
        if len(line) > max_line:
            if i > start:
                yield member, number + start, lines[start:i], None
            yield member, number + i, [], LineTooLong(f"line too long (over {max_line} bytes)")
            start = i + 1
    if start < len(lines):
        yield member, number + start, lines[start:], None


class _ChunkReader(io.RawIOBase):
    """Decoded chunks as a file, for tarfile's stream mode (a compressed tar read front to back)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.pending = memoryview(chunk)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _zstd_decompressor():
    """The standard library's zstd (Python 3.14) or its backport: bz2's interface, `max_length` included."""
    try:
        from compression.zstd import ZstdDecompressor
    except ImportError:
        from backports.zstd import ZstdDecompressor
    return ZstdDecompressor()
