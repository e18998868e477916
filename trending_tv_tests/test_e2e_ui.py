"""End to end: `dagster dev` (webserver + daemon) on 127.0.0.1 with a throw-away DAGSTER_HOME over a
tmp lake. The raw_tweets sensor is switched on through GraphQL (as the UI toggle does), raw files land,
the sensor runs the day, and GraphQL shows tweet_stat's partition materialized with passing checks.
Then headless Chromium (Debian's, through Playwright) loads the asset graph and the partition's page;
screenshots go to artifacts/e2e/. (A partition-range backfill launched through GraphQL is shown on the
production instance, with the real daemon and PostgreSQL, in test_production_instance.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from trending_tv.constants import TRIGGER_TAG
from trending_tv_tests.lake_fixtures import tiny_lake

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCATION = {"repositoryLocationName": "trending_tv", "repositoryName": "__repository__"}
DAY = "2020-11-23"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 1.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stops a process started with start_new_session and its children (SIGKILL if `sig` is ignored)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


class Dagster:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path, lake: Path):
        self.url, self.proc, self.log, self.lake = url, proc, log, lake

    def gql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body
        return body["data"]

    def runs(self, tags: dict[str, str]) -> list[dict]:
        data = self.gql(
            """query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
                 runId status tags { key value } assetSelection { path } } } } }""",
            {"filter": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}},
        )
        return data["runsOrError"]["results"]

    def wait_loaded(self, processes: dict[str, tuple[subprocess.Popen, Path]], what: str) -> None:
        """Waits until the webserver serves the code location; fails at once, with the end of its log,
        when one of `processes` (name: process, log file) exits."""

        def loaded():
            for name, (proc, log) in processes.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited: {log.read_text(errors='replace')[-3000:]}")
            try:
                data = self.gql("{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }")
            except OSError:
                return False
            return data["repositoriesOrError"].get("nodes")

        wait_until(loaded, 120, what=what)


@pytest.fixture(scope="module")
def dagster(tmp_path_factory) -> Dagster:
    tmp = tmp_path_factory.mktemp("e2e")
    home, lake = tmp / "dagster_home", tmp / "lake"
    home.mkdir()
    lake.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TRENDING_TV_", "DAGSTER_", "AWS_"))},
        "DAGSTER_HOME": str(home),
        "TRENDING_TV_LAKE": str(lake),
        "TRENDING_TV_SENSOR_INTERVAL_SECONDS": "2",
        "TRENDING_TV_SENSOR_SETTLE_SECONDS": "0",
        "PYTHONPATH": str(ROOT),
    }
    log = tmp / "dagster_dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Dagster(f"http://127.0.0.1:{port}", proc, log, lake)
    try:
        server.wait_loaded({"dagster dev": (proc, log)}, "the webserver and the code location")
        yield server
    finally:
        stop_group(proc)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / "dagster_dev.log")


def sensor_state(server: Dagster, name: str) -> dict:
    data = server.gql(
        """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
             sensorState { status ticks(limit: 5) { status timestamp cursor } } } } }""",
        {"s": {**LOCATION, "sensorName": name}},
    )
    return data["sensorOrError"]["sensorState"]


def set_sensor(server: Dagster, name: str, on: bool) -> None:
    if on:
        server.gql(
            """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
                 ... on Sensor { name } ... on PythonError { message } } }""",
            {"s": {**LOCATION, "sensorName": name}},
        )
    else:
        state = server.gql(
            """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
                 sensorState { id selectorId } } } }""",
            {"s": {**LOCATION, "sensorName": name}},
        )["sensorOrError"]["sensorState"]
        server.gql(
            """mutation($id: String!, $sid: String!) { stopSensor(id: $id, jobSelectorId: $sid) {
                 ... on StopSensorMutationResult { instigationState { status } } } }""",
            {"id": state["id"], "sid": state["selectorId"]},
        )


def first_pass_done(server: Dagster) -> bool:
    """A finished tick whose cursor records a completed pass: files landing now are new arrivals,
    not history adopted by the first pass."""
    for tick in sensor_state(server, "raw_tweets_sensor")["ticks"]:
        finished = tick["status"] in ("SKIPPED", "SUCCESS") and tick["cursor"]
        if finished and json.loads(tick["cursor"])["lp"] is not None:
            return True
    return False


def wait_for_run(server: Dagster, tags: dict[str, str], timeout: float) -> dict:
    def finished():
        runs = server.runs(tags)
        done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        return done[0] if done else None

    return wait_until(finished, timeout, interval=2, what=f"a finished run tagged {tags}")


def tweet_stat_partition(server: Dagster, partition: str) -> dict:
    return server.gql(
        """query($p: String!) { assetNodeOrError(assetKey: {path: ["tweet_stat"]}) { ... on AssetNode {
             assetMaterializations(partitions: [$p]) { runId partition }
             assetChecksOrError { ... on AssetChecks { checks { name
               executionForLatestMaterialization { status } } } } } } }""",
        {"p": partition},
    )["assetNodeOrError"]


def test_sensor_runs_a_landed_day_and_the_ui_shows_it(dagster: Dagster):
    set_sensor(dagster, "raw_tweets_sensor", on=True)
    assert sensor_state(dagster, "raw_tweets_sensor")["status"] == "RUNNING"
    wait_until(lambda: first_pass_done(dagster), 120, what="the sensor's first pass over the empty lake")

    tiny_lake(dagster.lake, date.fromisoformat(DAY))  # the day lands after the sensor's first pass
    run = wait_for_run(dagster, {TRIGGER_TAG: "raw_tweets_sensor"}, 480)
    assert run["tags"] and {"key": "dagster/partition", "value": DAY} in run["tags"]
    materialized = dagster.gql(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run {
             assetMaterializations { assetKey { path } partition } } } }""",
        {"id": run["runId"]},
    )["runOrError"]["assetMaterializations"]
    # one run, the whole day: every daily asset (the day selection), one partition
    assert {"raw_tweets", "raw_tmdb", "tvshows", "tweet_stat", "tmdb_stat"} <= {
        m["assetKey"]["path"][-1] for m in materialized
    }
    assert {m["partition"] for m in materialized} == {DAY}
    assert run["status"] == "SUCCESS", run

    node = tweet_stat_partition(dagster, DAY)
    assert [m["partition"] for m in node["assetMaterializations"]] == [DAY]
    assert node["assetMaterializations"][0]["runId"] == run["runId"]
    checks = {
        c["name"]: c["executionForLatestMaterialization"]["status"]
        for c in node["assetChecksOrError"]["checks"]
    }
    assert {"one_row_per_tracked_show", "unique_id_date", "counts_consistent"} <= set(checks)
    assert set(checks.values()) == {"SUCCEEDED"}, checks
    observed = dagster.gql(
        """{ assetNodeOrError(assetKey: {path: ["raw_tweets"]}) { ... on AssetNode {
             assetObservations(partitions: ["2020-11-23"]) { metadataEntries { label } } } } }"""
    )["assetNodeOrError"]["assetObservations"]
    assert observed and "arrivals" in {e["label"] for e in observed[0]["metadataEntries"]}

    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            user_data_dir=str(dagster.lake.parent / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.goto(f"{dagster.url}/asset-groups", wait_until="domcontentloaded")
            for group in ("raw", "dimensions", "facts"):  # the global graph, collapsed by group
                page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "global_lineage.png"), full_page=True)

            page.goto(
                f"{dagster.url}/assets/tweet_stat?view=lineage&lineageScope=upstream&lineageDepth=2",
                wait_until="domcontentloaded",
            )
            for name in ("raw_tweets", "raw_tmdb", "tvshows", "tweet_stat"):
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            passed = f"{len(checks)} / {len(checks)} Passed"  # tweet_stat's node: every check passed
            page.get_by_text(passed).first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "asset_graph.png"), full_page=True)

            page.goto(
                f"{dagster.url}/assets/tweet_stat?view=partitions&partition={DAY}",
                wait_until="domcontentloaded",
            )
            page.get_by_text("posts_counted").first.wait_for(timeout=60_000)  # the partition's metadata
            body = page.inner_text("body")
            assert DAY in body and run["runId"][:8] in body
            page.screenshot(path=str(ARTIFACTS / "tweet_stat_partition.png"), full_page=True)

            page.goto(f"{dagster.url}/assets/tweet_stat?view=checks", wait_until="domcontentloaded")
            for name in checks:
                page.get_by_text(name).first.wait_for(timeout=60_000)
            page.get_by_text("Passed").first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "tweet_stat_checks.png"), full_page=True)
        finally:
            browser.close()
    for name in (
        "global_lineage.png",
        "asset_graph.png",
        "tweet_stat_partition.png",
        "tweet_stat_checks.png",
    ):
        assert (ARTIFACTS / name).stat().st_size > 10_000
