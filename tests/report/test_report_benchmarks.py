"""A report section per benchmark beyond the paper, with our rows only (it publishes none)."""

from pathlib import Path

from smileynet.report.page import BUILT_IN_NOTE, esc
from smileynet.report.transfer import DEMO_BASELINE, transfer_sections


def summary(mean):
    return {"mean": mean, "std": 0.01, "folds": [mean - 0.01, mean + 0.01]}


def results(kind, classes, class_sentiment, zero_shot):
    protocols = {
        "knn": {"smileynet": {"accuracy": summary(0.4)}, "baseline": {"accuracy": summary(0.3)}},
        "head": {"smileynet": {"accuracy": summary(0.5)}},
    }
    if class_sentiment:
        protocols["head"]["smileynet"]["sentiment_accuracy"] = summary(0.7)
    if zero_shot:
        protocols["zero_shot_binary"] = {"smileynet": {"accuracy": summary(0.65), "overall": 0.66}}
    return {
        "benchmark": kind,
        "classes": classes,
        "class_sentiment": class_sentiment,
        "head": "linear",
        "baseline": {"spec": "imagenet", "arch": "resnet50", "dim": 1000},
        "folds": {"k": 5, "source": "stratified"},
        "splits": {"all": {"protocols": protocols}},
    }


def test_one_section_per_benchmark(tmp_path):
    ekman = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]
    mikels = ["amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness"]
    runs = [
        ("emotionroi", ekman, None, False),
        ("artphoto", mikels, [1, 0, 1, 1, 0, 1, 0, 0], True),
        ("abstract", mikels, [1, 0, 1, 1, 0, 1, 0, 0], True),
        ("emotion6", ekman, None, False),
        ("twitter2", ["negative", "positive"], [0, 1], True),
        ("mine", ["a", "b"], None, False),
    ]
    found = [(tmp_path / run[0] / "results.json", results(*run)) for run in runs]
    sections = transfer_sections(found, [])
    assert [a for a, _, _ in sections] == [
        "transfer-twitter2",
        "transfer-emotionroi",
        "transfer-emotion6",
        "transfer-artphoto",
        "transfer-abstract",
        "transfer-other",
    ]
    bodies = {a: body for a, _, body in sections}
    assert "<th class=num>Emotion accuracy</th><th class=num>Sentiment accuracy</th>" in bodies["transfer-artphoto"]
    assert "70.0 ± 1.0" in bodies["transfer-artphoto"] and "65.0 ± 1.0" in bodies["transfer-artphoto"]
    table, _ = bodies["transfer-emotionroi"].split("Beyond the paper")
    assert "no zero-shot row" in bodies["transfer-emotionroi"] and "zero-shot" not in table
    assert esc("ObjectNet (resnet50, 1000-d), 1-NN") in bodies["transfer-emotion6"]
    assert "Emotion accuracy" not in bodies["transfer-twitter2"] and "Sentiment accuracy" in bodies["transfer-twitter2"]
    assert all('class="published"' not in body for body in bodies.values())


def knn_table(baseline: dict, model: dict | None = None) -> str:
    """The Twitter I 1-NN table's rows of ours for a run with this `baseline` entry."""
    result = {
        "benchmark": "twitter",
        "model": {"dim": 92, **(model or {})},
        "baseline": baseline,
        "splits": {
            split: {
                "protocols": {"knn": {"smileynet": {"accuracy": summary(0.8)}, "baseline": {"accuracy": summary(0.6)}}}
            }
            for split in ("five_agrees", "four_agrees", "three_agrees")
        },
    }
    (_, _, body), *_ = transfer_sections([(Path("/runs/transfer-twitter/results.json"), result)], [])
    return body


def test_only_an_imagenet_baseline_is_called_objectnet(tmp_path):
    imagenet = {"spec": "imagenet", "arch": "resnet50", "features": "logits", "dim": 1000, "demo": False}
    assert esc("ObjectNet (resnet50, 1000-d), 1-NN") in knn_table(imagenet)
    trained = {"spec": "/runs/run-objects/model", "arch": "tiny", "features": "pre_logits", "dim": 128, "demo": False}
    body = knn_table(trained)
    assert esc("baseline: tiny trained on run-objects (pre-logits, 128-d), 1-NN") in body
    ours = body.split("Published rows")[0].split('class="ours"', 1)[1]
    assert "ObjectNet" not in ours and DEMO_BASELINE not in body
    weights = {"spec": "/w/mobilenet.safetensors", "arch": "mobilenet_v3_small", "features": "logits", "dim": 1000}
    assert esc("baseline: mobilenet_v3_small from mobilenet.safetensors (1000-d), 1-NN") in knn_table(weights)
    demo = {**trained, "demo": True}
    assert esc(f"{DEMO_BASELINE}, 1-NN") in knn_table(demo, {"demo": True})


def test_an_older_results_file_finds_a_demo_baseline_by_its_config(tmp_path):
    """Without `demo` in the baseline entry, the baseline's config.json says whether it is a demo model."""
    from smileynet.model import create_model, save

    model = create_model("tiny", 4, vocab=["😂", "😍", "👻", "💀"], image_size=32)
    model.config.demo = True
    save(model, tmp_path / "run-objects" / "model")
    old = {"spec": str(tmp_path / "run-objects" / "model"), "arch": "tiny", "features": "pre_logits", "dim": 128}
    assert esc(f"{DEMO_BASELINE}, 1-NN") in knn_table(old)
    (tmp_path / "run-objects" / "model" / "config.json").unlink()  # gone: unknown, named for what it is
    assert esc("baseline: tiny trained on run-objects (pre-logits, 128-d), 1-NN") in knn_table(old)


def test_the_built_in_advantage_is_said_for_demo_runs_only():
    trained = {"spec": "/runs/run-objects/model", "arch": "tiny", "features": "pre_logits", "dim": 128, "demo": False}
    assert esc(BUILT_IN_NOTE) in knn_table({**trained, "demo": True}, {"demo": True})
    assert "by construction" not in knn_table(trained)


def test_a_hub_id_named_in_a_results_file_is_never_downloaded(monkeypatch):
    """Whether a model is a demo model is read from a config.json on disk; a results file that
    names `hf-hub:...` is outside input and must not make the report fetch anything."""
    from smileynet.model import hub
    from smileynet.report.training import is_demo_model

    def no_download(*args, **kwargs):
        raise AssertionError("the report tried to download a hub repo")

    monkeypatch.setattr(hub, "download", no_download)
    assert is_demo_model("hf-hub:someone/some-model") is False
