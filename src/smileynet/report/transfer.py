"""The transfer sections, from `smileynet transfer`'s results.json (schema in
`smileynet.transfer`): Tables 2, 3, 4 (Twitter I), 5 and 6 (FI) in the paper's layout with the
published numbers in their own rows, and Figs. 4, 6, 7, 8 from the PNGs the run wrote. The
benchmarks beyond the paper (Twitter II, EmotionROI, Emotion6, ArtPhoto, Abstract) get a section
each with our rows only: the paper reports nothing on them.

Every lookup tolerates a missing key: a cell shows "-" and a table without any row of ours is
left out.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from smileynet.report import plots, published
from smileynet.report.page import (
    BUILT_IN_NOTE,
    demo_note,
    details,
    emoji,
    esc,
    figure,
    gallery,
    note,
    pct,
    png_uri,
    table,
    tag,
)
from smileynet.vocab import normalize_emoji

WIDE_FIGURES = {"fingerprints"}  # a grid of radar charts: shown across the page
# Figure file name prefixes, in the paper's order, and what the paper calls them.
FIGURES = (
    ("pca_", "Fig. 4: the emoji embedding on its first two principal components (blue negative, yellow positive)"),
    ("sentiment_correlation_", "Sec. 4.2: emojis most correlated with positive and negative sentiment (Spearman)"),
    ("confusion_", "Fig. 6: confusion matrix of the transfer head's predictions (rows: true class; % of that class)"),
    ("fingerprints", "Fig. 7: emotional fingerprints of the most positive and most negative emojis"),
    ("fingerprints_tsne", "Fig. 8: emojis placed by t-SNE of their emotional fingerprints"),
)
# Benchmarks beyond the paper, in report order: (results.json "benchmark", section title).
MORE_BENCHMARKS = (
    ("twitter2", "Visual sentiment: Twitter II (Borth et al. 2013)"),
    ("emotionroi", "Emotions: EmotionROI (Peng et al. 2016)"),
    ("emotion6", "Emotions: Emotion6 (Peng et al. 2015)"),
    ("artphoto", "Emotions: ArtPhoto (Machajdik & Hanbury 2010)"),
    ("abstract", "Emotions: Abstract paintings (Machajdik & Hanbury 2010)"),
)
BENCHMARK_PROTOCOLS = ("knn", "head", "finetune", "zero_shot_binary", "zero_shot_continuous")
PROTOCOL_NAMES = {
    "knn": "1-NN",
    "head": "transfer head",
    "finetune": "fine-tuned network",
    "zero_shot_binary": "zero-shot, binary",
    "zero_shot_continuous": "zero-shot, continuous",
}


def _get(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _map(data: object, *keys: str) -> dict:
    """The mapping at `keys`, or an empty one when it is missing or not a mapping."""
    value = _get(data, *keys)
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _cell(summary: object) -> str:
    return pct(_get(summary, "mean"), _get(summary, "std"))


WEIGHTS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")  # a --baseline weights file
DEMO_BASELINE = "object-picture baseline (generated world; stands in for ObjectNet)"


def _baseline_name(baseline: dict) -> str:
    """The paper's name only for what the paper used, an ImageNet classifier ("ObjectNet (resnet50,
    1000-d)"); any other baseline by what it is: the demo's object-picture model, or "baseline:
    tiny trained on run-objects (pre-logits, 128-d)". Results without `demo` (older runs) have
    the baseline's config.json looked at, when it is still there."""
    from smileynet.model.hub import is_hub_id
    from smileynet.report.training import is_demo_model

    spec, arch, dim = baseline.get("spec"), baseline.get("arch"), baseline.get("dim")
    features = "pre-logits" if baseline.get("features") == "pre_logits" else None
    size = f"{dim}-d" if dim else None
    if spec == "imagenet":
        detail = ", ".join(str(x) for x in (arch, features, size) if x)
        return f"ObjectNet ({detail})" if detail else "ObjectNet"
    hub = is_hub_id(spec)
    demo = baseline.get("demo")
    if demo is True or (demo is None and not hub and is_demo_model(spec)):
        return DEMO_BASELINE
    name = "baseline" + (f": {arch}" if arch else "")
    if hub or (isinstance(spec, str) and Path(spec).suffix in WEIGHTS_SUFFIXES):
        name += f" from {spec if hub else Path(str(spec)).name}"
    elif isinstance(spec, str) and spec:  # a model dir, or a run folder (its model/)
        source = Path(spec)
        name += f" trained on {(source.parent if source.name == 'model' else source).name or spec}"
    detail = ", ".join(str(x) for x in (features, size) if x)
    return f"{name} ({detail})" if detail else name


