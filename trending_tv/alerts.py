"""Failure visibility: one clear log line per failed run, and a JSON post to a webhook when
TRENDING_TV_ALERT_WEBHOOK_URL is set (the `alerts` resource; Slack-compatible `text`, plus structured
fields). The alert carries each failed step's own error (what raised, e.g. the blocking checks that
kept a table from being published), not only the run's "Steps failed" line.

A failed run that the daemon's run retries will launch again (deploy/dagster/dagster.yaml: a run whose
process died, up to `max_retries` times) is only logged and tagged as awaiting its retry; the alert goes
out for the final failure. The daemon can still drop a promised retry (a run of a backfill that ended or
was deleted, a job that no longer loads, an error while launching, run retries turned off, the daemon
down): `retry_dropped_alert` then sends the alert the first sensor held back.

Nothing secret is sent or logged: no run config, no environment, no resource values; the value of any
secret-looking environment variable is masked in error texts; the webhook URL itself (which often
embeds a token) is logged by host only."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from trending_tv.constants import TRIGGER_TAG
from trending_tv.settings import ALERT_WEBHOOK_URL, AlertsResource

MAX_ERROR_CHARS = 1000
MAX_STEPS = 10
# Run tags the run-retry machinery reads and writes (their constants live in dagster._core.storage.tags)
WILL_RETRY_TAG = "dagster/will_retry"  # Dagster's own answer, recorded when the failure is stored
MAX_RETRIES_TAG = "dagster/max_retries"
RETRY_NUMBER_TAG = "dagster/retry_number"  # on the runs the daemon launched: 1, 2, ...
FAILURE_REASON_TAG = "dagster/failure_reason"
RETRY_ON_STEP_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"
AUTO_RETRY_RUN_ID_TAG = "dagster/auto_retry_run_id"  # the daemon's record on a failed run it re-executed
# Ours, on a failed run whose alert waits for Dagster's promised retry: "deferred", then "retried" once the
# daemon launched it or "sent" once it dropped it and the alert went out
FAILURE_ALERT_TAG = "trending_tv/failure_alert"
DEFERRED, RETRIED, SENT = "deferred", "retried", "sent"
# The daemon re-executes a failed run within seconds (its event-log consumer polls every 5 s); a retry
# still missing after this long will not come (or comes so late that the failure deserves an alert)
RETRY_GRACE_SECONDS = 600
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY|WEBHOOK|CREDENTIAL", re.IGNORECASE)


def mask_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with the value of every secret-looking environment variable (…TOKEN, …KEY, …SECRET,
    …PASSWORD, the webhook URL) replaced by ***."""
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if _SECRET_NAME.search(name) and len(value) >= 6:
            text = text.replace(value, "***")
    return text


def step_error(event: DagsterEvent) -> str:
    """What a failed step raised: a `dagster.Failure`'s description, else the innermost exception of
    the error chain as `Class: message` (Dagster wraps user errors in a step execution error)."""
    failure = getattr(event.event_specific_data, "user_failure_data", None)
    if failure is not None and failure.description:
        return failure.description.strip()
    error = event.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    return (error.message or error.cls_name or "").strip()


def will_be_retried(run: DagsterRun, instance: DagsterInstance) -> bool:
    """Will the daemon's run retries launch this failed run again? Dagster's own answer
    (`dagster/will_retry`, written when an instance with run retries enabled stores the failure) when
    it is there; else the same rule from the tags and the instance's `run_retries`: not for a run
    failed by its steps unless retry_on_asset_or_op_failure, and only while the run's retry number
    is below max_retries."""
    if not instance.run_retries_enabled:
        return False
    recorded = run.tags.get(WILL_RETRY_TAG)
    if recorded is not None:
        return recorded.strip().lower() == "true"
    retry_on_step_failure = run.tags.get(RETRY_ON_STEP_FAILURE_TAG)
    if run.tags.get(FAILURE_REASON_TAG) == "STEP_FAILURE" and not (
        instance.run_retries_retry_on_asset_or_op_failure
        if retry_on_step_failure is None
        else retry_on_step_failure.strip().lower() == "true"
    ):
        return False
    try:
        max_retries = int(run.tags.get(MAX_RETRIES_TAG, instance.run_retries_max_retries))
        retry_number = int(run.tags.get(RETRY_NUMBER_TAG, 0))
    except ValueError:
        return False  # Dagster does not retry a run whose tag it cannot read either
    return retry_number < max_retries


