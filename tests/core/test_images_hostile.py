"""The shared image reader on files that are not pictures: devices, FIFOs, oversized files and a JPEG
with a scan but no frame header end in BadImage (a counted skip), never a hang or unbounded memory."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from smileynet.images import BadImage, decode_rgb_array, list_images, open_image, read_image_file
from smileynet.model import create_model, save

# SOI, then straight to a start-of-scan segment: no SOF frame header for a decoder to size the image by
NO_FRAME_JPEG = b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + bytes(64) + b"\xff\xd9"


def picture(path) -> None:
    Image.fromarray(np.full((20, 24, 3), 90, np.uint8)).save(path, "JPEG")


@pytest.fixture
def hostile(tmp_path):
    """A folder with one picture, a *.jpg symlink to /dev/zero and a *.jpg FIFO."""
    picture(tmp_path / "good.jpg")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.jpg")
    return tmp_path


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["zero.jpg", "fifo.jpg"])
@pytest.mark.parametrize("reader", [read_image_file, open_image, decode_rgb_array])
def test_devices_and_fifos_are_refused_before_a_byte_is_read(hostile, name, reader):
    with pytest.raises(BadImage, match="not a regular file"):
        reader(hostile / name)


def test_the_folder_listing_holds_only_regular_files(hostile):
    assert list_images(hostile) == [hostile / "good.jpg"]


def test_a_file_over_the_byte_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.jpg"
    picture(path)
    with pytest.raises(BadImage, match="file too large"):
        read_image_file(path, max_bytes=100)
    assert read_image_file(path) == path.read_bytes()


@pytest.mark.parametrize("source", [NO_FRAME_JPEG, "file"])
def test_a_jpeg_with_a_scan_but_no_frame_header_is_a_bad_image(tmp_path, source):
    if source == "file":
        source = tmp_path / "x.jpg"
        source.write_bytes(NO_FRAME_JPEG)
    with pytest.raises(BadImage):
        decode_rgb_array(source)


def test_a_good_jpeg_still_decodes(tmp_path):
    out = io.BytesIO()
    Image.fromarray(np.full((20, 24, 3), 90, np.uint8)).save(out, "JPEG")
    assert decode_rgb_array(out.getvalue()).shape == (20, 24, 3)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["predict", "embed"])
def test_predict_and_embed_skip_devices_and_fifos_given_by_name(run_cli, hostile, tmp_path_factory, command):
    model = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    save(create_model("tiny", 2, vocab=["😀", "😭"], image_size=16), model)
    if command == "predict":
        args = ["predict", model, hostile / "good.jpg", hostile / "zero.jpg", hostile / "fifo.jpg", "--json"]
    else:
        args = ["embed", model, hostile, "--out", tmp_path_factory.mktemp("e") / "e.parquet"]
    code, out, err = run_cli(*args, "--workers", "0", "--quiet")
    assert code == 0, err
    if command == "predict":
        assert len(out.strip().splitlines()) == 1
        assert err.count("not a regular file") == 2, err


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.arange(16 * 12 * 3, dtype=np.uint8).reshape(12, 16, 3)).save(out, "JPEG")
    return out.getvalue()


SMALL_JPEG = small_jpeg()


@settings(max_examples=150, deadline=None)
@given(
    cut=st.integers(0, len(SMALL_JPEG)),
    flips=st.lists(st.tuples(st.integers(0, len(SMALL_JPEG) - 1), st.integers(0, 255)), max_size=6),
    scan_first=st.booleans(),
)
def test_any_damaged_jpeg_decodes_or_is_a_bad_image(cut, flips, scan_first):
    whole = b"\xff\xd8" + SMALL_JPEG[SMALL_JPEG.index(b"\xff\xda") :] if scan_first else SMALL_JPEG
    data = bytearray(whole[:cut])  # scan_first: SOI, then the scan, no header segments
    for at, byte in flips:
        if data:
            data[at % len(data)] = byte
    try:
        pixels = decode_rgb_array(bytes(data))
    except BadImage:
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


@pytest.mark.parametrize("listed", ["csv", "class folders"])
def test_transfer_counts_devices_and_fifos_as_missing_files(hostile, listed):
    from smileynet.transfer.benchmarks.folder import load_folder

    if listed == "csv":
        picture(hostile / "other.jpg")
        rows = ["good.jpg,cat", "zero.jpg,cat", "fifo.jpg,dog", "other.jpg,dog"]
        (hostile / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
        bench = load_folder(hostile)
        assert bench.skipped == {"missing file": 2}
    else:
        (hostile / "cat").mkdir()
        (hostile / "dog").mkdir()
        for item in ("good.jpg", "zero.jpg", "fifo.jpg"):
            (hostile / item).rename(hostile / "cat" / item)
        picture(hostile / "dog" / "other.jpg")
        bench = load_folder(hostile)
    assert sorted(p.name for p in bench.paths) == ["good.jpg", "other.jpg"]
