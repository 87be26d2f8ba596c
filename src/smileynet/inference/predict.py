"""Top emojis and embeddings for a few images: `smileynet.predict` / `smileynet.embed`, and serving."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from smileynet.errors import UserError
from smileynet.images import BadImage, list_images
from smileynet.inference.extraction import Extraction, as_inputs, concat, extract, iter_extract
from smileynet.metrics import top_k_indices
from smileynet.vocab import emoji_name

if TYPE_CHECKING:
    from rich.table import Table


class Embedding(NamedTuple):
    """Per image: the emoji embedding (pre-sigmoid logits) and the emoji probabilities (sigmoid)."""

    logits: np.ndarray
    probs: np.ndarray


def expit(logits: np.ndarray) -> np.ndarray:
    """The logistic sigmoid, without overflow for any logit (scipy's expit, which the light install lacks)."""
    return np.exp(-np.logaddexp(0, -logits)).astype(logits.dtype, copy=False)


def vocab_of(runner_or_model: Any) -> list[str]:
    """The emoji of each output; `#i` where a model was built without a vocabulary."""
    config = runner_or_model.config
    return (
        list(config.vocab) if len(config.vocab) == config.num_classes else [f"#{i}" for i in range(config.num_classes)]
    )


def top_emojis(probs: np.ndarray, vocab: list[str], top_k: int = 5) -> list[list[dict]]:
    """Each row's `top_k` emojis by probability, highest first: {emoji, name, probability}."""
    order = top_k_indices(probs, max(1, min(top_k, probs.shape[1])))
    return [
        [
            {
                "emoji": vocab[j],
                "name": emoji_name(vocab[j]) if not vocab[j].startswith("#") else f"class {j}",
                "probability": float(row[j]),
            }
            for j in idx
        ]
        for row, idx in zip(probs, order)
    ]


def _all_or_raise(result: Extraction) -> None:
    """The methods promise one row per input: a bad image is an error naming it."""
    if result.failures:
        key, reason = result.failures[0]
        where = f"image {key}" if key.isdigit() else key
        more = f" (and {len(result.failures) - 1} more)" if len(result.failures) > 1 else ""
        raise BadImage(f"{where}: {reason}{more}")


def _logits(result: Extraction) -> np.ndarray:
    if result.logits is None:  # extract's default features always include the logits
        raise ValueError("an extraction without logits")
    return result.logits


def embed(model: Any, images: Any, *, batch_size: int = 32, backend: str = "torch") -> Embedding:
    """Logits and probabilities, one row per image; raises BadImage when an image cannot be used."""
    inputs = as_inputs(images)
    result = extract(model, inputs, batch_size=batch_size, backend=backend)
    _all_or_raise(result)
    logits = _logits(result)
    return Embedding(logits, expit(logits))


def predict(
    model: Any, images: Any, top_k: int = 5, *, batch_size: int = 32, backend: str = "torch"
) -> list[list[dict]]:
    """Per image, its `top_k` emojis {emoji, name, probability}; raises BadImage when an image cannot be used."""
    from smileynet.inference.runtime import make_runner

    runner = make_runner(model, backend, batch_size=batch_size)
    logits, probs = embed(runner, images, batch_size=batch_size)
    return top_emojis(probs, vocab_of(runner), top_k)


def image_paths(inputs: list[Path]) -> list[Path]:
    """Files as given, folders searched recursively for images (sorted); a missing path is an error."""
    paths: list[Path] = []
    for path in inputs:
        if path.is_dir():
            paths += list_images(path)
        elif path.exists():
            paths.append(path)
        else:
            raise UserError(f"not found: {path}")
    if not paths:
        raise UserError("no images found in " + ", ".join(str(p) for p in inputs))
    return paths


def predict_files(
    model: Any,
    inputs: list[Path],
    top_k: int = 5,
    *,
    batch_size: int = 32,
    backend: str = "torch",
    workers: int = 0,
    device: str = "cpu",
    quiet: bool = True,
) -> tuple[list[tuple[str, list[dict]]], list[tuple[str, str]]]:
    """(path, top emojis) for every image that decodes, and (path, reason) for those that do not;
    progress on stderr unless `quiet`."""
    from smileynet.inference.runtime import make_runner
    from smileynet.progress import progress

    paths = image_paths(inputs)
    runner = make_runner(model, backend, batch_size=batch_size, device=device)
    items = (
        (str(path), path) for path in progress(paths, total=len(paths), desc="predict", unit="images", quiet=quiet)
    )
    result = concat(list(iter_extract(runner, items, batch_size=batch_size, workers=workers)))
    tops = top_emojis(expit(_logits(result)), vocab_of(runner), top_k) if result.ids else []
    return list(zip(result.ids, tops)), result.failures


def render_table(rows: list[tuple[str, list[dict]]]) -> Table:
    """A rich table: one section per image, one line per emoji (glyph, name, probability)."""
    from rich.table import Table

    from smileynet.vocab import display_emoji

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("image", overflow="fold", ratio=1)  # long paths wrap, never lose their end
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("emoji", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("probability", justify="right", no_wrap=True)
    for n, (path, top) in enumerate(rows):
        if n:
            table.add_section()
        for rank, entry in enumerate(top, 1):
            glyph = entry["emoji"] if entry["emoji"].startswith("#") else display_emoji(entry["emoji"])
            table.add_row(path if rank == 1 else "", str(rank), glyph, entry["name"], f"{entry['probability']:.3f}")
    return table
