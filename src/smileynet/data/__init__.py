"""Streaming readers of training data: WebDataset shards, a release CSV of local paths, image folders.

dataset_vocabulary(data) -> Vocabulary
build_loader(data, split, num_classes=, image_size=, batch_size=, train=, seed=, epoch=,
             workers=, rank=, world_size=, start_batch=) -> Loader of (uint8 images, multi-hot targets)
iter_samples(data, split=None) -> Sample(id, image bytes, meta) in file order
split_sizes(data, split) -> number of samples (None when shards lack img2dataset stats)
"""

from typing import TYPE_CHECKING

from smileynet.data.layout import SPLITS, available_splits, dataset_vocabulary, layout, split_sizes
from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.data.loader import Loader as Loader
    from smileynet.data.loader import build_loader as build_loader
    from smileynet.data.samples import Sample as Sample
    from smileynet.data.samples import iter_samples as iter_samples
    from smileynet.data.transforms import eval_transform as eval_transform
    from smileynet.data.transforms import train_transform as train_transform

# The readers import torch and webdataset: only on first use, so the layout helpers stay light.
_EXPORTS = {
    "Loader": "loader",
    "build_loader": "loader",
    "Sample": "samples",
    "iter_samples": "samples",
    "train_transform": "transforms",
    "eval_transform": "transforms",
}
__all__ = [
    "SPLITS",
    "Loader",
    "Sample",
    "available_splits",
    "build_loader",
    "dataset_vocabulary",
    "eval_transform",
    "iter_samples",
    "layout",
    "split_sizes",
    "train_transform",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
