import io

import numpy as np
import pytest
from PIL import Image

from smileynet.images import BadImage, open_image


def encode(image, fmt, **kw):
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_exif_rotation_cmyk_16bit_alpha_and_gif_become_upright_rgb():
    wide = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    assert open_image(encode(wide, "JPEG", exif=exif)).size == (20, 40)
    assert open_image(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG")).mode == "RGB"
    sixteen = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    assert open_image(encode(sixteen, "PNG")).getpixel((0, 0)) == (255, 255, 255)
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert open_image(encode(rgba, "PNG")).getpixel((0, 0)) == (255, 255, 255)
    frames = [Image.new("P", (6, 6), i) for i in (1, 2)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    assert open_image(buf.getvalue()).size == (6, 6)


@pytest.mark.parametrize(
    "payload, reason",
    [(b"", "empty"), (b"hello, not an image", "not an image")],
)
def test_bad_bytes_are_rejected_with_a_reason(payload, reason):
    with pytest.raises(BadImage, match=reason):
        open_image(payload)


def test_truncated_and_oversized_images_are_rejected():
    data = encode(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(BadImage, match="truncated"):
        open_image(data[: len(data) // 2])
    with pytest.raises(BadImage, match="too many pixels"):
        open_image(encode(Image.new("L", (100, 100)), "PNG"), max_pixels=5_000)


def test_arrays_and_paths(tmp_path):
    array = np.zeros((3, 5, 7), dtype=np.float32)
    assert open_image(array).size == (7, 5)
    path = tmp_path / "x.png"
    Image.new("RGB", (3, 3)).save(path)
    assert open_image(path).size == (3, 3)
    with pytest.raises(BadImage, match="cannot read"):
        open_image(tmp_path / "missing.png")
