"""Synthetic photos whose content carries signal about emojis, for the demo world.

A picture is a varied background (gradient, noise, shapes or stripes) with one or more real
colour emoji glyphs (`smileynet.glyphs.emoji_image`) composited at a random scale, position and
rotation, sometimes with a non-smiley emoji as clutter. The background's brightness and warmth
follow a "mood" in [-1, 1] (the emoji's Emoji Sentiment Ranking score), as happy photos tend to
be brighter: a second, weaker cue, the one the sentiment transfer can also pick up.

Without the colour emoji font, a glyph is replaced by a disc whose colour and marks are fixed by
the emoji, so the pictures still carry the signal (with the warning `glyphs` already gives).
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from smileynet.glyphs import emoji_image

CLUTTER = ("🌸", "🍕", "⚽", "🚗", "🌳", "🐶", "🎈", "☕", "📷", "🏠")


def _mood_colour(rng: np.random.Generator, mood: float) -> tuple[int, int, int]:
    """A colour whose hue, lightness and saturation lean warm and bright for a positive mood."""
    warm = rng.uniform(0.02, 0.16)  # red..yellow
    cool = rng.uniform(0.55, 0.75)  # cyan..blue
    hue = warm if rng.random() < 0.5 + 0.4 * mood else cool
    light = float(np.clip(0.5 + 0.25 * mood + rng.normal(0, 0.12), 0.08, 0.92))
    sat = float(np.clip(0.45 + 0.2 * mood + rng.normal(0, 0.15), 0.05, 1.0))
    r, g, b = colorsys.hls_to_rgb(hue, light, sat)
    return int(r * 255), int(g * 255), int(b * 255)


def background(rng: np.random.Generator, width: int, height: int, mood: float = 0.0) -> Image.Image:
    """One of four kinds of varied backgrounds, tinted by `mood`."""
    a, b = np.array(_mood_colour(rng, mood), float), np.array(_mood_colour(rng, mood), float)
    kind = rng.integers(4)
    if kind == 0:  # linear gradient at a random angle
        angle = rng.uniform(0, np.pi)
        y, x = np.mgrid[0:height, 0:width]
        t = (x * np.cos(angle) + y * np.sin(angle)) / (width + height)
        t = (t - t.min()) / max(np.ptp(t), 1e-6)
        pixels = a + (b - a) * t[..., None]
    elif kind == 1:  # smooth coloured noise
        small = rng.normal(0, 40, (max(height // 16, 2), max(width // 16, 2), 3))
        noise = np.asarray(
            Image.fromarray(np.clip(small + 128, 0, 255).astype(np.uint8)).resize(
                (width, height), Image.Resampling.BICUBIC
            ),
            float,
        )
        pixels = a + (noise - 128)
    else:
        pixels = np.broadcast_to(a, (height, width, 3)).copy()
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    if kind == 2:  # random shapes
        for _ in range(rng.integers(3, 9)):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            r = int(rng.integers(max(width // 12, 2), max(width // 3, 3)))
            colour = _mood_colour(rng, mood)
            box = (x0 - r, y0 - r, x0 + r, y0 + r)
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    elif kind == 3:  # stripes
        step = int(rng.integers(max(width // 10, 2), max(width // 4, 3)))
        for x in range(0, width + height, step * 2):
            draw.polygon(
                [(x, 0), (x + step, 0), (x + step - height, height), (x - height, height)],
                fill=tuple(int(v) for v in b),
            )
    return image


def _stand_in_glyph(key: str, size: int) -> Image.Image:
    """A disc coloured and marked by the emoji's hash: the signal without a colour font."""
    digest = hashlib.sha256(key.encode()).digest()
    glyph = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(glyph)
    draw.ellipse((0, 0, size - 1, size - 1), fill=(digest[0], digest[1], digest[2], 255))
    for i in range(1 + digest[3] % 4):
        x, y = digest[4 + 2 * i] / 255 * 0.6 + 0.2, digest[5 + 2 * i] / 255 * 0.6 + 0.2
        r = size // 8
        draw.ellipse(
            (x * size - r, y * size - r, x * size + r, y * size + r), fill=(digest[12 + i], digest[13], digest[14], 255)
        )
    return glyph


def glyph(key: str, size: int) -> Image.Image:
    return emoji_image(key, size) or _stand_in_glyph(key, size)


def compose(
    rng: np.random.Generator,
    emojis: list[str],
    mood: float = 0.0,
    width: int = 192,
    height: int = 192,
    clutter: float = 0.3,
) -> Image.Image:
    """A picture showing `emojis` (possibly none) over a background, at random scale and pose."""
    image = background(rng, width, height, mood)
    side = min(width, height)
    items = list(emojis)
    if rng.random() < clutter:
        items.insert(int(rng.integers(len(items) + 1)), str(rng.choice(CLUTTER)))
    for key in items:
        scale = rng.uniform(0.5, 0.85) / max(1.0, len(items) ** 0.5)
        size = max(int(side * scale), 8)
        piece = glyph(key, size).rotate(float(rng.uniform(-35, 35)), resample=Image.Resampling.BICUBIC, expand=True)
        x = int(rng.integers(-piece.width // 5, max(width - piece.width * 4 // 5, 1)))
        y = int(rng.integers(-piece.height // 5, max(height - piece.height * 4 // 5, 1)))
        image.paste(piece, (x, y), piece)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    return image


def jpeg_bytes(image: Image.Image, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(70, 95)))
    return buffer.getvalue()


@dataclass
class Picture:
    """One image file to render: what it shows and how it is damaged."""

    path: str
    emojis: list[str]
    mood: float
    width: int
    height: int
    seed: int
    damage: str | None = None  # "missing" (never written) or "broken" (not a JPEG)
    clutter: float = 0.3  # chance of a non-smiley emoji besides `emojis`


def render(picture: Picture, root: Path) -> None:
    """Write one picture under `root` (or nothing, for a missing one)."""
    if picture.damage == "missing":
        return
    rng = np.random.default_rng(picture.seed)
    path = root / picture.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if picture.damage == "broken":
        data = jpeg_bytes(background(rng, 64, 64), rng)
        path.write_bytes(
            data[: len(data) // 3] if rng.random() < 0.5 else b"<html><body>Rate limit exceeded</body></html>"
        )
        return
    image = compose(rng, picture.emojis, picture.mood, picture.width, picture.height, picture.clutter)
    path.write_bytes(jpeg_bytes(image, rng))
