"""card, push: a run as a Hugging Face Hub repo (model dir, ONNX file and model card).

    model_card(run, repo_id) -> the README.md text (YAML front matter for the Hub, then the card)
    hub_folder(run, repo_id, out) -> the repo folder: config.json, model.safetensors, model.onnx, README.md
    upload(folder, repo_id, token) -> the commit URL (huggingface_hub's create_repo + upload_folder)

Imported lazily: `smileynet --help` must not pay for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.publish.card import model_card as model_card
    from smileynet.publish.card import write_card as write_card
    from smileynet.publish.push import hub_folder as hub_folder
    from smileynet.publish.push import upload as upload

_EXPORTS = {
    "model_card": "card",
    "write_card": "card",
    "hub_folder": "push",
    "upload": "push",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