def _model_name(result: dict, model: str) -> str:
    """The model's name with its embedding's size, e.g. "SmileyNet (92-d)", "ObjectNet (resnet50, 1000-d)"."""
    if model == "smileynet":
        dim = _get(result, "model", "dim") or _get(result, "model", "num_classes")
        return f"SmileyNet ({dim}-d)" if dim else "SmileyNet"
    return _baseline_name(_map(result, "baseline"))


def _ours(label: str, path: Path, many: bool, generated: bool = False) -> str:
    where = f" <span class=emoji-name>{esc(path.parent.name)}</span>" if many else ""
    return esc(label) + (tag("generated", "generated world") if generated else tag("ours")) + where


def _published_rows(rows: tuple) -> tuple[list, list]:
    return [[esc(name) + tag("published"), *values] for name, values in rows], ["published"] * len(rows)


def is_generated(path: Path, result: dict) -> bool:
    """A transfer run of a demo model (`"demo": true`): the demo's generated benchmark look-alikes."""
    from smileynet.report.training import is_demo_model

    return _get(result, "model", "demo") is True or is_demo_model(_get(result, "model", "path"), path.parent)


GENERATED_NOTE = (
    "Rows tagged generated world: a demo model on the demo's generated look-alike of the benchmark, "
    "not on the real images; they measure the pipeline and are not comparable with the paper's numbers. "
    + BUILT_IN_NOTE
)


def _protocol_label(result: dict, protocol: str, model: str) -> str:
    name = _model_name(result, model)
    if protocol == "head":
        return f"{name} + {result.get('head') or 'linear'} head"
    if protocol == "finetune":
        epochs = _get(result, "finetune", "epochs")
        return f"{name}, fine-tuned" + (f" ({epochs} epochs)" if epochs else "")
    if protocol == "knn":
        return f"{name}, 1-NN"
    return f"{name} - {'Bin.' if protocol.endswith('binary') else 'Con.'}"


def twitter_table(
    results: list[tuple[Path, dict]], published_rows: tuple, protocols: tuple[str, ...], generated: bool = False
) -> str | None:
    """A Twitter I table (3/4/5 agrees): the published rows, then ours for `protocols`
    (`generated`: demo runs alone, without the published rows)."""
    rows, classes = _published_rows(() if generated else published_rows)
    ours = 0
    for path, result in results:
        splits = _map(result, "splits")
        for protocol in protocols:
            for model in ("baseline", "smileynet"):
                cells = [
                    _get(splits, split, "protocols", protocol, model, "accuracy") for split in published.TWITTER_SPLITS
                ]
                if not any(cells):
                    continue
                rows.append(
                    [
                        _ours(_protocol_label(result, protocol, model), path, len(results) > 1, generated),
                        *(_cell(c) for c in cells),
                    ]
                )
                classes.append("generated" if generated else "ours")
                ours += 1
    if not ours:
        return None
    return table(["Model", *published.TWITTER_HEADERS], rows, numeric=[1, 2, 3], row_classes=classes, raw=True)


def fi_table(results: list[tuple[Path, dict]], generated: bool = False) -> str | None:
    """Table 6: emotion and derived sentiment accuracy on FI, published rows then ours
    (`generated`: demo runs alone, without the published rows)."""
    rows, classes = _published_rows(() if generated else published.TABLE6)
    ours = 0
    for path, result in results:
        split: object = next(iter(_map(result, "splits").values()), {})
        for protocol in ("head", "finetune", "knn"):
            for model in ("baseline", "smileynet"):
                entry = _get(split, "protocols", protocol, model)
                if not isinstance(entry, dict):
                    continue
                rows.append(
                    [
                        _ours(_protocol_label(result, protocol, model), path, len(results) > 1, generated),
                        _cell(entry.get("accuracy")),
                        _cell(entry.get("sentiment_accuracy")),
                    ]
                )
                classes.append("generated" if generated else "ours")
                ours += 1
    if not ours:
        return None
    return table(["Model", *published.TABLE6_HEADERS], rows, numeric=[1, 2], row_classes=classes, raw=True)


