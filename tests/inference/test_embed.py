"""`smileynet embed`: a folder, a list file and shards give the same vectors; resumable; the DESIGN schema."""

import io
import json
import os
import subprocess
import sys
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import webdataset as wds
from PIL import Image

import smileynet

VOCAB = ["😂", "😍", "😭", "😡", "👻"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, make_tiny_model_dir):
    return make_tiny_model_dir(tmp_path_factory.mktemp("embed") / "model", VOCAB, image_size=32, seed=2, head_scale=20)


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Nine JPEGs (two in a sub-folder) and one broken file."""
    root = tmp_path_factory.mktemp("images")
    (root / "sub").mkdir()
    for i in range(9):
        (root / ("sub" if i >= 7 else "") / f"img{i}.jpg").write_bytes(jpeg(i))
    (root / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def read(path):
    table = pq.read_table(path)
    rows = {
        i: (p, np.array(e, np.float32), np.array(q, np.float32))
        for i, p, e, q in zip(*(table.column(c).to_pylist() for c in ("id", "path", "embedding", "probs")))
    }
    return table, rows


def test_folder_embeddings_follow_the_design_schema(model_dir, images, tmp_path, run_cli):
    code, out, err = run_cli("embed", model_dir, images, "--out", tmp_path / "e.parquet", "--backend", "torch", "-q")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"] == 9 and summary["failed"] == 1
    table, rows = read(tmp_path / "e.parquet")
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), len(VOCAB))
    assert table.schema.field("probs").type == pa.list_(pa.float32(), len(VOCAB))
    assert json.loads(table.schema.metadata[b"smileynet_vocab"]) == VOCAB
    assert sorted(rows) == sorted([f"img{i}.jpg" for i in range(7)] + ["sub/img7.jpg", "sub/img8.jpg"])
    path, embedding, probs = rows["sub/img8.jpg"]
    assert path == str((images / "sub" / "img8.jpg").resolve())
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-embedding)), atol=1e-6)
    expected = torch.from_numpy(np.stack([rows[f"img{i}.jpg"][1] for i in range(3)]))
    model = smileynet.load(model_dir)
    np.testing.assert_allclose(
        smileynet.embed(model, [images / f"img{i}.jpg" for i in range(3)]).logits, expected.numpy(), atol=1e-5
    )
    failures = (tmp_path / "e.failures.csv").read_text()
    assert "broken.jpg" in failures and "not an image" in failures
    assert (tmp_path / "e.config.yaml").is_file() and not (tmp_path / "e.parquet.parts").exists()


def test_folder_list_file_and_shards_give_the_same_vectors(model_dir, images, tmp_path, run_cli):
    run_cli("embed", model_dir, images, "--out", tmp_path / "folder.parquet", "-q")
    (tmp_path / "list.txt").write_text(
        "# images\n" + "".join(f"{images}/img{i}.jpg\n" for i in range(9) if i < 7) + "\n"
    )
    run_cli("embed", model_dir, tmp_path / "list.txt", "--out", tmp_path / "list.parquet", "-q")
    shards = tmp_path / "shards" / "test"
    shards.mkdir(parents=True)
    with wds.TarWriter(str(shards / "00000.tar")) as sink:
        for i in range(7):
            meta = {"labels": [i % 5], "url": f"https://example.org/{i}.jpg", "image_id": f"post{i}_0"}
            sink.write({"__key__": f"{i:09d}", "jpg": jpeg(i), "json": json.dumps(meta).encode()})
    code, out, err = run_cli("embed", model_dir, tmp_path / "shards", "--out", tmp_path / "shards.parquet", "-q")
    assert code == 0, err
    _, folder = read(tmp_path / "folder.parquet")
    _, listed = read(tmp_path / "list.parquet")
    _, sharded = read(tmp_path / "shards.parquet")
    assert len(listed) == len(sharded) == 7
    assert sharded["post3_0"][0] == "https://example.org/3.jpg"
    for i in range(7):
        vector = folder[f"img{i}.jpg"][1]
        np.testing.assert_allclose(listed[f"{images}/img{i}.jpg"][1], vector, atol=1e-5)
        np.testing.assert_allclose(sharded[f"post{i}_0"][1], vector, atol=1e-5)
    assert not np.allclose(folder["img0.jpg"][1], folder["img1.jpg"][1])


def test_rerun_skips_ids_already_written_and_resumes_after_a_kill(model_dir, images, tmp_path, run_cli, monkeypatch):
    out = tmp_path / "e.parquet"
    (tmp_path / "few.txt").write_text("".join(f"{images}/img{i}.jpg\n" for i in range(4)))
    code, first, _ = run_cli("embed", model_dir, tmp_path / "few.txt", "--out", out, "-q", "--backend", "torch")
    assert code == 0 and json.loads(first)["written"] == 4
    # more images later: only the new ones are computed, the file holds all of them once
    (tmp_path / "more.txt").write_text("".join(f"{images}/img{i}.jpg\n" for i in range(6)))
    code, second, _ = run_cli("embed", model_dir, tmp_path / "more.txt", "--out", out, "-q", "--backend", "torch")
    summary = json.loads(second)
    assert (summary["written"], summary["already_done"], summary["rows"]) == (2, 4, 6)
    assert sorted(pq.read_table(out).column("id").to_pylist()) == sorted(f"{images}/img{i}.jpg" for i in range(6))
    # a run killed after its first part: the rerun keeps that part and computes the rest
    from smileynet.inference import embed as embed_module

    killed = tmp_path / "k.parquet"
    real_merge = embed_module.merge
    monkeypatch.setattr(embed_module, "merge", mock.Mock(side_effect=KeyboardInterrupt))
    code, _, _ = run_cli("embed", model_dir, images, "--out", killed, "-q", "--part-rows", "2", "--batch-size", "2")
    assert (
        code == 130 and len(list((tmp_path / "k.parquet.parts").glob("*.parquet"))) == 4
    )  # 3+2+2+2 rows (parts close at >= 2 rows)
    for part in sorted((tmp_path / "k.parquet.parts").glob("*.parquet"))[2:]:
        part.unlink()
    monkeypatch.setattr(embed_module, "merge", real_merge)
    code, out_text, _ = run_cli(
        "embed", model_dir, images, "--out", killed, "-q", "--part-rows", "2", "--batch-size", "2"
    )
    summary = json.loads(out_text)
    assert (summary["already_done"], summary["written"], summary["rows"]) == (5, 4, 9)
    _, full = read(tmp_path / "k.parquet")
    _, reference = read(tmp_path / "e.parquet")
    assert len(full) == 9
    np.testing.assert_allclose(full["img5.jpg"][1], reference[f"{images}/img5.jpg"][1], atol=1e-5)


def test_bad_input_is_a_one_line_error(model_dir, tmp_path, run_cli):
    for args in (
        ["embed", model_dir, tmp_path / "missing", "--out", tmp_path / "x.parquet"],
        ["embed", model_dir, tmp_path, "--out", tmp_path / "x.csv"],
        ["embed", tmp_path, tmp_path, "--out", tmp_path / "x.parquet"],
    ):
        code, _, err = run_cli(*args)
        assert code == 1 and err.startswith("smileynet: error:") and err.count("\n") == 1, err


def test_image_files_are_inputs_like_folders_and_lists(model_dir, images, tmp_path, run_cli):
    code, out, err = run_cli("embed", model_dir, images / "img0.jpg", "--out", tmp_path / "one.parquet", "-q")
    assert code == 0, err
    _, one = read(tmp_path / "one.parquet")
    assert list(one) == [str(images / "img0.jpg")]
    (tmp_path / "noext").write_bytes(jpeg(1))  # an image without an extension is recognised by its header
    code, out, err = run_cli(
        "embed", model_dir, images / "img0.jpg", tmp_path / "noext", images / "sub", images / "img0.jpg",
        "--out", tmp_path / "mixed.parquet", "-q",
    )  # fmt: skip
    assert code == 0, err
    _, mixed = read(tmp_path / "mixed.parquet")
    assert sorted(mixed) == sorted(
        [str(images / "img0.jpg"), str(tmp_path / "noext"), f"{images / 'sub'}/img7.jpg", f"{images / 'sub'}/img8.jpg"]
    )
    np.testing.assert_allclose(mixed[str(images / "img0.jpg")][1], one[str(images / "img0.jpg")][1], atol=1e-6)
    same_bytes = smileynet.embed(smileynet.load(model_dir), [images / "img1.jpg"]).logits[0]
    np.testing.assert_allclose(mixed[str(tmp_path / "noext")][1], same_bytes, atol=1e-5)


def test_bad_inputs_leave_no_output_behind(model_dir, images, tmp_path, run_cli):
    (tmp_path / "binary.dat").write_bytes(b"\x00\xff\xfe" * 100)  # neither an image nor a list of paths
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "00000.tar").write_bytes(b"")
    for inputs in (
        [images / "img0.jpg", tmp_path / "binary.dat"],
        [images / "img0.jpg", tmp_path / "missing.jpg"],
        [tmp_path / "shards" / "00000.tar"],
        [tmp_path / "empty"],
    ):
        (tmp_path / "empty").mkdir(exist_ok=True)
        out = tmp_path / "out" / "e.parquet"
        code, _, err = run_cli("embed", model_dir, *inputs, "--out", out, "-q")
        assert code == 1 and err.startswith("smileynet: error:") and err.count("\n") == 1, err
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()), inputs
    assert (
        "binary.dat: neither an image nor a list file"
        in run_cli("embed", model_dir, tmp_path / "binary.dat", "--out", tmp_path / "x.parquet")[2]
    )


@pytest.mark.e2e
def test_torchrun_ranks_share_the_inputs_and_rank0_merges(model_dir, images, tmp_path):

    out = tmp_path / "t.parquet"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "smileynet",
            "embed",
            str(model_dir),
            str(images),
            "--out",
            str(out),
            "--backend",
            "torch",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert (summary["rows"], summary["written"], summary["failed"], summary["world_size"]) == (9, 9, 1, 2)
    _, rows = read(out)
    ids = pq.read_table(out).column("id").to_pylist()
    assert sorted(ids) == sorted([f"img{i}.jpg" for i in range(7)] + ["sub/img7.jpg", "sub/img8.jpg"])
    model = smileynet.load(model_dir)
    np.testing.assert_allclose(
        rows["sub/img8.jpg"][1], smileynet.embed(model, images / "sub" / "img8.jpg").logits[0], atol=1e-5
    )
    assert not (tmp_path / "t.parquet.parts").exists()
