"""The model card (README.md of a hub repo): YAML front matter for the Hub, then what a user of the
model needs to know, read from the run's own files and the files of the stages before it.

Everything is read, never assumed: a fact whose file is missing is said to be unknown. The
chain is RUN/config.yaml's `data` -> the dataset folder (sample_report.json, config.yaml; or
download_config.yaml's `source` for shards) -> sample's `posts` -> collect_report.json and
config.yaml beside posts.parquet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smileynet.cards import CITATION, collect_lines, read_json, read_yaml, sensitive_text, source_lines
from smileynet.errors import UserError

METRICS = (("mtop1", "mTop-1"), ("mtop3", "mTop-3"), ("mtop5", "mTop-5"), ("auc", "mean ROC AUC"), ("map", "mAP"))


def model_dir_of_run(run: Path) -> Path:
    """RUN/model, or RUN itself when it is a model dir."""
    for folder in (run / "model", run):
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
            return folder
    raise UserError(f"{run}: not a run folder or model dir (no config.json + model.safetensors)")


def provenance(run: Path) -> dict[str, Any]:
    """What the run's files say about its data: the dataset folder, the sample and collect
    reports and configs, and the dates (each None where not found)."""
    train = read_yaml(run / "config.yaml")
    data = Path(str(train["data"])) if train.get("data") else None
    found: dict[str, Any] = {"train": train, "data": data, "sample": None, "sample_config": {}, "collect": None}
    found["collect_config"] = {}
    folders = []
    if data is not None:
        folders.append(data)
        source = read_yaml(data / "download_config.yaml").get("source")
        if source:
            folders.append(Path(str(source)))
    for folder in folders:
        report = read_json(folder / "sample_report.json")
        if isinstance(report, dict):
            found["sample"], found["sample_config"] = report, read_yaml(folder / "config.yaml")
            found["dataset"] = folder
            break
    posts = found["sample_config"].get("posts")
    if posts:
        beside = Path(str(posts))
        beside = beside if beside.is_dir() else beside.parent
        report = read_json(beside / "collect_report.json")
        if isinstance(report, dict):
            found["collect"], found["collect_config"] = report, read_yaml(beside / "config.yaml")
    return found


def evaluations(run: Path) -> list[dict]:
    """`smileynet evaluate --out` results saved in the run folder (any JSON with the metrics)."""
    results = []
    for path in sorted(run.glob("*.json")):
        data = read_json(path)
        if isinstance(data, dict) and all(key in data for key in ("mtop1", "auc", "split")):
            results.append({**data, "file": path.name})
    return results


def model_card(run: Path, repo_id: str | None = None, license: str = "mit") -> str:
    """The README.md of the hub repo for `run`."""
    model_dir = model_dir_of_run(run)
    config = read_json(model_dir / "config.json") or {}
    vocab = [str(e) for e in config.get("vocab", [])]
    found = provenance(run)
    summary = read_json(run / "train_summary.json") or {}
    name = repo_id or run.resolve().name
    load = f"hf-hub:{repo_id}" if repo_id else "MODEL"
    lines = [
        "---",
        "library_name: smileynet",
        f"license: {license}",
        "pipeline_tag: image-classification",
        "tags:",
        *(f"  - {tag}" for tag in ("smileynet", "emoji", "visual-sentiment-analysis", "image-classification", "onnx")),
        "---",
        "",
        f"# {name}",
        "",
        "A SmileyNet emoji embedding: an image classifier whose outputs are the probabilities of the emojis "
        "people post with such an image. Its pre-sigmoid outputs are a compact, sentiment-aligned image "
        "embedding (Al-Halah et al., ICCV Workshops 2019).",
        "",
        "## Use",
        "",
        "```sh",
        "pip install 'smileynet[lite,hub]'   # ONNX Runtime, numpy and Pillow: no torch",
        f"smileynet predict {load} photo.jpg",
        "```",
        "",
        "```python",
        "import smileynet",
        f'model = smileynet.load("{load}")   # a SmileyNet with [torch], else the ONNX model',
        'model.predict("photo.jpg", top_k=5)',
        "```",
        "",
        "The repo holds `config.json` + `model.safetensors` (the model dir, for PyTorch) and `model.onnx` "
        "(uint8 RGB pixels in, logits and features out; the preprocess recipe is in its metadata).",
        "",
        "## Model",
        "",
        f"- architecture: `{config.get('arch', 'unknown')}`",
        f"- input: {config.get('image_size', '?')} x {config.get('image_size', '?')} RGB, preprocessing: "
        f"`{json.dumps(config.get('preprocess', {}))}`",
        f"- outputs: {config.get('num_classes', '?')} emojis (multi-label, one sigmoid each)",
        f"- vocabulary: {' '.join(vocab) if vocab else 'the default 92 emojis of the paper'}",
    ]
    if summary:
        lines.append(
            f"- training: {summary.get('steps', '?')} steps; weights from the {summary.get('model_from', '?')} "
            f"checkpoint (step {summary.get('best_step')}, validation AUC {summary.get('best_val_auc')})"
        )
    lines += ["", "## Training data", "", *data_lines(found), "", "## Evaluation", ""]
    results = evaluations(run)
    if results:
        lines += ["| file | split | images | " + " | ".join(t for _, t in METRICS) + " |"]
        lines += ["| --- " * (3 + len(METRICS)) + "|"]
        for result in results:
            cells = [_number(result.get(key)) for key, _ in METRICS]
            lines.append(
                f"| {result['file']} | {result['split']} | {result.get('n', '?')} | " + " | ".join(cells) + " |"
            )
        lines += ["", "Random scores give about: " + _random_line(results[0])]
    else:
        lines.append("No `smileynet evaluate --out RUN/NAME.json` result was found in the run folder.")
    lines += [
        "",
        "## Intended use and limits",
        "",
        "- Intended: image features for visual sentiment and emotion analysis (transfer learning, retrieval, "
        "analysis of how images are used with emojis), and emoji suggestion.",
        "- The labels are the emojis people posted with an image, not judgements of the image: they carry "
        "the habits of the platforms, periods, languages and communities the posts came from.",
        "- Not for decisions about people (their mood, health, identity or worth), nor for surveillance.",
        "- Scores are probabilities of emoji use, not calibrated sentiment; check them on your own data.",
        "",
        "## Sensitive content",
        "",
        sensitive_text(found["collect"], found["collect_config"]),
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)


def data_lines(found: dict[str, Any]) -> list[str]:
    """The training-data section: sources, dates, the collect and sample figures."""
    lines = []
    if found["data"] is None:
        return ["Unknown: the run folder holds no config.yaml naming its data."]
    lines.append(f"- dataset: `{Path(found['data']).name}`")
    collect, collect_config = found["collect"], found["collect_config"]
    lines += source_lines(collect_config)
    sample = found["sample"]
    if isinstance(sample, dict):
        dates = sample.get("dates") or {}
        if dates.get("first"):
            lines.append(f"- post dates: {dates['first']} to {dates['last']}")
        splits = sample.get("splits") or {}
        lines.append(
            f"- sample ({sample.get('sampling') or 'official release'}): {sample.get('images', '?')} images "
            f"({', '.join(f'{k} {v}' for k, v in splits.items())}) from {sample.get('posts_kept', '?')} of "
            f"{sample.get('posts_in', '?')} labelled posts in {sample.get('windows', '?')} windows"
        )
    else:
        lines.append("- sample report: not found")
    lines += collect_lines(collect)
    dataset = found.get("dataset")
    if dataset is not None and any((dataset / name).is_file() for name in ("DATASHEET.md", "README.md")):
        lines.append("- datasheet: DATASHEET.md of the dataset (sources, filters, deletions, how to request a removal)")
    return lines


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _random_line(result: dict) -> str:
    random = result.get("random") or {}
    return ", ".join(f"{title} {_number(random.get(key))}" for key, title in METRICS)


def write_card(run: Path, out: Path | None = None, repo_id: str | None = None, license: str = "mit") -> Path:
    """Write the model card of `run` to `out` (default RUN/README.md); returns its path."""
    from smileynet.files import atomic_write_text

    path = out or run / "README.md"
    atomic_write_text(path, model_card(run, repo_id, license))
    return path