def benchmark_table(results: list[tuple[Path, dict]]) -> str | None:
    """Our accuracy per protocol on a benchmark the paper does not report (so no published rows):
    one column for a sentiment benchmark; emotion and derived sentiment accuracy otherwise."""
    rows = []
    multi = any(len(_list(r.get("classes"))) > 2 for _, r in results)
    for path, result in results:
        for split_name, split in _map(result, "splits").items():
            for protocol in BENCHMARK_PROTOCOLS:
                for model in ("baseline", "smileynet"):
                    entry = _get(split, "protocols", protocol, model)
                    if not isinstance(entry, dict):
                        continue
                    label = _protocol_label(result, protocol, model)
                    if split_name != "all":
                        label += f" ({split_name})"
                    cells = [_cell(entry.get("accuracy"))]
                    if multi:  # zero-shot predicts the sentiment only
                        cells = (
                            ["-", cells[0]]
                            if protocol.startswith("zero_shot")
                            else [cells[0], _cell(entry.get("sentiment_accuracy"))]
                        )
                    rows.append([_ours(label, path, len(results) > 1), *cells])
    if not rows:
        return None
    headers = ["Model", "Emotion accuracy", "Sentiment accuracy"] if multi else ["Model", "Sentiment accuracy"]
    return table(headers, rows, numeric=list(range(1, len(headers))), row_classes=["ours"] * len(rows), raw=True)


def _folds_note(results: list[tuple[Path, dict]]) -> str:
    sources = {str(_get(r, "folds", "source")) for _, r in results}
    if sources == {"published"}:
        return "the benchmark's published folds"
    if sources == {"stratified"}:
        ks = {_get(r, "folds", "k") for _, r in results}
        return "seeded stratified folds (no split is published)" + (f", k={ks.pop()}" if len(ks) == 1 else "")
    return "published folds where the benchmark has them, seeded stratified folds otherwise"


def more_benchmark_sections(results: list[tuple[Path, dict]]) -> list[tuple[str, str, str]]:
    """A section per benchmark beyond the paper that has results: our table, the details."""
    sections = []
    for kind, title in MORE_BENCHMARKS:
        runs = [(p, r) for p, r in results if r.get("benchmark") == kind]
        if not runs:
            continue
        parts = []
        body = benchmark_table(runs)
        if body:
            parts.append(f"<h3>Accuracy (%)</h3>{body}")
        text = (
            "Beyond the paper: it reports no numbers on this benchmark, and none are quoted here. "
            f"Ours: mean ± std over {_folds_note(runs)}."
        )
        if not any(isinstance(r.get("class_sentiment"), list) for _, r in runs):
            text += " These classes carry no sentiment mapping, so there is no zero-shot row."
        elif any(len(_list(r.get("classes"))) > 2 for _, r in runs):
            text += (
                " Sentiment: the predicted emotion mapped to positive (amusement, awe, contentment, "
                "excitement) or negative."
            )
        parts.append(note(text))
        parts.append(_benchmark_details(runs))
        sections.append((f"transfer-{kind}", title, "".join(parts)))
    return sections


def _emoji_rho(row: object) -> str:
    key, rho = _get(row, "emoji"), _get(row, "rho")
    if not isinstance(key, str):
        return "-"
    value = f"<br><span class=emoji-name>{rho:.2f}</span>" if isinstance(rho, (int, float)) else ""
    return emoji(normalize_emoji(key)) + value


def class_correlation_table(correlation: dict) -> str:
    """Table 5: the emojis most correlated with each class, with their Spearman rho."""
    width = max((len(v) for v in correlation.values() if isinstance(v, list)), default=0)
    rows = [
        [esc(name), *(_emoji_rho(r) for r in ranked), *([""] * (width - len(ranked)))]
        for name, ranked in correlation.items()
        if isinstance(ranked, list)
    ]
    return table(["Class", *(f"#{i + 1}" for i in range(width))], rows, raw=True)


def sentiment_correlation_table(correlation: dict) -> str:
    """Sec. 4.2: the emojis most correlated with positive and with negative sentiment."""
    rows = [[side, *(_emoji_rho(r) for r in _list(correlation.get(side)))] for side in ("positive", "negative")]
    width = max(len(r) for r in rows) - 1
    rows = [r + [""] * (width + 1 - len(r)) for r in rows]
    return table(["Sentiment", *(f"#{i + 1}" for i in range(width))], rows, raw=True)