@dataclass(frozen=True)
class RetryOutcome:
    """What became of the retry Dagster promised for a failed run: `retry_run_id` once the daemon
    launched it, `dropped` (why) once it will not come; neither while it still may."""

    retry_run_id: str | None = None
    dropped: str | None = None


def retry_outcome(run: DagsterRun, instance: DagsterInstance, now: float) -> RetryOutcome:
    """Read from what the daemon's run retries record on the failed run (dagster/auto_retry_run_id
    once launched; an engine event saying why not, e.g. "Not retrying run since it is part of a
    backfill that no longer exists", or "Failed to retry run" with dagster/will_retry turned false),
    else from the instance's settings and the time since the failure (`now`, epoch seconds)."""
    retry_run_id = run.tags.get(AUTO_RETRY_RUN_ID_TAG)
    if retry_run_id:
        return RetryOutcome(retry_run_id=retry_run_id)
    if not instance.run_retries_enabled:
        return RetryOutcome(dropped="run retries are disabled on this instance")
    entries = instance.all_logs(
        run.run_id, of_type={DagsterEventType.RUN_FAILURE, DagsterEventType.ENGINE_EVENT}
    )
    failures = [i for i, e in enumerate(entries) if e.dagster_event_type == DagsterEventType.RUN_FAILURE]
    after_failure = entries[failures[-1] + 1 :] if failures else entries
    said = [
        message
        for message in (e.dagster_event.message or "" for e in after_failure if e.dagster_event)
        if "retry" in message.lower() and not message.startswith("Retrying the run")
    ]  # an engine event on the failed run; "Retrying the run" is logged with a launch, after its tag
    if said:
        return RetryOutcome(dropped=said[-1])
    if (run.tags.get(WILL_RETRY_TAG) or "").strip().lower() != "true":
        return RetryOutcome(dropped="Dagster no longer plans to retry it")
    failed_at = entries[failures[-1]].timestamp if failures else now
    if now - failed_at > RETRY_GRACE_SECONDS:
        return RetryOutcome(
            dropped=f"no retry launched within {RETRY_GRACE_SECONDS // 60} minutes (is the daemon running?)"
        )
    return RetryOutcome()


def alert_payload(context: RunFailureSensorContext) -> dict:
    return failure_payload(
        context.dagster_run, context.failure_event.message or "", context.get_step_failure_events()
    )


