"""`smileynet embed`: the emoji embedding of every image of image files, folders, list files or a dataset, to parquet.

Output (docs/architecture.md): `id`, `path`, `embedding` (fixed-size list of float32, the pre-sigmoid
logits, one entry per emoji of the model's vocabulary, which the file's metadata carries) and
`probs` (the same after the sigmoid).

Streaming and resumable: rows are written every `part_rows` images as complete parquet files in
`FILE.parts/`, so a killed run loses at most one part; a rerun skips every id already in
`FILE.parts/` or in an existing `FILE`, and the parts are merged into `FILE` (atomically) at the
end. Under `torchrun`, rank r takes every WORLD_SIZE-th input, writes its own parts, and rank 0
merges once all ranks are done.

Ids: an image file given is named by its path as given, a folder's images by their path relative
to the folder (after the folder as given, where several inputs are embedded together), a list
file's by the line as written, a dataset's (shards or release CSVs) by the sample id of
`smileynet.data.iter_samples`; `path` is the absolute file path, or for a dataset the sample's
source url. A file is an image by its extension or, without one, by its header; any other file is
a list file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from smileynet import contracts
from smileynet.errors import UserError
from smileynet.files import atomic_write_bytes, atomic_write_text, write_config
from smileynet.images import IMAGE_EXTENSIONS, ImageSource, list_images
from smileynet.progress import progress


@dataclass
class EmbedConfig:
    model: Path
    inputs: list[Path]
    out: Path
    batch_size: int = 64
    backend: str = "auto"
    device: str = "auto"
    split: str | None = None
    workers: int = 2
    part_rows: int = 2048
    quiet: bool = False


@dataclass
class Item:
    id: str
    path: str
    source: ImageSource  # a file path or the image bytes


def folder_items(root: Path, prefix: str = "") -> Iterator[Item]:
    """Every image file under `root`, recursively, in sorted path order; ids relative to `root`
    (after `prefix`, the folder as given, where several inputs are embedded together)."""
    for path in list_images(root):
        yield Item(prefix + path.relative_to(root).as_posix(), str(path.resolve()), path)


def list_items(list_file: Path) -> Iterator[Item]:
    """One path per line (relative to the list file's folder); blank lines and `#` comments skipped."""
    try:
        text = list_file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{list_file}: neither an image nor a list file of paths (not UTF-8 text, byte {err.start})"
        ) from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line) if Path(line).is_absolute() else list_file.parent / line
        yield Item(line, str(path.resolve()), path)


def dataset_items(data: Path, split: str | None) -> Iterator[Item]:
    from smileynet.data.samples import iter_samples

    for sample in iter_samples(data, split):
        yield Item(sample.id, str(sample.meta.get("url", "")), sample.image)


def is_dataset(folder: Path) -> bool:
    """Shards or release CSVs (what `smileynet.data` reads), rather than a plain image folder."""
    from smileynet.data.layout import SPLITS, layout

    for split in SPLITS:
        try:
            if layout(folder, split) in ("shards", "csv"):
                return True
        except UserError:
            continue
    return False


def looks_like_image(path: Path) -> bool:
    """An image by its extension, or by its header where the name has none (a list file is text)."""
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, OSError):
        return False


