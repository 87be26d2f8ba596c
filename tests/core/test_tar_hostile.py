"""The shard reader on hostile headers: every bad field ends the shard as CorruptShard (after the
samples before it), never a loop, a traceback or a step backwards; any bytes give a result or
CorruptShard."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smileynet.data.tar import CorruptShard, count_tar_samples, tar_samples


def member(info: tarfile.TarInfo, data: bytes) -> bytes:
    """One member's header and padded data, as tarfile writes them in ustar form."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()[: 512 + -(-len(data) // 512) * 512]  # without the end-of-archive blocks


def regular(name: str, data: bytes) -> bytes:
    return member(tarfile.TarInfo(name), data)


def pax(records: bytes) -> bytes:
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    return member(info, records)


def with_checksum(header: bytearray) -> bytearray:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header[:512])
    return header


GOOD = regular("000000.jpg", b"\xff\xd8a") + regular("000000.json", b'{"labels": [1]}')
END = bytes(1024)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "records, reason",
    [
        (b"0 size=5\n", "record length 0"),
        (b"size=5\n", "not a number"),
        (b"99 size=5\n", "does not fit"),
        (b"14 size=-1536\n", "PAX size"),
        (b"13 size=1e99\n", "PAX size"),
        (b"8 pathx\n", "key=value"),
    ],
)
def test_bad_pax_records_end_the_shard_after_the_samples_before_it(tmp_path, records, reason):
    path = tmp_path / "00000.tar"
    path.write_bytes(GOOD + pax(records) + regular("000001.jpg", b"\xff\xd8b") + END)
    got = []
    with pytest.raises(CorruptShard, match=reason):
        for sample in tar_samples(path):
            got.append(sample)
    assert [s["__key__"] for s in got] == ["000000"]
    assert count_tar_samples(path) == 1


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "field, value, reason",
    [
        (slice(124, 136), b"-0000003000\x00", "size field is not an octal"),
        (slice(124, 136), b"0000000009\x00\x00", "size field is not an octal"),
        (slice(124, 136), b"\xff" + b"\xff" * 10 + b"\x00", "negative base-256"),
        (slice(148, 156), b"zzzzzz\x00 ", "checksum field is not an octal"),
    ],
)
def test_bad_header_numbers_end_the_shard(tmp_path, field, value, reason):
    bad = bytearray(regular("000001.jpg", b"\xff\xd8b"))
    bad[field] = value
    if field.start != 148:
        bad = with_checksum(bad)
    path = tmp_path / "00000.tar"
    path.write_bytes(GOOD + bytes(bad) + END)
    with pytest.raises(CorruptShard, match=reason):
        list(tar_samples(path))


def test_a_corrupt_header_is_one_counted_corrupt_shard_for_the_loader(tmp_path):
    import numpy as np
    from PIL import Image

    from smileynet.data import build_loader

    jpeg = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(jpeg, "JPEG")
    (tmp_path / "test").mkdir()
    good = regular("000000.jpg", jpeg.getvalue()) + regular("000000.json", b'{"labels": [1]}')
    (tmp_path / "test" / "00000.tar").write_bytes(good + pax(b"0 size=5\n") + END)
    (tmp_path / "test" / "00001.tar").write_bytes(good + END)
    loader = build_loader(tmp_path, "test", num_classes=92, image_size=8, batch_size=4, train=False, workers=0)
    assert sum(len(images) for images, _ in loader) == 2
    assert loader.skipped == {"corrupt shard": 1}


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.integers(0, len(GOOD)),
    junk=st.binary(max_size=1600),
    flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=8),
)
def test_any_bytes_give_samples_or_corrupt_shard(tmp_path, prefix, junk, flips):
    data = bytearray(GOOD[:prefix] + junk + GOOD[prefix:])
    for at, byte in flips:
        data[at % len(data)] = byte
    path = tmp_path / "fuzz.tar"
    path.write_bytes(bytes(data))
    try:
        samples = list(tar_samples(path))
    except CorruptShard:
        samples = None
    if samples is not None:
        assert all(isinstance(s["__key__"], str) for s in samples)
    assert count_tar_samples(path) >= 0


@settings(max_examples=100, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.binary(max_size=300))
def test_any_pax_block_gives_samples_or_corrupt_shard(tmp_path, records):
    path = tmp_path / "pax.tar"
    path.write_bytes(GOOD + pax(records) + regular("000001.jpg", b"\xff\xd8b") + END)
    try:
        keys = [s["__key__"] for s in tar_samples(path)]
    except CorruptShard:
        return
    assert keys[0] == "000000"


def test_names_from_pax_records_still_read(tmp_path):
    path = tmp_path / "ok.tar"
    name = "dir/" + "n" * 150 + ".jpg"
    path.write_bytes(pax(b"%d path=%s\n" % (len(name) + 10, name.encode())) + regular("x.jpg", b"1") + END)
    assert [(s["__key__"], s["jpg"]) for s in tar_samples(path)] == [(name[:-4], b"1")]
