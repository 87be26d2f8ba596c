"""Models shared on the Hugging Face Hub, named `hf-hub:USER/NAME` (optionally `@REVISION`).

Only on explicit request: a MODEL argument or `smileynet.load` with the `hf-hub:` prefix. A
config.json naming a hub architecture stays refused (`model.config.check_arch`); what is fetched
here is a SmileyNet repo (`smileynet push`), and only the files a load needs: config.json and
model.safetensors, or model.onnx where torch is not installed. The download goes through
`huggingface_hub.snapshot_download` (its cache, HF_HOME / HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN)
and the folder is checked like any model dir before anything is built from it.
"""

from __future__ import annotations

import re
from pathlib import Path

from smileynet.errors import UserError
from smileynet.extras import require

PREFIX = "hf-hub:"
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
DIR_FILES = ("config.json", "model.safetensors")
ONNX_FILES = ("config.json", "model.onnx")


def is_hub_id(model: object) -> bool:
    """Whether `model` (a MODEL argument, a path or a string) names a hub repo: `hf-hub:...`."""
    return isinstance(model, (str, Path)) and str(model).startswith(PREFIX)


def parse(model: str) -> tuple[str, str | None]:
    """`hf-hub:USER/NAME[@REVISION]` -> (repo id, revision or None); anything else is a UserError."""
    name, _, revision = model.removeprefix(PREFIX).partition("@")
    if not REPO_ID.fullmatch(name) or ".." in name:
        raise UserError(f"{model[:120]!r}: a hub model is named hf-hub:USER/NAME (optionally @REVISION)")
    if revision and (not REVISION.fullmatch(revision) or ".." in revision):
        raise UserError(f"{model[:120]!r}: bad revision {revision[:40]!r}")
    return name, revision or None


def resolve(model: str | Path, onnx: bool = False) -> Path:
    """`model` as a local path: itself, or for a hub id the downloaded model dir (its model.onnx
    when `onnx`), checked."""
    if not is_hub_id(model):
        return Path(model)
    folder = download(str(model), ONNX_FILES if onnx else DIR_FILES)
    if onnx:
        return folder / "model.onnx"
    from smileynet.model.model_dir import read_config

    read_config(folder / "config.json")
    return folder


def download(model: str, files: tuple[str, ...]) -> Path:
    """The snapshot folder holding `files` of hub repo `model`, from the cache or the hub."""
    require("hub", "a hf-hub: model")
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError, RevisionResolutionError

    repo_id, revision = parse(model)
    try:
        folder = Path(huggingface_hub.snapshot_download(repo_id, revision=revision, allow_patterns=list(files)))
    except (OSError, ValueError, EntryNotFoundError, RevisionResolutionError) as err:  # HTTP, offline, not cached
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{model}: cannot fetch from the Hugging Face Hub ({first[:200]})") from None
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"{model}: the repo lacks {', '.join(missing)} (not a SmileyNet model: `smileynet push` makes one)"
        )
    return folder