def failure_payload(
    run: DagsterRun, run_error: str, step_failures: Sequence[DagsterEvent], retry_dropped: str | None = None
) -> dict:
    """The alert for failed `run`: its run-level error, each failed step's own error, and why the
    retry Dagster had planned did not come (`retry_dropped`), if so."""
    steps = [
        {"step": e.step_key, "error": mask_secrets(step_error(e))[:MAX_ERROR_CHARS]}
        for e in step_failures[:MAX_STEPS]
    ]
    error = f"step {steps[0]['step']}: {steps[0]['error']}" if steps else mask_secrets(run_error)
    partition = run.tags.get("dagster/partition") or (
        f"{run.tags['dagster/asset_partition_range_start']}...{run.tags['dagster/asset_partition_range_end']}"
        if "dagster/asset_partition_range_start" in run.tags
        else None
    )
    assets = sorted(k.to_user_string() for k in (run.asset_selection or []))
    retry_number = run.tags.get(RETRY_NUMBER_TAG, "")
    retries = int(retry_number) if retry_number.isdigit() else 0  # automatic retries before this failure
    text = (
        f"trending-tv run {run.run_id} ({run.job_name}) failed"
        + (f" for partition {partition}" if partition else "")
        + (f" after {retries} automatic retr{'y' if retries == 1 else 'ies'}" if retries else "")
        + f": {error[:300]}"
        + (f" (its automatic retry was not launched: {retry_dropped})" if retry_dropped else "")
    )
    return {
        "text": text,
        "run_id": run.run_id,
        "job_name": run.job_name,
        "partition": partition,
        "assets": assets,
        "error": error[:MAX_ERROR_CHARS],
        "failed_steps": steps,
        "retries": retries,
        "retry_dropped": retry_dropped,
        "run_error": mask_secrets(run_error)[:MAX_ERROR_CHARS],
        "trigger": run.tags.get(TRIGGER_TAG) or run.tags.get("dagster/sensor_name") or "manual",
    }


def post_json(url: str, payload: dict, timeout: float = 10.0) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "trending-tv-alerts"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


@run_failure_sensor(
    name="run_failure_alert",
    monitor_all_code_locations=False,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=f"Logs every failed run; posts JSON to ${ALERT_WEBHOOK_URL} when it is set",
)
def run_failure_alert(context: RunFailureSensorContext, alerts: AlertsResource) -> None:
    run = context.dagster_run
    if will_be_retried(run, context.instance):
        context.instance.add_run_tags(run.run_id, {FAILURE_ALERT_TAG: DEFERRED})
        context.log.warning(
            f"Run {run.run_id} ({run.job_name}) failed and will be retried by the daemon; no alert "
            "unless the retries fail too or the retry is not launched"
        )
        return
    send_alert(context.log, alerts, alert_payload(context))


@sensor(
    name="retry_dropped_alert",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Alerts, as run_failure_alert would have, for a failed run whose promised automatic "
    "retry the daemon did not launch",
)
def retry_dropped_alert(context: SensorEvaluationContext, alerts: AlertsResource) -> SkipReason:
    instance = context.instance
    waiting = instance.get_runs(
        filters=RunsFilter(tags={FAILURE_ALERT_TAG: DEFERRED}, statuses=[DagsterRunStatus.FAILURE])
    )
    now = time.time()
    sent = 0
    for run in waiting:
        outcome = retry_outcome(run, instance, now)
        if outcome.retry_run_id:
            instance.add_run_tags(run.run_id, {FAILURE_ALERT_TAG: RETRIED})
        elif outcome.dropped:
            failure = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
            steps = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
            payload = failure_payload(
                run,
                (failure[-1].dagster_event.message or "") if failure else "",
                [e.dagster_event for e in steps],
                retry_dropped=mask_secrets(outcome.dropped)[:MAX_ERROR_CHARS],
            )
            send_alert(context.log, alerts, payload)  # never raises: a webhook down is logged
            instance.add_run_tags(run.run_id, {FAILURE_ALERT_TAG: SENT})
            sent += 1
    return SkipReason(f"{len(waiting)} failed run(s) awaited their retry; {sent} alert(s) sent")


def send_alert(log: logging.Logger, alerts: AlertsResource, payload: dict) -> None:
    """Log the failure; post `payload` to the webhook when one is set (logged by host only)."""
    log.error(f"RUN FAILED: {payload['text']}")
    url = (alerts.webhook_url or "").strip()
    if not url:
        return
    host = urlparse(url).hostname or "?"
    try:
        status = post_json(url, payload)
        log.info(f"Alert for run {payload['run_id']} posted to webhook host {host} (HTTP {status})")
    except Exception as error:  # an alert that cannot be delivered must not hide the failure
        log.error(
            f"Alert for run {payload['run_id']} could not be posted to webhook host {host}: "
            f"{type(error).__name__}"
        )
