"""`smileynet transfer twitter2` end to end with the planted tiny model (bright = positive), and
its report section."""

import json

from test_transfer_run import picture, planted_model

from smileynet.report.transfer import transfer_sections


def make_twitter2(root, per_partition=6):
    """Twitter II's layout: `twitter/groundTruthLabel.txt` and `partition1..5/<n>.jpg`."""
    base = root / "twitter"
    rows, n = ["Image\tSentiment"], 0
    for k in range(1, 6):
        (base / f"partition{k}").mkdir(parents=True)
        for i in range(per_partition):
            n += 1
            positive = i % 3 != 0
            (base / f"partition{k}" / f"{n}.jpg").write_bytes(picture(positive, n))
            rows.append(f"{n}.jpg\t{'positive' if positive else 'negative'}")
    rows.append(f"{n + 1}.jpg\tnegative")  # a candidate tweet that is in no partition
    (base / "groundTruthLabel.txt").write_text("\r\n".join(rows) + "\r\n")
    return n


def test_twitter2_transfer_and_report(tmp_path, run_cli):
    model = planted_model(tmp_path / "model")
    n = make_twitter2(tmp_path / "bench")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "transfer",
        "twitter2",
        "--root",
        tmp_path / "bench",
        "--model",
        model,
        "--out",
        out,
        "--workers",
        "0",
        "--quiet",
    )
    assert code == 0, stderr
    assert json.loads(stdout)["accuracy"]["all"]["zero_shot_binary"] == 1.0
    results = json.loads((out / "results.json").read_text())
    assert results["benchmark"] == "twitter2" and results["classes"] == ["negative", "positive"]
    assert results["images"] == {"listed": n, "used": n, "skipped": {}} and results["folds"]["source"] == "published"
    split = results["splits"]["all"]
    assert split["fold_sizes"] == [6] * 5 and split["class_counts"] == {"negative": 10, "positive": 20}
    for protocol in ("knn", "head", "zero_shot_binary", "zero_shot_continuous"):
        assert split["protocols"][protocol]["smileynet"]["accuracy"] == {"mean": 1.0, "std": 0.0, "folds": [1.0] * 5}
    assert (out / results["figures"]["pca_all"]).read_bytes()[:4] == b"\x89PNG"

    sections = {
        anchor: (title, body) for anchor, title, body in transfer_sections([(out / "results.json", results)], [])
    }
    title, body = sections["transfer-twitter2"]
    assert "Twitter II" in title and "transfer-other" not in sections
    assert body.count('class="ours"') == 4 and "100.0 ± 0.0" in body and 'class="published"' not in body