def all_protocols_table(result: dict) -> str:
    """Every (split, protocol, model) accuracy of a run, whatever the benchmark."""
    rows = []
    for split_name, split in _map(result, "splits").items():
        for protocol, by_model in _map(split, "protocols").items():
            for model, entry in _map(by_model).items():
                if not isinstance(entry, dict):
                    continue
                rows.append(
                    [
                        split_name,
                        PROTOCOL_NAMES.get(protocol, protocol),
                        _model_name(result, model),
                        _cell(entry.get("accuracy")),
                        _cell(entry.get("sentiment_accuracy")),
                        pct(entry.get("overall")),
                    ]
                )
    return table(
        [
            "split",
            "protocol",
            "model",
            "accuracy (mean ± std over folds)",
            "sentiment accuracy",
            "zero-shot, whole split",
        ],
        rows,
        numeric=[3, 4, 5],
    )


def run_facts(path: Path, result: dict) -> str:
    """What the run was: benchmark, images used and skipped, folds, models, zero-shot lexicon."""
    images = _map(result, "images")
    skipped = _map(images, "skipped")
    lexicon = _map(result, "lexicon")
    folds = _map(result, "folds")
    facts = [
        ("benchmark", result.get("benchmark")),
        ("results", str(path)),
        ("classes", ", ".join(map(str, _list(result.get("classes"))))),
        ("images listed / used", f"{images.get('listed', '-')} / {images.get('used', '-')}"),
        ("images skipped", ", ".join(f"{k}: {v}" for k, v in skipped.items()) or "none"),
        ("folds", f"{folds.get('source', '-')}" + (f", k={folds['k']}" if folds.get("k") else "")),
        ("model", f"{_get(result, 'model', 'arch')}, {_get(result, 'model', 'num_classes')} emojis"),
        ("baseline", _model_name(result, "baseline") if result.get("baseline") else "none"),
        (
            "zero-shot lexicon",
            f"{lexicon.get('source', '-')}: {lexicon.get('covered', '-')} of "
            f"{lexicon.get('total', '-')} emojis scored, the rest by subgroup mean",
        ),
        ("seconds", result.get("seconds")),
    ]
    return table(["", ""], [(k, "-" if v is None else v) for k, v in facts])


def _figure_caption(name: str) -> tuple[int, str]:
    """(position in the paper's order, caption) of a figure named in results.json: the longest
    matching prefix decides ("fingerprints_tsne" is Fig. 8, "fingerprints" Fig. 7)."""
    matches = [(len(prefix), order) for order, (prefix, _) in enumerate(FIGURES) if name.startswith(prefix)]
    if not matches:
        return len(FIGURES), name.replace("_", " ")
    length, order = max(matches)
    split = name[length:].strip("_").replace("_", " ")
    return order, FIGURES[order][1] + (f" ({split})" if split else "")


def figures_of(path: Path, result: dict) -> list[str]:
    """The run's figures that exist, as HTML figures in the paper's order."""
    listed = _map(result, "figures")
    found = []
    for name, file_name in listed.items():
        file = path.parent / str(file_name)
        if file.is_file() and file.suffix.lower() == ".png":
            order, caption = _figure_caption(str(name))
            found.append((order, caption, figure(png_uri(file.read_bytes()), caption, wide=name in WIDE_FIGURES)))
    return [html for _, _, html in sorted(found)]


