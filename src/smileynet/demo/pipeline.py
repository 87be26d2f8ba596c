"""`smileynet demo`: generate a world, then run the real commands on it, in order.

Nothing is faked: the demo only supplies what a real user would have (archives of posts, an image
host, two benchmarks in their original layouts, see `world`), then runs `smileynet collect`,
`sample`, `download`, `train`, `evaluate`, `transfer twitter`, `transfer fi` and `report` as
subprocesses, exactly as a user would type them (each command line is printed and logged).

Table 1's two SmileyNet variants are both trained: `sample` (temporal, the model every later
stage uses) and `sample --sampling raw` (Raw-Dist.) share their valid and test splits; both runs
train for the same `steps` and are evaluated on the same test split, the temporal shards'.
Table 2's baseline (the paper's ObjectNet, a ResNet50 trained on ImageNet, which the demo cannot
download) is a stand-in: the same `tiny` backbone trained from scratch on the world's object
pictures (`world/objects/`, no smileys), its pre-logit features given to `transfer --baseline`.

Resumable and idempotent: `DIR/demo.json` records each finished stage and its wall time. On a
rerun a stage whose outputs are all there is skipped; an unfinished one starts over from a clean
output folder, except `train`, which continues from its last checkpoint (`--resume`); every stage
after one that ran again runs again too, since its inputs changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from smileynet.errors import UserError
from smileynet.files import read_config, write_config, write_json
from smileynet.model.model_dir import mark_demo

STATE_FILE = "demo.json"


@dataclass
class DemoSettings:
    """Everything that shapes a demo run; saved to `DIR/demo.yaml`, compared on a rerun."""

    minutes: float = 10.0
    seed: int = 0
    preset: str = "full"
    image_size: int = 96  # what `download` stores
    train_size: int = 64  # what the model sees
    arch: str = "tiny"
    steps: int = 1500  # per run: the temporal and the raw-distribution model
    baseline_steps: int = 500  # the ObjectNet stand-in, on the world's object pictures
    batch_size: int = 64
    shard_size: int = 1000
    lr: float = 3e-3
    cap: int = 15  # per emoji per 30-day window: low enough to cut the world's head and event spikes
    val_per_class: int = 3
    test_per_class: int = 8
    transfer_folds: int = 5
    finetune_epochs: int = 1
    workers: int = 2

    @classmethod
    def for_run(cls, minutes: float, seed: int, preset: str, workers: int | None = None) -> DemoSettings:
        workers = workers or max(min(os.cpu_count() or 2, 8), 1)
        if preset == "tiny":
            return cls(
                minutes=minutes,
                seed=seed,
                preset=preset,
                image_size=48,
                train_size=32,
                steps=6,
                baseline_steps=4,
                batch_size=32,
                shard_size=100,
                cap=20,
                val_per_class=1,
                test_per_class=2,
                transfer_folds=3,
                finetune_epochs=1,
                workers=workers,
            )
        if preset != "full":
            raise UserError(f"unknown preset {preset!r}: use full or tiny")
        scale = minutes / 10
        return cls(
            minutes=minutes,
            seed=seed,
            preset=preset,
            steps=max(int(1500 * scale), 25),
            baseline_steps=max(int(500 * scale), 10),
            cap=max(int(15 * scale), 3),
            workers=workers,
        )


@dataclass
class Stage:
    """One command of the pipeline: its argv (after `smileynet`) and the files that mean done."""

    name: str
    argv: list[str]
    outputs: list[Path]
    clean: list[Path] = field(default_factory=list)  # removed before starting over
    resume_when: Callable[[], bool] | None = None  # an interrupted run left something to continue with --resume
    needs_image_server: bool = False
    needs_jetstream: bool = False  # the demo's loopback Jetstream (`listen bluesky` records from it)
    summary: Callable[[], str] | None = None
    finish: Callable[[], None] | None = None  # run after the command succeeds, before the stage counts as done

    def complete(self) -> bool:
        return all(p.exists() for p in self.outputs)


def world_size(settings: DemoSettings):
    from smileynet.demo.plan import WorldSize

    return WorldSize.tiny() if settings.preset == "tiny" else WorldSize.for_minutes(settings.minutes)


def plan(
    out: Path,
    settings: DemoSettings,
    base_url: str,
    jetstream_url: str = "ws://127.0.0.1:6008/subscribe",
    bluesky_events: int = 0,
) -> list[Stage]:
    """The real commands, in order, with the flags a user would pass for a world this size."""
    s = settings
    world, collect, dataset, run, transfer = (
        out / "world",
        out / "collect",
        out / "dataset",
        out / "run",
        out / "transfer",
    )
    common = ["--seed", str(s.seed)]
    recording = world / "archives" / "bluesky"
    stages = [
        Stage(
            "listen bluesky",
            [
                "listen",
                "bluesky",
                "--out",
                str(recording),
                "--endpoint",
                jetstream_url,
                "--collections",
                "app.bsky.feed.post,app.bsky.feed.repost,app.bsky.feed.like",
                "--max-events",
                str(bluesky_events),
                "--duration",
                "600",
            ],
            [recording / ".listen-state.json"],
            [recording],
            needs_jetstream=True,
        ),
        Stage(
            "collect",
            [
                "collect",
                str(world / "archives"),
                "--out",
                str(collect),
                "--bluesky-cdn",
                base_url,
                "--workers",
                str(s.workers),
                *common,
            ],
            [collect / "posts.parquet", collect / "collect_report.json"],
            [collect],
            summary=lambda: _collect_summary(collect),
        ),
    ]
    # Table 1's two variants: temporal sampling (the paper's; every later stage uses its model), then raw
    stages += variant_stages(out, s, "temporal", common)
    stages += variant_stages(out, s, "raw", common)
    stages.append(baseline_stage(out, s, common))
    for bench in ("twitter", "fi"):
        folder = transfer / bench
        stages.append(
            Stage(
                f"transfer {bench}",
                [
                    "transfer",
                    bench,
                    "--root",
                    str(world / "benchmarks" / bench),
                    "--model",
                    str(run / "model"),
                    "--out",
                    str(folder),
                    "--folds",
                    str(s.transfer_folds),
                    "--finetune",
                    "--finetune-epochs",
                    str(s.finetune_epochs),
                    "--baseline",
                    str(out / "run-objects" / "model"),
                    "--baseline-features",
                    "pre_logits",
                    "--workers",
                    str(s.workers),
                    *common,
                ],
                [folder / "results.json"],
                [folder],
                summary=partial(_transfer_summary, folder / "results.json"),
            )
        )
    stages.append(
        Stage(
            "report",
            [
                "report",
                str(run),
                str(out / "run-raw"),
                str(transfer / "twitter"),
                str(transfer / "fi"),
                str(collect),
                str(dataset),
                "--images",
                str(world / "benchmarks" / "fi"),
                "--out",
                str(out / "report.html"),
            ],
            [out / "report.html"],
            [out / "report.html"],
        )
    )
    return stages


def train_stage(
    name: str, data: Path, run: Path, steps: int, s: DemoSettings, common: list[str], every: tuple[int, int, int]
) -> Stage:
    """`train` the demo's way (tiny from scratch, cosine schedule, CPU) for `steps` on `data` into
    `run`; `every`: how many log lines, validations and checkpoints the run makes; the model dir is
    marked a demo model once the stage succeeds."""
    logs, validations, checkpoints = every
    return Stage(
        name,
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(run),
            "--arch",
            s.arch,
            "--pretrained",
            "none",
            "--steps",
            str(steps),
            "--batch-size",
            str(s.batch_size),
            "--lr",
            str(s.lr),
            "--schedule",
            "cosine",
            "--warmup-steps",
            str(max(steps // 20, 1)),
            "--image-size",
            str(s.train_size),
            "--device",
            "cpu",
            "--log-every",
            str(max(steps // logs, 1)),
            "--val-every",
            str(max(steps // validations, 1)),
            "--checkpoint-every",
            str(max(steps // checkpoints, 10)),
            "--workers",
            str(s.workers),
            *common,
        ],
        [run / "model" / "config.json", run / "model" / "model.safetensors", run / "metrics.csv"],
        [run],
        resume_when=lambda: (run / "checkpoints" / "state.pt").is_file(),
        summary=lambda: _train_summary(run),
        finish=partial(mark_demo, run / "model"),
    )


def baseline_stage(out: Path, s: DemoSettings, common: list[str]) -> Stage:
    """`train` on the world's object pictures: Table 2's ObjectNet stand-in (module docstring)."""
    return train_stage(
        "train objects", out / "world" / "objects", out / "run-objects", s.baseline_steps, s, common, (20, 2, 4)
    )


def variant_stages(out: Path, s: DemoSettings, sampling: str, common: list[str]) -> list[Stage]:
    """sample -> download -> train -> evaluate for one `sample --sampling` variant. The temporal
    one writes `dataset/`, `shards/`, `run/` (stage names without a suffix), the raw one
    `dataset-raw/`, `shards-raw/`, `run-raw/`; both are evaluated on `shards/`'s test split."""
    suffix, name = ("", "") if sampling == "temporal" else (f"-{sampling}", f" {sampling}")
    collect, dataset, shards, run = (
        out / "collect",
        out / f"dataset{suffix}",
        out / f"shards{suffix}",
        out / f"run{suffix}",
    )
    return [
        Stage(
            f"sample{name}",
            [
                "sample",
                str(collect / "posts.parquet"),
                "--out",
                str(dataset),
                "--sampling",
                sampling,
                "--cap",
                str(s.cap),
                "--val-per-class",
                str(s.val_per_class),
                "--test-per-class",
                str(s.test_per_class),
                *common,
            ],
            [dataset / n for n in ("manifest.parquet", "categories.csv", "train.csv", "valid.csv", "test.csv")],
            [dataset],
            summary=lambda: _sample_summary(dataset),
        ),
        Stage(
            f"download{name}",
            [
                "download",
                str(dataset),
                "--out",
                str(shards),
                "--image-size",
                str(s.image_size),
                "--processes",
                str(s.workers),
                "--threads",
                "16",
                "--shard-size",
                str(s.shard_size),
                "--allow-private-network",
                *common,
            ],  # the demo's image host is on 127.0.0.1
            [
                shards / "train",
                shards / "valid",
                shards / "test",
                shards / "categories.csv",
                shards / "download_summary.json",
            ],
            [shards],
            needs_image_server=True,
            summary=lambda: _download_summary(shards),
        ),
        train_stage(f"train{name}", shards, run, s.steps, s, common, (60, 3, 8)),
        Stage(
            f"evaluate{name}",
            [
                "evaluate",
                str(run / "model"),
                "--data",
                str(out / "shards"),
                "--split",
                "test",
                "--out",
                str(run / "eval_test.json"),
                "--workers",
                str(s.workers),
                *common,
            ],
            [run / "eval_test.json"],
            [run / "eval_test.json"],
            summary=lambda: _evaluate_summary(run / "eval_test.json"),
        ),
    ]


