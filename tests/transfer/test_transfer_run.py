"""`smileynet transfer` end to end on generated benchmarks with a planted tiny model.

The planted model's backbone measures image brightness (channel 0: how bright, channel 1: how
dark) and its head turns brightness into the emoji lexicon's polarity: bright images score the
positive emojis high and the negative ones low. With bright positive and dark negative images,
zero-shot sentiment and 1-NN are right by construction.
"""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from smileynet.errors import UserError
from smileynet.lexicon import vocabulary_sentiment
from smileynet.model import create_model, save
from smileynet.transfer import TransferConfig, run_transfer
from smileynet.transfer.benchmarks import MIKELS_EMOTIONS, POSITIVE_EMOTIONS
from smileynet.vocab import default_vocabulary

IMAGE_SIZE = 16


def planted_model(path):
    vocab = default_vocabulary()
    model = create_model("tiny", len(vocab), vocab=list(vocab.emojis), image_size=IMAGE_SIZE)
    with torch.no_grad():
        for module in model.backbone:
            if isinstance(module, torch.nn.Conv2d):
                module.weight.zero_()
                if module.in_channels == 3:
                    module.weight[0, :, 1, 1] = 1.0
                    module.weight[1, :, 1, 1] = -1.0
                else:
                    module.weight[0, 0, 1, 1] = 1.0
                    module.weight[1, 1, 1, 1] = 1.0
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.reset_parameters()  # running mean 0, var 1, weight 1, bias 0: identity in eval
        polarity = torch.tensor(vocabulary_sentiment(vocab).polarities, dtype=torch.float32)
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.weight[:, 0] = 2.0 * polarity
        model.head.weight[:, 1] = -2.0 * polarity
    return save(model.eval(), path)


def random_model(path, seed=1):
    torch.manual_seed(seed)
    vocab = default_vocabulary()
    return save(create_model("tiny", len(vocab), vocab=list(vocab.emojis), image_size=IMAGE_SIZE).eval(), path)