def read_fingerprints(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(emojis, classes, values) of an emoji_fingerprints.csv."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if len(r) == len(header)]
    classes = header[2:]
    values = np.array([[float(v) for v in r[2:]] for r in rows], dtype=float).reshape(len(rows), len(classes))
    return [normalize_emoji(r[0]) for r in rows], classes, values


def fingerprints_section(path: Path) -> str:
    try:
        emojis, classes, values = read_fingerprints(path)
    except (OSError, ValueError, StopIteration):
        return note(f"{path}: not a readable emoji_fingerprints.csv")
    if not emojis or not classes:
        return ""
    return figure(
        plots.fingerprint_heatmap(emojis, classes, values),
        f"Emotional fingerprint of every emoji: its mean response per class ({path.name}).",
    )


def transfer_sections(results: list[tuple[Path, dict]], fingerprints: list[Path]) -> list[tuple[str, str, str]]:
    """(anchor, title, body) sections: Twitter I, FI, the benchmarks beyond the paper, other
    benchmarks, standalone fingerprints."""
    sections = []
    twitter = [(p, r) for p, r in results if r.get("benchmark") == "twitter"]
    fi = [(p, r) for p, r in results if r.get("benchmark") == "fi"]
    known = {"twitter", "fi", *(kind for kind, _ in MORE_BENCHMARKS)}
    other = [(p, r) for p, r in results if r.get("benchmark") not in known]
    if twitter:
        parts = []
        generated_twitter = [(p, r) for p, r in twitter if is_generated(p, r)]
        measured_twitter = [(p, r) for p, r in twitter if not is_generated(p, r)]
        for title, rows, protocols in (
            ("Table 2: 1-nearest-neighbour sentiment accuracy (%)", published.TABLE2, ("knn",)),
            ("Table 3: visual sentiment, state of the art (%)", published.TABLE3, ("head", "finetune")),
            (
                "Table 4: zero-shot visual sentiment accuracy (%)",
                published.TABLE4,
                ("zero_shot_binary", "zero_shot_continuous"),
            ),
        ):
            for generated, runs in ((False, measured_twitter), (True, generated_twitter)):
                body = twitter_table(runs, rows, protocols, generated) if runs else None
                if body:
                    where = " on the generated world (demo)" if generated else ""
                    parts.append(f"<h3>{esc(title.replace(' (%)', where + ' (%)'))}</h3>{body}")
        parts.append(
            note(
                "Published rows are the paper's numbers, not re-measured. Ours: mean ± std over the folds; "
                "zero-shot polarity comes from the Emoji Sentiment Ranking instead of the paper's four "
                "annotators."
            )
        )
        if generated_twitter:
            parts.append(demo_note(GENERATED_NOTE))
        parts.append(_benchmark_details(twitter))
        sections.append(("transfer-twitter", "Visual sentiment: Twitter I", "".join(parts)))
    if fi:
        parts = []
        generated_fi = [(p, r) for p, r in fi if is_generated(p, r)]
        measured_fi = [(p, r) for p, r in fi if not is_generated(p, r)]
        for generated, runs in ((False, measured_fi), (True, generated_fi)):
            body = fi_table(runs, generated) if runs else None
            if body:
                where = " on the generated world (demo)" if generated else ""
                parts.append(f"<h3>Table 6: fine-grained emotion classification on FI{where} (%)</h3>{body}")
        if parts:
            parts.append(
                note(
                    "Published rows are the paper's numbers, not re-measured. Sentiment: the predicted "
                    "emotion mapped to positive (amusement, awe, contentment, excitement) or negative."
                )
            )
        if generated_fi:
            parts.append(demo_note(GENERATED_NOTE))
        parts.append(_benchmark_details(fi))
        sections.append(("transfer-fi", "Emotions: Flickr & Instagram (FI)", "".join(parts)))
    sections += more_benchmark_sections(results)
    if other:
        sections.append(("transfer-other", "Transfer: other benchmarks", _benchmark_details(other)))
    if fingerprints:
        body = "".join(f"<h3>{esc(p.parent.name)}</h3>" + fingerprints_section(p) for p in fingerprints)
        sections.append(("fingerprints", "Emoji emotional fingerprints", body))
    return sections


def _benchmark_details(results: list[tuple[Path, dict]]) -> str:
    """Per results.json: Table 5 / Sec. 4.2 correlations, the figures, every protocol, the facts."""
    parts = []
    for path, result in results:
        if len(results) > 1:
            parts.append(f"<h3>{esc(path.parent)}</h3>")
        splits = _map(result, "splits")
        correlated = next(
            (
                s["class_correlation"]
                for s in splits.values()
                if isinstance(s, dict) and isinstance(s.get("class_correlation"), dict)
            ),
            None,
        )
        if correlated:
            parts.append(
                "<h3>Table 5: top correlated emojis with each class (Spearman's rho)</h3>"
                + class_correlation_table(correlated)
            )
        split_name = "five_agrees" if "five_agrees" in splits else next(iter(splits), None)
        sentiment = _get(splits, split_name, "sentiment_correlation") if split_name else None
        if isinstance(sentiment, dict):
            parts.append(
                f"<h3>Emojis most correlated with sentiment ({esc(split_name)}, Sec. 4.2)</h3>"
                + sentiment_correlation_table(sentiment)
            )
        parts.append(gallery(figures_of(path, result)))
        fingerprint_file = path.parent / str(_get(result, "fingerprints", "file") or "emoji_fingerprints.csv")
        if fingerprint_file.is_file():
            parts.append(fingerprints_section(fingerprint_file))
        parts.append(details("Every protocol and split", all_protocols_table(result)))
        parts.append(details("About this run", run_facts(path, result)))
    return "".join(parts)