# ---------------------------------------------------------------- running


class Runner:
    """Runs stages as subprocesses, logging each to `DIR/logs/<stage>.log`, echoing unless quiet."""

    def __init__(self, out: Path, quiet: bool) -> None:
        self.out, self.quiet = out, quiet
        self.logs = out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.state = _read_state(out)
        self.rerun_rest = False  # once a stage runs, every later stage's inputs have changed

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def record(self, name: str, seconds: float) -> None:
        self.state["stages"][name] = {"done": True, "seconds": round(seconds, 1)}
        write_json(self.out / STATE_FILE, self.state)

    def done(self, stage: Stage) -> bool:
        recorded = self.state["stages"].get(stage.name, {}).get("done", False)
        return recorded and stage.complete() and not self.rerun_rest

    def run(self, stage: Stage, number: int, total: int) -> None:
        if self.done(stage):
            self.say(f"[{number}/{total}] {stage.name}: already done, skipped")
            return
        argv = stage.argv
        if stage.resume_when is not None and stage.resume_when() and not self.rerun_rest:
            argv = stage.argv + ["--resume"]
            self.say(f"[{number}/{total}] {stage.name}: continuing an interrupted run")
        else:
            for path in stage.clean:
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        self.rerun_rest = True
        self.state["stages"].pop(stage.name, None)
        write_json(self.out / STATE_FILE, self.state)
        self.say(f"[{number}/{total}] {stage.name}\n$ smileynet {' '.join(_quote(a) for a in argv)}")
        log_path = self.logs / f"{stage.name.replace(' ', '-')}.log"
        start = time.monotonic()
        rc, tail = _run_logged([sys.executable, "-m", "smileynet", *argv], log_path, echo=not self.quiet)
        seconds = time.monotonic() - start
        if rc != 0:
            last = tail.strip().splitlines()[-1] if tail.strip() else ""
            raise UserError(f"stage '{stage.name}' failed (exit {rc}): {last} (full log: {log_path})")
        missing = [str(p) for p in stage.outputs if not p.exists()]
        if missing:
            raise UserError(f"stage '{stage.name}' finished but did not write {', '.join(missing)} (log: {log_path})")
        if stage.finish is not None:
            stage.finish()
        self.record(stage.name, seconds)
        self.say(f"[{number}/{total}] {stage.name}: done in {seconds:.1f} s")


