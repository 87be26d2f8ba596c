"""transfer: sentiment and emotion benchmarks on the emoji embedding (paper Sec. 4.2-4.4).

`smileynet transfer KIND --root DIR --model MODEL --out OUT` reads the benchmark KIND (twitter,
twitter2, fi, emotionroi, emotion6, artphoto, abstract, folder) in its original layout
(`benchmarks`, docs/benchmarks.md), extracts the emoji embedding (and, with `--baseline`, the
"ObjectNet" embedding: by default the baseline's output layer, 1000-d for `imagenet` as in the
paper; `--baseline-features pre_logits` for the features before it) once into `OUT/cache/`
(`features`), runs every protocol on the cached arrays (`protocols`; `finetune` for
`--finetune`), and writes:

- `OUT/results.json`, schema below;
- `OUT/*.png`: `pca_<split>.png` (Fig. 4), `sentiment_correlation_<split>.png` (Sec. 4.2),
  `confusion_<split>.png` (Fig. 6), `fingerprints.png` (Fig. 7), `fingerprints_tsne.png` (Fig. 8);
- `OUT/emoji_fingerprints.csv` for benchmarks of more than two classes (FI): columns `emoji`
  (the vocabulary key, as in the model's config.json), `name`, then one column per class: the
  emoji's mean sigmoid response over that class's images;
- `OUT/config.yaml`, the resolved configuration.

results.json (version 1). Accuracies are fractions in [0, 1]. A "summary" is
`{"mean": float, "std": float, "folds": [float, ...]}`, std over folds with ddof=0.

    version            1
    benchmark          KIND: "twitter" | "twitter2" | "fi" | "emotionroi" | "emotion6" | "artphoto" |
                       "abstract" | "folder"
    root               benchmark root as given
    model              {path, arch, num_classes, digest, features: "logits", dim}
    baseline           null | {spec, arch, digest, features: "logits" | "pre_logits", dim}
                       (dim: the embedding's size, e.g. 92 and 1000 for the paper's pair)
    classes            class names, label order ("negative", "positive" for Twitter I and II)
    class_sentiment    0/1 per class (FI, ArtPhoto, Abstract: amusement, awe, contentment,
                       excitement = 1) or null (EmotionROI, Emotion6: no zero-shot)
    head               "linear" | "mlp"  (the transfer head t(.))
    finetune           null | {epochs}
    folds              {k (null when published), source: "published" | "stratified", seed}
    images             {listed, used, skipped: {reason: count}}
    extraction         {smileynet|baseline: {seconds, extracted, cached}}
    lexicon            {source, covered, total, fallback: [emoji, ...]} (zero-shot weights)
    splits             {name: SPLIT}: Twitter I "five_agrees", "four_agrees", "three_agrees";
                       every other benchmark "all"
    fingerprints       null | {file: "emoji_fingerprints.csv", classes, response}
    figures            {name: file name in OUT}
    seconds            wall time of the run

    SPLIT:
    n, class_counts {class: count}, fold_sizes [test size per fold], fold_source
    protocols          {PROTOCOL: {"smileynet"|"baseline": {accuracy: summary,
                                                            sentiment_accuracy: summary}}}
        PROTOCOL: "knn" (1-NN, Table 2), "head" (t(.) on the cached embedding, Table 3 / Table 6),
        "finetune" (whole network, with --finetune), "zero_shot_binary" and
        "zero_shot_continuous" (Table 4; smileynet only; also "overall": accuracy on the whole
        split). sentiment_accuracy: multi-class benchmarks with a sentiment mapping, the
        predicted class mapped to its sentiment (Table 6, "Sentiment").
    confusion          {classes, smileynet: [[count]], baseline: [[count]]} from the head's
                       test predictions over all folds; rows true class, columns predicted
    sentiment_correlation  {positive: [ROW x5], negative: [ROW x5]} (Sec. 4.2), when the
                       classes carry a sentiment; ROW = {emoji, name, rho} (Spearman)
    class_correlation  {class: [ROW x7]} (Table 5), more than two classes only
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.transfer.experiment import TransferConfig as TransferConfig
    from smileynet.transfer.experiment import run_transfer as run_transfer

_EXPORTS = {"TransferConfig": "experiment", "run_transfer": "experiment"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
