"""Train and evaluate SmileyNet: the paper's recipe (Sec. 3.2) and its emoji-prediction metrics (Sec. 4.1).

    train(TrainConfig(data=..., out=..., arch=..., steps=...), resume=False) -> Path of RUN/model
    evaluate(model_dir, data, split="test", out=None, ...) -> dict (the evaluation JSON keys, see smileynet.metrics)
    predict_scores(model, loader, device) -> (logits N x C, targets N x C)

Imported lazily: the CLI imports `smileynet.train.cli`, and `smileynet --help` must not load torch.
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.train.config import TrainConfig as TrainConfig
    from smileynet.train.config import resolve as resolve
    from smileynet.train.evaluation import evaluate as evaluate
    from smileynet.train.evaluation import predict_scores as predict_scores
    from smileynet.train.trainer import train as train

_EXPORTS = {
    "TrainConfig": "config",
    "resolve": "config",
    "evaluate": "evaluation",
    "predict_scores": "evaluation",
    "train": "trainer",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
