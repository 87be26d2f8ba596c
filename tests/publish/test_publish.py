"""Hub publishing and loading with the real huggingface_hub code, offline: `push` against a loopback
server speaking the Hub's create / validate-yaml / preupload / commit (ndjson) endpoints, and
`hf-hub:USER/NAME` loads from a Hub cache laid out as huggingface_hub lays it out."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import smileynet
from smileynet.errors import UserError
from smileynet.model import create_model, save

huggingface_hub = pytest.importorskip("huggingface_hub")
pytest.importorskip("onnxruntime")
from huggingface_hub import constants  # noqa: E402

VOCAB = ["😀", "😂", "😍", "😭", "😡", "🙏"]
COMMIT = "a" * 40


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run folder with its data's trail: sample and collect reports and configs, an evaluate result."""
    root = tmp_path_factory.mktemp("publish")
    torch.manual_seed(0)
    save(create_model("tiny", len(VOCAB), vocab=VOCAB, image_size=32), root / "run" / "model")
    posts, data = root / "collected", root / "dataset"
    posts.mkdir()
    data.mkdir()
    (posts / "collect_report.json").write_text(
        json.dumps(
            {"totals": {"read": 1000, "kept": 700, "dropped": {"no_image": 200, "deleted": 60, "sensitive": 40}}}
        )
    )
    (posts / "config.yaml").write_text(yaml.safe_dump({"inputs": ["/data/stream-2019-01.tar"], "source": "twitter"}))
    (data / "sample_report.json").write_text(
        json.dumps(
            {
                "sampling": "temporal",
                "posts_in": 700,
                "posts_kept": 650,
                "images": 690,
                "windows": 3,
                "splits": {"train": 500, "valid": 90, "test": 100},
                "dates": {"first": "2019-01-02", "last": "2019-03-30"},
            }
        )
    )
    (data / "config.yaml").write_text(yaml.safe_dump({"posts": str(posts / "posts.parquet"), "cap": 4000}))
    (root / "run" / "config.yaml").write_text(yaml.safe_dump({"data": str(data), "steps": 10}))
    (root / "run" / "eval_test.json").write_text(
        json.dumps({"split": "test", "n": 100, "mtop1": 0.4321, "mtop3": 0.5, "mtop5": 0.6, "auc": 0.7, "map": 0.2})
    )
    return root / "run"


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_card_says_what_the_run_files_say(run_cli, run, tmp_path):
    code, out, err = run_cli("card", run, "--repo", "someone/smiley-tiny", "--out", tmp_path / "README.md")
    assert code == 0, err
    card = (tmp_path / "README.md").read_text("utf-8")
    meta = front_matter(card)
    assert meta["library_name"] == "smileynet" and meta["pipeline_tag"] == "image-classification"
    assert meta["license"] == "mit" and "emoji" in meta["tags"]
    for fact in (
        "`tiny`",
        " ".join(VOCAB),
        "2019-01-02 to 2019-03-30",
        "stream-2019-01.tar",
        "dropped as deleted: 60",
        "deletions honoured: 60",
        "were dropped, as `smileynet collect` does by default: 40",
        "0.432",
        "smileynet predict hf-hub:someone/smiley-tiny",
        "Al-Halah, Ziad and Aitken, Andrew and Shi, Wenzhe and Caballero, Jose",
        "Intended use and limits",
    ):
        assert fact in card, fact
    assert "/data/" not in card  # local paths of the publisher's machine stay out


def test_card_of_a_bare_model_dir_says_what_is_unknown(run_cli, run, tmp_path):
    code, out, err = run_cli("card", run / "model", "--out", tmp_path / "card.md")
    assert code == 0, err
    card = (tmp_path / "card.md").read_text("utf-8")
    assert "holds no config.yaml naming its data" in card and "No `smileynet evaluate" in card
    assert run_cli("card", tmp_path)[0] == 1


