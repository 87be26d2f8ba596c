"""Fine-tuning the whole network with the transfer head g = t o f, per fold (`--finetune`).

Slow on a CPU with a ResNet50 (it trains 5 networks); the cached-embedding head of
`protocols.head_predictions` is the fast default.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from smileynet.data.transforms import eval_transform, normalize, train_transform
from smileynet.images import open_image
from smileynet.model import SmileyNet
from smileynet.progress import progress


class TransferNet(nn.Module):
    """f (the emoji embedding, or the backbone features for the baseline) followed by t."""

    def __init__(self, model: SmileyNet, num_classes: int, features: str = "logits") -> None:
        super().__init__()
        self.model = model
        self.pre_logits = features == "pre_logits"
        width = model.num_features if self.pre_logits else model.config.num_classes
        self.t = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedding = self.model.forward_head(self.model.forward_features(x), pre_logits=self.pre_logits)
        return self.t(embedding)


class ImageList(Dataset):
    def __init__(self, paths: list[Path], labels: np.ndarray, transform) -> None:
        self.paths, self.labels, self.transform = paths, labels, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return self.transform(open_image(self.paths[i])), int(self.labels[i])


def finetune_predictions(
    model: SmileyNet,
    paths: list[Path],
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    num_classes: int,
    features: str = "logits",
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-4,
    seed: int = 0,
    device: str = "cpu",
    workers: int = 0,
    quiet: bool = False,
) -> list[np.ndarray]:
    """Per fold: a copy of `model` with a new head, trained end to end on the fold's train
    images (Adam; the head at 10x the lr), then its predictions on the fold's test images."""
    config = model.config
    predictions = []
    for k, (train, test) in enumerate(folds):
        torch.manual_seed(seed + k)
        net = TransferNet(copy.deepcopy(model), num_classes, features).to(device)
        optimizer = torch.optim.Adam(
            [
                {"params": net.model.parameters(), "lr": lr},
                {"params": net.t.parameters(), "lr": lr * 10},
            ]
        )
        loader = DataLoader(
            ImageList([paths[i] for i in train], y[train], train_transform(config.image_size)),
            batch_size=batch_size,
            shuffle=True,
            num_workers=workers,
            drop_last=len(train) > batch_size,
            generator=torch.Generator().manual_seed(seed + k),
        )
        net.train()
        batches = (batch for _ in range(epochs) for batch in loader)
        for images, labels in progress(
            batches, total=epochs * len(loader), desc=f"finetune fold {k + 1}", unit="batch", quiet=quiet
        ):
            logits = net(normalize(images.to(device), config))
            loss = nn.functional.cross_entropy(logits, labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        net.eval()
        loader = DataLoader(
            ImageList([paths[i] for i in test], y[test], eval_transform(config.image_size)),
            batch_size=batch_size,
            num_workers=workers,
        )
        fold_predictions = []
        with torch.no_grad():
            for images, _ in loader:
                fold_predictions.append(net(normalize(images.to(device), config)).argmax(dim=1).cpu().numpy())
        predictions.append(np.concatenate(fold_predictions) if fold_predictions else np.zeros(0, dtype=np.int64))
    return predictions
