"""The resize step img2dataset calls on every downloaded image, through `smileynet.images`.

img2dataset's own resizer decodes with OpenCV, which ignores EXIF rotation and silently accepts a
truncated JPEG (grey bottom half). Phone photos are rotated by EXIF and the web is full of cut-off
files, so this step decodes with the project's one safe opener instead: upright RGB, alpha on
white, first GIF frame, truncated files refused, and the project's one size policy
(`smileynet.images.check_size`: decompression bombs and 1:50+ strips refused from the header).
The reason it returns is short and countable ("truncated or corrupt image"), for the summary.
"""

from __future__ import annotations

import io
import math

from PIL import Image

from smileynet.images import MAX_PIXELS, BadImage, check_size, open_image

ORIENTATION = 0x0112  # the EXIF tag


class SafeResizer:
    """img2dataset's resizer interface: `(stream, bbox) -> (bytes, w, h, orig_w, orig_h, error)`;
    keep-ratio resize of the short side to `image_size`, re-encoded as JPEG."""

    def __init__(self, image_size: int = 256, quality: int = 95, max_pixels: int = MAX_PIXELS) -> None:
        self.image_size, self.quality, self.max_pixels = image_size, quality, max_pixels

    def __call__(self, img_stream: io.BytesIO, blurring_bbox_list=None):
        try:
            image, (width, height) = self.decode(img_stream.getvalue())
        except BadImage as err:
            return None, None, None, None, None, str(err).split(" (")[0].split(": ")[0]
        scale = self.image_size / min(image.size)
        if scale != 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            if size[0] * size[1] > self.max_pixels:  # a large --image-size on a long image
                return None, None, None, None, None, "resized image over --max-pixels"
            image = image.resize(
                size,
                Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS,
                reducing_gap=3.0 if scale < 1 else None,
            )
        out = io.BytesIO()
        image.save(out, "JPEG", quality=self.quality)
        return out.getvalue(), image.width, image.height, width, height, None

    def decode(self, data: bytes) -> tuple[Image.Image, tuple[int, int]]:
        """The upright RGB image and its original size. A JPEG at least twice the target size is
        decoded at a reduced DCT scale that still covers it (libjpeg's draft mode: 2-8x faster on
        camera photos); a file that fails that way goes through `open_image` for its reason."""
        try:
            with Image.open(io.BytesIO(data)) as probe:
                size = probe.size
                check_size(*size, self.max_pixels)
                scale = min(size) / self.image_size
                if probe.format == "JPEG" and scale >= 2:
                    probe.draft("RGB", (math.ceil(size[0] / scale), math.ceil(size[1] / scale)))
                    probe.load()
                    turned = probe.getexif().get(ORIENTATION) in (5, 6, 7, 8)  # stored sideways
                    return open_image(probe), (size[1], size[0]) if turned else size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            pass
        image = open_image(data, max_pixels=self.max_pixels)
        return image, image.size
