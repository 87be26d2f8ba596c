"""smileynet.inference.extract and the SmileyNet.predict / .embed methods on a tiny model."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from smileynet.data.transforms import eval_transform, normalize
from smileynet.images import BadImage
from smileynet.inference import extract
from smileynet.inference.predict import embed, predict
from smileynet.model import create_model, save

VOCAB = ["😂", "😍", "😭", "😡", "👻", "💀"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = create_model("tiny", num_classes=len(VOCAB), vocab=VOCAB, image_size=32).eval()
    with torch.no_grad():  # a head with real spread, so orderings are meaningful
        net.head.weight.mul_(20)
    return net


def picture(seed: int, size=(48, 40)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def reference_logits(model, image: Image.Image) -> np.ndarray:
    """The model by hand: eval crop, normalise, forward."""
    x = eval_transform(model.config.image_size)(image).unsqueeze(0)
    with torch.no_grad():
        return model(normalize(x, model.config)).numpy()[0]


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels (what a decompression bomb looks like)."""
    data = encode(Image.new("L", (1, 1)), "PNG")
    ihdr = struct.pack(">II", width, height) + data[24:29]
    chunk = b"IHDR" + ihdr
    return data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


def bad_image_files(folder):
    """Every kind of awkward file a user folder holds; returns {name: expected reason or None if usable}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = encode(picture(1), "JPEG")
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (folder / "not_an_image.jpg").write_bytes(b"<html>404 not found</html>")
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "huge.png").write_bytes(huge_png_header(8000, 8000))
    (folder / "cmyk.jpg").write_bytes(encode(picture(2).convert("CMYK"), "JPEG"))
    (folder / "sixteen.png").write_bytes(
        encode(Image.fromarray((np.arange(48 * 40).reshape(40, 48) * 27).astype(np.uint16)), "PNG")
    )
    frames = [picture(3).convert("P"), picture(4).convert("P")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    (folder / "animated.gif").write_bytes(buf.getvalue())
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees clockwise
    (folder / "rotated.png").write_bytes(encode(picture(5, (60, 30)), "PNG", exif=exif))
    return {
        "truncated.jpg": "truncated",
        "not_an_image.jpg": "not an image",
        "zero.jpg": "empty file",
        "huge.png": "too many pixels",
        "cmyk.jpg": None,
        "sixteen.png": None,
        "animated.gif": None,
        "rotated.png": None,
    }


def test_extract_matches_the_model_by_hand_in_input_order(model):
    images = [picture(i) for i in range(5)]
    result = extract(model, images, batch_size=2, features="both")
    assert result.ids == ["0", "1", "2", "3", "4"] and result.failures == []
    assert result.logits.dtype == np.float32 and result.logits.shape == (5, len(VOCAB))
    assert result.pre_logits.shape == (5, model.num_features)
    for i, image in enumerate(images):
        np.testing.assert_allclose(result.logits[i], reference_logits(model, image), atol=1e-5)
    with torch.no_grad():
        head = model.forward_head(torch.from_numpy(result.pre_logits)).numpy()
    np.testing.assert_allclose(head, result.logits, atol=1e-5)
    only = extract(model, images, features="pre_logits")
    assert only.logits is None and np.allclose(only.pre_logits, result.pre_logits, atol=1e-5)


def test_batch_size_and_decoding_threads_do_not_change_results(model):
    images = [picture(i) for i in range(7)]
    one = extract(model, images, batch_size=1)
    threaded = extract(model, images, batch_size=3, workers=2)
    assert one.ids == threaded.ids
    np.testing.assert_allclose(one.logits, threaded.logits, atol=1e-5)


def test_paths_arrays_tensors_and_batches_give_the_same_embedding(model, tmp_path):
    image = picture(7)
    path = tmp_path / "x.png"
    image.save(path)
    array = np.array(image)
    chw = torch.from_numpy(array).permute(2, 0, 1).contiguous()
    result = extract(model, [path, str(path), image, array, chw, chw.float() / 255])
    assert result.ids[:2] == [str(path), str(path)] and result.ids[2:] == ["2", "3", "4", "5"]
    np.testing.assert_allclose(result.logits, np.repeat(result.logits[:1], 6, axis=0), atol=1e-4)
    batch = extract(model, torch.stack([chw, chw]))  # a 4-d tensor is a batch
    assert batch.ids == ["0", "1"]


def test_every_bad_image_kind_is_skipped_with_a_reason_or_handled(model, tmp_path):
    expected = bad_image_files(tmp_path)
    paths = sorted(tmp_path.iterdir())
    result = extract(model, paths, batch_size=3)
    reasons = {p.split("/")[-1]: r for p, r in result.failures}
    assert set(reasons) == {name for name, reason in expected.items() if reason}
    for name, reason in reasons.items():
        assert expected[name] in reason, (name, reason)
    assert {p.split("/")[-1] for p in result.ids} == {name for name, reason in expected.items() if reason is None}
    assert np.isfinite(result.logits).all()
    # the EXIF-rotated file is embedded upright: like the picture turned by hand
    rotated = result.logits[[p.endswith("rotated.png") for p in result.ids].index(True)]
    upright = picture(5, (60, 30)).transpose(Image.Transpose.ROTATE_270)
    np.testing.assert_allclose(rotated, reference_logits(model, upright), atol=1e-5)
    assert not np.allclose(rotated, reference_logits(model, picture(5, (60, 30))), atol=1e-3)


def test_a_batch_of_only_bad_images_and_no_images(model):
    result = extract(model, [b"", b"junk"], features="both")
    assert result.ids == [] and len(result.failures) == 2
    assert result.logits.shape == (0, len(VOCAB)) and result.pre_logits.shape == (0, model.num_features)
    assert extract(model, []).logits.shape == (0, len(VOCAB))
    with pytest.raises(Exception, match="features must be"):
        extract(model, [picture(0)], features="everything")


def test_predict_and_embed(model, tmp_path):
    images = [picture(i) for i in range(3)]
    top = predict(model, images, top_k=3)
    assert len(top) == 3 and all(len(t) == 3 for t in top)
    logits, probs = embed(model, images)
    for row, entries in zip(probs, top):
        assert [e["emoji"] for e in entries] == [VOCAB[j] for j in np.argsort(-row)[:3]]
        assert [e["probability"] for e in entries] == pytest.approx(sorted(row, reverse=True)[:3], abs=1e-6)
    assert (
        top[0][0]["name"]
        == {
            "😂": "face with tears of joy",
            "😍": "smiling face with heart-eyes",
            "😭": "loudly crying face",
            "😡": "enraged face",
            "👻": "ghost",
            "💀": "skull",
        }[top[0][0]["emoji"]]
    )
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), atol=1e-6)
    assert len(predict(model, images[0])) == 1  # one image, not a list
    with pytest.raises(BadImage, match="image 1: not an image"):
        predict(model, [images[0], b"junk"])


def test_model_dir_path_is_accepted_and_hub_entry_point_loads_it(model, tmp_path):
    save(model, tmp_path / "m")
    image = picture(9)
    np.testing.assert_allclose(extract(tmp_path / "m", [image]).logits, extract(model, [image]).logits, atol=1e-6)
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    hub = torch.hub.load(str(repo), "smileynet", source="local", weights=str(tmp_path / "m"))
    assert hub.vocab == VOCAB and not hub.training
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(hub(x), model(x), atol=1e-6)
