"""The step launcher that runs the Spark assets on EMR, and its description of a failed step.

It is dagster-aws's `EmrPySparkStepLauncher`. Upstream marks step launchers *superseded* in favour
of Dagster Pipes (`PipesEMRClient`); they are maintained and have no removal date. We keep the
launcher because the same asset body then runs locally and on EMR, filter only its
SupersessionWarning, and document PipesEMRClient as the alternative (docs/DEPLOY_EMR.md). This
subclass adds what the upstream launcher lacks: the cluster created on demand (`cluster.py`), a code
zip of our packages only (`packaging.py`), and honest failures: a FAILED/CANCELLED EMR step raises
with the step's failure details and the tail of its logs from the cluster's LogUri; a COMPLETED step
whose remote Dagster step reported no success also fails (a failed step must never pass for success).
"""

from __future__ import annotations

import gzip
import time
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from dagster import DagsterEventType
from dagster_aws.emr import EmrError
from dagster_aws.emr.pyspark_step_launcher import EmrPySparkStepLauncher
from dagster_shared.utils.warnings import SupersessionWarning

from trending_tv.resources.emr.cluster import EmrClusters
from trending_tv.resources.emr.packaging import SOURCE_ROOT, code_folder
from trending_tv.resources.emr.settings import EmrSettings


class EmrStepFailed(EmrError):
    """An EMR step failed; the message carries EMR's failure details and the step's stderr tail."""


def _read_s3_text(s3, uri: str) -> str | None:
    from botocore.exceptions import ClientError

    parsed = urlparse(uri)
    try:
        body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    except ClientError:
        return None
    if uri.endswith(".gz"):
        body = gzip.decompress(body)
    return body.decode("utf-8", errors="replace")


class TrendingTvEmrStepLauncher(EmrPySparkStepLauncher):
    """dagster-aws's EMR PySpark step launcher (step files, code zip, spark-submit step, event
    replay: all upstream) with an on-demand cluster and honest failure reporting."""

    def __init__(self, settings: EmrSettings, clusters: EmrClusters | None = None):
        self.settings = settings
        self.clusters = clusters or EmrClusters(settings)
        with warnings.catch_warnings():
            # Superseded by Dagster Pipes, not deprecated: kept deliberately (see the module docstring).
            warnings.filterwarnings(
                "ignore", message="StepLauncher is superseded", category=SupersessionWarning
            )
            super().__init__(
                region_name=settings.region,
                staging_bucket=settings.staging_bucket,
                staging_prefix=settings.staging_prefix,
                wait_for_logs=False,  # dagster-io/dagster#10086: fetching logs can fail a success
                # A failed step must not cancel the steps of other assets sharing the cluster;
                # Dagster decides what the failure stops.
                action_on_failure="CONTINUE",
                cluster_id=settings.cluster_id or "(created on demand when the first step launches)",
                spark_config={},
                local_job_package_path=str(SOURCE_ROOT),
                deploy_local_job_package=True,
            )

    def launch_step(self, step_context) -> Iterator[Any]:
        self.cluster_id = self.clusters.ensure_cluster(step_context.dagster_run.run_id, step_context.log)
        # The upstream launcher zips everything under local_job_package_path; give it a private folder
        # holding only our packages. Module code pointers (trending_tv.definitions) are unaffected.
        with code_folder() as folder:
            self.local_job_package_path = str(folder)
            yield from super().launch_step(step_context)

    def wait_for_completion_and_log(self, run_id, step_key, emr_step_id, step_context):
        outcome: set[DagsterEventType] = set()
        try:
            for event in super().wait_for_completion_and_log(run_id, step_key, emr_step_id, step_context):
                outcome.add(event.event_type)
                yield event
        except EmrError as error:
            raise EmrStepFailed(self.describe_failure(emr_step_id, step_context.log)) from error
        if DagsterEventType.STEP_SUCCESS not in outcome and DagsterEventType.STEP_FAILURE not in outcome:
            raise EmrStepFailed(
                f"EMR step {emr_step_id} on cluster {self.cluster_id} is COMPLETED but the remote Dagster "
                f"step reported neither success nor failure (events seen: "
                f"{sorted(e.value for e in outcome)}); treating it as a failure.\n"
                + self.describe_failure(emr_step_id, step_context.log, state_known=True)
            )

    def step_log_uri(self, emr_step_id: str) -> str:
        base = self.settings.log_uri.rstrip("/")
        return f"{base}/{self.cluster_id}/steps/{emr_step_id}/"

    def describe_failure(self, emr_step_id: str, log, state_known: bool = False) -> str:
        step = self.emr_job_runner.describe_step(self.cluster_id, emr_step_id)["Step"]
        status = step["Status"]
        details = status.get("FailureDetails") or {}
        reason = status.get("StateChangeReason") or {}
        lines = [
            f"EMR step {emr_step_id} ({step.get('Name', '')}) on cluster {self.cluster_id} ended "
            f"{status['State']}."
        ]
        if details:
            lines.append(f"EMR failure details: {details.get('Reason', '')}: {details.get('Message', '')}")
        if reason.get("Message"):
            lines.append(f"State change reason: {reason.get('Message')}")
        # EMR copies a step's stdout and stderr to <LogUri>/<cluster>/steps/<step>/ a little after it
        # ends. With spark-submit in client mode the Python driver's traceback is in stdout.
        log_dir = (details.get("LogFile") or self.step_log_uri(emr_step_id)).rstrip("/")
        if log_dir.endswith((".gz", "stderr", "stdout")):
            log_dir = log_dir.rsplit("/", 1)[0]
        import boto3

        s3 = boto3.client("s3", region_name=self.region_name)
        deadline = time.monotonic() + self.settings.failure_log_wait_seconds
        logs: dict[str, str | None] = {}
        while True:
            logs = {name: _read_s3_text(s3, f"{log_dir}/{name}") for name in ("stdout.gz", "stderr.gz")}
            if any(logs.values()) or time.monotonic() >= deadline:
                break
            time.sleep(10)
        for name, text in logs.items():
            if text and text.strip():
                tail = "\n".join(text.rstrip().splitlines()[-30:])
                lines.append(f"--- last lines of the step's {name[:-3]} ({log_dir}/{name}) ---\n{tail}")
        if not any(logs.values()):
            lines.append(f"(no step logs under {log_dir}/ yet: EMR copies them to LogUri within minutes)")
        message = "\n".join(lines)
        log.error(message)
        return message
