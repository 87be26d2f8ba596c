"""The Spark session `download --distributor pyspark` runs its shards on.

img2dataset's pyspark distributor uses the active session, or starts a local one with 16 GB of
driver memory whose workers run whatever `python3` is first on PATH (not this environment, so
they cannot import img2dataset). This module opens the session itself, before img2dataset looks:

- the master is `--spark-master`, else Spark's own settings (the `MASTER` variable, or
  `spark.master` in `spark-defaults.conf` under `SPARK_CONF_DIR` or `SPARK_HOME/conf`), else
  `local[processes]`; a session that is already active is used as it is, and a driver script
  started by `spark-submit` gets the master spark-submit was given;
- the workers start `PYSPARK_PYTHON`, which defaults to this interpreter: on a cluster that path
  must exist on every node (the same environment installed at the same place), or set
  `PYSPARK_PYTHON` to the nodes' interpreter;
- a missing pyspark or Java is a one-line error that names what to install.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from smileynet.errors import UserError

MIN_JAVA = 17  # Spark 4 runs on Java 17 and newer
INSTALL_PYSPARK = "pip install 'smileynet[spark]'"
INSTALL_JAVA = "apt-get install default-jre-headless (Debian/Ubuntu), or set JAVA_HOME"


def check_spark() -> None:
    """pyspark importable and a Java of at least MIN_JAVA, or a UserError naming what to install."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        raise UserError(f"the pyspark distributor needs pyspark: {INSTALL_PYSPARK}")
    version = java_version()
    if version is None:
        raise UserError(f"the pyspark distributor needs Java {MIN_JAVA}+ and none was found: {INSTALL_JAVA}")
    if version < MIN_JAVA:
        raise UserError(f"the pyspark distributor needs Java {MIN_JAVA}+, found Java {version}: {INSTALL_JAVA}")


def java_version(env: Mapping[str, str] | None = None) -> int | None:
    """The major version of the `java` Spark would start (JAVA_HOME's, else PATH's), or None."""
    env = os.environ if env is None else env
    home = env.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java", path=env.get("PATH"))
    if not java or not os.access(java, os.X_OK):
        return None
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_version(result.stderr + result.stdout)


def parse_java_version(text: str) -> int | None:
    """`openjdk version "17.0.15"` -> 17; the old scheme `"1.8.0_392"` -> 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def resolve_master(flag: str | None, processes: int, env: Mapping[str, str] | None = None) -> str | None:
    """--spark-master, else Spark's configured master, else a local session of `processes` cores.
    None under `spark-submit` (its JVM is already up, with the master it was given)."""
    env = os.environ if env is None else env
    if flag:
        return flag
    if env.get("PYSPARK_GATEWAY_PORT"):
        return None
    return env.get("MASTER") or spark_defaults(env).get("spark.master") or f"local[{processes}]"


def spark_defaults(env: Mapping[str, str]) -> dict[str, str]:
    """The properties of the `spark-defaults.conf` spark-submit would read (empty without one)."""
    folder = env.get("SPARK_CONF_DIR") or (env.get("SPARK_HOME") and str(Path(env["SPARK_HOME"]) / "conf"))
    if not folder or not (path := Path(folder) / "spark-defaults.conf").is_file():
        return {}
    properties = {}
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            key, *value = re.split(r"\s*[=:]\s*|\s+", line, maxsplit=1)  # java.util.Properties' separators
            properties[key] = value[0].strip() if value else ""
    return properties


@contextlib.contextmanager
def spark_session(master: str | None, processes: int, quiet: bool = False) -> Iterator[object]:
    """The active Spark session, or a new one on `resolve_master(...)`, stopped on exit if new.
    Call `check_spark` first: without Java the session cannot start."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        yield active
        return
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers import this environment's packages
    url = resolve_master(master, processes)
    builder = SparkSession.builder.appName("smileynet download")
    if url is not None:
        builder = builder.master(url)
    if url and url.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local session needs no interface but loopback
    if quiet:
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # py4j / pyspark raise several kinds when the JVM or the master is unreachable
        where = url or "the spark-submit master"
        raise UserError(f"cannot start a Spark session on {where}: {str(err).strip().splitlines()[0][:200]}") from None
    spark.sparkContext.setLogLevel("ERROR" if quiet else "WARN")
    try:
        yield spark
    finally:
        spark.stop()
