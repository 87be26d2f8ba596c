"""Hourly zstd archives of received lines, with a resume state that never disagrees with them.

A listener writes lines into `OUT/YYYY/MM/DD/HH.jsonl.zst.partial` and renames the file to
`HH.jsonl.zst` when the hour is over or the listener stops, so `collect OUT` only ever reads
finished files. Every `commit` ends a zstd frame, fsyncs the file and then saves, atomically,
the listener's cursor with the file's length at that moment (`OUT/.listen-state.json`). After a
kill the file is cut back to that length: what lies beyond it was never acknowledged by a saved
cursor, so the listener asks for it again. Bytes on disk and cursor always describe the same
events: none lost, none written twice.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from smileynet.errors import UserError
from smileynet.files import write_json

STATE = ".listen-state.json"
PARTIAL = ".partial"
BUFFER_BYTES = 1 << 16  # lines are handed to the compressor in chunks this big


def read_state(path: Path) -> dict[str, Any]:
    """The saved state, checked: a file that is not what `commit` writes is a one-line error (a
    corrupt state cannot be trusted to cut the open hour back, nor to resume from)."""
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not JSON ({err}): move it away to record afresh") from None
    file, offset = (state.get("file"), state.get("offset")) if isinstance(state, dict) else (None, None)
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("kind"), str)
        or not (file is None or isinstance(file, str))
        or not isinstance(offset, int)
        or isinstance(offset, bool)
        or offset < 0
    ):
        raise UserError(f"{path} is not a listen state (kind, cursor, file, offset): move it away to record afresh")
    return state


def hour_path(seconds: float) -> str:
    """The archive file (relative to OUT) of the hour holding `seconds` since the epoch, UTC."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y/%m/%d/%H.jsonl.zst")


class HourlyArchive:
    """One listener's output folder: hourly files, one open at a time, plus the resume state."""

    def __init__(self, out: str | Path, kind: str, level: int = 3) -> None:
        import zstandard

        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.compressor = zstandard.ZstdCompressor(level=level)
        self.current: str | None = None  # relative name of the open hour (final name, without .partial)
        self.file: IO[bytes] | None = None
        self.writer: Any = None  # zstandard's stream writer over `file`
        self.buffer = bytearray()
        self.state = self._recover()

    @property
    def cursor(self) -> Any:
        """The cursor saved with the last commit (None before the first one)."""
        return self.state.get("cursor")

    def _recover(self) -> dict:
        """Load the state, cut the hour left open back to its acknowledged length and close it (a
        write to that hour reopens it); drop files opened after the last commit."""
        state = read_state(self.out / STATE)
        if state and state["kind"] != self.kind:
            raise UserError(f"{self.out} holds a {state['kind']} recording, not {self.kind}")
        acknowledged = state.get("file")
        for partial in self.out.rglob("*" + PARTIAL):
            name = partial.relative_to(self.out).as_posix()[: -len(PARTIAL)]
            if name == acknowledged:
                if partial.stat().st_size < state["offset"]:
                    raise UserError(
                        f"{partial} is shorter than {STATE} says it was committed: restore it or move both away"
                    )
                with open(partial, "r+b") as f:
                    f.truncate(state["offset"])
                os.replace(partial, self.out / name)  # the next event may belong to a later hour
            else:  # opened after the last commit: nothing in it was acknowledged
                partial.unlink()
        return state

    def write(self, name: str, line: bytes) -> None:
        """Append one line (without its newline) to the hour file `name` (from `hour_path`)."""
        if name != self.current:
            self._switch(name)
        self.buffer += line
        self.buffer += b"\n"
        if len(self.buffer) >= BUFFER_BYTES:
            self.writer.write(self.buffer)
            self.buffer.clear()

    def _switch(self, name: str) -> None:
        if self.current is not None:
            self._finish()
        partial = self.out / (name + PARTIAL)
        final = self.out / name
        partial.parent.mkdir(parents=True, exist_ok=True)
        if not partial.exists() and final.exists():  # a restart within an hour already closed once
            os.replace(final, partial)
        self.file = open(partial, "ab")
        self.writer = self.compressor.stream_writer(self.file, closefd=False, write_return_read=True)
        self.current = name

    def commit(self, cursor: Any) -> None:
        """Make every line written so far durable, then save `cursor` as the point to resume after."""
        import zstandard

        if self.current is None or self.file is None:
            if cursor != self.cursor:
                self._save(cursor, None, 0)
            return
        if self.buffer:
            self.writer.write(self.buffer)
            self.buffer.clear()
        self.writer.flush(zstandard.FLUSH_FRAME)
        self.file.flush()
        os.fsync(self.file.fileno())
        self._save(cursor, self.current, self.file.tell())

    def _save(self, cursor: Any, name: str | None, offset: int) -> None:
        self.state = {"kind": self.kind, "cursor": cursor, "file": name, "offset": offset}
        write_json(self.out / STATE, self.state)

    def _finish(self) -> None:
        """Close the open hour (committed by the caller before) and give it its final name."""
        assert self.current is not None and self.file is not None, "no hour is open"
        assert self.state.get("file") == self.current, "commit before switching hours"
        self.writer.close()
        self.file.close()
        os.replace(self.out / (self.current + PARTIAL), self.out / self.current)
        self.current = self.file = self.writer = None

    def switching(self, name: str) -> bool:
        """True when a line for `name` would close the open hour (the caller commits first)."""
        return self.current is not None and name != self.current

    def close(self, cursor: Any) -> None:
        """Commit and give the open hour its final name: the folder is complete and readable."""
        self.commit(cursor)
        if self.current is not None:
            self._finish()
