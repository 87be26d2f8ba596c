"""The training and emoji-prediction sections: curves of a run's metrics.csv, the paper's Table 1
(published rows beside ours), per-emoji AUC, and example images with their top-5 emojis (Fig. 5)."""

from __future__ import annotations

from pathlib import Path

from smileynet.contracts import N_KEY, PER_CATEGORY_KEY, RANDOM_KEY
from smileynet.files import read_config
from smileynet.images import list_images, open_image
from smileynet.model.config import DEMO_NOTE
from smileynet.report import plots, published
from smileynet.report.discover import read_json
from smileynet.report.page import (
    demo_note,
    details,
    emoji,
    esc,
    figure,
    jpeg_uri,
    note,
    pct,
    table,
    tag,
)
from smileynet.vocab import normalize_emoji

CONFIG_KEYS = ("arch", "pretrained", "steps", "epochs", "batch_size", "lr", "image_size", "device", "seed", "data")
VAL_COLUMNS = ("val_auc", "val_mtop1", "val_mtop3", "val_mtop5", "val_map")


def read_metrics(path: Path):
    """A run's metrics.csv as a polars frame of floats (empty or unparseable cells are nulls),
    or None if unreadable."""
    import polars as pl

    try:
        frame = pl.read_csv(path, infer_schema_length=0, null_values=["", "nan", "NaN"])
    except Exception:  # a half-written or foreign CSV: the run is shown without curves
        return None
    return frame.with_columns(pl.all().cast(pl.Float64, strict=False))


def _run_summary(metrics) -> list[tuple[str, str]]:
    import polars as pl

    rows: list[tuple[str, str]] = []
    if "step" not in metrics.columns or metrics["step"].null_count() == len(metrics):
        return rows
    rows.append(("steps", f"{int(metrics['step'].max()):,}"))
    if "epoch" in metrics.columns and metrics["epoch"].null_count() < len(metrics):
        rows.append(("epochs", f"{int(metrics['epoch'].max()) + 1}"))
    if "loss" in metrics.columns:
        loss = metrics["loss"].drop_nulls()
        if len(loss):
            rows.append(("final loss (mean of last 10 rows)", f"{loss.tail(10).mean():.4f}"))
    if "elapsed_s" in metrics.columns and metrics["elapsed_s"].null_count() < len(metrics):
        rows.append(("training time", f"{metrics['elapsed_s'].max() / 60:.1f} min"))
    if "gpu_mem_gb" in metrics.columns and metrics["gpu_mem_gb"].null_count() < len(metrics):
        rows.append(("peak GPU memory", f"{metrics['gpu_mem_gb'].max():.1f} GB"))
    if "images_per_s" in metrics.columns:
        speed = metrics["images_per_s"].drop_nulls()
        if len(speed):
            rows.append(("images/s (median)", f"{speed.median():.1f}"))
    for column in VAL_COLUMNS:
        if column in metrics.columns:
            values = metrics.filter(pl.col(column).is_not_null() & pl.col("step").is_not_null())
            if len(values):
                best = values.sort(column, descending=True).row(0, named=True)
                last = values.row(len(values) - 1, named=True)
                rows.append(
                    (
                        f"{column} (%): last / best (step)",
                        f"{pct(last[column])} / {pct(best[column])} ({int(best['step'])})",
                    )
                )
    return rows


def run_section(run: Path) -> str:
    """One training run: summary, curves, the resolved config and the model it wrote."""
    parts = [f"<h3>Run: {esc(run.name)}</h3>", note(str(run))]
    metrics = read_metrics(run / "metrics.csv")
    if metrics is None or not len(metrics):
        parts.append(note("metrics.csv is empty or unreadable."))
    else:
        run_rows = _run_summary(metrics)
        if run_rows:
            parts.append(table(["", "value"], run_rows, numeric=[1]))
        uri = plots.training_curves(metrics)
        if uri:
            parts.append(
                figure(
                    uri,
                    f"{run.name}: training and validation loss on a log scale (dashed: the learning rate, "
                    "when it changes), validation metrics in %, throughput.",
                )
            )
    config_file = run / "config.yaml"
    if config_file.is_file():
        try:
            config = read_config(config_file)
        except Exception:  # shown without its config rather than not at all
            config = {}
        chosen = [(k, config[k]) for k in CONFIG_KEYS if config.get(k) is not None]
        scalars = [(k, v) for k, v in config.items() if not isinstance(v, (dict, list))]
        if chosen:
            parts.append(table(["setting", "value"], chosen))
        if scalars:
            parts.append(details("Resolved config (config.yaml)", table(["key", "value"], scalars)))
    summary_file = run / "train_summary.json"
    if summary_file.is_file():
        found = read_json(summary_file)
        counts: dict = found if isinstance(found, dict) else {}
        facts = [(k.replace("_", " "), v) for k, v in counts.items() if not isinstance(v, (dict, list))]
        facts += [
            (f"{k.replace('_', ' ')}: {reason}", n)
            for k, v in counts.items()
            if isinstance(v, dict)
            for reason, n in v.items()
        ]
        if facts:
            parts.append(details("Training summary (train_summary.json)", table(["", "value"], facts)))
    model_config = run / "model" / "config.json"
    if model_config.is_file():
        model = read_json(model_config)
        if isinstance(model, dict):
            parts.append(
                note(
                    f"Model: {str(model.get('arch'))[:40]}, {str(model.get('num_classes'))[:12]} emojis, "
                    f"{str(model.get('image_size'))[:12]} px ({run / 'model'})."
                )
            )
            if model.get("demo") is True:
                parts.append(demo_note(f"This is {DEMO_NOTE}."))
    return "".join(parts)


