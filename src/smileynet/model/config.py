"""A model's config (what `config.json` holds), readable without torch: the light install reads
it from an ONNX file's metadata, the full one builds the model from it (`model.factory`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TypeGuard

from smileynet.contracts import eval_resize_size
from smileynet.errors import UserError
from smileynet.vocab import Vocabulary, default_vocabulary

DEMO_NOTE = "a demo model that has only seen the demo's generated glyph pictures"  # `"demo": true`

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FORMAT_VERSION = 1


@dataclass
class ModelConfig:
    """What a model dir's `config.json` holds; enough to rebuild the model without its trainer."""

    arch: str
    num_classes: int
    vocab: list[str] = field(default_factory=list)
    image_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    version: int = FORMAT_VERSION
    demo: bool = False  # trained by `smileynet demo` on generated glyph pictures only

    def to_dict(self) -> dict:
        """config.json's content: the fields, and the eval recipe derived from them (for readers
        without this code; `from_dict` rebuilds it from the fields). `demo` is written only when true."""
        data = asdict(self)
        if not self.demo:
            del data["demo"]
        data["mean"], data["std"] = list(self.mean), list(self.std)
        data["preprocess"] = self.preprocess_recipe()
        return data

    def preprocess_recipe(self) -> dict:
        """How an image becomes this model's input (README, "Preprocessing"): short side to
        `resize_size` (area when shrinking, bilinear when enlarging), centre crop `input_size`,
        x * `scale`, minus `mean`, over `std`, RGB channels first."""
        return {
            "input_size": self.image_size,
            "resize": "short_side",
            "resize_size": eval_resize_size(self.image_size),
            "crop": "center",
            "interpolation_shrink": "area",
            "interpolation_enlarge": "bilinear",
            "scale": 1 / 255,
            "mean": list(self.mean),
            "std": list(self.std),
            "channels": "RGB",
            "layout": "NCHW",
        }

    def vocabulary(self) -> Vocabulary:
        """The model's emojis as a Vocabulary (the default 92 when a config lists none)."""
        if not self.vocab:
            default = default_vocabulary()
            if self.num_classes != len(default):
                raise UserError(f"model config has no vocab and {self.num_classes} outputs")
            return default
        if len(self.vocab) != self.num_classes:
            raise UserError(f"model config lists {len(self.vocab)} emojis for {self.num_classes} outputs")
        return Vocabulary.from_emojis(self.vocab)

    @classmethod
    def from_dict(cls, data: object, where: str = "model config", build: bool = True) -> ModelConfig:
        """A config from outside (a model dir's config.json, an ONNX file's metadata), checked field
        by field before any tensor exists: a wrong type, an absurd size, a hub name or another
        format version is one UserError naming `where`, never a download or a huge allocation.

        `build`: the arch must be one this install builds (False for an ONNX file, whose graph is
        already built: its arch is only a name there, and torchvision need not be installed)."""
        if not isinstance(data, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(data).__name__}")
        missing = {"arch", "num_classes", "version"} - data.keys()
        if missing:
            raise UserError(f"{where}: lacks {', '.join(sorted(missing))}")
        version = data["version"]
        if version != FORMAT_VERSION or not _is_int(version):
            raise UserError(
                f"{where}: format version {repr(version)[:20]}; this smileynet reads version {FORMAT_VERSION}"
            )
        num_classes = _int_field(data, "num_classes", 1, MAX_CLASSES, where)
        vocab = data.get("vocab", [])
        if not isinstance(vocab, list) or not all(isinstance(e, str) and 0 < len(e) <= 64 for e in vocab):
            raise UserError(f"{where}: vocab must be a list of emoji strings")
        if vocab and len(vocab) != num_classes:
            raise UserError(f"{where}: vocab lists {len(vocab)} emojis for {num_classes} outputs")
        if len(set(vocab)) != len(vocab):
            raise UserError(f"{where}: vocab lists an emoji twice")
        demo = data.get("demo", False)
        if not isinstance(demo, bool):
            raise UserError(f"{where}: demo must be true or false, got {repr(demo)[:20]}")
        return cls(
            arch=check_arch(data["arch"], where, build),
            num_classes=num_classes,
            vocab=vocab,
            image_size=_int_field(data, "image_size", *IMAGE_SIZES, where, default=224),
            mean=_triple(data, "mean", IMAGENET_MEAN, 0.0, 1.0, where),
            std=_triple(data, "std", IMAGENET_STD, 1e-3, 10.0, where),
            demo=demo,
        )


MAX_CLASSES = 10_000  # every emoji Unicode has is under 4,000: a bigger head is a hostile config
IMAGE_SIZES = (8, 1024)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_field(data: dict, key: str, low: int, high: int, where: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if not _is_int(value) or not low <= value <= high:
        raise UserError(f"{where}: {key} must be an integer from {low} to {high}, got {repr(value)[:20]}")
    return value


def _triple(data: dict, key: str, default: tuple, low: float, high: float, where: str) -> tuple[float, float, float]:
    """Three per-channel numbers within [low, high] (a std of 0 would divide by zero: NaN outputs)."""
    value = data.get(key, default)
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high for v in value)
    ):
        raise UserError(f"{where}: {key} must be 3 numbers from {low:g} to {high:g}, got {str(value)[:60]}")
    return (float(value[0]), float(value[1]), float(value[2]))


def check_arch(arch: object, where: str = "", build: bool = True) -> str:
    """`arch` if it names an architecture this install builds without the network: 'tiny', a
    torchvision classifier, or `timm/NAME` of timm's own registry (a hub name such as
    `timm/hf-hub:user/model` is refused: building it would download code and weights).
    Without `build`, only the name's form is checked."""
    where = f"{where}: " if where else ""
    if not isinstance(arch, str) or not arch or len(arch) > 100:
        raise UserError(f"{where}arch must be an architecture name")
    if arch == "tiny":
        return arch
    if arch.startswith("timm/"):
        name = arch[5:]
        if ":" in name or "/" in name:
            raise UserError(f"{where}arch {arch!r} names a model hub entry; only local architectures are built")
        if not build:
            return arch
        try:
            import timm
        except ImportError:
            raise UserError(f"{where}timm models need timm: pip install 'smileynet[timm]'") from None
        if not timm.is_model(name):
            raise UserError(f"{where}unknown timm architecture {name!r}")
        return arch
    if not build:
        return arch
    from smileynet.model.factory import list_archs

    if arch not in list_archs():
        raise UserError(
            f"{where}unknown arch {arch[:60]!r}: use 'tiny', a torchvision classifier (e.g. resnet50) or timm/NAME"
        )
    return arch
