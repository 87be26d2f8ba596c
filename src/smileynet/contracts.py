"""The facts several stages share, defined once: split names, collect's drop reasons, the
evaluation keys, the parquet schemas, the shape of transfer's `results.json` and the release-CSV
layout. A stage that writes one of these and a stage that reads it import it from here, so the
two cannot drift apart (docs/architecture.md, "Contracts").

Importing this module is cheap (no pyarrow until a schema is asked for). The one reader of
release CSVs is `smileynet.data.release`; its image-id rule is `release_image_id` below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import pyarrow as pa

SPLITS = ("train", "valid", "test")

# collect_report.json: why a record was not kept, in the order the report lists them.
DROP_REASONS = (
    "no_image",
    "no_smiley",
    "too_many_emojis",
    "has_url",
    "has_hashtag",
    "has_mention",
    "is_reply",
    "is_quote",
    "is_retweet",
    "not_a_post",  # delete notices, rate-limit notices, ...
    "malformed",
    "duplicate",
    "deleted",  # a delete notice for the post appears anywhere in the inputs
    "sensitive",  # the post is flagged sensitive by its author or platform
)

# Evaluation JSON (`smileynet evaluate`): the headline metrics, the same under RANDOM for
# uniform random scores, N samples, and one row per emoji under PER_CATEGORY.
TOP_KS = (1, 3, 5)
METRIC_KEYS = ("mtop1", "mtop3", "mtop5", "auc", "map")
METRIC_TITLES = {"mtop1": "mTop-1", "mtop3": "mTop-3", "mtop5": "mTop-5", "auc": "AUC", "map": "mAP"}
N_KEY = "n"
RANDOM_KEY = "random"
PER_CATEGORY_KEY = "per_category"
EVALUATION_KEYS = (*METRIC_KEYS, N_KEY, RANDOM_KEY, PER_CATEGORY_KEY)


def mtop_key(k: int) -> str:
    return f"mtop{k}"


def is_evaluation_result(data: object) -> bool:
    """Whether parsed JSON looks like an evaluation result (the report's test)."""
    return isinstance(data, dict) and "mtop1" in data and "auc" in data


# Stage outputs, by file name.
POSTS_FILE = "posts.parquet"
COLLECT_REPORT_FILE = "collect_report.json"
MANIFEST_FILE = "manifest.parquet"
CATEGORIES_FILE = "categories.csv"
STATS_DIR = "stats"
TRANSFER_RESULTS_FILE = "results.json"

# Release CSVs (the public Visual Smiley Dataset's layout): `{split}.csv` with these columns
# (others are kept as found; `post_id` or else `tweet_id` names the post), and categories.csv.
RELEASE_COLUMNS = ("url", "labels")
RELEASE_POST_ID_COLUMNS = ("post_id", "tweet_id")
RELEASE_IMAGE_ID_COLUMN = "image_id"
CATEGORIES_COLUMNS = ("category", "unicode")

# Figures that `sample` writes into `DIR/stats/` and the report embeds as they are.
LABEL_DISTRIBUTION_FIGURE = "label_distribution.png"  # the paper's Fig. 2
LABEL_CORRELATION_FIGURE = "label_correlation.png"  # the paper's Fig. 9
WINDOWS_FIGURE = "posts_per_window.png"


def release_csv_name(split: str) -> str:
    return f"{split}.csv"


def release_image_id(split: str, row: int) -> str:
    """The id of the `row`-th data row (0-based, header not counted) of a split CSV that has no
    `image_id` column: `{split}_{row}`, the manifest's `{post_id}_{n}` with the split as the post.
    Every stage that reads a release (sample, download, train/evaluate/embed, report) uses it, so
    shards downloaded from a release and the release read in place name an image alike."""
    return f"{split}_{row}"


def posts_schema() -> pa.Schema:
    """posts.parquet, as collect writes it: one row per kept post."""
    import pyarrow as pa

    return pa.schema(
        [
            ("post_id", pa.string()),
            ("source", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("text", pa.string()),
            ("emojis", pa.list_(pa.string())),  # distinct vocabulary emojis, order of first appearance
            ("image_urls", pa.list_(pa.string())),
            ("alt_texts", pa.list_(pa.string())),  # one per image url, "" where the post gives none
            ("author_id", pa.string()),
            ("lang", pa.string()),  # nullable
            ("sensitive", pa.bool_()),  # flagged by its author or platform (dropped unless --keep-sensitive)
        ]
    )


def manifest_schema() -> pa.Schema:
    """manifest.parquet, as sample writes it: one row per image, `image_id` = `{post_id}_{n}`."""
    import pyarrow as pa

    return pa.schema(
        [
            ("image_id", pa.string()),
            ("post_id", pa.string()),
            ("url", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("window", pa.int32()),
            ("labels", pa.list_(pa.int32())),  # indices into the vocabulary
            ("emojis", pa.list_(pa.string())),
            ("split", pa.string()),
        ]
    )


def embeddings_schema(num_classes: int, metadata: dict[str, str] | None = None) -> pa.Schema:
    """An embeddings parquet, as embed writes it: `embedding` the pre-sigmoid logits and `probs`
    the same after the sigmoid, one float32 per emoji."""
    import pyarrow as pa

    vector = pa.list_(pa.float32(), num_classes)
    return pa.schema(
        [("id", pa.string()), ("path", pa.string()), ("embedding", vector), ("probs", vector)], metadata=metadata
    )


class TransferModel(TypedDict):
    path: str
    arch: str
    num_classes: int
    digest: str
    features: str
    dim: int
    demo: bool  # trained by `smileynet demo` on generated pictures only


class TransferBaseline(TypedDict):
    """The `--baseline` model; results.json files written before `demo` existed lack it (unknown)."""

    spec: str  # "imagenet" (the ImageNet classifier: the paper's ObjectNet), a model dir or a weights file
    arch: str
    digest: str
    features: str
    dim: int
    demo: bool  # a model dir trained by `smileynet demo` on generated pictures only


class TransferResults(TypedDict):
    """`results.json` of `smileynet transfer`: what `smileynet report` reads (its `splits` map a
    benchmark split to that split's protocols, counts and folds)."""

    version: int
    benchmark: str
    root: str
    model: TransferModel
    baseline: TransferBaseline | None
    classes: list[str]
    class_sentiment: list[int] | None
    head: str
    finetune: dict[str, Any] | None
    folds: dict[str, Any]
    images: dict[str, Any]
    extraction: dict[str, Any]
    lexicon: dict[str, Any]
    splits: dict[str, Any]
    fingerprints: dict[str, Any] | None
    figures: dict[str, str]  # figure name -> file beside results.json
    seconds: float


def is_transfer_results(data: object) -> bool:
    """Whether parsed JSON looks like a transfer `results.json` (the report's test)."""
    return isinstance(data, dict) and isinstance(data.get("splits"), dict) and "benchmark" in data


EVAL_CROP_FRACTION = 0.875  # the eval crop keeps the centre 87.5% of the resized short side (224 of 256)


def eval_resize_size(image_size: int) -> int:
    """The short side the eval recipe resizes to before its centre crop of `image_size`: what the
    model config's recipe says (model/config.py) and what the torch and numpy crops do."""
    return int(round(image_size / EVAL_CROP_FRACTION))