def _run_logged(command: list[str], log_path: Path, echo: bool) -> tuple[int, str]:
    """Run `command`, its stdout and stderr into `log_path` (and ours when echoing); return (rc, tail)."""
    tail: list[str] = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(_quote(a) for a in command) + "\n")
        log.flush()
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            encoding="utf-8",
            errors="replace",
        ) as child:
            assert child.stdout is not None
            try:
                for line in child.stdout:
                    log.write(line)
                    tail = (tail + [line])[-40:]
                    if echo:
                        print("    " + line, end="", file=sys.stderr, flush=True)
            except KeyboardInterrupt:
                child.terminate()
                child.wait(timeout=30)
                raise
            rc = child.wait()
    return rc, "".join(tail)


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./:=@" for c in arg) else json.dumps(arg, ensure_ascii=False)


def _read_state(out: Path) -> dict:
    path = out / STATE_FILE
    if path.is_file():
        return json.loads(path.read_text("utf-8"))
    return {"stages": {}}


def _check_settings(out: Path, settings: DemoSettings) -> None:
    """A folder is continued only with the flags that made it, so reruns are idempotent."""
    path = out / "demo.yaml"
    if path.is_file():
        before = read_config(path)
        now = asdict(settings)
        changed = {k for k in ("minutes", "seed", "preset") if before.get(k) != now.get(k)}
        if changed:
            flags = " ".join(f"--{k} {before.get(k)}" for k in sorted(changed))
            raise UserError(f"{out} was made with {flags}; rerun with those flags to continue, or use a new --out")
    write_config(path, asdict(settings))


