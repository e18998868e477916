"""The production instance's helper scripts (deploy/dagster/) on a throw-away SQLite instance: run
retention keeps every run that recorded asset events, and the code server's ExecStartPre fails only the
in-flight runs that server had started. (On PostgreSQL, with real processes: test_production_instance.)"""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, Failure, asset, job, materialize, op
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.storage.tags import GRPC_INFO_TAG

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "dagster"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, DEPLOY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def instance(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as temp:
        yield temp


@asset
def a_table() -> int:
    return 1


@op
def fails_before_writing():
    raise Failure("nothing landed")


@job
def failing_job():
    fails_before_writing()


def test_purge_deletes_only_old_finished_runs_without_asset_events(instance):
    purge = load("purge_runs")
    kept = materialize([a_table], instance=instance).run_id
    failed = failing_job.execute_in_process(instance=instance, raise_on_error=False).run_id
    assert instance.get_run_by_id(failed).status == DagsterRunStatus.FAILURE

    assert purge.purge_runs(instance, timedelta(days=1)) == []  # both are younger than a day
    assert purge.purge_runs(instance, timedelta(0), dry_run=True) == [failed]
    assert instance.get_run_by_id(failed) is not None
    assert purge.purge_runs(instance, timedelta(0)) == [failed]
    assert instance.get_run_by_id(failed) is None
    assert instance.get_run_by_id(kept).status == DagsterRunStatus.SUCCESS
    assert instance.get_latest_materialization_event(a_table.key).run_id == kept


def test_fail_orphaned_runs_fails_only_the_collected_runs_of_that_server(instance):
    orphans = load("fail_orphaned_runs")

    def started_through(port: int) -> str:
        """A run the code server at 127.0.0.1:port launched, as DefaultRunLauncher tags it, now STARTED."""
        run = instance.create_run_for_job(
            failing_job, tags={GRPC_INFO_TAG: json.dumps({"host": "127.0.0.1", "port": port})}
        )
        start = DagsterEvent(DagsterEventType.RUN_START.value, job_name=run.job_name)
        instance.report_dagster_event(start, run_id=run.run_id)
        return run.run_id

    started_here = started_through(4000)
    started_elsewhere = started_through(4001)
    assert instance.get_run_by_id(started_here).status == DagsterRunStatus.STARTED
    collected = orphans.orphaned_runs(instance, "127.0.0.1", 4000)
    assert collected == [started_here]
    launched_meanwhile = started_through(4000)  # by the new server, between collect and fail
    assert orphans.fail_runs(instance, collected, "127.0.0.1", 4000) == [started_here]
    assert instance.get_run_by_id(started_here).status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(started_elsewhere).status == DagsterRunStatus.STARTED
    assert instance.get_run_by_id(launched_meanwhile).status == DagsterRunStatus.STARTED
    assert orphans.fail_runs(instance, collected, "127.0.0.1", 4000) == []  # already failed


def test_the_lock_file_pins_exactly_the_installed_extras():
    """requirements/lock.txt is what `make install` and CI install with (-c): every package of the
    ingest, pipeline and dev extras pinned at the installed version, nothing else."""
    spec = importlib.util.spec_from_file_location("lock", DEPLOY.parents[1] / "requirements" / "lock.py")
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    text = lock.LOCK.read_text()
    assert text == lock.render(), "requirements/lock.txt is stale: run `make lock`"
    pinned = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert all(line.count("==") == 1 for line in pinned)
    names = {line.split("==")[0] for line in pinned}
    assert {"dagster", "dagster-postgres", "psycopg2-binary", "pyspark", "boto3", "pytest"} <= names