def input_items(sources: list[Path], split: str | None) -> tuple[Iterator[Item], int | None]:
    """The items of the inputs (image files, image folders, list files, or one dataset) and their
    number where it is cheap to know. Every input is checked here, before anything is written."""
    if not sources:
        raise UserError("no input given: pass image files, folders, list files or a dataset")
    missing = [str(source) for source in sources if not source.exists()]
    if missing:
        raise UserError(f"input not found: {', '.join(missing)}")
    datasets = [source for source in sources if source.is_dir() and is_dataset(source)]
    if datasets:
        if len(sources) > 1:
            raise UserError(f"a dataset ({datasets[0]}) is embedded on its own: pass it as the only input")
        from smileynet.data.layout import available_splits, split_sizes

        source = datasets[0]
        splits = [split] if split else available_splits(source)
        sizes = [split_sizes(source, s) for s in splits]
        known = [size for size in sizes if size is not None]
        return dataset_items(source, split), sum(known) if len(known) == len(sizes) else None
    if split:
        raise UserError("--split applies to a dataset (shards or release CSVs), not to image files, folders or lists")
    items: dict[str, Item] = {}  # by id: an image given twice is embedded once
    for source in sources:
        if source.is_dir():
            prefix = f"{source.as_posix().rstrip('/')}/" if len(sources) > 1 else ""
            found = list(folder_items(source, prefix))
        elif source.suffix == ".tar":
            raise UserError(f"{source}: pass the shards folder (with train/valid/test/*.tar), not one shard")
        elif looks_like_image(source):
            found = [Item(str(source), str(source.resolve()), source)]
        else:
            found = list(list_items(source))
        items.update((item.id, item) for item in found)
    if not items:
        raise UserError("no images found in " + ", ".join(str(source) for source in sources))
    return iter(items.values()), len(items)


def embeddings_schema(num_classes: int, vocab: list[str], model: str) -> pa.Schema:
    """The contract's embeddings schema, its metadata naming the vocabulary and the model."""
    meta = {"smileynet_vocab": json.dumps(vocab, ensure_ascii=False), "smileynet_model": model}
    return contracts.embeddings_schema(num_classes, meta)


def embeddings_table(ids: list[str], paths: list[str], logits: np.ndarray, schema: pa.Schema) -> pa.Table:
    from scipy.special import expit

    width = schema.field("embedding").type.list_size

    def vectors(array: np.ndarray) -> pa.FixedSizeListArray:
        return pa.FixedSizeListArray.from_arrays(pa.array(array.astype(np.float32).reshape(-1)), width)

    return pa.Table.from_arrays(
        [pa.array(ids, pa.string()), pa.array(paths, pa.string()), vectors(logits), vectors(expit(logits))],
        schema=schema,
    )


