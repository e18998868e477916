"""run_failure_alert on an instance with run retries as in deploy/dagster/dagster.yaml (a run whose
process died is run again up to 2 times; a run failed by its own steps is not): no alert while the
daemon will retry, one alert for the final failure, one at once for a step failure; and
retry_dropped_alert: one alert, once, for a failed run whose promised retry the daemon (Dagster's own
auto re-execution code) did not launch, none for one it did."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    materialize,
)
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.test_utils import instance_for_test
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import (
    consume_new_runs_for_automatic_reexecution,
)

from trending_tv.alerts import (
    RETRY_GRACE_SECONDS,
    retry_dropped_alert,
    retry_outcome,
    run_failure_alert,
    will_be_retried,
)
from trending_tv.settings import AlertsResource

PRODUCTION_RETRIES = {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def _died(instance: DagsterInstance, parent: DagsterRun | None = None, **extra_tags: str) -> DagsterRun:
    """A run whose process died: a new one, or the daemon's retry of `parent`."""
    tags = {"dagster/partition": "2020-11-23", **extra_tags}
    if parent is not None:
        tags["dagster/retry_number"] = str(int(parent.tags.get("dagster/retry_number", "0")) + 1)
        # the run group (how Dagster counts the retries launched) is kept in these tags
        tags["dagster/root_run_id"] = parent.root_run_id or parent.run_id
        tags["dagster/parent_run_id"] = parent.run_id
    run = instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            status=DagsterRunStatus.STARTED,
            tags=tags,
            root_run_id=(parent.root_run_id or parent.run_id) if parent else None,
            parent_run_id=parent.run_id if parent else None,
        )
    )
    instance.report_run_failed(
        run,
        "Run worker process died",
        JobFailureData(error=None, failure_reason=RunFailureReason.RUN_WORKER_RESTART),
    )
    return instance.get_run_by_id(run.run_id)


def _alert(instance: DagsterInstance, run: DagsterRun, url: str) -> None:
    failure = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)[-1].dagster_event
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
        resources={"alerts": AlertsResource(webhook_url=url)},
    ).for_run_failure()
    run_failure_alert(context)


def _tick(instance: DagsterInstance, url: str) -> None:
    """One evaluation of retry_dropped_alert, as the daemon runs it every minute."""
    context = build_sensor_context(instance=instance, resources={"alerts": AlertsResource(webhook_url=url)})
    retry_dropped_alert(context)


class _UnreachableWorkspace:
    """The daemon's workspace when the code location cannot be loaded: launching a retry raises."""

    def __init__(self, instance: DagsterInstance):
        self.instance = instance

    def create_request_context(self):
        raise RuntimeError("code location trending_tv is unreachable")


def _daemon_pass(instance: DagsterInstance, run: DagsterRun) -> DagsterRun:
    """What the daemon's run retries (Dagster's own code) do with failed `run`; the run afterwards."""
    records = instance.get_run_records(filters=RunsFilter(run_ids=[run.run_id]))
    workspace = _UnreachableWorkspace(instance)
    list(consume_new_runs_for_automatic_reexecution(workspace, records, logging.getLogger("daemon")))
    return instance.get_run_by_id(run.run_id)


def test_a_run_the_daemon_retries_alerts_only_on_its_final_failure(webhook):
    url, received = webhook
    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}) as instance:
        first = _died(instance)
        assert first.tags["dagster/will_retry"] == "true"  # Dagster's own answer, on the run
        _alert(instance, first, url)
        retry_1 = _died(instance, first)
        _alert(instance, retry_1, url)
        assert received == []  # two failures the daemon retries: no alert yet
        retry_2 = _died(instance, retry_1)
        assert retry_2.tags["dagster/will_retry"] == "false"
        _alert(instance, retry_2, url)
    [payload] = received
    assert payload["run_id"] == retry_2.run_id and payload["retries"] == 2
    assert "failed for partition 2020-11-23 after 2 automatic retries" in payload["text"]


