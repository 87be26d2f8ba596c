import json

import pytest
import torch
from safetensors.torch import save_file

import smileynet
from smileynet.errors import UserError
from smileynet.model import create_model, load, save


def test_timm_shaped_api_and_embedding_is_one_call():
    model = create_model("tiny", num_classes=5, vocab=list("😂😍😭😡👻"), image_size=32).eval()
    x = torch.rand(2, 3, 32, 32)
    features = model.forward_features(x)
    assert features.shape == (2, model.num_features)
    assert torch.equal(model.forward_head(features, pre_logits=True), features)
    assert torch.allclose(model(x), model.forward_head(features))
    assert model(x).shape == (2, 5)


def test_torchvision_backbone_head_is_replaced():
    model = create_model("resnet18", num_classes=7)
    assert model.num_features == 512 and model.head.out_features == 7
    assert isinstance(model.backbone.fc, torch.nn.Identity)


def test_model_dir_round_trip_is_exact(tmp_path):
    model = create_model("tiny", num_classes=3, vocab=["😂", "😍", "😭"], image_size=32).eval()
    save(model, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert {"arch", "num_classes", "vocab", "image_size", "mean", "std", "version"} <= config.keys()
    loaded = smileynet.load(tmp_path / "m")
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded(x), model(x)) and loaded.vocab == ["😂", "😍", "😭"]


def test_pretrained_from_local_files(tmp_path):
    source = create_model("resnet18", num_classes=4)
    # a torchvision classifier state dict (with its 1000-way fc) initialises the backbone
    import torchvision

    classifier = torchvision.models.resnet18()
    torch.save(classifier.state_dict(), tmp_path / "r18.pth")
    model = create_model("resnet18", num_classes=4, pretrained=tmp_path / "r18.pth")
    assert torch.equal(model.backbone.conv1.weight, classifier.conv1.weight)
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "s.safetensors"))
    model = create_model("resnet18", num_classes=4, pretrained=tmp_path / "s.safetensors")
    assert torch.equal(model.head.weight, source.head.weight)
    with pytest.raises(UserError):
        create_model("resnet18", num_classes=4, pretrained=tmp_path / "missing.pth")


def test_pickled_objects_are_refused(tmp_path):
    import fractions

    torch.save({"x": fractions.Fraction(1, 3)}, tmp_path / "evil.pt")  # any non-tensor class
    with pytest.raises(UserError, match="weights_only"):
        create_model("tiny", num_classes=2, pretrained=tmp_path / "evil.pt")


def test_not_a_model_dir(tmp_path):
    with pytest.raises(UserError, match="not a model dir"):
        load(tmp_path)


def test_train_transform_is_a_seeded_random_resized_crop_with_flip():
    import numpy as np
    from PIL import Image

    from smileynet.data.transforms import RandomResizedCropFlip, train_transform

    ramp = np.tile(np.arange(120, dtype=np.uint8)[None, :, None], (80, 1, 3))  # brightness = x
    image = Image.fromarray(ramp)
    transform = train_transform(32)
    torch.manual_seed(0)
    first = [transform(image) for _ in range(200)]
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(first, [transform(image) for _ in range(200)]))
    assert all(t.shape == (3, 32, 32) and t.dtype == torch.uint8 for t in first)
    flipped = sum(int(t[0, 16, 0]) > int(t[0, 16, -1]) for t in first)
    assert 70 < flipped < 130  # about half are mirrored
    for scale, low in (((0.5, 1.0), 0.5), ((0.08, 1.0), 0.08)):  # the default (the official code's), torchvision's
        crop = RandomResizedCropFlip(32) if scale == (0.5, 1.0) else RandomResizedCropFlip(32, scale)
        boxes = [crop.crop_box(80, 120, torch.rand(41).tolist()) for _ in range(500)]
        assert all(0 <= top and top + h <= 80 and 0 <= left and left + w <= 120 for top, left, h, w in boxes)
        areas = [h * w / (80 * 120) for _, _, h, w in boxes]
        assert min(areas) >= low * 0.97 and min(areas) < low + 0.1 and max(areas) > 0.85  # rounding: a few pixels


# A few families (the paper's ResNet50, the two with auxiliary heads, a transformer) run by default; the rest of torchvision's list (minutes of CPU in all,
# up to 630M parameters) runs with `pytest -m heavy`.
QUICK_ARCHS = {
    "tiny",
    "alexnet",
    "convnext_tiny",
    "efficientnet_b0",
    "googlenet",
    "inception_v3",
    "mnasnet0_5",
    "mobilenet_v3_small",
    "resnet50",
    "vit_b_32",
}
INPUT_SIZE = {"inception_v3": 96}  # its stem needs at least 75 px; the transformers take 224 only


def _arch_params():
    from smileynet.model import list_archs

    return [pytest.param(arch, marks=() if arch in QUICK_ARCHS else pytest.mark.heavy) for arch in list_archs()]


@pytest.mark.parametrize("arch", _arch_params())
def test_every_listed_arch_answers_the_model_api(arch):
    size = 224 if any(k in arch for k in ("vit", "swin", "maxvit")) else INPUT_SIZE.get(arch, 64)
    torch.manual_seed(0)
    model = create_model(arch, num_classes=3, vocab=["😂", "😍", "😭"], image_size=size)
    x = torch.rand(2, 3, size, size)
    features = model.train().forward_features(x)  # training mode too: no auxiliary outputs
    assert isinstance(features, torch.Tensor) and features.shape == (2, model.num_features)
    with torch.no_grad():
        model.eval()
        features = model.forward_features(x)
        assert torch.equal(model.forward_head(features, pre_logits=True), features)
        assert torch.allclose(model(x), model.forward_head(features)) and model(x).shape == (2, 3)


def test_archs_without_a_linear_head_are_not_listed():
    from smileynet.model import list_archs

    assert "squeezenet1_0" not in list_archs() and "resnet50" in list_archs()
    with pytest.raises(UserError, match="unknown arch"):
        create_model("squeezenet1_0", num_classes=3)
