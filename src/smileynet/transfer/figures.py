"""The paper's transfer figures as PNG, emojis drawn as glyph images (names without the font)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from smileynet.files import atomic_write_bytes
from smileynet.glyphs import annotate_emoji, set_emoji_ticks

NEGATIVE_COLOR, POSITIVE_COLOR = "#3b6fb6", "#e0b000"  # the paper's blue and yellow (Fig. 4)
FINGERPRINT_COLORS = {1: "#2e9b4f", -1: "#3b6fb6", 0: "#808080"}  # green / blue (Fig. 7)


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def pca_plot(points: np.ndarray, sentiment: np.ndarray, title: str, path: Path) -> None:
    """Fig. 4: images on the first two principal components, blue negative, yellow positive."""
    fig, ax = _figure(5, 4.5)
    for value, color, label in ((0, NEGATIVE_COLOR, "negative"), (1, POSITIVE_COLOR, "positive")):
        mask = sentiment == value
        ax.scatter(points[mask, 0], points[mask, 1], s=8, c=color, label=label, alpha=0.7, linewidths=0)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    ax.legend(loc="best", frameon=False)
    _save(fig, path)


def confusion_plot(matrix: np.ndarray, classes: list[str], title: str, path: Path) -> None:
    """Fig. 6: row-normalised confusion matrix (true class per row)."""
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = _figure(1.0 + 0.7 * len(classes), 0.8 + 0.6 * len(classes))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{100 * rates[i, j]:.1f}",  # % of the true class, the report's one unit
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    _save(fig, path)


def correlation_plot(emojis: list[str], rhos: list[float], title: str, path: Path) -> None:
    """Sec. 4.2: the emojis most correlated with each polarity, as bars with glyph ticks."""
    fig, ax = _figure(0.45 * len(emojis) + 1.5, 3)
    ax.bar(range(len(emojis)), rhos, color=[POSITIVE_COLOR if r > 0 else NEGATIVE_COLOR for r in rhos])
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel("Spearman's rho with sentiment")
    ax.set_title(title)
    ax.set_xlim(-0.6, len(emojis) - 0.4)
    set_emoji_ticks(ax, emojis, axis="x")
    _save(fig, path)


def fingerprint_plot(
    emojis: list[str], fingerprints: np.ndarray, polarity: list[int], classes: list[str], path: Path
) -> None:
    """Fig. 7: a radar chart of the response over the emotion classes for each chosen emoji,
    green for positive emojis and blue for negative ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(emojis))
    rows = (len(emojis) + columns - 1) // columns
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 3.4 * rows), subplot_kw={"projection": "polar"}, squeeze=False
    )
    fig.subplots_adjust(wspace=0.8, hspace=0.5)
    angles = np.linspace(0, 2 * np.pi, len(classes), endpoint=False)
    top = float(fingerprints.max()) or 1.0
    for ax, emoji, values, sign in zip(axes.flat, emojis, fingerprints, polarity):
        closed = np.append(values, values[0])
        around = np.append(angles, angles[0])
        color = FINGERPRINT_COLORS[sign]
        ax.plot(around, closed, color=color)
        ax.fill(around, closed, color=color, alpha=0.35)
        ax.set_xticks(angles, classes, fontsize=7)
        ax.set_yticklabels([])
        ax.set_ylim(0, top)
        annotate_emoji(ax, emoji, (0, 0), zoom=0.25)
    for ax in list(axes.flat)[len(emojis) :]:
        ax.set_visible(False)
    _save(fig, path)


def tsne_plot(points: np.ndarray, emojis: list[str], polarity: list[int], path: Path) -> None:
    """Fig. 8: emojis placed by the t-SNE map of their fingerprints, each drawn as its glyph."""
    fig, ax = _figure(7, 6)
    ax.scatter(points[:, 0], points[:, 1], s=4, c=[FINGERPRINT_COLORS[s] for s in polarity])
    for (x, y), emoji in zip(points, emojis):
        annotate_emoji(ax, emoji, (float(x), float(y)), zoom=0.18)
    margin = 0.08 * (np.ptp(points, axis=0) + 1e-9)
    ax.set_xlim(points[:, 0].min() - margin[0], points[:, 0].max() + margin[0])
    ax.set_ylim(points[:, 1].min() - margin[1], points[:, 1].max() + margin[1])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Emojis by emotional fingerprint (t-SNE)")
    _save(fig, path)
