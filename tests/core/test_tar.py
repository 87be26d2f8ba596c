"""smileynet.data.tar: the shard reader gives what webdataset gives, on every tar flavour, and
stops at damage after yielding what came before it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import webdataset as wds

from smileynet.data.tar import CorruptShard, count_tar_samples, tar_samples


def webdataset_samples(path: Path) -> list[dict]:
    return [
        {k: v for k, v in s.items() if k == "__key__" or not k.startswith("__")}
        for s in wds.DataPipeline(wds.SimpleShardList([str(path)]), wds.tarfile_to_samples())
    ]


def write_tar(path: Path, members: list[tuple[str, bytes]], fmt: int, directory: str | None = None) -> None:
    with tarfile.open(path, "w", format=fmt) as tar:
        if directory:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_600_000_000.5 if fmt == tarfile.PAX_FORMAT else 1_600_000_000
            tar.addfile(info, io.BytesIO(data))


MEMBERS = [
    ("000001.jpg", b"\xff\xd8one"),
    ("000001.json", b'{"labels": [1]}'),
    ("000002.JPG", b"\xff\xd8two"),
    ("000002.json", b'{"labels": [2]}'),
    ("000002.txt", b""),
    ("__index__", b"metadata webdataset skips"),
    ("dir/" + "d" * 120 + "/k.jpg", b"\xff\xd8long name"),
    ("dir/" + "d" * 120 + "/k.json", b"{}"),
    ("a.b.c.jpg", b"\xff\xd8dots"),
    ("big.jpg", bytes(range(256)) * 40),
]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_same_samples_as_webdataset(tmp_path, fmt):
    path = tmp_path / "shard.tar"
    write_tar(path, MEMBERS, fmt, directory="dir")
    ours = list(tar_samples(path))
    assert ours == webdataset_samples(path)
    assert [s["__key__"] for s in ours] == ["000001", "000002", "dir/" + "d" * 120 + "/k", "a", "big"]
    assert ours[1]["jpg"] == b"\xff\xd8two" and ours[3]["b.c.jpg"] == b"\xff\xd8dots"
    assert count_tar_samples(path) == len(ours)


def test_webdataset_tarwriter_shards(tmp_path):
    path = tmp_path / "00000.tar"
    with wds.TarWriter(str(path)) as sink:
        for i in range(20):
            sink.write({"__key__": f"{i:06d}", "jpg": bytes([i]) * (100 + 37 * i), "json": b'{"labels": [0]}'})
    assert list(tar_samples(path)) == webdataset_samples(path)
    assert count_tar_samples(path) == 20


def test_damage_stops_the_shard_after_the_samples_before_it(tmp_path):
    whole = tmp_path / "whole.tar"
    members = [(f"{i:06d}.{ext}", bytes([i]) * 700) for i in range(6) for ext in ("jpg", "json")]
    write_tar(whole, members, tarfile.PAX_FORMAT)
    data = whole.read_bytes()
    cut_in_member = tmp_path / "cut.tar"
    cut_in_member.write_bytes(data[: len(data) // 2 + 100])
    cut_in_header = tmp_path / "header.tar"
    cut_in_header.write_bytes(data[: 1024 + 100])
    bad_checksum = bytearray(data)
    offset = data.index(b"000003.jpg")
    bad_checksum[offset] ^= 0xFF  # a flipped byte in the name field of a header
    flipped = tmp_path / "flipped.tar"
    flipped.write_bytes(bytes(bad_checksum))
    for path, reason in [(cut_in_member, "cut off"), (cut_in_header, "cut off"), (flipped, "checksum")]:
        got = []
        with pytest.raises(CorruptShard, match=reason):
            for sample in tar_samples(path):
                got.append(sample)
        complete = [s for s in got if set(s) == {"__key__", "jpg", "json"}]
        assert [s["__key__"] for s in complete] == [f"{i:06d}" for i in range(len(complete))]
        assert all(s["jpg"] == bytes([int(s["__key__"])]) * 700 for s in got if "jpg" in s)
        assert count_tar_samples(path) == len(got)
    assert len([1 for _ in tar_samples(whole)]) == 6
    (tmp_path / "empty.tar").write_bytes(b"")
    with pytest.raises(CorruptShard, match="empty file"):
        list(tar_samples(tmp_path / "empty.tar"))
    with pytest.raises(CorruptShard, match="No such file"):
        list(tar_samples(tmp_path / "missing.tar"))


def test_a_repeated_member_name_starts_a_new_sample_and_is_counted_so(tmp_path):
    path = tmp_path / "dup.tar"
    write_tar(path, [("a.jpg", b"1"), ("a.json", b"{}"), ("a.jpg", b"2"), ("b.jpg", b"3")], tarfile.PAX_FORMAT)
    samples = list(tar_samples(path))
    assert [(s["__key__"], s["jpg"]) for s in samples] == [("a", b"1"), ("a", b"2"), ("b", b"3")]
    assert count_tar_samples(path) == 3  # the resume plan counts what the reader yields
