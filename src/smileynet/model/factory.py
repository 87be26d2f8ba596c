"""`create_model(arch, num_classes, pretrained)`: timm's shape for every backbone.

`forward_features(x)` gives the backbone's pooled pre-logit features (2048-d for ResNet50: the
paper's "ObjectNet" baseline features); `forward_head(f)` maps them to the emoji logits, the
emoji embedding (`pre_logits=True` returns the features unchanged). `model(x)` is both.

Backbones: any torchvision classifier by name (its last linear layer becomes the head), timm
models as `timm/NAME` when timm is installed, and `tiny`, a small CNN for CPU tests and demos.

`imagenet_classifier(arch)` keeps the ImageNet classifier as the head instead: its 1000-d output
is the paper's "ObjectNet" embedding (the 92-d emoji embedding is "10 times smaller").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from smileynet.errors import UserError
from smileynet.model.config import ModelConfig, check_arch

__all__ = ["ModelConfig", "SmileyNet", "create_model", "imagenet_classifier", "list_archs"]
NO_PUBLISHED_WEIGHTS = (
    "no pretrained SmileyNet weights are published; train a model (`smileynet train`) and load its folder: "
    "smileynet.load('RUN/model'), or torch.hub.load(REPO_DIR, 'smileynet', source='local', weights='RUN/model')"
)


class TinyBackbone(nn.Sequential):
    """Four conv blocks, ~0.1 M parameters: trains in minutes on a laptop CPU."""

    def __init__(self, width: int = 32) -> None:
        layers: list[nn.Module] = []
        channels = 3
        for i in range(4):
            out = width * 2 ** min(i, 2)
            layers += [
                nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        super().__init__(*layers)
        self.num_features = channels


def _replace_last_linear(model: nn.Module) -> tuple[nn.Module, int]:
    """Swap a torchvision classifier's final nn.Linear for Identity; return its input width."""
    model, last = _split_last_linear(model)
    return model, last.in_features


def _split_last_linear(model: nn.Module) -> tuple[nn.Module, nn.Linear]:
    """A torchvision classifier without its final nn.Linear (now Identity), and that layer."""
    last_name, last = None, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = name, module
    if last is None or last_name is None:
        raise UserError("backbone has no final linear layer to replace")
    parent = model
    *path, leaf = last_name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, leaf, nn.Identity())
    return model, last


# torchvision classifiers whose output is a convolution, not a linear layer: no pooled embedding to take.
NO_LINEAR_HEAD = frozenset({"squeezenet1_0", "squeezenet1_1"})
# Classifiers that add auxiliary outputs in training mode unless told not to.
AUX_LOGITS = frozenset({"googlenet", "inception_v3"})


def list_archs() -> list[str]:
    """Every architecture `create_model` builds: 'tiny' and the torchvision classifiers with a linear head."""
    import torchvision

    return ["tiny"] + sorted(set(torchvision.models.list_models(module=torchvision.models)) - NO_LINEAR_HEAD)


def _build_backbone(arch: str, imagenet: bool) -> tuple[nn.Module, int]:
    if arch == "tiny":
        if imagenet:
            raise UserError("arch 'tiny' has no ImageNet weights")
        tiny = TinyBackbone()
        return tiny, tiny.num_features
    check_arch(arch)
    if arch.startswith("timm/"):
        import timm

        try:
            backbone: Any = timm.create_model(arch[5:], pretrained=imagenet, num_classes=0)
        except RuntimeError as err:
            raise UserError(f"timm model {arch[5:]!r}: {err}") from None
        return backbone, backbone.num_features
    import torchvision

    weights = "DEFAULT" if imagenet else None
    options = {"aux_logits": False, "init_weights": not imagenet} if arch in AUX_LOGITS else {}
    try:
        model = torchvision.models.get_model(arch, weights=weights, **options)
    except Exception as err:  # the download fails offline: say so in one line
        raise UserError(
            f"cannot get ImageNet weights for {arch} ({err}); pass a local file with --pretrained PATH"
        ) from None
    return _replace_last_linear(model)