def _write_parquet(path: Path, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_done_ids(out: Path, parts: Path, schema: pa.Schema) -> set[str]:
    """Ids already written: in an existing output and in finished parts (which must fit the model)."""
    done: set[str] = set()
    files = ([out] if out.is_file() else []) + sorted(parts.glob("*.parquet"))
    for path in files:
        try:
            existing = pq.read_schema(path)
        except Exception as err:
            raise UserError(f"{path}: not a readable parquet file ({err}); remove it to start over") from None
        if existing.field("embedding").type != schema.field("embedding").type or (
            (existing.metadata or {}).get(b"smileynet_vocab") != schema.metadata[b"smileynet_vocab"]
        ):
            raise UserError(f"{path}: written by a model with another vocabulary; choose another --out")
        done.update(pq.read_table(path, columns=["id"]).column("id").to_pylist())
    return done


def merge(out: Path, parts: Path, schema: pa.Schema) -> tuple[int, int]:
    """An existing output + all parts -> `out`, atomically, and every rank's failures -> `FILE.failures.csv`;
    the parts folder is removed. Returns (rows, failures)."""
    files = ([out] if out.is_file() else []) + sorted(parts.glob("*.parquet"))
    tmp = out.with_name(f".{out.name}.merging")
    rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for path in files:
            table = pq.read_table(path).cast(schema)
            writer.write_table(table)
            rows += table.num_rows
    os.replace(tmp, out)
    failures = []
    for path in sorted(parts.glob("failures-rank*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            failures += list(csv.DictReader(f))
    _write_failures(failures_path(out), failures)
    for path in parts.iterdir():
        path.unlink()
    parts.rmdir()
    return rows, len(failures)


def failures_path(out: Path) -> Path:
    return out.with_suffix(".failures.csv")


def _write_failures(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["id", "path", "reason"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def embed(config: EmbedConfig) -> dict:
    """Write the embeddings parquet for `config.inputs`; returns counts (written, skipped as done, failed).

    Every input is checked before anything is written, and a run that stops before its first part
    leaves nothing behind (finished parts stay, for the rerun to resume from)."""
    from smileynet.distributed import launcher_env, resolve_device
    from smileynet.inference.extraction import iter_extract
    from smileynet.inference.runtime import make_runner
    from smileynet.inference.torch_runtime import load_model

    out = Path(config.out)
    if out.suffix != ".parquet":
        raise UserError(f"--out must be a .parquet file: {out}")
    launcher = launcher_env()
    rank, world, local_rank = launcher.rank, launcher.world_size, launcher.local_rank
    device = resolve_device(config.device)
    if device == "cuda" and world > 1:
        device = f"cuda:{local_rank}"

    items, total = input_items([Path(source) for source in config.inputs], config.split)
    model = load_model(config.model, device=device)
    runner = make_runner(model, config.backend, batch_size=config.batch_size)
    schema = embeddings_schema(runner.config.num_classes, list(runner.config.vocab), str(config.model))
    parts = out.with_name(out.name + ".parts")
    done = read_done_ids(out, parts, schema)
    mine = (item for i, item in enumerate(items) if i % world == rank and item.id not in done)
    if total is not None:
        total = max(0, (total - len(done) + world - 1) // world)

    pulled: deque[tuple[str, str]] = deque()  # (id, path) of items handed to the extractor, in order

    def pairs() -> Iterator[tuple[str, ImageSource]]:
        for item in progress(mine, total=total, desc="embed", unit="img", quiet=config.quiet or rank != 0):
            pulled.append((item.id, item.path))
            yield item.id, item.source

    created = not parts.exists()
    parts.mkdir(parents=True, exist_ok=True)
    number = 1 + max((int(p.stem.rsplit("-", 1)[1]) for p in parts.glob(f"rank{rank:03d}-*.parquet")), default=-1)
    pending: list[tuple[list[str], list[str], np.ndarray]] = []
    failures: list[dict] = []
    written = 0

    def flush() -> None:
        nonlocal number, pending, written
        if not pending:
            return
        ids = [i for part in pending for i in part[0]]
        table = embeddings_table(
            ids, [p for part in pending for p in part[1]], np.concatenate([part[2] for part in pending]), schema
        )
        _write_parquet(parts / f"rank{rank:03d}-{number:05d}.parquet", table)
        number, pending, written = number + 1, [], written + len(ids)

    try:
        for extraction in iter_extract(runner, pairs(), batch_size=config.batch_size, workers=config.workers):
            # one Extraction covers the next len(ids) + len(failures) items pulled, in order
            chunk = dict(pulled.popleft() for _ in range(len(extraction.ids) + len(extraction.failures)))
            failures += [{"id": key, "path": chunk[key], "reason": reason} for key, reason in extraction.failures]
            if extraction.logits is not None:
                pending.append((extraction.ids, [chunk[i] for i in extraction.ids], extraction.logits))
            if sum(len(part[0]) for part in pending) >= config.part_rows:
                flush()
        flush()
    except BaseException:
        if created:
            with contextlib.suppress(OSError):  # not empty: another rank wrote parts to resume from
                parts.rmdir()
        raise
    _write_failures(parts / f"failures-rank{rank:03d}.csv", failures)

    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        dist.barrier()
    summary: dict[str, Any] = {
        "out": str(out),
        "rows": None,
        "written": written,
        "already_done": len(done),
        "failed": len(failures),
        "failures": str(failures_path(out)),
        "backend": type(runner).__name__.removesuffix("Runner").lower(),
        "rank": rank,
        "world_size": world,
    }
    if rank == 0:  # totals over all ranks
        summary["rows"], summary["failed"] = merge(out, parts, schema)
        summary["written"] = summary["rows"] - len(done)
        write_config(
            out.with_suffix(".config.yaml"), {**asdict(config), "world_size": world, "runner": type(runner).__name__}
        )
    if world > 1:
        dist.barrier()
    return summary
