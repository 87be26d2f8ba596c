"""benchmarks/cost_model.py: its measured figures are the ones benchmarks/README.md quotes, its
output is the table in docs/scale.md, and the table follows the figures."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import cost_model

REPO = Path(__file__).resolve().parents[2]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_measured_figures_are_quoted_from_the_benchmark_readme():
    readme = squeeze((REPO / "benchmarks" / "README.md").read_text())
    _, figures = cost_model.load()
    assert {entry["kind"] for entry in figures.values()} == {"measured", "estimate", "assumption"}
    for name, entry in figures.items():
        assert entry["source"], name
        if entry["kind"] != "measured":
            assert "quote" not in entry, f"{name}: only measured figures quote the README"
            continue
        assert squeeze(entry["quote"]) in readme, f"{name}: quote no longer in benchmarks/README.md"
        value = entry["value"]
        assert any(text in entry["quote"] for text in {f"{value:,}", f"{value}", f"{value:g}"}), (
            f"{name}: {value} not in its quote"
        )


def test_docs_table_is_the_script_output():
    printed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cost_model.py")], capture_output=True, text=True, check=True
    ).stdout.strip()
    page = (REPO / "docs" / "scale.md").read_text()
    table = page.split("<!-- cost-model:start -->\n")[1].split("\n<!-- cost-model:end -->")[0]
    assert table == printed, "docs/scale.md is out of date: paste the output of benchmarks/cost_model.py"
    assert len(printed.splitlines()) == 2 + 10 and "(estimate)" in printed  # header, rule, 10 rows


def wall(model: list, stage: str, setup: str) -> float:
    return next(r.wall_s for r in model if r.stage == stage and r.setup.startswith(setup))


def test_table_follows_the_figures(tmp_path):
    workload, figures = cost_model.load()
    base = cost_model.rows(workload, figures)
    # 1M records, 110 MiB: 107 bytes per record; 46 GB of real statuses bound the month by bytes
    per_core_s = 46e9 / (33932 * 110 * 2**20 / 1080215) / (1.89 / 2)
    assert abs(wall(base, "collect", "1 machine") - per_core_s / 16) < 1
    assert abs(wall(base, "train", "1 GPU") - 320000 * 128 / 2470) < 1
    text = (
        cost_model.FIGURES.read_text()
        .replace("value = 33932", "value = 67864")  # collect twice as fast per core
        .replace("value = 2470", "value = 4940")  # a GPU twice as fast
        .replace("link_gbit_per_s]\nvalue = 1", "link_gbit_per_s]\nvalue = 10")
    )
    changed = tmp_path / "figures.toml"
    changed.write_text(text)
    assert tomllib.loads(text)["gpu_train_images_per_s"]["value"] == 4940
    faster = cost_model.rows(*cost_model.load(changed))
    assert abs(wall(faster, "collect", "8 machines") * 2 - wall(base, "collect", "8 machines")) < 1e-6
    for setup in ("1 GPU", "8 GPUs, 1 node, batch 128", "8 GPUs, 1 node, batch 1024"):
        assert abs(wall(faster, "train", setup) * 2 - wall(base, "train", setup)) < 1e-6
    # a 10 Gbit/s link: the CPU bounds download, 16 cores x 64 images/s
    assert abs(wall(faster, "download", "1 machine") - 4e6 / (16 * 64)) < 1
    assert wall(base, "download", "1 machine") > wall(faster, "download", "1 machine")
