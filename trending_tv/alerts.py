"""Failure visibility: one clear log line per failed run, and a JSON post to a webhook when
TRENDING_TV_ALERT_WEBHOOK_URL is set (the `alerts` resource; Slack-compatible `text`, plus structured
fields). The alert carries each failed step's own error (what raised, e.g. the blocking checks that
kept a table from being published), not only the run's "Steps failed" line.

A failed run that the daemon's run retries will launch again (deploy/dagster/dagster.yaml: a run whose
process died, up to `max_retries` times) is only logged; the alert goes out for the final failure.

Nothing secret is sent or logged: no run config, no environment, no resource values; the value of any
secret-looking environment variable is masked in error texts; the webhook URL itself (which often
embeds a token) is logged by host only."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlparse

from dagster import (
    DagsterEvent,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
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


def alert_payload(context: RunFailureSensorContext) -> dict:
    run = context.dagster_run
    run_error = context.failure_event.message or ""
    steps = [
        {"step": e.step_key, "error": mask_secrets(step_error(e))[:MAX_ERROR_CHARS]}
        for e in context.get_step_failure_events()[:MAX_STEPS]
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
        context.log.warning(
            f"Run {run.run_id} ({run.job_name}) failed and will be retried by the daemon; no alert "
            "unless the retries fail too"
        )
        return
    payload = alert_payload(context)
    context.log.error(f"RUN FAILED: {payload['text']}")
    url = (alerts.webhook_url or "").strip()
    if not url:
        return
    host = urlparse(url).hostname or "?"
    try:
        status = post_json(url, payload)
        context.log.info(f"Alert for run {payload['run_id']} posted to webhook host {host} (HTTP {status})")
    except Exception as error:  # an alert that cannot be delivered must not hide the failure
        context.log.error(
            f"Alert for run {payload['run_id']} could not be posted to webhook host {host}: "
            f"{type(error).__name__}"
        )