def _label(path: Path, data: dict | None = None) -> str:
    """Which model on which split an evaluation JSON is about (its file, when it does not say)."""
    model, split = (data or {}).get("model"), (data or {}).get("split")
    if isinstance(model, str) and model:
        model_dir = Path(model)
        name = model_dir.parent.name if model_dir.name == "model" else model_dir.name
        return f"{name}, {split} split" if split else name
    return f"{path.parent.name}/{path.name}"


# Table 1's rows in the paper's order, and which of our evaluations go under each: an evaluation's
# `train_sampling` ("raw" or "temporal", from `sample --sampling`) picks its row; None: unknown.
TABLE1_VARIANTS = (("SmileyNet (Raw-Dist.)", "raw"), ("SmileyNet (Temp-Sampling)", "temporal"))


def table1(evaluations: list[tuple[Path, dict]], generated: bool = False) -> str:
    """The paper's Table 1, each published row with ours beneath it: Random performance, SmileyNet
    trained on the raw distribution, SmileyNet with temporal sampling (mTop-1/3/5, AUC; mAP ours
    only). A random row is shown once per test split; a model of unknown sampling comes last.

    `generated`: evaluations of demo models, on the demo's generated world: our rows only, tagged
    "generated world", with no published row to be read against."""
    rows, classes = [], []
    keys = (*published.TABLE1_KEYS, "map")
    kind = "generated world" if generated else "ours"

    def ours(name: str, label: str, data: dict, values: dict) -> None:
        n = data.get(N_KEY)
        label = esc(label + (f", n={n:,}" if isinstance(n, int) else ""))
        rows.append(
            [
                f"{esc(name)} {tag('generated' if generated else 'ours', kind)} <span class=emoji-name>{label}</span>",
                *(pct(values.get(k)) for k in keys),
            ]
        )
        classes.append("generated" if generated else "ours")

    def paper(name: str) -> None:
        if not generated:
            rows.append([esc(name) + tag("published"), *published_rows[name], "-"])
            classes.append("published")

    published_rows = dict(published.TABLE1)
    paper("Random performance")
    seen = set()
    for _path, data in evaluations:
        random = data.get(RANDOM_KEY)
        split = tuple(str(data.get(k)) for k in ("data", "split", N_KEY))
        if isinstance(random, dict) and split not in seen:
            seen.add(split)
            ours("Random performance", f"uniform scores, {data.get('split') or 'test'} split", data, random)
    for name, sampling in TABLE1_VARIANTS:
        paper(name)
        for path, data in evaluations:
            if data.get("train_sampling") == sampling:
                ours(name, _label(path, data), data, data)
    for path, data in evaluations:
        if not any(data.get("train_sampling") == s for _, s in TABLE1_VARIANTS):
            ours("SmileyNet", _label(path, data), data, data)
    return table(
        ["Model", *published.TABLE1_HEADERS, "mAP"], rows, numeric=[1, 2, 3, 4, 5], row_classes=classes, raw=True
    )


def per_category(data: dict) -> list[tuple[str, dict]]:
    """(emoji, metrics) pairs of an evaluation's per_category, a list of rows with an `emoji` key
    or a mapping from emoji to metrics (or to a bare AUC)."""
    value = data.get(PER_CATEGORY_KEY)
    pairs: list[tuple[str, dict]] = []
    if isinstance(value, dict):
        for key, metrics in value.items():
            pairs.append((key, metrics if isinstance(metrics, dict) else {"auc": metrics}))
    elif isinstance(value, list):
        pairs = [(row["emoji"], row) for row in value if isinstance(row, dict) and isinstance(row.get("emoji"), str)]
    return [(normalize_emoji(k), m) for k, m in pairs]


