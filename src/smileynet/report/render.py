"""`smileynet report`: find the inputs, render each section that has inputs, write one HTML file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from smileynet.errors import UserError
from smileynet.files import atomic_write_text, write_config
from smileynet.model.model_dir import model_dir_of
from smileynet.progress import progress
from smileynet.report import dataset, training, transfer
from smileynet.report.discover import Inputs, find_inputs, is_model_dir, read_json
from smileynet.report.page import BUILT_IN_NOTE, demo_note, details, document, note, table
from smileynet.vocab import Vocabulary

Section = tuple[str, str, str]  # (anchor, title, HTML body)


@dataclass
class ReportConfig:
    inputs: list[Path]
    out: Path
    images: list[Path] = field(default_factory=list)
    model: Path | None = None
    examples: int = 12
    title: str = "SmileyNet report"
    quiet: bool = False


def _read_json(path: Path) -> dict | None:
    data = read_json(path)
    return data if isinstance(data, dict) else None


def _vocabulary(found: Inputs) -> Vocabulary | None:
    """The dataset's categories.csv: the one beside a manifest first."""
    beside = [m.parent / "categories.csv" for m in found.manifests]
    for path in [p for p in beside if p.is_file()] + found.categories:
        try:
            return Vocabulary.from_categories_csv(path)
        except (UserError, OSError, KeyError):
            continue
    return None


def _inputs_section(found: Inputs) -> str:
    rows = [(name.replace("_", " "), str(path)) for name in found.__dataclass_fields__ for path in getattr(found, name)]
    return table(["input", "path"], rows)


def _dataset_sections(found: Inputs) -> list[Section]:
    sections = []
    reports = [(p, d) for p in found.collect_reports if (d := _read_json(p)) is not None]
    if reports:
        sections.append(("collect", "Dataset: collected posts", dataset.collect_section(reports)))
    if found.posts or found.manifests or found.categories:
        body = dataset.sample_section(
            found.posts, found.manifests, _vocabulary(found), found.stats_dirs, found.releases
        )
        if body:
            sections.append(("sample", "Dataset: labels, sampling and splits", body))
    return sections


def _training_sections(found: Inputs) -> list[Section]:
    if not found.runs:
        return []
    return [("training", "Training", "".join(training.run_section(run) for run in found.runs))]


def _prediction_sections(found: Inputs, config: ReportConfig) -> list[Section]:
    evaluations = [(p, d) for p in found.evaluations if (d := _read_json(p)) is not None]
    model = model_dir_of(config.model) if config.model is not None else (found.models[0] if found.models else None)
    images = training.image_files(config.images, config.examples) if config.images else []
    parts = []
    generated = [(p, d) for p, d in evaluations if training.is_demo_model(d.get("model"), p.parent)]
    measured = [(p, d) for p, d in evaluations if (p, d) not in generated]
    if measured:
        parts.append("<h3>Table 1: emoji prediction (%)</h3>" + training.table1(measured))
        parts.append(
            note(
                "Published rows are the paper's numbers on its Visual Smiley Dataset test split (ResNet50, "
                "320k iterations), not re-measured. mTop-k counts the labels found among the top k "
                "predictions out of min(k, number of labels); AUC is the mean ROC AUC over emojis; mAP (not in "
                "the paper) the mean average precision."
            )
        )
    if generated:
        parts.append(
            "<h3>Table 1 on the generated world: emoji prediction of the demo models (%)</h3>"
            + training.table1(generated, generated=True)
        )
        parts.append(
            demo_note(
                "These models were trained and tested on the demo's generated glyph pictures, not on real "
                "posts: the rows measure the pipeline, and are not comparable with the paper's Table 1. "
                "mTop-k, AUC and mAP as in the paper's table. " + BUILT_IN_NOTE
            )
        )
    parts.extend(training.per_emoji_section(p, d) for p, d in evaluations)
    if images and model is not None:
        parts.append("<h3>Fig. 5: top-5 emojis of example images</h3>" + training.examples_section(model, images))
    elif images:
        parts.append(note("Example images were given but no model dir was found among the inputs (or --model)."))
    return [("prediction", "Emoji prediction", "".join(parts))] if parts else []


def _transfer_sections(found: Inputs) -> list[Section]:
    results = [(p, d) for p in found.transfers if (d := _read_json(p)) is not None]
    return transfer.transfer_sections(results, found.fingerprints)


def build_report(config: ReportConfig) -> Path:
    """Render every section whose inputs are present into one self-contained HTML file.

    Also writes the resolved config next to it (`<name>.config.yaml`) so the page can be rebuilt."""
    if config.model is not None and not is_model_dir(model_dir_of(config.model)):
        raise UserError(
            f"--model: not a model dir (config.json + model.safetensors) nor a run folder with one in model/: "
            f"{config.model}"
        )
    if Path(config.out).is_dir():
        raise UserError(f"--out is a folder; give the HTML file to write, e.g. {Path(config.out) / 'report.html'}")
    if config.examples < 1:
        raise UserError("--examples must be at least 1")
    for image in config.images:
        if not Path(image).exists():
            raise UserError(f"--images: not found: {image}")
    found = find_inputs(config.inputs)
    if found.empty():
        raise UserError(
            "no report inputs found in "
            + ", ".join(map(str, config.inputs))
            + " (expected collect, sample, train, evaluate or transfer outputs)"
        )
    builders: list[Callable[[], list[Section]]] = [
        lambda: _dataset_sections(found),
        lambda: _training_sections(found),
        lambda: _prediction_sections(found, config),
        lambda: _transfer_sections(found),
    ]
    sections: list[Section] = []
    for build in progress(builders, total=len(builders), desc="report", unit="part", quiet=config.quiet):
        sections.extend(build())
    sections.append(
        (
            "inputs",
            "Inputs",
            details(
                f"{sum(len(getattr(found, f)) for f in found.__dataclass_fields__)} inputs recognised",
                _inputs_section(found),
            ),
        )
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"Generated {when} from {', '.join(map(str, config.inputs))}"
    out = Path(config.out)
    atomic_write_text(out, document(config.title, subtitle, sections))
    write_config(out.with_suffix(".config.yaml"), asdict(config))
    return out