def run_demo(
    out: Path,
    minutes: float = 10.0,
    seed: int = 0,
    preset: str = "full",
    quiet: bool = False,
    open_report: bool = False,
    workers: int | None = None,
) -> dict:
    """Generate the world (once) and run every stage; returns the summary (also `DIR/summary.json`)."""
    from smileynet.demo.image_host import free_port, serve_folder
    from smileynet.demo.world import generate_world

    if minutes <= 0:
        raise UserError("--minutes must be positive")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = DemoSettings.for_run(minutes, seed, preset, workers)
    _check_settings(out, settings)
    runner = Runner(out, quiet)
    started = time.monotonic()

    world_file = out / "world" / "world.json"
    if runner.state["stages"].get("world", {}).get("done") and world_file.is_file():
        runner.say("[world] already generated, skipped")
        world = json.loads(world_file.read_text("utf-8"))
    else:
        runner.say("[world] generating posts, images and benchmarks")
        start = time.monotonic()
        world = generate_world(
            out / "world",
            world_size(settings),
            seed,
            f"http://127.0.0.1:{free_port()}",
            workers=settings.workers,
            quiet=quiet,
            cap=settings.cap,
        )
        runner.record("world", time.monotonic() - start)
        runner.rerun_rest = True
        runner.say(f"[world] done in {time.monotonic() - start:.1f} s")

    jetstream_port = free_port()
    stages = plan(
        out,
        settings,
        world["base_url"],
        f"ws://127.0.0.1:{jetstream_port}/subscribe",
        world["formats"]["bluesky"]["events"],
    )
    port = int(world["base_url"].rsplit(":", 1)[1])
    for number, stage in enumerate(stages, 1):
        if stage.needs_image_server and not runner.done(stage):
            with serve_folder(out / "world" / "www", port):
                runner.run(stage, number, len(stages))
        elif stage.needs_jetstream and not runner.done(stage):
            from smileynet.demo.jetstream_host import serve_jetstream

            with serve_jetstream(out / "world" / "jetstream" / "events.jsonl.zst", jetstream_port):
                runner.run(stage, number, len(stages))
        else:
            runner.run(stage, number, len(stages))

    summary = {
        "out": str(out),
        "report": str(out / "report.html"),
        "wall_seconds_this_call": round(time.monotonic() - started, 1),
        "stages": [
            {"stage": "world", "seconds": runner.state["stages"]["world"]["seconds"], "result": _world_summary(world)}
        ]
        + [
            {
                "stage": st.name,
                "seconds": runner.state["stages"][st.name]["seconds"],
                "result": st.summary() if st.summary else "",
            }
            for st in stages
        ],
    }
    write_json(out / "summary.json", summary)
    print_summary(summary)
    if open_report and _has_display():
        import webbrowser

        webbrowser.open((out / "report.html").as_uri())
    return summary


