"""`smileynet push`: a run as a hub repo folder, uploaded with huggingface_hub.

The folder holds what `smileynet.load("hf-hub:USER/NAME")` fetches (config.json and
model.safetensors, or model.onnx without torch) and the model card; the ONNX file is exported
and checked against PyTorch as `smileynet export` does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from smileynet.errors import UserError
from smileynet.extras import require
from smileynet.model.hub import PREFIX, REPO_ID
from smileynet.publish.card import model_dir_of_run, write_card

REPO_FILES = ("config.json", "model.safetensors", "model.onnx", "README.md")


def repo_id_of(repo: str) -> str:
    """USER/NAME (an `hf-hub:` prefix is allowed), checked."""
    repo_id = repo.removeprefix(PREFIX)
    if not REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise UserError(f"--repo {repo[:120]!r}: expected USER/NAME")
    return repo_id


def hub_folder(run: Path, repo_id: str, out: Path, license: str = "mit") -> Path:
    """Write the repo folder `out` for `run`: the model dir's two files, model.onnx and README.md."""
    from smileynet.inference.export import export

    model_dir = model_dir_of_run(run)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(model_dir / name, out / name)
    export(model_dir, out / "model.onnx")
    write_card(run, out / "README.md", repo_id, license)
    return out


def upload(folder: Path, repo_id: str, token: str, private: bool = False) -> str:
    """Create the model repo if needed and commit the folder's files in one commit; returns the commit URL."""
    require("hub", "smileynet push")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            allow_patterns=list(REPO_FILES),
            commit_message="Upload SmileyNet model (smileynet push)",
        )
    except (HfHubHTTPError, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"push to {repo_id} failed: {first[:200]}") from None
    return str(info.commit_url)
