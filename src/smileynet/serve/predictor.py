"""What the server knows about its model: decoding an upload, the forward pass, and the answer.

The answer for one image: its top emojis (sigmoid probabilities: the model is multi-label), the
full emoji embedding on request, the paper's zero-shot sentiment (sec. 4.2, Table 4: each emoji's
probability weighted by its lexicon sentiment, binary or continuous), and, when the transfer
stage's `emoji_fingerprints.csv` is given, the image's emotional profile: its emoji
probabilities weighted by each emoji's fingerprint (Fig. 7).
"""

from __future__ import annotations

import csv
import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy.special import expit

from smileynet.errors import UserError
from smileynet.images import MAX_PIXELS, decode_rgb_array
from smileynet.lexicon import vocabulary_sentiment, zero_shot_weights
from smileynet.model.config import DEMO_NOTE
from smileynet.vocab import Vocabulary, normalize_emoji


@dataclass(frozen=True)
class Fingerprints:
    """Emojis x emotion classes: each emoji's mean response per class, aligned to the model's vocabulary."""

    classes: tuple[str, ...]
    values: np.ndarray  # num_emojis x num_classes; rows of emojis the file lacks are 0
    known: np.ndarray  # bool per emoji: the file has a row for it


def read_fingerprints(path: Path, vocab: Vocabulary) -> Fingerprints:
    """Read transfer's `emoji_fingerprints.csv` (emoji, name, one column per emotion class)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as err:
        raise UserError(f"--fingerprints: cannot read {path} ({err.strerror or err})") from None
    if len(rows) < 2 or len(rows[0]) < 3 or rows[0][:2] != ["emoji", "name"]:
        raise UserError(f"{path}: expected emoji_fingerprints.csv columns emoji, name, then one per emotion")
    classes = tuple(rows[0][2:])
    values = np.zeros((len(vocab), len(classes)), np.float64)
    known = np.zeros(len(vocab), bool)
    for number, row in enumerate(rows[1:], 2):
        key = normalize_emoji(row[0])
        if key not in vocab:
            continue
        try:
            values[vocab.index(key)] = [float(v) for v in row[2:]]
        except ValueError:
            raise UserError(f"{path}: line {number}: values must be numbers") from None
        known[vocab.index(key)] = True
    if not known.any():
        raise UserError(f"{path}: none of its emojis are in the model's vocabulary")
    return Fingerprints(classes, values, known)


class Predictor:
    """A loaded model and everything derived from its vocabulary, ready to answer requests."""

    def __init__(
        self, model: Any, fingerprints: Path | None = None, max_pixels: int = MAX_PIXELS, backend: str = "torch"
    ) -> None:
        """`model`: a SmileyNet, a runner, a model dir or an exported .onnx file (as `predict` takes)."""
        from smileynet.data.transforms import eval_transform
        from smileynet.inference.runtime import make_runner

        self.runner = make_runner(model, backend)
        self.config = self.runner.config
        self.vocab = self.config.vocabulary()
        self.max_pixels = max_pixels
        self.transform = eval_transform(self.config.image_size)
        lexicon = vocabulary_sentiment(self.vocab)
        self.lexicon = np.asarray(lexicon.scores, np.float64)
        self.lexicon_fallback = list(lexicon.fallback)
        self.weights = {
            "binary": zero_shot_weights(self.lexicon, True),
            "continuous": zero_shot_weights(self.lexicon, False),
        }
        self.fingerprints = read_fingerprints(Path(fingerprints), self.vocab) if fingerprints else None
        self._glyphs: dict[int, bytes | None] = {}
        self._glyph_lock = threading.Lock()

    @classmethod
    def from_dir(
        cls,
        model_dir: Path,
        fingerprints: Path | None = None,
        max_pixels: int = MAX_PIXELS,
        backend: str = "torch",
        device: str = "cpu",
    ) -> Predictor:
        """`model_dir`: a model dir, a run folder or an exported .onnx file."""
        from smileynet.inference.runtime import make_runner

        return cls(make_runner(model_dir, backend, device=device), fingerprints, max_pixels, backend)

    def declared_pixels(self, data: bytes) -> int:
        """The pixels `data`'s header promises (what decoding it will allocate), read without
        decoding; `max_pixels` when the header cannot be read, the most a decode may take."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(data)) as image:
                    width, height = image.size
        except Exception:  # not an image, or one whose header only the decoder words a reason for
            return self.max_pixels
        return min(width * height, self.max_pixels)

    def preprocess(self, data: bytes) -> tuple[torch.Tensor, tuple[int, int]]:
        """Upload bytes -> (uint8 C x S x S eval crop, original (width, height)); BadImage says why not."""
        pixels = decode_rgb_array(data, max_pixels=self.max_pixels)
        return self.transform(pixels), (pixels.shape[1], pixels.shape[0])

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        """uint8 N x C x S x S -> float32 N x num_classes logits (the emoji embedding)."""
        return self.runner(batch)[0]

    def answer(self, logits: np.ndarray, top_k: int = 5, embedding: bool = False) -> dict:
        """The JSON answer for one image's logits."""
        probs = expit(logits.astype(np.float64))
        order = np.argsort(-probs, kind="stable")[: max(1, min(top_k, len(probs)))]
        result: dict = {
            "top": [self.emoji(int(i)) | {"probability": round(float(probs[i]), 6)} for i in order],
            "sentiment": {},
            "fingerprint": None,
        }
        for variant, weights in self.weights.items():
            score = float(probs @ weights)
            result["sentiment"][variant] = {"score": round(score, 6), "label": "positive" if score > 0 else "negative"}
        if self.fingerprints is not None:
            fp = self.fingerprints
            mass = probs[fp.known]
            profile = mass @ fp.values[fp.known] / max(mass.sum(), 1e-12)
            result["fingerprint"] = {"classes": list(fp.classes), "values": [round(float(v), 6) for v in profile]}
        if embedding:
            result["embedding"] = [round(float(v), 6) for v in logits]
            result["probabilities"] = [round(float(v), 6) for v in probs]
        return result

    def glyph_png(self, index: int, size: int = 64) -> bytes | None:
        """The colour glyph of emoji `index` as PNG bytes, or None (no such index, or no emoji font)."""
        if not 0 <= index < len(self.vocab):
            return None
        with self._glyph_lock:  # one FreeType face, drawn from request threads
            if index not in self._glyphs:
                from smileynet.glyphs import emoji_image

                image = emoji_image(self.vocab.emojis[index], size)
                buffer = io.BytesIO()
                if image is not None:
                    image.save(buffer, format="PNG")
                self._glyphs[index] = buffer.getvalue() if image is not None else None
            return self._glyphs[index]

    def emoji(self, i: int) -> dict:
        return {"index": i, "emoji": self.vocab.display(i), "name": self.vocab.names[i]}

    def info(self) -> dict:
        """What `GET /v1/model` answers: enough for a client to label the embedding's dimensions."""
        from smileynet import __version__
        from smileynet.glyphs import emoji_font_path

        return {
            "arch": self.config.arch,
            "num_classes": self.config.num_classes,
            "image_size": self.config.image_size,
            "format_version": self.config.version,
            "version": __version__,
            "vocabulary": [
                self.emoji(i)
                | {
                    "subgroup": self.vocab.subgroups[i] if self.vocab.subgroups else "",
                    "sentiment": round(float(self.lexicon[i]), 6),
                }
                for i in range(len(self.vocab))
            ],
            "lexicon_fallback": self.lexicon_fallback,
            "fingerprint_classes": list(self.fingerprints.classes) if self.fingerprints else None,
            "glyphs": emoji_font_path() is not None,
            "demo": self.config.demo,
            "note": DEMO_NOTE if self.config.demo else None,
        }
