"""`download --distributor pyspark`: a local Spark session, and a standalone cluster on loopback
(`-m heavy`), give the shards multiprocessing gives; a missing pyspark or Java is a one-line error;
the master comes from the flag or Spark's settings."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import webdataset as wds
from test_download import FORMATS, Site, good_row, image_bytes, serve, shard_samples, write_manifest

from smileynet.download.shards import DownloadConfig, download
from smileynet.download.spark import check_spark, java_version, parse_java_version, resolve_master
from smileynet.errors import UserError

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and (java_version() or 0) >= 17
# the image server is on loopback, which a fetch policy that refuses private targets lets through only when asked
LOOPBACK = {"allow_private_network": True} if "allow_private_network" in DownloadConfig.__dataclass_fields__ else {}


def shard_contents(shards: Path) -> dict:
    """Everything a download leaves that must not depend on the distributor: per split and shard,
    each sample's files byte for byte and each url's status row, and the summary."""
    contents = {"summary": json.loads((shards / "download_summary.json").read_text())}
    for folder in sorted(p for p in shards.iterdir() if p.is_dir()):
        for tar in sorted(folder.glob("*.tar")):
            samples = wds.DataPipeline(wds.SimpleShardList([str(tar)]), wds.tarfile_to_samples())
            contents[f"{folder.name}/{tar.name}"] = sorted(
                (s["__key__"], {k: v for k, v in s.items() if not k.startswith("__")}) for s in samples
            )
            rows = pq.read_table(tar.with_suffix(".parquet")).to_pylist()
            contents[f"{folder.name}/{tar.stem}.parquet"] = sorted(rows, key=lambda r: r["key"])
    return contents


@pytest.mark.e2e
@pytest.mark.skipif(
    not HAVE_SPARK, reason="needs pyspark (pip install 'smileynet[spark]') and Java 17+ (scripts/system-deps.sh)"
)
def test_local_spark_session_gives_the_shards_multiprocessing_gives(tmp_path):
    site = Site()
    server = serve(site)
    try:
        rows = [good_row(site, server, i, "train", FORMATS[i % 4]) for i in range(9)]
        site.routes["/bad/page.jpg"] = ("bytes", b"<html>not here</html>")
        site.routes["/bad/cut.jpg"] = ("bytes", image_bytes(50, "JPEG", size=(400, 300))[:1500])
        for n, path in enumerate(["/bad/page.jpg", "/bad/cut.jpg", "/bad/missing.jpg"]):
            rows.insert(
                2 + 3 * n,
                {
                    "image_id": f"bad{n}",
                    "post_id": f"bad{n}",
                    "url": site.url(server, path),
                    "labels": [0],
                    "split": "train",
                },
            )
        rows += [good_row(site, server, i, "valid") for i in range(20, 23)]
        rows.append(
            {
                "image_id": "v404",
                "post_id": "v404",
                "url": site.url(server, "/gone.jpg"),
                "labels": [1],
                "split": "valid",
            }
        )
        write_manifest(tmp_path / "ds", rows)
        settings = dict(image_size=24, threads=2, shard_size=4, retries=0, timeout=5, quiet=True, **LOOPBACK)
        # one process runs the shards inline (the reference); Spark runs them in its own Python workers
        by_processes = download(DownloadConfig(tmp_path / "ds", tmp_path / "mp", processes=1, **settings))
        by_spark = download(
            DownloadConfig(
                tmp_path / "ds",
                tmp_path / "spark",
                distributor="pyspark",
                spark_master="local[2]",
                processes=1,
                **settings,
            )
        )
    finally:
        server.shutdown()
    assert by_spark == by_processes
    assert by_spark["splits"]["train"] | {"failures": None} == {
        "count": 12,
        "successes": 9,
        "failed_to_download": 1,
        "failed_to_resize": 2,
        "shards": 3,
        "failures": None,
    }
    assert by_spark["splits"]["train"]["failures"] == {
        "not an image": 1,
        "truncated or corrupt image": 1,
        "http 404": 1,
    }
    assert by_spark["splits"]["valid"]["successes"] == 3
    spark, processes = shard_contents(tmp_path / "spark"), shard_contents(tmp_path / "mp")
    assert list(spark) == list(processes) and spark == processes
    assert sum(len(shard_samples(tmp_path / "spark" / split)) for split in ("train", "valid")) == 12


def test_java_versions_old_and_new_schemes():
    assert parse_java_version('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment') == 17
    assert parse_java_version('openjdk version "21" 2023-09-19') == 21
    assert parse_java_version('java version "1.8.0_392"') == 8
    assert parse_java_version("bash: java: command not found") is None


def test_master_from_flag_then_spark_settings_then_local(tmp_path):
    assert resolve_master("spark://head:7077", 4, {"MASTER": "yarn"}) == "spark://head:7077"
    assert resolve_master(None, 4, {"MASTER": "yarn"}) == "yarn"
    assert resolve_master(None, 4, {}) == "local[4]"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spark-defaults.conf").write_text(
        "# cluster settings\nspark.executor.memory   4g\nspark.master      spark://head:7077\n"
    )
    assert resolve_master(None, 4, {"SPARK_HOME": str(tmp_path)}) == "spark://head:7077"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "spark-defaults.conf").write_text("spark.master=k8s://https://api:6443\n")
    assert (
        resolve_master(None, 2, {"SPARK_HOME": str(tmp_path), "SPARK_CONF_DIR": str(tmp_path / "other")})
        == "k8s://https://api:6443"
    )
    assert resolve_master(None, 2, {"SPARK_CONF_DIR": str(tmp_path / "missing")}) == "local[2]"
    assert resolve_master(None, 2, {"PYSPARK_GATEWAY_PORT": "41234", "MASTER": "yarn"}) is None  # spark-submit's own


def fake_java(home: Path, version_line: str) -> Path:
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return home


def test_missing_or_old_java_and_missing_pyspark_are_one_line_errors(tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "pyspark" else find_spec(name, *a)
    )
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    with pytest.raises(UserError, match=r"needs Java 17\+ and none was found: apt-get install default-jre-headless"):
        check_spark()
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path / "jdk8", 'java version "1.8.0_392"')))
    with pytest.raises(UserError, match=r"needs Java 17\+, found Java 8"):
        check_spark()
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path / "jdk21", 'openjdk version "21.0.2" 2024-01-16')))
    check_spark()
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else find_spec(name, *a)
    )
    with pytest.raises(UserError, match=r"needs pyspark: pip install 'smileynet\[spark\]'"):
        download(DownloadConfig(tmp_path, tmp_path / "out", distributor="pyspark"))
    with pytest.raises(UserError, match="--spark-master needs --distributor pyspark"):
        download(DownloadConfig(tmp_path, tmp_path / "out", spark_master="local[2]"))


def test_cli_without_java_exits_with_one_line(tmp_path):
    write_manifest(
        tmp_path / "ds",
        [{"image_id": "a", "post_id": "a", "url": "http://127.0.0.1:9/a.jpg", "labels": [0], "split": "train"}],
    )
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smileynet",
            "download",
            str(tmp_path / "ds"),
            "--out",
            str(tmp_path / "out"),
            "--distributor",
            "pyspark",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and ("needs Java 17+" in lines[0] or "needs pyspark" in lines[0]), result.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.heavy
@pytest.mark.skipif(
    not HAVE_SPARK, reason="needs pyspark (pip install 'smileynet[spark]') and Java 17+ (scripts/system-deps.sh)"
)
def test_standalone_cluster_given_by_spark_master(tmp_path):
    """A Spark standalone master and one 2-core worker on 127.0.0.1, the CLI as the driver."""
    from pyspark.find_spark_home import _find_spark_home

    spark_class = Path(_find_spark_home()) / "bin" / "spark-class"
    port = free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    daemons = [
        subprocess.Popen(
            [
                str(spark_class),
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(free_port()),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    site = Site()
    server = serve(site)
    try:
        daemons.append(
            subprocess.Popen(
                [
                    str(spark_class),
                    "org.apache.spark.deploy.worker.Worker",
                    f"spark://127.0.0.1:{port}",
                    "--cores",
                    "2",
                    "--memory",
                    "1g",
                    "--webui-port",
                    str(free_port()),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        rows = [good_row(site, server, i, "train", FORMATS[i % 4]) for i in range(6)]
        rows.append(
            {
                "image_id": "gone",
                "post_id": "gone",
                "url": site.url(server, "/gone.jpg"),
                "labels": [0],
                "split": "train",
            }
        )
        write_manifest(tmp_path / "ds", rows)
        download(
            DownloadConfig(
                tmp_path / "ds",
                tmp_path / "mp",
                image_size=24,
                threads=2,
                shard_size=3,
                retries=0,
                processes=1,
                quiet=True,
                **LOOPBACK,
            )
        )
        flags = ["--allow-private-network"] if LOOPBACK else []
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "smileynet",
                "download",
                str(tmp_path / "ds"),
                "--out",
                str(tmp_path / "cluster"),
                "--distributor",
                "pyspark",
                "--spark-master",
                f"spark://127.0.0.1:{port}",
                "--image-size",
                "24",
                "--threads",
                "2",
                "--shard-size",
                "3",
                "--retries",
                "0",
                "--quiet",
                *flags,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
    finally:
        server.shutdown()
        for daemon in daemons:
            daemon.terminate()
            daemon.wait(30)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train: 6/7 images" in result.stdout
    assert shard_contents(tmp_path / "cluster") == shard_contents(tmp_path / "mp")
