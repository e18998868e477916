"""The warm Spark path (trending_tv.resources.spark_connect): the server's command and settings, the
TRENDING_TV_SPARK_REMOTE wiring, and a real local Spark Connect server that runs the whole daily
graph of a sample-lake day twice, each time to the same tables as a run with its own local Spark."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import build_init_resource_context
from dagster_pyspark import LazyPySparkResource

from ingest_host.lake import Lake
from trending_tv.deployment import local_pyspark
from trending_tv.resources.spark import local_spark_config
from trending_tv.resources.spark_connect import (
    SparkConnectResource,
    SparkConnectServer,
    remote_address,
    server_command,
    server_environment,
)
from trending_tv.settings import SPARK_REMOTE, Settings, SettingsError
from trending_tv_sample.generator import generate_sample_lake

DAY = date(2020, 11, 27)


def conf_pairs(command: list[str]) -> dict[str, str]:
    values = [command[i + 1] for i, arg in enumerate(command) if arg == "--conf"]
    return dict(v.split("=", 1) for v in values)


def test_the_server_runs_with_the_local_settings_on_loopback_only():
    command = server_command(15999)
    confs = conf_pairs(command)
    assert Path(command[0]).name == "spark-submit"
    assert command[command.index("--class") + 1] == "org.apache.spark.sql.connect.service.SparkConnectServer"
    assert local_spark_config(long_running=True).items() <= confs.items()
    assert "spark.driver.extraJavaOptions" not in confs  # a long-running JVM keeps its optimising compiler
    assert confs["spark.sql.session.timeZone"] == "UTC"
    assert confs["spark.connect.grpc.binding.port"] == "15999"
    for key in ("spark.connect.grpc.binding.address", "spark.driver.bindAddress", "spark.driver.host"):
        assert confs[key] == "127.0.0.1"


def test_udf_workers_run_this_interpreter():
    env = server_environment({"PATH": "/usr/bin", "PYSPARK_PYTHON": "python3"})
    assert env["PYSPARK_PYTHON"] == sys.executable
    assert Path(env["SPARK_HOME"], "jars").is_dir()
    assert env["PATH"] == "/usr/bin"


def test_remote_urls_are_parsed_and_others_refused():
    assert remote_address("sc://127.0.0.1:15002") == ("127.0.0.1", 15002)
    for bad in ("127.0.0.1:15002", "http://127.0.0.1:15002", "sc://127.0.0.1", "sc://:15002"):
        with pytest.raises(ValueError, match="not a Spark Connect URL"):
            remote_address(bad)


def test_the_setting_picks_the_pyspark_resource():
    assert Settings.from_env({}).spark_remote == ""
    assert Settings.from_env({SPARK_REMOTE: " sc://127.0.0.1:15002 "}).spark_remote == "sc://127.0.0.1:15002"
    classic = local_pyspark("")
    assert isinstance(classic, LazyPySparkResource)
    assert classic.spark_config == local_spark_config()
    connect = local_pyspark("sc://127.0.0.1:15002")
    assert isinstance(connect, SparkConnectResource) and connect.remote == "sc://127.0.0.1:15002"
    with pytest.raises(SettingsError, match=SPARK_REMOTE):
        local_pyspark("localhost:15002")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[SparkConnectServer]:
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    with SparkConnectServer(free_port(), log_path=log) as running:
        yield running
    # stopped on the way out, failures included (the with block)
    assert running.process is not None and running.process.returncode is not None
    with pytest.raises(OSError):
        socket.create_connection((running.host, running.port), timeout=1).close()


def closed_sessions(server: SparkConnectServer) -> int:
    assert server.log_path is not None
    return server.log_path.read_text(errors="replace").count("INFO SessionHolder: Closing session")


@pytest.mark.slow
def test_each_run_gets_a_session_of_its_own_released_at_its_end(server, monkeypatch):
    # A Connect session marks this process as Connect (pyspark sets this variable): undone after the
    # test, so the classic session of later tests in this worker is unaffected.
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")
    closed_before = closed_sessions(server)
    first = SparkConnectResource(remote=server.remote)
    spark = first.spark_session
    spark.conf.set("spark.sql.shuffle.partitions", "3")
    spark.range(3).createOrReplaceTempView("left_by_the_first_run")
    assert spark.catalog.tableExists("left_by_the_first_run")
    first.teardown_after_execution(build_init_resource_context())
    assert spark.is_stopped
    assert closed_sessions(server) == closed_before + 1

    second = SparkConnectResource(remote=server.remote)
    try:
        fresh = second.spark_session
        assert not fresh.catalog.tableExists("left_by_the_first_run")
        assert (
            fresh.conf.get("spark.sql.shuffle.partitions")
            == local_spark_config()["spark.sql.shuffle.partitions"]
        )
        assert fresh.conf.get("spark.sql.session.timeZone") == "UTC"
    finally:
        second.teardown_after_execution(build_init_resource_context())


@pytest.fixture(scope="module")
def sample_day(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sample") / "lake"
    generate_sample_lake(Lake.from_url(root), start=DAY, end=DAY)
    return root


def materialize_day(lake: Path, home: Path, spark_remote: str | None) -> subprocess.CompletedProcess:
    """Every asset and check for DAY in one run, as an operator would: `dagster asset materialize`."""
    home.mkdir(exist_ok=True)
    env = dict(os.environ, TRENDING_TV_LAKE=str(lake), DAGSTER_HOME=str(home))
    env.pop(SPARK_REMOTE, None)
    if spark_remote:
        env[SPARK_REMOTE] = spark_remote
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize", "-m", "trending_tv.definitions",
        "--select", "*", "--partition", DAY.isoformat(),
    ]  # fmt: skip
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=home)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert completed.stderr.count("RUN_SUCCESS") == 1
    return completed


def analytics_tables(lake: Path) -> dict[str, list[dict]]:
    """Every table's rows for DAY, in a stable order."""
    tables: dict[str, list[dict]] = {}
    for path in sorted((lake / "analytics").glob("*/year=*/month=*/day=*/*.parquet")):
        tables.setdefault(path.relative_to(lake / "analytics").parts[0], []).extend(
            pq.read_table(path).to_pylist()
        )
    return {name: sorted(rows, key=repr) for name, rows in tables.items()}


@pytest.mark.slow
def test_two_runs_through_the_server_write_the_tables_of_a_local_run(server, sample_day, tmp_path):
    classic_lake, connect_lake = tmp_path / "classic", tmp_path / "connect"
    shutil.copytree(sample_day, classic_lake)
    shutil.copytree(sample_day, connect_lake)
    materialize_day(classic_lake, tmp_path / "classic_home", None)
    expected = analytics_tables(classic_lake)
    assert {"tweet_stat", "show_volume", "tmdb_stat", "tvshows", "show_trends"} <= set(expected)
    assert sum(r["tweet_count"] for r in expected["tweet_stat"]) > 1000  # not a comparison of empty tables

    closed_before = closed_sessions(server)
    for run in (1, 2):  # the second run replaces the first one's partitions on the same server
        materialize_day(connect_lake, tmp_path / "connect_home", server.remote)
        assert analytics_tables(connect_lake) == expected, f"run {run}"
        # the run used the server (a session of its own) and released its session at the end
        assert closed_sessions(server) == closed_before + run