class Hub(BaseHTTPRequestHandler):
    """The Hub endpoints `create_repo` and `upload_folder` call, as huggingface_hub reads them;
    every file is committed inline ("regular"), so no LFS or Xet transfer is involved."""

    repos: dict[str, dict[str, bytes]] = {}
    calls: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def reply(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = self.path.split("?")[0]
        self.calls.append(path)
        if self.headers.get("Authorization") != "Bearer hf_test_token":
            return self.reply({"error": "Invalid credentials"}, 401)
        if path == "/api/repos/create":
            request = json.loads(body)
            repo = f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
            self.repos.setdefault(repo, {})
            return self.reply({"url": f"http://{self.headers['Host']}/{repo}"})
        if path == "/api/validate-yaml":
            return self.reply({"errors": [], "warnings": []})
        if path.startswith("/api/models/") and "/preupload/" in path:
            files = json.loads(body)["files"]
            return self.reply(
                {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        if path.startswith("/api/models/") and "/commit/" in path:
            repo = path.removeprefix("/api/models/").split("/commit/")[0]
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    self.repos[repo][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            host = self.headers["Host"]
            return self.reply({"commitUrl": f"http://{host}/{repo}/commit/{COMMIT}", "commitOid": COMMIT})
        self.reply({"error": f"not served here: {path}"}, 404)


@pytest.fixture
def hub_server(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    Hub.repos, Hub.calls = {}, []
    yield Hub
    server.shutdown()


def test_push_commits_the_repo_folder_through_the_hub_api(run_cli, run, tmp_path, hub_server, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    code, out, err = run_cli("push", run, "--repo", "someone/smiley-tiny", "--out", tmp_path / "repo", "--quiet")
    assert code == 0, err
    folder = tmp_path / "repo"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.onnx", "model.safetensors"]
    uploaded = hub_server.repos["someone/smiley-tiny"]
    assert set(uploaded) == {"README.md", "config.json", "model.onnx", "model.safetensors"}
    for name, data in uploaded.items():
        assert data == (folder / name).read_bytes(), name
    assert (folder / "config.json").read_bytes() == (run / "model" / "config.json").read_bytes()
    assert hub_server.calls[0] == "/api/repos/create"


def test_push_without_a_token_or_with_a_refused_one_is_one_line(run_cli, run, tmp_path, hub_server, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code, out, err = run_cli("push", run, "--repo", "someone/x", "--out", tmp_path / "a")
    assert code == 1 and "set HF_TOKEN" in err and err.count("\n") == 1
    monkeypatch.setenv("MY_TOKEN", "wrong")
    code, out, err = run_cli("push", run, "--repo", "someone/x", "--out", tmp_path / "b", "--token-env", "MY_TOKEN")
    assert code == 1 and "push to someone/x failed" in err and err.count("\n") == 1, err
    assert run_cli("push", run, "--repo", "../etc", "--out", tmp_path / "c")[0] == 1


def lay_out_cache(cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """huggingface_hub's cache: blobs by hash, snapshots/<commit>/ linking to them, refs/main."""
    storage = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = storage / "snapshots" / COMMIT
    (storage / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(COMMIT)
    for name, data in files.items():
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    return snapshot


@pytest.fixture
def offline_cache(monkeypatch, tmp_path):
    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.fixture(scope="module")
def repo_files(run, tmp_path_factory) -> dict[str, bytes]:
    from smileynet.publish.push import hub_folder

    folder = hub_folder(run, "someone/smiley-tiny", tmp_path_factory.mktemp("repo"))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(5)
    paths = []
    for n, (h, w) in enumerate([(40, 30), (90, 120), (33, 33)]):
        path = folder / f"{n}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_hub_id_loads_from_the_cache_like_the_local_model(offline_cache, repo_files, run, images, run_cli):
    lay_out_cache(offline_cache, "someone/smiley-tiny", repo_files)
    model = smileynet.load("hf-hub:someone/smiley-tiny")
    local = smileynet.load(run)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), local(x))
    code, out, err = run_cli("predict", "hf-hub:someone/smiley-tiny", *images, "--json", "--backend", "torch")
    assert code == 0, err
    code, expected, err = run_cli("predict", run, *images, "--json", "--backend", "torch")
    assert out == expected


def test_without_torch_a_hub_id_runs_its_onnx_file(offline_cache, repo_files, run, images, run_cli, monkeypatch):
    lay_out_cache(offline_cache, "someone/smiley-tiny", repo_files)
    code, with_torch, err = run_cli("predict", run, *images, "--json", "--backend", "torch", "--top-k", "3")
    assert code == 0, err
    monkeypatch.setitem(sys.modules, "torch", None)  # as in the light install: `import torch` fails
    model = smileynet.load("hf-hub:someone/smiley-tiny")
    assert type(model).__name__ == "OnnxModel" and model.vocab == VOCAB
    code, out, err = run_cli("predict", "hf-hub:someone/smiley-tiny", *images, "--json", "--top-k", "3")
    assert code == 0, err

    def tops(lines: str) -> list[list[str]]:
        return [[e["emoji"] for e in json.loads(line)["top"]] for line in lines.splitlines()]

    assert tops(out) == tops(with_torch)


def test_a_hub_repo_is_checked_like_any_model_dir(offline_cache, repo_files):
    config = json.loads(repo_files["config.json"])
    lay_out_cache(
        offline_cache,
        "someone/hub-arch",
        {**repo_files, "config.json": json.dumps({**config, "arch": "timm/hf-hub:x/y"}).encode()},
    )
    with pytest.raises(UserError, match="names a model hub entry"):
        smileynet.load("hf-hub:someone/hub-arch")
    lay_out_cache(offline_cache, "someone/no-weights", {"config.json": repo_files["config.json"]})
    with pytest.raises(UserError, match="lacks model.safetensors"):
        smileynet.load("hf-hub:someone/no-weights")
    with pytest.raises(UserError, match="cannot fetch from the Hugging Face Hub"):
        smileynet.load("hf-hub:someone/not-cached")
    for bad in ("hf-hub:someone", "hf-hub:../x/y", "hf-hub:a/b/c", "hf-hub:a/b@..", "hf-hub:"):
        with pytest.raises(UserError):
            smileynet.load(bad)


def test_a_config_json_naming_a_hub_arch_is_still_refused_locally(repo_files, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.safetensors").write_bytes(repo_files["model.safetensors"])
    config = {**json.loads(repo_files["config.json"]), "arch": "timm/hf-hub:x/y"}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="names a model hub entry"):
        smileynet.load(tmp_path / "m")