def _value(value: object) -> str:
    if isinstance(value, float):
        return pct(value)
    return "-" if value is None else esc(value)


def per_emoji_section(path: Path, data: dict) -> str:
    pairs = per_category(data)
    scored = [(k, m) for k, m in pairs if isinstance(m.get("auc"), (int, float))]
    if not scored:
        return ""
    scored.sort(key=lambda km: -km[1]["auc"])
    parts = [
        f"<h3>Per-emoji AUC ({esc(_label(path, data))})</h3>",
        figure(
            plots.per_emoji_auc([k for k, _ in scored], [float(m["auc"]) for _, m in scored]),
            "ROC AUC (%) of each emoji on the evaluated split, best first; dashed: random (50%).",
        ),
    ]
    extra = [c for c in ("ap", "n", "positives", "support") if any(c in m for _, m in scored)]
    rows = [[emoji(k, with_name=True), pct(float(m["auc"])), *(_value(m.get(c)) for c in extra)] for k, m in scored]
    skipped = [k for k in data.get("skipped_categories") or [] if isinstance(k, str)]
    if skipped:
        parts.append(
            f'<p class="note">Left out of the mean AUC (no positive or no negative in the split): '
            f"{' '.join(emoji(normalize_emoji(k)) for k in skipped)}</p>"
        )
    parts.append(
        details(
            "Per-emoji table",
            table(
                ["emoji", "AUC (%)", *(f"{c.upper()} (%)" if c == "ap" else c for c in extra)],
                rows,
                numeric=range(1, 2 + len(extra)),
                raw=True,
            ),
        )
    )
    return "".join(parts)


def image_files(paths: list[Path], limit: int) -> list[Path]:
    """Up to `limit` images from files and folders, taken in turn from each folder that holds
    images (a benchmark's class folders all show up), sorted within a folder."""
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        for file in list_images(path) if path.is_dir() else [path]:
            by_folder.setdefault(file.parent, []).append(file)
    queues = list(by_folder.values())
    chosen: list[Path] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


def is_demo_model(model: object, near: Path | None = None) -> bool:
    """Whether the model dir (or run folder) `model` names says `"demo": true` in its config.json;
    a relative path is also tried beside `near` (where the file that names it lies)."""
    from smileynet.model.hub import is_hub_id

    if not isinstance(model, (str, Path)) or not str(model) or is_hub_id(model):
        return False  # a hub id named in a results file is never downloaded by the report
    from smileynet.model.model_dir import CONFIG_FILE, model_dir_of

    candidates = [Path(model)] + ([near / model] if near is not None and not Path(model).is_absolute() else [])
    for candidate in candidates:
        config_file = model_dir_of(candidate) / CONFIG_FILE
        if config_file.is_file():
            data = read_json(config_file)
            return isinstance(data, dict) and data.get("demo") is True
    return False


def examples_section(model_dir: Path, images: list[Path]) -> str:
    """Fig. 5: example images with their top-5 emojis, left to right, one line per emoji with its
    probability. Unreadable images are left out: they are shown as skipped by their absence."""
    from smileynet.inference.predict import predict_files
    from smileynet.model import load

    predictions, _failures = predict_files(load(model_dir), images, top_k=5) if images else ([], [])
    if not predictions:
        return note("None of the given images could be read.")
    cards = []
    for name, top in predictions:
        path, picture = Path(name), open_image(name)
        lines = "".join(
            f"<tr><td>{emoji(entry['emoji'], with_name=True)}</td><td class=num>{pct(entry['probability'])}</td></tr>"
            for entry in top
        )
        cards.append(
            f'<div class="example"><img class="photo" src="{jpeg_uri(picture)}" alt="{esc(path.name)}">'
            f"<table>{lines}</table>"
            f'<div class="emoji-name">{esc(path.parent.name)}/{esc(path.name)}</div></div>'
        )
    parts = [
        f'<div class="examples">{"".join(cards)}</div>',
        note(f"Top-5 emojis of {model_dir}, most likely first, with their sigmoid probabilities in %."),
    ]
    if is_demo_model(model_dir):
        parts.append(demo_note(f"This is {DEMO_NOTE}."))
    return "".join(parts)
