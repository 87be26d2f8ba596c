"""A report section per benchmark beyond the paper, with our rows only (it publishes none)."""

from smileynet.report.page import esc
from smileynet.report.transfer import transfer_sections


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
        "baseline": {"arch": "tiny", "dim": 128},
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
    assert esc("ObjectNet (tiny, 128-d), 1-NN") in bodies["transfer-emotion6"]
    assert "Emotion accuracy" not in bodies["transfer-twitter2"] and "Sentiment accuracy" in bodies["transfer-twitter2"]
    assert all('class="published"' not in body for body in bodies.values())
