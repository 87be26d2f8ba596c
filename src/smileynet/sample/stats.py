"""Figures of the dataset, as in the paper: label distribution before and after sampling
(Fig. 2a/2b), the normalised label co-occurrence matrix (Fig. 9), and posts per window.
Emoji glyphs are drawn on the axes as images (`smileynet.glyphs`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from smileynet.files import write_json
from smileynet.glyphs import set_emoji_ticks
from smileynet.vocab import Vocabulary


def label_counts(labels: list[list[int]], num_classes: int) -> np.ndarray:
    counts = np.zeros(num_classes, dtype=np.int64)
    for row in labels:
        counts[row] += 1
    return counts


def cooccurrence(labels: list[list[int]], num_classes: int) -> np.ndarray:
    """P(column emoji | row emoji): co-occurrence counts divided by the row emoji's count."""
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    for row in labels:
        counts[np.ix_(row, row)] += 1
    diagonal = np.diag(counts).copy()
    return np.divide(counts, diagonal[:, None], out=np.zeros_like(counts), where=diagonal[:, None] > 0)


def write_stats(
    folder: Path,
    vocab: Vocabulary,
    after: list[list[int]],
    before: list[list[int]] | None = None,
    windows_before: dict[int, int] | None = None,
    windows_after: dict[int, int] | None = None,
) -> list[Path]:
    """Write the figures and `stats.json` into `folder`; returns the figure paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    n = len(vocab)
    written = []
    counts_after = label_counts(after, n)
    stats = {"emojis": list(vocab.emojis), "after": counts_after.tolist()}
    for name, counts, title in (
        (
            "labels_before",
            label_counts(before, n) if before is not None else None,
            "Posts per emoji before sampling (Fig. 2a)",
        ),
        ("labels_after", counts_after, "Images per emoji after sampling (Fig. 2b)"),
    ):
        if counts is None:
            continue
        if name == "labels_before":
            stats["before"] = counts.tolist()
        order = np.argsort(-counts, kind="stable")
        fig, ax = plt.subplots(figsize=(max(6, 0.16 * n), 3.2))
        ax.bar(range(n), counts[order], color="#4c72b0")
        ax.set_yscale("log" if counts.max() > 0 else "linear")
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_title(title)
        set_emoji_ticks(ax, [vocab.emojis[i] for i in order], "x", zoom=0.12)
        written.append(_save(fig, folder / f"{name}.png"))
    matrix = cooccurrence(after, n)
    fig, ax = plt.subplots(figsize=(max(5, 0.1 * n + 2), max(4.5, 0.1 * n + 1.5)))
    image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.04, label="P(column | row)")
    ax.set_title("Normalised label co-occurrence (Fig. 9)")
    keys = list(vocab.emojis)
    set_emoji_ticks(ax, keys, "x", zoom=0.08)
    set_emoji_ticks(ax, keys, "y", zoom=0.08)
    written.append(_save(fig, folder / "cooccurrence.png"))
    if windows_after:
        ws = sorted(set(windows_after) | set(windows_before or {}))
        fig, ax = plt.subplots(figsize=(6, 3))
        if windows_before:
            ax.bar(ws, [windows_before.get(w, 0) for w in ws], color="#c0c0c0", label="collected")
        ax.bar(ws, [windows_after.get(w, 0) for w in ws], color="#4c72b0", label="sampled")
        ax.set_xlabel("30-day window")
        ax.set_ylabel("posts")
        ax.legend()
        ax.set_title("Posts per window")
        written.append(_save(fig, folder / "posts_per_window.png"))
        stats["posts_per_window"] = {
            "collected": {str(k): v for k, v in (windows_before or {}).items()},
            "sampled": {str(k): v for k, v in windows_after.items()},
        }
    write_json(folder / "stats.json", stats)
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path
