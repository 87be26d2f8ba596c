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


def photo(width=48, height=32):
    """A smooth colour gradient with texture: JPEG decoders agree on it to within rounding."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x * y) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels)


def test_decode_rgb_array_takes_the_fast_path_for_plain_jpegs_and_matches_pillow(monkeypatch):
    import smileynet.images as images

    data = encode(photo(), "JPEG", quality=95)
    calls = []
    monkeypatch.setattr(images, "open_image", lambda *a, **k: calls.append(a) or open_image(*a, **k))
    fast = images.decode_rgb_array(data)
    assert calls == []  # simplejpeg decoded it
    reference = np.asarray(open_image(data))
    assert fast.shape == reference.shape == (32, 48, 3) and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - reference).max() <= 2
    gray = images.decode_rgb_array(encode(photo().convert("L"), "JPEG"))
    assert gray.shape == (32, 48, 3) and calls == []


def test_decode_rgb_array_falls_back_where_pillow_knows_better(tmp_path):
    from smileynet.images import decode_rgb_array

    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: must come out upright, as open_image does
    assert decode_rgb_array(encode(photo(), "JPEG", exif=exif)).shape == (48, 32, 3)
    cmyk = decode_rgb_array(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    assert cmyk.shape == (8, 8, 3) and tuple(cmyk[0, 0]) == tuple(
        np.asarray(open_image(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG")))[0, 0]
    )
    assert decode_rgb_array(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG"))[0, 0].tolist() == [255, 255, 255]
    path = tmp_path / "x.jpg"
    path.write_bytes(encode(photo(), "JPEG"))
    assert decode_rgb_array(path).shape == (32, 48, 3)
    data = encode(photo(), "JPEG")
    for bad, reason in [
        (data[: len(data) // 2], "truncated"),
        (b"", "empty"),
        (b"\xff\xd8\xff junk", "not an image|truncated"),
        (tmp_path / "missing.jpg", "cannot read"),
    ]:
        with pytest.raises(BadImage, match=reason):
            decode_rgb_array(bad)
    with pytest.raises(BadImage, match="too many pixels"):
        decode_rgb_array(data, max_pixels=1000)


def strip(size, fmt="PNG"):
    return encode(Image.new("L", size, 200), fmt)


@pytest.mark.parametrize("size", [(49000, 1), (1, 3000), (5001, 100)])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_strips_are_refused_from_the_header_by_every_decoder(size, fmt):
    """Scaled by its short side, a strip's pixels grow with its aspect ratio (49000 x 1 at 256 px:
    12.5 million x 256). Every decoding entry point refuses it before decoding."""
    from smileynet.data.loader import decode_batch
    from smileynet.data.transforms import eval_transform, train_transform
    from smileynet.download.resize import SafeResizer
    from smileynet.images import decode_rgb_array
    from smileynet.inference.extraction import decode

    data = strip(size, fmt)
    for read in (
        open_image,
        decode_rgb_array,
        lambda d: open_image(Image.open(io.BytesIO(d))),
        lambda d: decode(d, eval_transform(32)),
    ):
        with pytest.raises(BadImage, match=rf"extreme aspect ratio: {size[0]}x{size[1]} \(over 1:50\)"):
            read(data)
    assert SafeResizer(64)(io.BytesIO(data))[-1] == "extreme aspect ratio"
    images, _, skipped = decode_batch([(data, [0]), (strip((50, 40), fmt), [1])], train_transform(16), 2, seed=0)
    assert skipped == {"extreme aspect ratio": 1} and len(images) == 1


def test_aspect_limit_is_one_to_fifty_and_covers_arrays():
    from smileynet.images import check_size

    check_size(5000, 100)
    check_size(100, 5000)
    with pytest.raises(BadImage, match="extreme aspect ratio"):
        check_size(100, 5001)
    assert open_image(np.zeros((100, 5000, 3), np.uint8)).size == (5000, 100)
    with pytest.raises(BadImage, match="extreme aspect ratio: 49000x1"):
        open_image(np.zeros((1, 49000, 3), np.uint8))
    with pytest.raises(BadImage, match="image has no pixels"):
        check_size(0, 10)
