"""Embeddings extracted once and cached in the output folder, keyed by image and model.

The cache is `OUT/cache/<features>-<model digest>.npz`: one row per image key (absolute
path, size and modification time), plus the images that failed to decode with
their reason, so a rerun (another protocol, another head) extracts nothing, and an interrupted
extraction resumes chunk by chunk.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smileynet.files import atomic_write_bytes
from smileynet.progress import progress

CHUNK = 2048


@dataclass
class Embeddings:
    """Rows aligned with the requested paths; `reasons[i]` is "" where row i decoded."""

    values: np.ndarray
    reasons: list[str]
    seconds: float
    extracted: int  # images decoded in this call (0 when everything came from the cache)

    @property
    def ok(self) -> np.ndarray:
        return np.array([not r for r in self.reasons], dtype=bool)


def file_digest(*paths: Path) -> str:
    """A short SHA-256 of the files' bytes: the cache key of a model's embeddings."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def image_key(path: Path) -> str:
    """The absolute path with the file's size and modification time: a changed file is new."""
    stat = path.stat()
    return f"{path.resolve().as_posix()}:{stat.st_size}:{stat.st_mtime_ns}"


def _read_cache(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    if not path.is_file():
        return {}, {}
    with np.load(path, allow_pickle=False) as data:
        rows = dict(zip(data["keys"].tolist(), data["values"]))
        failed = dict(zip(data["failed_keys"].tolist(), data["failed_reasons"].tolist()))
    return rows, failed


def _write_cache(path: Path, rows: dict[str, np.ndarray], failed: dict[str, str], dim: int) -> None:
    buffer = io.BytesIO()
    values = np.stack(list(rows.values())) if rows else np.zeros((0, dim), np.float32)
    np.savez(
        buffer,
        keys=np.array(list(rows), dtype=str),
        values=values.astype(np.float32),
        failed_keys=np.array(list(failed), dtype=str),
        failed_reasons=np.array(list(failed.values()), dtype=str),
    )
    atomic_write_bytes(path, buffer.getvalue())


def cached_embeddings(
    model,
    digest: str,
    paths: list[Path],
    cache_dir: Path,
    *,
    features: str = "logits",
    batch_size: int = 64,
    workers: int = 0,
    quiet: bool = False,
) -> Embeddings:
    """`features` ("logits": the emoji embedding, "pre_logits": backbone features) of every
    path, from the cache where present, else through `smileynet.inference.extract`."""
    from smileynet.inference import extract

    start = time.monotonic()
    cache_file = cache_dir / f"{features}-{digest}.npz"
    rows, failed = _read_cache(cache_file)
    keys = [image_key(p) for p in paths]
    todo = [i for i, k in enumerate(keys) if k not in rows and k not in failed]
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    dim = 0
    for chunk in progress(chunks, total=len(chunks), desc=f"extract {features}", unit="chunk", quiet=quiet):
        inputs = [str(paths[i]) for i in chunk]
        result = extract(model, inputs, batch_size=batch_size, features=features, workers=workers)
        array = result.logits if features == "logits" else result.pre_logits
        assert array is not None  # extract returns the features it was asked for
        position = {s: n for n, s in enumerate(inputs)}
        for row, id_ in zip(array, result.ids):
            rows[keys[chunk[position[id_] if id_ in position else int(id_)]]] = row
        for id_, reason in result.failures:
            failed[keys[chunk[position[id_] if id_ in position else int(id_)]]] = reason
        dim = array.shape[1] if array is not None and array.ndim == 2 else dim
        _write_cache(cache_file, rows, failed, dim)
    width = len(next(iter(rows.values()))) if rows else dim
    values = np.zeros((len(paths), width), dtype=np.float32)
    reasons = []
    for i, key in enumerate(keys):
        if key in rows:
            values[i] = rows[key]
            reasons.append("")
        else:
            reasons.append(failed.get(key, "not extracted"))
    return Embeddings(values, reasons, time.monotonic() - start, sum(len(c) for c in chunks))
