"""Colour emoji glyphs as images, for figures, reports, demo images and the web page.

Uses the Noto Color Emoji font (Debian `fonts-noto-color-emoji`, installed by the project's
setup) through Pillow: the font holds bitmaps at size 109, drawn once and scaled. Without the
font, `emoji_image` returns None (after one warning) and callers write the emoji's name instead,
so nothing shows as tofu boxes.
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from smileynet.vocab import display_emoji, emoji_name

FONT_SIZE = 109

# Emoji axes of the figures (dataset, report), sized so that every glyph is legible at 100 %:
FIGURE_DPI = 100  # every figure is written at this resolution
MAX_FIGURE_WIDTH = 11.0  # inches: 1100 px, what the report page shows without scaling down
EMOJIS_PER_ROW = 24  # a longer emoji axis is split over rows: the 92 emojis take 4
GLYPH_PX = 24  # glyph ticks of the bar charts, in pixels of the figure
MATRIX_GLYPH_PX = 17  # glyph ticks of a 92 x 92 matrix, staggered in two rows
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    "/Library/Fonts/NotoColorEmoji.ttf",
)


@lru_cache(maxsize=1)
def emoji_font_path() -> Path | None:
    """The colour emoji font: $SMILEYNET_EMOJI_FONT, else the usual install places."""
    override = os.environ.get("SMILEYNET_EMOJI_FONT")
    for candidate in ([override] if override else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    warnings.warn(
        "no colour emoji font found (install fonts-noto-color-emoji or set SMILEYNET_EMOJI_FONT); "
        "emojis are shown by name",
        stacklevel=2,
    )
    return None


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | None:
    path = emoji_font_path()
    return ImageFont.truetype(str(path), FONT_SIZE) if path else None


@lru_cache(maxsize=512)
def _glyph(key: str) -> Image.Image | None:
    font = _font()
    if font is None:
        return None
    text = display_emoji(key)
    canvas = Image.new("RGBA", (FONT_SIZE * 2, FONT_SIZE * 2), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), text, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square


def emoji_image(key: str, size: int = 64) -> Image.Image | None:
    """The emoji as a square RGBA image of `size` pixels, or None without a colour font."""
    glyph = _glyph(key)
    if glyph is None:
        return None
    return glyph.resize((size, size), Image.Resampling.LANCZOS)


def emoji_data_uri(key: str, size: int = 32) -> str | None:
    """A PNG data URI of the glyph, for self-contained HTML."""
    image = emoji_image(key, size)
    if image is None:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def emoji_label(key: str) -> str:
    """Text to use where no glyph can be drawn."""
    return emoji_name(key)


def glyph_zoom(pixels: int, size: int = 64) -> float:
    """The `zoom` of `set_emoji_ticks` that draws a `size`-px glyph as `pixels` pixels of a figure
    written at FIGURE_DPI (OffsetImage draws one image pixel per point times the zoom)."""
    return pixels * 72 / (size * FIGURE_DPI)


def emoji_rows(n: int) -> list[range]:
    """Index ranges of nearly equal rows of at most EMOJIS_PER_ROW emojis, to split an axis of `n`."""
    count = max(1, -(-n // EMOJIS_PER_ROW))
    bounds = [round(i * n / count) for i in range(count + 1)]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def emoji_axis_width(per_row: int) -> float:
    """Figure width in inches for a row of `per_row` GLYPH_PX glyph ticks, at most MAX_FIGURE_WIDTH."""
    return min(max(6.0, 0.42 * per_row + 1.5), MAX_FIGURE_WIDTH)


def set_emoji_ticks(
    ax, keys: list[str], axis: str = "x", size: int = 64, zoom: float = 0.22, stagger: bool = False
) -> None:
    """Replace a matplotlib axis' tick labels by emoji glyph images (names without the font).

    Ticks are assumed at positions 0..len(keys)-1, as bar charts and matrices have them. With
    `stagger`, every other glyph sits one glyph further out, so glyphs can be twice as large as a
    tick's spacing (a 92 x 92 matrix) without touching.
    """
    import numpy as np
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    ticks = list(range(len(keys)))
    if axis == "x":
        ax.set_xticks(ticks)
    else:
        ax.set_yticks(ticks)
    images = [emoji_image(k, size) for k in keys]
    if any(img is None for img in images):
        labels = [emoji_label(k) for k in keys]
        fontsize = 8 if len(keys) <= 30 else 6
        if axis == "x":
            ax.set_xticklabels(labels, rotation=90, fontsize=fontsize)
        else:
            ax.set_yticklabels(labels, fontsize=fontsize)
        return
    if axis == "x":
        ax.set_xticklabels([])
    else:
        ax.set_yticklabels([])
    glyph_points = size * zoom  # OffsetImage draws one image pixel per point times `zoom`
    for tick, image in zip(ticks, images):
        if image is None:
            continue
        box = OffsetImage(np.asarray(image), zoom=zoom)
        out = 8 + (glyph_points + 2 if stagger and tick % 2 else 0)
        offset: tuple[float, float]
        if axis == "x":
            xy, xycoords, offset = (tick, 0), ("data", "axes fraction"), (0, -out)
        else:
            xy, xycoords, offset = (0, tick), ("axes fraction", "data"), (-out, 0)
        ab = AnnotationBbox(box, xy, xycoords=xycoords, xybox=offset, boxcoords="offset points", frameon=False, pad=0)
        ax.add_artist(ab)


def annotate_emoji(ax, key: str, xy: tuple[float, float], size: int = 64, zoom: float = 0.3) -> None:
    """Draw one emoji glyph at data coordinates `xy` (its name without the font)."""
    import numpy as np
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    image = emoji_image(key, size)
    if image is None:
        ax.annotate(emoji_label(key), xy, fontsize=6, ha="center", va="center")
        return
    ax.add_artist(AnnotationBbox(OffsetImage(np.asarray(image), zoom=zoom), xy, frameon=False, pad=0))