def test_a_run_failed_by_its_steps_alerts_at_once(webhook):
    url, received = webhook

    @asset
    def exploding() -> None:
        raise RuntimeError("blocking check failed")

    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}) as instance:
        result = materialize([exploding], instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        assert run.tags["dagster/failure_reason"] == "STEP_FAILURE"
        assert not will_be_retried(run, instance)
        _alert(instance, run, url)
    [payload] = received
    assert payload["retries"] == 0 and "RuntimeError: blocking check failed" in payload["error"]


def test_without_dagsters_recorded_answer_the_tags_and_the_instance_decide():
    def run(**tags: str) -> DagsterRun:
        return DagsterRun(job_name="j", status=DagsterRunStatus.FAILURE, tags=tags)

    died = {"dagster/failure_reason": "RUN_WORKER_RESTART"}
    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}) as instance:
        assert will_be_retried(run(**died), instance)
        assert will_be_retried(run(**died, **{"dagster/retry_number": "1"}), instance)
        assert not will_be_retried(run(**died, **{"dagster/retry_number": "2"}), instance)
        assert not will_be_retried(run(**died, **{"dagster/max_retries": "0"}), instance)
        assert not will_be_retried(run(**{"dagster/failure_reason": "STEP_FAILURE"}), instance)
        step_retry = {
            "dagster/failure_reason": "STEP_FAILURE",
            "dagster/retry_on_asset_or_op_failure": "true",
        }
        assert will_be_retried(run(**step_retry), instance)
        assert not will_be_retried(run(**died, **{"dagster/will_retry": "false"}), instance)
    with instance_for_test() as instance:  # the root dagster.yaml: run retries off
        assert not will_be_retried(run(**died), instance)


def test_a_retry_the_daemon_drops_for_a_gone_backfill_alerts_once(webhook):
    url, received = webhook
    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}) as instance:
        run = _died(instance, **{"dagster/backfill": "deleted-backfill"})
        assert run.tags["dagster/will_retry"] == "true"
        _alert(instance, run, url)
        _tick(instance, url)
        assert received == []  # the daemon has not decided yet
        run = _daemon_pass(instance, run)
        assert "dagster/auto_retry_run_id" not in run.tags  # not retried, though will_retry stays true
        _tick(instance, url)
        _tick(instance, url)  # sent once, not every minute
    [payload] = received
    assert payload["run_id"] == run.run_id and payload["retries"] == 0
    assert (
        payload["retry_dropped"] == "Not retrying run since it is part of a backfill that no longer exists."
    )
    text = payload["text"]
    assert "failed for partition 2020-11-23: Run worker process died (its automatic retry was not" in text


def test_a_retry_the_daemon_fails_to_launch_alerts(webhook):
    url, received = webhook
    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}) as instance:
        run = _died(instance)
        _alert(instance, run, url)
        run = _daemon_pass(instance, run)
        assert run.tags["dagster/will_retry"] == "false"  # Dagster's record of the failed launch
        _tick(instance, url)
    [payload] = received
    assert payload["run_id"] == run.run_id and payload["retry_dropped"] == "Failed to retry run"


def test_a_launched_retry_sends_no_alert_for_the_run_it_retries(webhook):
    url, received = webhook
    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}) as instance:
        first = _died(instance)
        _alert(instance, first, url)
        retry = _died(instance, first)
        # what the daemon records on the failed run when it launches the retry
        instance.add_run_tags(first.run_id, {"dagster/auto_retry_run_id": retry.run_id})
        _tick(instance, url)
        assert instance.get_run_by_id(first.run_id).tags["trending_tv/failure_alert"] == "retried"
    assert received == []


def test_a_deferred_alert_goes_out_when_retries_are_turned_off(webhook, tmp_path):
    url, received = webhook
    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}, temp_dir=str(tmp_path)) as instance:
        run = _died(instance)
        _alert(instance, run, url)
    with instance_for_test(temp_dir=str(tmp_path)) as instance:  # the same storage, retries now off
        _tick(instance, url)
    [payload] = received
    assert payload["run_id"] == run.run_id
    assert payload["retry_dropped"] == "run retries are disabled on this instance"


def test_a_retry_never_launched_counts_as_dropped_after_the_grace_period():
    with instance_for_test(overrides={"run_retries": PRODUCTION_RETRIES}) as instance:
        run = _died(instance)
        [failure] = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
        assert retry_outcome(run, instance, failure.timestamp + 5).dropped is None
        late = retry_outcome(run, instance, failure.timestamp + RETRY_GRACE_SECONDS + 1)
        assert late.retry_run_id is None
        assert late.dropped == "no retry launched within 10 minutes (is the daemon running?)"