class SmileyNet(nn.Module):
    """Backbone + linear head to the emoji vocabulary; outputs pre-sigmoid logits."""

    def __init__(
        self, config: ModelConfig, imagenet: bool = False, backbone: tuple[nn.Module, int] | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.backbone, self.num_features = backbone or _build_backbone(config.arch, imagenet)
        self.head = nn.Linear(self.num_features, config.num_classes)

    @property
    def vocab(self) -> list[str]:
        return list(self.config.vocab)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Linear(self.num_features, num_classes)
        self.config.num_classes = num_classes

    def preprocess(self, images) -> torch.Tensor:
        """The input `model(x)` takes: one image (PIL, array, path, bytes) or a list of them ->
        N x 3 x S x S float32 on the model's device, by the recipe in config.json (decoded to
        upright RGB, resized, centre-cropped, normalised). A bad image raises BadImage."""
        from smileynet.data.transforms import eval_transform, normalize
        from smileynet.images import decode_rgb_array

        single = not isinstance(images, (list, tuple))
        crop = eval_transform(self.config.image_size)
        batch = torch.stack([crop(decode_rgb_array(image)) for image in ([images] if single else images)])
        return normalize(batch.to(next(self.parameters()).device), self.config)


def create_model(
    arch: str = "resnet50",
    num_classes: int = 92,
    pretrained: str | Path | bool | None = "none",
    vocab: list[str] | None = None,
    image_size: int = 224,
) -> SmileyNet:
    """Build a SmileyNet. `pretrained`: "none", "imagenet" (downloads where reachable), or a local
    state-dict file (.safetensors, or .pt/.pth read with weights_only=True) for the backbone.
    `pretrained=True` (timm's spelling) is an error: no trained SmileyNet weights are published."""
    if pretrained is True:
        raise UserError(NO_PUBLISHED_WEIGHTS)
    if vocab is not None and len(vocab) != num_classes:
        raise UserError(f"vocab has {len(vocab)} emojis but num_classes is {num_classes}")
    pretrained = "none" if pretrained in (None, "", False) else str(pretrained)
    config = ModelConfig(arch=arch, num_classes=num_classes, vocab=list(vocab or []), image_size=image_size)
    model = SmileyNet(config, imagenet=pretrained == "imagenet")
    if pretrained not in ("none", "imagenet"):
        load_backbone_weights(model, Path(pretrained))
    return model


def imagenet_classifier(arch: str = "resnet50", weights: str | Path = "imagenet", image_size: int = 224) -> SmileyNet:
    """A torchvision (or timm/NAME) ImageNet classifier in SmileyNet's shape, its own classifier
    kept as the head: `model(x)` is the 1000-d ImageNet output, `forward_features` the backbone's
    features. `weights`: "imagenet" (downloads where reachable) or a local file holding the whole
    classifier's state dict, classifier layer included."""
    if arch == "tiny":
        raise UserError("arch 'tiny' has no ImageNet classifier")
    if arch.startswith("timm/"):
        try:
            import timm
        except ImportError:
            raise UserError("timm models need timm: pip install 'smileynet[timm]'") from None
        model: Any = timm.create_model(arch[5:], pretrained=weights == "imagenet")  # get_classifier, reset_classifier
    else:
        import torchvision

        if arch not in torchvision.models.list_models(module=torchvision.models):
            raise UserError(f"unknown arch {arch!r}: use a torchvision classifier (e.g. resnet50) or timm/NAME")
        try:
            model = torchvision.models.get_model(arch, weights="DEFAULT" if weights == "imagenet" else None)
        except Exception as err:  # the download fails offline: say so in one line
            raise UserError(f"cannot get ImageNet weights for {arch} ({err}); pass a local weights file") from None
    if weights != "imagenet":
        state = {k.removeprefix("module."): v for k, v in read_state_dict(Path(weights)).items()}
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise UserError(f"{weights}: not the state dict of a whole {arch} classifier ({first})") from None
    if arch.startswith("timm/"):
        timm_model: Any = model  # timm's own methods, which nn.Module's typing does not know
        head = timm_model.get_classifier()
        if not isinstance(head, nn.Linear):
            raise UserError(f"{arch}: its classifier is not one linear layer")
        timm_model.reset_classifier(0)
        backbone = model
    else:
        backbone, head = _split_last_linear(model)
    config = ModelConfig(arch=arch, num_classes=head.out_features, image_size=image_size)
    net = SmileyNet(config, backbone=(backbone, head.in_features))
    net.head = head
    return net.eval()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file or a plain state dict; never unpickles arbitrary objects."""
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"{path}: not a weights file loadable with weights_only=True ({type(err).__name__})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise UserError(f"{path}: expected a state dict")
    return state


def load_backbone_weights(model: SmileyNet, path: Path) -> None:
    """Initialise the backbone from a local file: a torchvision/timm classifier state dict (its
    classifier is ignored) or a SmileyNet state dict (its head too, when the shapes match)."""
    state = read_state_dict(path)
    own = model.state_dict()
    remapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for candidate in (key, f"backbone.{key}", key.removeprefix("module.")):
            if candidate in own and own[candidate].shape == value.shape:
                remapped[candidate] = value
                break
    backbone_keys = [k for k in own if k.startswith("backbone.")]
    loaded = sum(k in remapped for k in backbone_keys)
    if loaded == 0:
        raise UserError(f"{path}: none of its tensors fit the {model.config.arch} backbone")
    model.load_state_dict(remapped, strict=False)