def picture(bright: bool, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    base = 215 if bright else 35
    pixels = np.clip(base + rng.integers(-25, 26, size=(20, 20, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def read_lines(path):
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return planted_model(root / "planted"), random_model(root / "random")


@pytest.mark.e2e
def test_twitter_with_published_folds(tmp_path, shared_fixtures, models):
    planted, _ = models
    root = tmp_path / "twitter"
    (root / "images").mkdir(parents=True)
    published = shared_fixtures / "twitter-i-folds" / "ground_truth"
    (root / "ground_truth").symlink_to(published)
    labels = {}
    for split in ("five_agrees", "four_agrees", "three_agrees"):
        rows = [r for k in range(1, 6) for r in read_lines(published / split / f"test{k}" / "test.txt")]
        (root / f"twitter_{split}.txt").write_text("".join(f"{n} {lab}\n" for n, lab in rows))
        labels.update({n: int(lab) for n, lab in rows})
    for i, (name, label) in enumerate(sorted(labels.items())):
        (root / "images" / name).write_bytes(picture(label == 1, i % 40))

    out = tmp_path / "out"
    config = TransferConfig("twitter", root, planted, out, workers=0, quiet=True)
    results = run_transfer(config)
    saved = json.loads((out / "results.json").read_text())
    assert saved["splits"].keys() == results["splits"].keys() == {"five_agrees", "four_agrees", "three_agrees"}
    assert results["images"] == {"listed": 1269, "used": 1269, "skipped": {}}
    assert results["folds"]["source"] == "published" and results["baseline"] is None
    five = results["splits"]["five_agrees"]
    assert five["n"] == 880 and five["fold_sizes"] == [176] * 5 and five["fold_source"] == "published"
    for protocol in ("knn", "head", "zero_shot_binary", "zero_shot_continuous"):
        assert five["protocols"][protocol]["smileynet"]["accuracy"] == {"mean": 1.0, "std": 0.0, "folds": [1.0] * 5}
    polarity = dict(zip(default_vocabulary().emojis, vocabulary_sentiment(default_vocabulary()).polarities))
    correlation = five["sentiment_correlation"]
    assert all(polarity[r["emoji"]] == 1 and r["rho"] > 0.8 for r in correlation["positive"])
    assert all(polarity[r["emoji"]] == -1 and r["rho"] < -0.8 for r in correlation["negative"])
    assert results["lexicon"]["total"] == 92 and "🤬" in results["lexicon"]["fallback"]
    for name in ("pca_five_agrees", "sentiment_correlation_three_agrees"):
        assert (out / results["figures"][name]).read_bytes()[:4] == b"\x89PNG"
    assert results["extraction"]["smileynet"]["extracted"] == 1269


def make_fi(root, per_class=6):
    placeholder = picture(True, 999)
    for e, emotion in enumerate(MIKELS_EMOTIONS):
        (root / emotion).mkdir(parents=True)
        for n in range(per_class):
            (root / emotion / f"{emotion}_{n:04d}.jpg").write_bytes(picture(emotion in POSITIVE_EMOTIONS, 100 * e + n))
        (root / emotion / f"{emotion}_9000.jpg").write_bytes(placeholder)
    (root / "anger" / "anger_9001.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")


def test_fi_of_placeholders_only_says_so(tmp_path, models):
    """Every file a copy of Flickr's "photo unavailable" picture: the error names the placeholders,
    not unreadable images; with a few broken files beside them, both counts are given."""
    planted, _ = models
    placeholder = picture(True, 999)
    for emotion in MIKELS_EMOTIONS:
        (tmp_path / "fi" / emotion).mkdir(parents=True)
        (tmp_path / "fi" / emotion / f"{emotion}_0001.jpg").write_bytes(placeholder)
    config = TransferConfig("fi", tmp_path / "fi", planted, tmp_path / "out", workers=0, quiet=True)
    with pytest.raises(UserError, match=r"all 8 images were dropped before reading: 8 placeholder") as caught:
        run_transfer(config)
    assert "could be read" not in str(caught.value) and not (tmp_path / "out").exists()
    for emotion in MIKELS_EMOTIONS[:2]:
        (tmp_path / "fi" / emotion / f"{emotion}_0002.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(UserError) as caught:
        run_transfer(config)
    message = str(caught.value)
    assert "none of the 2 images left after dropping 8 placeholder (repeated identical file) could be read" in message
    assert "\n" not in message


@pytest.mark.e2e
def test_fi_emotions_fingerprints_and_skips(tmp_path, models):
    planted, random = models
    make_fi(tmp_path / "fi")
    out = tmp_path / "out"
    results = run_transfer(
        TransferConfig("fi", tmp_path / "fi", planted, out, baseline=str(random), workers=0, quiet=True)
    )
    assert results["images"]["listed"] == 8 * 6 + 8 + 1 and results["images"]["used"] == 48
    skipped = dict(results["images"]["skipped"])
    assert skipped.pop("placeholder (repeated identical file)") == 8 and sum(skipped.values()) == 1
    split = results["splits"]["all"]
    assert results["baseline"]["dim"] == 92 and set(split["protocols"]["knn"]) == {
        "smileynet",
        "baseline",
    }  # its output
    assert results["class_sentiment"] == [1, 0, 1, 1, 0, 1, 0, 0]
    head = split["protocols"]["head"]["smileynet"]
    assert head["sentiment_accuracy"]["mean"] == 1.0 and head["accuracy"]["mean"] < 1.0
    assert split["protocols"]["zero_shot_binary"]["smileynet"]["overall"] == 1.0
    assert np.asarray(split["confusion"]["smileynet"]).sum() == 48
    assert set(split["class_correlation"]) == set(MIKELS_EMOTIONS) and len(split["class_correlation"]["awe"]) == 7

    with open(out / "emoji_fingerprints.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 92 and list(rows[0]) == ["emoji", "name", *MIKELS_EMOTIONS]
    polarity = dict(zip(default_vocabulary().emojis, vocabulary_sentiment(default_vocabulary()).polarities))
    for row in rows:
        if polarity[row["emoji"]] == 1:
            assert float(row["amusement"]) > 0.9 > 0.1 > float(row["sadness"])
        elif polarity[row["emoji"]] == -1:
            assert float(row["amusement"]) < 0.1 < 0.9 < float(row["sadness"])
    for name in ("confusion_all", "fingerprints", "fingerprints_tsne", "pca_all"):
        assert (out / results["figures"][name]).stat().st_size > 1000

    # a rerun (another head, other folds) takes both embeddings from the cache, failures included;
    # only the image changed since is extracted again
    (tmp_path / "fi" / "awe" / "awe_0000.jpg").write_bytes(picture(True, 12345))
    again = run_transfer(
        TransferConfig(
            "fi", tmp_path / "fi", planted, out, baseline=str(random), folds=3, head="mlp", workers=0, quiet=True
        )
    )
    assert [e["extracted"] for e in again["extraction"].values()] == [1, 1]
    assert again["images"] == results["images"] and again["splits"]["all"]["fold_sizes"] == [16, 16, 16]


def test_folder_csv_with_mlp_head_and_finetune(tmp_path, models):
    planted, _ = models
    root = tmp_path / "mine"
    root.mkdir()
    rows = ["path,label"]
    for n in range(12):
        name = f"img_{n}.jpg"
        (root / name).write_bytes(picture(n % 2 == 0, n))
        rows.append(f"{name},{'happy' if n % 2 == 0 else 'sad'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    results = run_transfer(
        TransferConfig(
            "folder",
            root,
            planted,
            tmp_path / "out",
            folds=3,
            head="mlp",
            finetune=True,
            finetune_epochs=1,
            batch_size=8,
            workers=0,
            quiet=True,
        )
    )
    split = results["splits"]["all"]
    assert results["classes"] == ["happy", "sad"] and results["class_sentiment"] is None
    assert split["protocols"]["head"]["smileynet"]["accuracy"]["mean"] == 1.0
    finetuned = split["protocols"]["finetune"]["smileynet"]["accuracy"]
    assert len(finetuned["folds"]) == 3 and all(0.0 <= v <= 1.0 for v in finetuned["folds"])
    assert "zero_shot_binary" not in split["protocols"] and results["fingerprints"] is None


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "smileynet", "transfer", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_bad_input_is_one_line(tmp_path, models):
    planted, _ = models
    result = cli("imagenet", "--root", str(tmp_path), "--model", str(planted), "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0 and "unknown benchmark" in result.stderr
    result = cli("fi", "--root", str(tmp_path / "none"), "--model", str(planted), "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and "not found" in result.stderr and "Traceback" not in result.stderr


def test_cli_runs_a_folder_benchmark(tmp_path, models):
    planted, _ = models
    for label, bright in (("negative", False), ("positive", True)):
        (tmp_path / "data" / label).mkdir(parents=True)
        for n in range(5):
            (tmp_path / "data" / label / f"{n}.jpg").write_bytes(picture(bright, n))
    result = cli(
        "folder",
        "--root",
        str(tmp_path / "data"),
        "--model",
        str(planted),
        "--out",
        str(tmp_path / "o"),
        "--workers",
        "0",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["accuracy"]["all"]["zero_shot_binary"] == 1.0 and summary["images"]["used"] == 10
    assert (tmp_path / "o" / "config.yaml").is_file() and (tmp_path / "o" / "results.json").is_file()


def _imagenet_classifier_file(path):
    """A whole torchvision ImageNet classifier's state dict (random weights: no download here)."""
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(3)
    classifier = torchvision.models.get_model("mobilenet_v3_small", weights=None).eval()
    save_file({k: v.contiguous() for k, v in classifier.state_dict().items()}, str(path))
    return classifier


def test_an_imagenet_classifier_keeps_its_1000_way_output_as_the_embedding(tmp_path):
    from smileynet.model.factory import imagenet_classifier

    reference = _imagenet_classifier_file(tmp_path / "mobilenet.safetensors")
    model = imagenet_classifier("mobilenet_v3_small", tmp_path / "mobilenet.safetensors", image_size=32)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (2, 1000) and model.forward_features(x).shape == (2, 1024)
        torch.testing.assert_close(model(x), reference(x))
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="whole mobilenet_v3_small classifier"):
        imagenet_classifier("mobilenet_v3_small", tmp_path / "other.pt")
    with pytest.raises(UserError, match="tiny"):
        imagenet_classifier("tiny")


def test_the_baseline_embedding_is_its_output_by_default_and_its_size_is_reported(tmp_path):
    from smileynet.report.transfer import twitter_table

    _imagenet_classifier_file(tmp_path / "mobilenet.safetensors")
    vocab = default_vocabulary()
    torch.manual_seed(0)
    model = save(
        create_model("mobilenet_v3_small", len(vocab), vocab=list(vocab.emojis), image_size=32).eval(),
        tmp_path / "model",
    )
    root = tmp_path / "mine"
    root.mkdir()
    for n in range(8):
        (root / ("pos" if n % 2 else "neg")).mkdir(exist_ok=True)
        (root / ("pos" if n % 2 else "neg") / f"img_{n}.jpg").write_bytes(picture(n % 2 == 1, n))
    results = run_transfer(
        TransferConfig(
            "folder",
            root,
            model,
            tmp_path / "out",
            folds=2,
            workers=0,
            quiet=True,
            baseline=str(tmp_path / "mobilenet.safetensors"),
        )
    )
    assert results["baseline"]["features"] == "logits" and results["baseline"]["dim"] == 1000
    assert results["baseline"]["demo"] is False
    assert results["model"]["dim"] == 92
    assert set(results["splits"]["all"]["protocols"]["knn"]) == {"smileynet", "baseline"}
    from smileynet.model import load
    from smileynet.transfer.experiment import load_baseline

    backbone_only, _ = load_baseline(str(tmp_path / "mobilenet.safetensors"), load(model), "pre_logits")
    assert backbone_only.num_features == 1024
    result = {
        **results,
        "baseline": {**results["baseline"], "features": "pre_logits", "dim": 1024},
        "splits": {"five_agrees": results["splits"]["all"]},
    }
    html = twitter_table([(tmp_path / "out" / "results.json", result)], (), ("knn",))
    baseline = "baseline: mobilenet_v3_small from mobilenet.safetensors (pre-logits, 1024-d), 1-NN"
    assert "SmileyNet (92-d), 1-NN" in html and baseline in html
    with pytest.raises(UserError, match="baseline-features"):
        run_transfer(TransferConfig("folder", root, model, tmp_path / "bad", baseline_features="both", quiet=True))
