"""The demo's benchmarks, drawn like the posts' pictures: a Twitter I look-alike (images with
agree lists and 5-fold listings) and an FI look-alike (one emoji group per emotion); and the
object pictures the ObjectNet stand-in of Table 2 is trained on (`object_pictures`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from smileynet.demo.pictures import CLUTTER, Picture
from smileynet.demo.plan import media_key
from smileynet.vocab import Vocabulary

FI_GROUPS = {
    "amusement": ("😂", "🤣", "😆", "😝"),
    "awe": ("😮", "😲", "🤩", "😯"),
    "contentment": ("😊", "😌", "☺", "🙂"),
    "excitement": ("😃", "😁", "😄", "🤗"),
    "anger": ("😠", "😡", "🤬", "👿"),
    "disgust": ("🤢", "🤮", "😖", "💩"),
    "fear": ("😱", "😨", "😰", "😧"),
    "sadness": ("😢", "😭", "😞", "😔"),
}


def twitter_benchmark(
    rng: np.random.Generator, vocab: Vocabulary, scores: dict[str, float], n: int
) -> tuple[list[Picture], dict]:
    """A Twitter I look-alike: 3-agree set of `n` images, nested 4- and 5-agree sets."""
    positive = [e for e in vocab.emojis if scores[e] > 0.35]
    negative = [e for e in vocab.emojis if scores[e] < -0.1]
    pics, labels, level = [], {}, {}
    for _ in range(n):
        label = int(rng.random() < 0.62)
        agree = int(rng.choice([3, 4, 5], p=[0.15, 0.15, 0.7]))
        flip = rng.random() < {3: 0.35, 4: 0.2, 5: 0.1}[agree]
        pool = positive if label != flip else negative
        emoji = str(rng.choice(pool))
        uid, tid = int(rng.integers(10**7, 10**10)), int(rng.integers(4 * 10**17, 5 * 10**17))
        name = f"{uid}_{tid}_{media_key(rng)}.jpg"
        pics.append(
            Picture(
                f"images/{name}",
                [emoji],
                scores[emoji],
                int(rng.integers(200, 400)),
                int(rng.integers(200, 400)),
                int(rng.integers(2**31)),
            )
        )
        labels[name], level[name] = label, agree
    listings = {}
    for split, need in (("five_agrees", 5), ("four_agrees", 4), ("three_agrees", 3)):
        listings[split] = [(name, labels[name]) for name in labels if level[name] >= need]
    return pics, listings


def write_twitter_listings(root: Path, listings: dict[str, list[tuple[str, int]]], rng: np.random.Generator) -> None:
    """`twitter_*_agrees.txt` and the published-style `ground_truth/` 5-fold train/test lists."""
    for split, pairs in listings.items():
        (root / f"twitter_{split}.txt").write_text("".join(f"{n} {y}\n" for n, y in pairs), encoding="utf-8")
        order = rng.permutation(len(pairs))
        folds = np.array_split(order, 5)
        for k, test in enumerate(folds, 1):
            fold = root / "ground_truth" / split / f"test{k}"
            fold.mkdir(parents=True, exist_ok=True)
            test_set = set(test.tolist())
            (fold / "test.txt").write_text("".join(f"{pairs[i][0]} {pairs[i][1]}\n" for i in test), encoding="utf-8")
            (fold / "train.txt").write_text(
                "".join(f"{pairs[i][0]} {pairs[i][1]}\n" for i in order if i not in test_set), encoding="utf-8"
            )


def fi_benchmark(
    rng: np.random.Generator, vocab: Vocabulary, scores: dict[str, float], per_emotion: int
) -> list[Picture]:
    """An FI look-alike: each emotion's pictures show one of its emoji group, 20% another emoji."""
    pics = []
    for emotion, group in FI_GROUPS.items():
        for i in range(1, per_emotion + 1):
            emoji = str(rng.choice(group)) if rng.random() > 0.2 else vocab.emojis[int(rng.integers(len(vocab)))]
            pics.append(
                Picture(
                    f"{emotion}/{emotion}_{i:04d}.jpg",
                    [emoji],
                    scores[emoji],
                    int(rng.integers(200, 400)),
                    int(rng.integers(200, 400)),
                    int(rng.integers(2**31)),
                )
            )
    return pics


def object_pictures(rng: np.random.Generator, per_class: int) -> list[Picture]:
    """The world's non-smiley content as an image-folder dataset, `{train,valid}/<object>/NNNN.jpg`:
    one of the objects (`CLUTTER`) the posts' pictures show besides their emojis, over the same
    backgrounds at a random mood, and no smiley. A backbone trained on it plays the paper's
    ObjectNet: generic visual features learnt without emojis."""
    pics = []
    for split, n in (("train", per_class), ("valid", max(per_class // 5, 2))):
        for thing in CLUTTER:
            for i in range(n):
                pics.append(
                    Picture(
                        f"{split}/{thing}/{i:04d}.jpg",
                        [thing],
                        float(rng.uniform(-1, 1)),
                        int(rng.integers(96, 160)),
                        int(rng.integers(96, 160)),
                        int(rng.integers(2**31)),
                        clutter=0.0,
                    )
                )
    return pics
