"""Opening images safely: one function for every stage that reads user images.

Handles what real archives hold: EXIF rotation, CMYK, palette and alpha images, 16-bit PNGs,
animated GIFs (first frame). Rejects, with a one-line reason, what must not be decoded: empty
files, non-images, truncated files, and images whose size `check_size` refuses (decompression
bombs, and strips such as a 222-byte 49000 x 1 PNG, which every stage scales by its short side:
to 256 px that is 12.5 million x 256 pixels). Sizes are checked from the header, before any
pixel is decoded. A file is read only when it is a regular file of at most 64 MiB
(`read_image_file`): a name that leads to /dev/zero or a FIFO is refused before a byte is read.

`decode_rgb_array` is the hot path of training and embedding: plain JPEGs (what `smileynet
download` writes) go straight to libjpeg-turbo through simplejpeg where it is installed ([torch]),
everything else through `open_image`, with the same reasons for what is rejected.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from smileynet.errors import UserError

try:
    import simplejpeg
except ImportError:  # the light install ([lite], no [torch]): Pillow decodes every JPEG
    simplejpeg = None

MAX_PIXELS = 50_000_000
MAX_ASPECT = 50  # panoramas and long screenshots stay well under 1:50
MAX_FILE_BYTES = 64 << 20  # a 50-megapixel JPEG is ~25 MB; more is not a picture worth reading
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
ImageSource = str | Path | bytes | IO[bytes] | Image.Image | np.ndarray


class BadImage(UserError):
    """An input that is not a usable image; the message is the reason."""


def is_image_file(path: Path) -> bool:
    """A file whose extension says image (what every folder reader picks up)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder`, recursively, in sorted path order."""
    return sorted(p for p in Path(folder).rglob("*") if is_image_file(p))


def read_image_file(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of an image file, or BadImage: only a regular file (a name that leads to a device
    such as /dev/zero, a FIFO or a socket is refused before a byte is read; opening never waits on
    a FIFO's writer) of 1 to `max_bytes` bytes, read once from the descriptor that was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise BadImage(f"cannot read: {err.strerror or err}") from None
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise BadImage("not a regular file")
            if info.st_size == 0:
                raise BadImage("empty file (0 bytes)")
            if info.st_size > max_bytes:
                raise BadImage(f"file too large: {info.st_size:,} bytes (limit {max_bytes:,})")
            data = file.read(max_bytes + 1)
        except OSError as err:
            raise BadImage(f"cannot read: {err.strerror or err}") from None
    if len(data) > max_bytes:  # grew between the check and the read
        raise BadImage(f"file too large: over {max_bytes:,} bytes")
    if not data:
        raise BadImage("empty file (0 bytes)")
    return data


def check_size(width: int, height: int, max_pixels: int = MAX_PIXELS, max_aspect: int = MAX_ASPECT) -> None:
    """The one size policy of every decoder (download, training, predict/embed, serve, transfer):
    raise BadImage unless the image has pixels, at most `max_pixels` of them, and sides within
    1:`max_aspect`. With the aspect bounded, scaling the short side to S makes at most
    `max_aspect` * S^2 pixels, whatever the file says."""
    if width <= 0 or height <= 0:
        raise BadImage("image has no pixels")
    if width * height > max_pixels:
        raise BadImage(f"too many pixels: {width}x{height} (limit {max_pixels:,})")
    if max(width, height) > max_aspect * min(width, height):
        raise BadImage(f"extreme aspect ratio: {width}x{height} (over 1:{max_aspect})")


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode `source` to an upright 8-bit RGB image, or raise BadImage with the reason."""
    if isinstance(source, Image.Image):
        check_size(*source.size, max_pixels)
        return _to_rgb(source)
    if isinstance(source, np.ndarray):
        check_size(*_array_size(source), max_pixels)
        return _from_array(source)
    if isinstance(source, bytes):
        if not source:
            raise BadImage("empty file (0 bytes)")
        stream: IO[bytes] = io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        stream = io.BytesIO(read_image_file(source))
    else:
        stream = source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                image = Image.open(stream)
            except UnidentifiedImageError:
                raise BadImage("not an image") from None
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise BadImage(f"too many pixels (limit {max_pixels:,})") from None
            except (OSError, SyntaxError, ValueError) as err:
                raise BadImage(f"truncated or corrupt image ({err})") from None
            check_size(*image.size, max_pixels)
            try:
                image.seek(0)
                image.load()
            except (OSError, SyntaxError, ValueError) as err:
                raise BadImage(f"truncated or corrupt image ({err})") from None
            return _to_rgb(image)
    finally:
        if isinstance(source, (str, Path)):
            stream.close()


def decode_rgb_array(source: ImageSource, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode `source` to an upright RGB uint8 H x W x 3 array, or raise BadImage with the reason.

    A plain JPEG (YCbCr or grey, no EXIF block, so nothing to rotate) is decoded by simplejpeg:
    ~1.5x faster than Pillow here, straight into the array that the crop reads. Anything else,
    and any JPEG that simplejpeg refuses (truncated, CMYK, 12-bit...), goes through `open_image`,
    which gives the reason or the image."""
    data = read_image_file(source) if isinstance(source, (str, Path)) else source
    if simplejpeg is not None and isinstance(data, bytes) and _plain_jpeg(data):
        try:
            height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError:  # no frame header before the scan, and the like: open_image gives the reason
            return np.asarray(open_image(data, max_pixels))
        check_size(width, height, max_pixels)
        if colorspace in ("YCbCr", "Gray"):
            try:
                return simplejpeg.decode_jpeg(data, colorspace="RGB")
            except ValueError:
                pass  # open_image decides: a reason, or a JPEG that libjpeg reads leniently through Pillow
    return np.asarray(open_image(data, max_pixels))


def _plain_jpeg(data: bytes) -> bool:
    """True for a JPEG whose segments up to the scan hold no EXIF block: no orientation to apply."""
    if data[:2] != b"\xff\xd8":
        return False
    pos, end = 2, len(data)
    while pos + 4 <= end and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: every header segment has been seen
            return True
        if marker == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            return False
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def _to_rgb(image: Image.Image) -> Image.Image:
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block must not lose an otherwise good image
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 / 65535.0 if array.max(initial=0) > 255 else 1.0
        image = Image.fromarray(np.clip(array * scale, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(array * (255.0 if array.max(initial=0) <= 1 else 1), 0, 255).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _array_size(array: np.ndarray) -> tuple[int, int]:
    """(width, height) of an HWC, CHW or HW array, as `_from_array` reads it."""
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3, 4):
        return array.shape[2], array.shape[1]
    return (array.shape[1], array.shape[0]) if array.ndim >= 2 else (0, 0)


def _from_array(array: np.ndarray) -> Image.Image:
    """HWC or HW arrays, uint8 0-255 or float 0-1."""
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3, 4):
        array = np.transpose(array, (1, 2, 0))
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return _to_rgb(Image.fromarray(array))


ImageFile.LOAD_TRUNCATED_IMAGES = False
