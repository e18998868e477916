"""The local instance's run queue (the root dagster.yaml, as `make ui` uses it): `dagster dev`'s daemon
dequeues runs under its limits, so two requests for the same day run one after the other, never at
once (the day's partition swap is never raced). The root dagster.yaml also allows one run at a time
in all (a range run and a single day inside it share no tag a limit could keep apart); the
per-partition limit on its own is shown by test_production_instance.py.

Slow: it starts `dagster dev` (the e2e test's fixture) and runs three real runs of the day's Spark
assets. The runs must last longer than the daemon takes to launch the next one: runs of the `date`
asset alone (under a second each) never overlap even without any limit, so they cannot show one."""

from __future__ import annotations

import time
from datetime import date

import pytest

from trending_tv_tests.lake_fixtures import tiny_lake
from trending_tv_tests.test_e2e_ui import LOCATION, Dagster, dagster, wait_until  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
ASSETS = [{"path": [key]} for key in ("raw_tweets", "raw_tmdb", "tvshows", "tweet_stat")]


def launch(server: Dagster, day: str) -> str:
    """What the UI's Materialize button sends for one partition of the day's Spark assets: a run,
    queued."""
    launched = server.gql(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
             ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {
            "p": {
                "selector": {**LOCATION, "jobName": "__ASSET_JOB", "assetSelection": ASSETS},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def runs_by_id(server: Dagster, run_ids: list[str]) -> dict[str, dict]:
    data = server.gql(
        """query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
             runId status startTime endTime } } } }""",
        {"filter": {"runIds": run_ids}},
    )
    return {r["runId"]: r for r in data["runsOrError"]["results"]}


def test_two_requests_for_the_same_day_run_one_after_the_other(dagster: Dagster):  # noqa: F811
    for day in (date(2020, 12, 3), date(2020, 12, 4)):
        tiny_lake(dagster.lake, day)
    first = launch(dagster, "2020-12-03")
    second = launch(dagster, "2020-12-03")
    other = launch(dagster, "2020-12-04")
    queued_at = time.time()

    def finished():
        runs = runs_by_id(dagster, [first, second, other])
        if len(runs) == 3 and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs.values()):
            return runs
        return None

    runs = wait_until(finished, 420, interval=1, what="the three runs")
    assert {r["status"] for r in runs.values()} == {"SUCCESS"}, runs
    earlier, later = sorted((runs[first], runs[second]), key=lambda r: r["startTime"])
    assert later["startTime"] >= earlier["endTime"], "two runs of one day overlapped"
    assert all(r["startTime"] >= queued_at - 60 for r in runs.values())
