"""The report's own plots (matplotlib, Agg) as PNG data URIs, emojis drawn as glyph images."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np

from smileynet.glyphs import FIGURE_DPI, GLYPH_PX, emoji_axis_width, emoji_rows, glyph_zoom, set_emoji_ticks
from smileynet.report.page import png_uri

SPLIT_COLORS = {"train": "#3b6fb6", "valid": "#e0b000", "test": "#2e9b4f"}


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)


def _uri(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(fig)
    return png_uri(buffer.getvalue())


def windows(before: Mapping[int, int] | None, after: Mapping[str, Mapping[int, int]] | None, window_days: int) -> str:
    """Posts per temporal window before sampling and images per window after it."""
    fig, axes = _figure(8, 3.2)
    ax = axes[0][0]
    keys = sorted(set(before or {}) | {w for counts in (after or {}).values() for w in counts})
    x = np.arange(len(keys))
    width = 0.4 if before and after else 0.8
    if before:
        ax.bar(
            x - (width / 2 if after else 0),
            [before.get(k, 0) for k in keys],
            width,
            color="#7a8599",
            label="collected posts",
        )
    if after:
        bottom = np.zeros(len(keys))
        for split, counts in after.items():
            values = np.array([counts.get(k, 0) for k in keys], dtype=float)
            ax.bar(
                x + (width / 2 if before else 0),
                values,
                width,
                bottom=bottom,
                label=f"sampled: {split}",
                color=SPLIT_COLORS.get(split),
            )
            bottom += values
    ax.set_xticks(x, [str(k) for k in keys])
    ax.set_xlabel(f"window ({window_days} days each, from the first post)")
    ax.set_ylabel("count")
    ax.legend(frameon=False, fontsize=8)
    return _uri(fig)


def training_curves(metrics) -> str | None:
    """Loss (with learning rate), validation metrics and throughput against the step.

    `metrics` is a polars DataFrame of a run's metrics.csv; panels without columns are left out."""

    def has(column: str) -> bool:
        return column in metrics.columns and metrics[column].null_count() < len(metrics)

    panels = []
    if has("loss"):
        panels.append("loss")
    val = [c for c in ("val_auc", "val_mtop1", "val_mtop3", "val_mtop5", "val_map") if has(c)]
    if val:
        panels.append("val")
    if has("images_per_s"):
        panels.append("speed")
    if "step" not in metrics.columns or not panels:
        return None
    fig, axes = _figure(4.2 * len(panels), 3.2, ncols=len(panels))
    for ax, panel in zip(axes[0], panels):
        if panel == "loss":
            rows = metrics.filter(metrics["loss"].is_not_null())
            ax.plot(rows["step"], rows["loss"], color="#3b6fb6", linewidth=1, label="train")
            ax.set_yscale("log")  # the first steps' loss would flatten the rest on a linear axis
            if has("val_loss"):
                held_out = metrics.filter(metrics["val_loss"].is_not_null())
                ax.plot(
                    held_out["step"],
                    held_out["val_loss"],
                    color="#e0b000",
                    marker="o",
                    markersize=3,
                    label="validation",
                )
                ax.legend(frameon=False, fontsize=8)
            ax.set_title("loss (BCE, log scale)")
            if has("lr") and rows["lr"].drop_nulls().n_unique() > 1:  # a schedule, not a constant
                twin = ax.twinx()
                twin.plot(rows["step"], rows["lr"], color="#aaaaaa", linewidth=0.8, linestyle="--")
                twin.set_ylabel("learning rate", color="#888888", fontsize=8)
                twin.tick_params(labelsize=7)
        elif panel == "val":
            for column in val:
                rows = metrics.filter(metrics[column].is_not_null())
                ax.plot(rows["step"], rows[column] * 100, marker="o", markersize=3, label=column.removeprefix("val_"))
            ax.set_title("validation (%)")
            ax.set_ylim(0, 100)
            ax.legend(frameon=False, fontsize=8)
        else:
            rows = metrics.filter(metrics["images_per_s"].is_not_null())
            ax.plot(rows["step"], rows["images_per_s"], color="#2e9b4f", linewidth=1)
            ax.set_title("throughput (images/s)")
        ax.set_xlabel("step")
    fig.tight_layout()
    return _uri(fig)


def per_emoji_auc(emojis: list[str], aucs: list[float]) -> str:
    """Per-emoji ROC AUC in %, best first, with the random level at 50; a long emoji axis is split
    over rows."""
    order = [int(i) for i in np.argsort(-np.asarray(aucs), kind="stable")]
    rows = emoji_rows(len(order))
    per_row = max(len(r) for r in rows)
    fig, axes = _figure(emoji_axis_width(per_row), 2.8 * len(rows), nrows=len(rows))
    for n, ((ax,), row) in enumerate(zip(axes, rows)):
        shown = [order[i] for i in row]
        ax.bar(np.arange(len(shown)), [100 * aucs[i] for i in shown], color="#3b6fb6")
        ax.axhline(50, color="#e0b000", linestyle="--", linewidth=1, label="random")
        ax.set_ylim(0, 100)
        ax.set_ylabel("ROC AUC (%)")
        ax.set_xlim(-0.6, per_row - 0.4)
        if n == 0:
            ax.legend(frameon=False, fontsize=8)
        set_emoji_ticks(ax, [emojis[i] for i in shown], zoom=glyph_zoom(GLYPH_PX))
    fig.tight_layout()
    return _uri(fig)


def fingerprint_heatmap(emojis: list[str], classes: list[str], values: np.ndarray) -> str:
    """Every emoji's emotional fingerprint (Fig. 7) as one heatmap row per class; a long emoji
    axis is split over rows, on one colour scale."""
    rows = emoji_rows(len(emojis))
    per_row = max(len(r) for r in rows)
    fig, axes = _figure(emoji_axis_width(per_row), (1.2 + 0.35 * len(classes)) * len(rows), nrows=len(rows))
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    shown = None
    for (ax,), row in zip(axes, rows):
        block = np.full((len(classes), per_row), np.nan)
        block[:, : len(row)] = values[list(row)].T
        shown = ax.imshow(block, cmap="viridis", aspect="auto", vmin=low, vmax=high)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        set_emoji_ticks(ax, [emojis[i] for i in row], axis="x", zoom=glyph_zoom(GLYPH_PX))
    fig.colorbar(shown, ax=[ax for (ax,) in axes], fraction=0.03, pad=0.01, label="mean response")
    return _uri(fig)
