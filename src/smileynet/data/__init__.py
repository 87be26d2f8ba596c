"""Streaming readers of training data: WebDataset shards, a release CSV of local paths, image folders.

    dataset_vocabulary(data) -> Vocabulary
    build_loader(data, split, num_classes=, image_size=, batch_size=, train=, seed=, epoch=,
                 workers=, rank=, world_size=, start_batch=) -> Loader of (uint8 images, multi-hot targets)
    iter_samples(data, split=None) -> Sample(id, image bytes, meta) in file order
    split_sizes(data, split) -> number of samples (None when shards lack img2dataset stats)
"""

from smileynet.data.layout import SPLITS, available_splits, dataset_vocabulary, layout, split_sizes

_LAZY = {"Loader": "loader", "build_loader": "loader", "Sample": "samples", "iter_samples": "samples"}


def __getattr__(name: str):
    """The readers import torch and webdataset: only on first use, so the layout helpers stay light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"smileynet.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'smileynet.data' has no attribute {name!r}")


__all__ = [
    "SPLITS", "Loader", "Sample", "available_splits", "build_loader", "dataset_vocabulary", "iter_samples",
    "layout", "split_sizes",
]
