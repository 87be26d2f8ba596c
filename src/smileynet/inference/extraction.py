"""Batched feature extraction: images in, emoji embeddings (and backbone features) out.

Every stage that needs a model's outputs for a set of images goes through `extract` (or its
streaming form `iter_extract`): decoding with `smileynet.images.decode_rgb_array`, the model's
eval crop, batching, and one of the runtimes in `smileynet.inference.runtime`. A bad image never
stops the run: it becomes a `(id, reason)` failure and the batch goes on without it. Nothing here
needs torch: an .onnx model runs in the light install (batches are then numpy arrays).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from smileynet.errors import UserError
from smileynet.images import BadImage, ImageSource, decode_rgb_array

FEATURES = ("logits", "pre_logits", "both")


@dataclass
class Extraction:
    """What `extract` returns: rows in input order for the images that decoded, and why the others did not."""

    ids: list[str] = field(default_factory=list)
    logits: np.ndarray | None = None
    pre_logits: np.ndarray | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def as_inputs(images: Any) -> list[Any]:
    """One image or many -> a list of image sources; a 4-d array or tensor is a batch of images."""
    if isinstance(images, np.ndarray) or _is_tensor(images):
        return list(images) if images.ndim == 4 else [images]
    if isinstance(images, (str, Path, bytes)) or hasattr(images, "read") or hasattr(images, "getpixel"):
        return [images]
    return list(images)


def input_id(source: Any, index: int) -> str:
    """The id a row gets: the path for files, else the input's position."""
    return str(source) if isinstance(source, (str, Path)) else str(index)


def _is_tensor(value: Any) -> bool:
    """A torch tensor, recognised without importing torch (the light install has none)."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def decode(source: Any, transform: Callable) -> Any:
    """One source -> uint8 C x S x S (the model's eval crop: a tensor, or an array in the light
    install), or BadImage with the reason."""
    if _is_tensor(source):
        source = source.detach().cpu().numpy()
    try:
        pixels = decode_rgb_array(source)
    except BadImage:
        raise
    except Exception as err:  # an array of the wrong shape or type, an unreadable stream, ...
        raise BadImage(f"cannot decode ({type(err).__name__}: {err})") from None
    return transform(pixels)


def _decode_chunk(chunk: list[tuple[str, Any]], transform: Callable, pool: Executor | None):
    def one(item: tuple[str, Any]) -> tuple[str, Any, str | None]:
        key, source = item
        try:
            return key, decode(source, transform), None
        except BadImage as err:
            return key, None, str(err)

    results = list(pool.map(one, chunk)) if pool else [one(item) for item in chunk]
    ids = [key for key, tensor, _ in results if tensor is not None]
    tensors = [tensor for _, tensor, _ in results if tensor is not None]
    failures = [(key, reason) for key, tensor, reason in results if tensor is None]
    return ids, _stack(tensors) if tensors else None, failures


def _stack(crops: list[Any]) -> Any:
    """The crops as one N x C x S x S batch, of their own kind (torch tensors or numpy arrays)."""
    if isinstance(crops[0], np.ndarray):
        return np.stack(crops)
    import torch

    return torch.stack(crops)


def _chunks(items: Iterable[tuple[str, Any]], size: int) -> Iterator[list[tuple[str, Any]]]:
    chunk: list[tuple[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def iter_extract(
    model: Any,
    items: Iterable[tuple[str, ImageSource]],
    *,
    batch_size: int = 32,
    features: str = "logits",
    backend: str = "torch",
    workers: int = 0,
) -> Iterator[Extraction]:
    """Stream `(id, source)` pairs into one Extraction per batch (memory bounded by one batch ahead).

    With `workers` > 0, images are decoded by that many threads (Pillow and torch release the GIL)
    while the model runs on the previous batch."""
    from smileynet.inference.preprocess import eval_crop
    from smileynet.inference.runtime import make_runner

    if features not in FEATURES:
        raise UserError(f"features must be one of {', '.join(FEATURES)}, not {features!r}")
    if batch_size < 1:
        raise UserError("batch size must be at least 1")
    runner = make_runner(model, backend, batch_size=batch_size)
    transform = eval_crop(_recipe(runner))
    pool = ThreadPoolExecutor(workers) if workers > 0 else None
    empty = True
    try:
        chunks = _chunks(items, batch_size)
        if pool is None:
            pending = (_decode_chunk(chunk, transform, None) for chunk in chunks)
        else:
            pending = _prefetch(pool, chunks, transform)
        for ids, batch, failures in pending:
            if batch is not None:
                logits, pre_logits = runner(batch, want_pre_logits=features != "logits")
            else:  # every image of the batch failed: zero rows, the right widths
                logits = np.zeros((0, runner.config.num_classes), np.float32)
                pre_logits = np.zeros((0, runner.num_features), np.float32)
            yield Extraction(
                ids=ids,
                logits=logits if features != "pre_logits" else None,
                pre_logits=pre_logits if features != "logits" else None,
                failures=failures,
            )
            empty = False
        if empty:  # no inputs at all: still one (empty) Extraction with the right widths
            yield Extraction(
                logits=np.zeros((0, runner.config.num_classes), np.float32) if features != "pre_logits" else None,
                pre_logits=np.zeros((0, runner.num_features), np.float32) if features != "logits" else None,
            )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _recipe(runner: Any) -> Any:
    """An ONNX runner's recipe (from its file's metadata), else the one its model's config derives."""
    from smileynet.inference.preprocess import Recipe

    recipe = getattr(runner, "recipe", None)
    return recipe if recipe is not None else Recipe.from_dict(runner.config.preprocess_recipe(), "model config")


def _prefetch(pool: Executor, chunks: Iterator[list], transform: Callable):
    """Decode the next chunk in the background while the caller runs the model on this one."""
    decoder = ThreadPoolExecutor(1)
    try:
        future = None
        for chunk in chunks:
            next_future = decoder.submit(_decode_chunk, chunk, transform, pool)
            if future is not None:
                yield future.result()
            future = next_future
        if future is not None:
            yield future.result()
    finally:
        decoder.shutdown(wait=True, cancel_futures=True)


def extract(
    model: Any,
    inputs: Sequence[ImageSource],
    *,
    batch_size: int = 32,
    features: str = "logits",
    backend: str = "torch",
    workers: int = 0,
) -> Extraction:
    """Model outputs for `inputs`, in input order, skipping (with a reason) the images that fail.

    `model`: a SmileyNet or a model dir path. `features`: "logits" (the emoji embedding),
    "pre_logits" (backbone features, e.g. 2048-d for ResNet50) or "both". `backend`: "torch",
    "onnx" (ONNX Runtime) or "auto" (ONNX Runtime on CPU when installed, else torch).
    Ids are the paths for path inputs, else the input positions as strings."""
    items = ((input_id(source, i), source) for i, source in enumerate(as_inputs(inputs)))
    parts = list(iter_extract(model, items, batch_size=batch_size, features=features, backend=backend, workers=workers))
    return concat(parts)


def concat(parts: list[Extraction]) -> Extraction:
    """Join per-batch Extractions into one."""

    def stack(name: str) -> np.ndarray | None:
        arrays = [getattr(p, name) for p in parts if getattr(p, name) is not None]
        return np.concatenate(arrays) if arrays else None

    return Extraction(
        ids=[i for p in parts for i in p.ids],
        logits=stack("logits"),
        pre_logits=stack("pre_logits"),
        failures=[f for p in parts for f in p.failures],
    )
