"""Figures of the dataset, as in the paper, defined once: the label distribution before and after
sampling (Fig. 2), the label correlations (Fig. 9), and posts per window. `sample` writes them into
`DIR/stats/` (names in `smileynet.contracts`); the report embeds those files, and draws with the
same functions only for a dataset that has none (a release folder read in place).
Emoji glyphs are drawn on the axes as images (`smileynet.glyphs`)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smileynet.contracts import LABEL_CORRELATION_FIGURE, LABEL_DISTRIBUTION_FIGURE, WINDOWS_FIGURE
from smileynet.files import write_json
from smileynet.glyphs import (
    EMOJIS_PER_ROW,
    FIGURE_DPI,
    GLYPH_PX,
    MATRIX_GLYPH_PX,
    MAX_FIGURE_WIDTH,
    emoji_axis_width,
    emoji_rows,
    glyph_zoom,
    set_emoji_ticks,
)
from smileynet.vocab import Vocabulary

SPLIT_COLORS = {"train": "#3b6fb6", "valid": "#e0b000", "test": "#2e9b4f"}
CORRELATION_ROWS = 65536  # label rows turned into indicators at once: bounds the memory of Fig. 9


def label_counts(labels: Iterable[Sequence[int]], num_classes: int) -> np.ndarray:
    counts = np.zeros(num_classes, dtype=np.int64)
    for row in labels:
        counts[list(row)] += 1
    return counts


def label_correlation(labels: Iterable[Sequence[int]], num_classes: int) -> np.ndarray:
    """Pearson correlation of the emoji label indicators over the images (Fig. 9), accumulated
    CORRELATION_ROWS rows at a time; a constant emoji (never or always present) correlates 0."""
    gram = np.zeros((num_classes, num_classes))
    n = 0
    chunk: list[Sequence[int]] = []

    def add(rows: list[Sequence[int]]) -> None:
        hot = np.zeros((len(rows), num_classes))
        for i, row in enumerate(rows):
            hot[i, list(row)] = 1.0
        gram[...] += hot.T @ hot

    for row in labels:
        chunk.append(row)
        n += 1
        if len(chunk) == CORRELATION_ROWS:
            add(chunk)
            chunk = []
    if chunk:
        add(chunk)
    if n == 0:
        return np.zeros_like(gram)
    mean = np.diag(gram) / n
    cov = gram / n - np.outer(mean, mean)
    std = np.sqrt(np.clip(mean * (1 - mean), 0, None))
    scale = np.outer(std, std)
    corr = np.divide(cov, scale, out=np.zeros_like(cov), where=scale > 0)
    np.fill_diagonal(corr, np.where(std > 0, 1.0, 0.0))
    return corr


def _figure(width: float, height: float, nrows: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, 1, figsize=(width, height), squeeze=False)


def png_bytes(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def label_distribution_figure(
    emojis: list[str], before: Sequence[int] | None, after: Mapping[str, Sequence[int]] | None
) -> bytes:
    """Fig. 2 as PNG: posts per emoji in the collected data (a) and images per emoji after
    temporal sampling, stacked by split (b); `emojis` in the order to draw them. A long emoji axis
    is split over rows of at most EMOJIS_PER_ROW, on one scale per panel, so glyphs stay legible."""
    panels = [p for p in (before, after) if p]
    rows = emoji_rows(len(emojis))
    per_row = max(len(r) for r in rows)
    count = max(len(panels), 1) * len(rows)
    fig, axes = _figure(emoji_axis_width(per_row), 2.6 * count, count)
    axes_iter = iter(ax for (ax,) in axes)
    part = f" ({{}}/{len(rows)})" if len(rows) > 1 else ""
    if before:
        top = max(before) * 1.05 or 1
        for n, row in enumerate(rows, 1):
            ax = next(axes_iter)
            ax.bar(np.arange(len(row)), [before[i] for i in row], color="#7a8599")
            ax.set_ylabel("posts")
            ax.set_ylim(0, top)
            ax.set_title("(a) collected posts per emoji" + part.format(n))
            ax.set_xlim(-0.6, per_row - 0.4)
            set_emoji_ticks(ax, [emojis[i] for i in row], zoom=glyph_zoom(GLYPH_PX))
    if after:
        totals = np.sum([np.asarray(c, dtype=float) for c in after.values()], axis=0)
        top = float(totals.max(initial=0.0)) * 1.05 or 1
        for n, row in enumerate(rows, 1):
            ax = next(axes_iter)
            bottom = np.zeros(len(row))
            for split, counts in after.items():
                values = np.array([counts[i] for i in row], dtype=float)
                ax.bar(np.arange(len(row)), values, bottom=bottom, label=split, color=SPLIT_COLORS.get(split))
                bottom += values
            ax.set_ylabel("images")
            ax.set_ylim(0, top)
            ax.set_title("(b) after temporal sampling, by split" + part.format(n))
            if n == 1:
                ax.legend(frameon=False, fontsize=8, loc="upper right")
            ax.set_xlim(-0.6, per_row - 0.4)
            set_emoji_ticks(ax, [emojis[i] for i in row], zoom=glyph_zoom(GLYPH_PX))
    fig.tight_layout()
    return png_bytes(fig)


def label_correlation_figure(emojis: list[str], corr: np.ndarray) -> bytes:
    """Fig. 9 as PNG: the correlation of the emoji labels over the sampled images. The diagonal
    (always 1) is left blank so the colour scale spans the pairs. More than EMOJIS_PER_ROW glyph
    ticks are drawn smaller and staggered over two rows."""
    shown_values = corr.astype(float).copy()
    np.fill_diagonal(shown_values, np.nan)
    limit = max(float(np.nanmax(np.abs(shown_values))) if len(emojis) > 1 else 0.0, 0.05)
    side = min(max(5.0, 0.13 * len(emojis) + 2.5), MAX_FIGURE_WIDTH - 1.0)
    fig, axes = _figure(side + 1.0, side)
    ax = axes[0][0]
    shown = ax.imshow(shown_values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(shown, ax=ax, fraction=0.04, pad=0.02, label="label correlation")
    crowded = len(emojis) > EMOJIS_PER_ROW
    zoom = glyph_zoom(MATRIX_GLYPH_PX if crowded else GLYPH_PX)
    set_emoji_ticks(ax, emojis, axis="x", zoom=zoom, stagger=crowded)
    set_emoji_ticks(ax, emojis, axis="y", zoom=zoom, stagger=crowded)
    return png_bytes(fig)


def windows_figure(before: Mapping[int, int] | None, after: Mapping[int, int], window_days: int) -> bytes:
    """Posts per window before sampling (collected) and after it (sampled)."""
    ws = sorted(set(after) | set(before or {}))
    fig, axes = _figure(6, 3)
    ax = axes[0][0]
    if before:
        ax.bar(ws, [before.get(w, 0) for w in ws], color="#c0c0c0", label="collected")
    ax.bar(ws, [after.get(w, 0) for w in ws], color="#4c72b0", label="sampled")
    ax.set_xlabel(f"{window_days}-day window")
    ax.set_ylabel("posts")
    ax.legend()
    ax.set_title("Posts per window")
    return png_bytes(fig)


def write_stats(
    folder: Path,
    vocab: Vocabulary,
    after: Mapping[str, list[list[int]]],
    before: list[list[int]] | None = None,
    windows_before: dict[int, int] | None = None,
    windows_after: dict[int, int] | None = None,
    window_days: int = 30,
) -> list[Path]:
    """Write Figs. 2 and 9, posts per window and `stats.json` into `folder`; returns the figure
    paths. `after` holds each split's image labels, `before` the labels of every collected post."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(vocab)
    per_split = {split: label_counts(rows, n) for split, rows in after.items() if rows}
    counts_after = sum(per_split.values(), np.zeros(n, dtype=np.int64))
    counts_before = label_counts(before, n) if before is not None else None
    order = [int(i) for i in np.argsort(-(counts_before if counts_before is not None else counts_after), kind="stable")]
    present = [i for i in order if counts_after[i] or (counts_before is not None and counts_before[i])]
    emojis = [vocab.emojis[i] for i in present]
    stats: dict[str, Any] = {"emojis": list(vocab.emojis), "after": counts_after.tolist()}
    written = [
        _write(
            folder / LABEL_DISTRIBUTION_FIGURE,
            label_distribution_figure(
                emojis,
                [int(counts_before[i]) for i in present] if counts_before is not None else None,
                {split: [int(c[i]) for i in present] for split, c in per_split.items()},
            ),
        )
    ]
    if counts_before is not None:
        stats["before"] = counts_before.tolist()
    sampled = [i for i in order if counts_after[i]]
    if len(sampled) >= 2:
        corr = label_correlation((row for rows in after.values() for row in rows), n)[np.ix_(sampled, sampled)]
        written.append(
            _write(
                folder / LABEL_CORRELATION_FIGURE, label_correlation_figure([vocab.emojis[i] for i in sampled], corr)
            )
        )
    if windows_after:
        written.append(_write(folder / WINDOWS_FIGURE, windows_figure(windows_before, windows_after, window_days)))
        stats["posts_per_window"] = {
            "collected": {str(k): v for k, v in (windows_before or {}).items()},
            "sampled": {str(k): v for k, v in windows_after.items()},
        }
    write_json(folder / "stats.json", stats)
    return written


def _write(path: Path, png: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(png)
    tmp.replace(path)
    return path