def _has_display() -> bool:
    """A graphical session, where a browser opens a window (a console browser would take the terminal)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def print_summary(summary: dict) -> None:
    """The stages, their wall time and headline figures as a table, then where the report is."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="SmileyNet demo")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("result")
    for row in summary["stages"]:
        table.add_row(row["stage"], f"{row['seconds']:.1f}", row["result"])
    table.add_row("total", f"{sum(r['seconds'] for r in summary['stages']):.1f}", "")
    console = Console()
    console.print(table)
    console.print(f"Report: {summary['report']}")


# ---------------------------------------------------------------- one line per stage for the summary


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def _world_summary(world: dict) -> str:
    e = world["expected"]
    return (
        f"{e['posts_kept']} posts to keep + {sum(e['dropped_by_rule'].values())} to drop + {e['duplicates']} duplicates; "
        f"{e['images_of_kept_posts']} images; Twitter I {e['twitter_images']['three_agrees']}, FI {sum(e['fi_images'].values())}"
    ) + _skew_summary(world.get("skew") or {})


def _skew_summary(skew: dict) -> str:
    """The skew the world was made with, e.g. "; 😂 on 17% of posts, top 5 on 38%; 410 posts over the cap"."""
    if not skew.get("top_emoji"):
        return ""
    text = (
        f"\n{skew['top_emoji']} on {skew['top_emoji_share_of_posts']:.0%} of posts, "
        f"top 5 on {skew['top5_share_of_posts']:.0%}; {len(skew['events'])} event spikes"
    )
    if skew.get("over_cap") is not None:
        text += f"; {sum(skew['over_cap'].values())} emoji labels over the cap of {skew['cap']} per window"
    return text


def _collect_summary(folder: Path) -> str:
    import pyarrow.parquet as pq

    rows = pq.read_metadata(folder / "posts.parquet").num_rows
    totals = _load(folder / "collect_report.json").get("totals", {})
    dropped = sum(totals.get("dropped", {}).values())
    return f"{rows} posts kept of {totals.get('read', '?')} records ({dropped} dropped)"


def _sample_summary(folder: Path) -> str:
    counts = {}
    for split in ("train", "valid", "test"):
        with open(folder / f"{split}.csv", encoding="utf-8") as f:
            counts[split] = max(sum(1 for _ in f) - 1, 0)
    return ", ".join(f"{k} {v}" for k, v in counts.items()) + " images"


def _download_summary(folder: Path) -> str:
    total = _load(folder / "download_summary.json").get("total", {})
    failures = ", ".join(f"{k} {v}" for k, v in total.get("failures", {}).items()) or "none"
    return f"{total.get('successes', 0)}/{total.get('count', 0)} images; failures: {failures}"


def _train_summary(run: Path) -> str:
    import csv

    with open(run / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return ""
    last = rows[-1]
    val = [r for r in rows if r.get("val_mtop1")]
    text = f"{last.get('step')} steps, loss {float(last.get('loss') or 'nan'):.3f}"
    if val:
        text += f", val mTop-1 {float(val[-1]['val_mtop1']):.3f}"
    return text


def _evaluate_summary(path: Path) -> str:
    m = _load(path)
    if not m:
        return ""
    r = m.get("random", {})
    return "\n".join(
        f"{label} {m[key]:.3f} (random {r.get(key, float('nan')):.3f})"
        for key, label in (("mtop1", "mTop-1"), ("mtop3", "mTop-3"), ("mtop5", "mTop-5"), ("auc", "AUC"))
    )


PROTOCOL_NAMES = {
    "knn": "1-NN",
    "head": "head",
    "finetune": "fine-tune",
    "zero_shot_binary": "zero-shot",
    "zero_shot_continuous": "zero-shot (score)",
}


def _transfer_summary(path: Path) -> str:
    """Accuracy per split and protocol, e.g. "five_agrees: 1-NN 0.68, head 0.71, ..."."""
    lines = []
    for name, split in _load(path).get("splits", {}).items():
        accs = [
            (PROTOCOL_NAMES.get(p, p), v["smileynet"]["accuracy"]["mean"])
            for p, v in split.get("protocols", {}).items()
            if "smileynet" in v
        ]
        lines.append(f"{name}: " + ", ".join(f"{p} {a:.2f}" for p, a in accs))
    return "\n".join(lines)
