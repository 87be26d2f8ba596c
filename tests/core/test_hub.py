"""torch.hub: a local model dir loads; asking for published weights is a clear error, never a random model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from smileynet.errors import UserError
from smileynet.model import create_model, save

REPO = Path(__file__).resolve().parents[2]


def hub(**kwargs):
    return torch.hub.load(str(REPO), "smileynet", source="local", trust_repo=True, **kwargs)


def test_hub_loads_a_model_dir_and_a_run_folder(tmp_path):
    torch.manual_seed(0)
    model = create_model("tiny", 4, vocab=["😀", "😂", "😍", "😭"], image_size=32)
    save(model, tmp_path / "run" / "model")
    x = torch.rand(2, 3, 32, 32)
    for weights in (tmp_path / "run" / "model", tmp_path / "run", str(tmp_path / "run" / "model" / "config.json")):
        loaded = hub(weights=weights)
        assert not loaded.training and loaded.vocab == model.vocab
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model.eval()(x))


@pytest.mark.parametrize("kwargs", [{}, {"pretrained": True}, {"weights": "DEFAULT"}, {"weights": True}])
def test_hub_without_a_local_model_says_none_are_published(kwargs):
    with pytest.raises(UserError, match="no pretrained SmileyNet weights are published.*weights="):
        hub(**kwargs)


def test_create_model_pretrained_true_says_none_are_published_in_one_line():
    with pytest.raises(UserError) as caught:
        create_model("tiny", 4, pretrained=True)
    message = str(caught.value)
    assert message.startswith("no pretrained SmileyNet weights are published") and "\n" not in message
    assert "smileynet.load('RUN/model')" in message and "weights='RUN/model'" in message
