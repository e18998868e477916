"""Test helpers for the EMR deployment without AWS: moto's S3 and EMR served on 127.0.0.1, and a
stand-in for the EMR service that runs the steps the launcher submits.

moto accepts run_job_flow/add_job_flow_steps/describe_step but never runs a step (a cluster's first
step sits at RUNNING, the others at PENDING, forever). `EmrStandIn` is the one mock here, standing
in for what AWS EMR itself does and cannot be run locally: it watches moto's steps through moto's
in-process backend, downloads what the step's spark-submit command references from S3 (what EMRFS
does), runs the command with a local `spark-submit --master local[2]` instead of YARN, in the
environment the cluster's spark-env configuration exports, copies the step's stdout/stderr to the
cluster's LogUri as EMR does (`<LogUri>/<cluster>/steps/<step>/stderr.gz`), and sets the step
COMPLETED or FAILED from the exit status.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pyspark

from trending_tv.resources.emr import exported_env

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
SPARK_HOME = str(Path(pyspark.__file__).parent)
SPARK_SUBMIT = str(Path(SPARK_HOME) / "bin" / "spark-submit")


class MotoAws:
    """moto's server on 127.0.0.1 with a free port; boto3 pointed at it via AWS_ENDPOINT_URL."""

    def __enter__(self) -> MotoAws:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        self._saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        from moto.emr.models import emr_backends
        from moto.s3.models import s3_backends

        emr_backends[ACCOUNT][REGION].reset()
        s3_backends[ACCOUNT]["aws"].reset()

    def client(self, service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)


def emr_backend():
    from moto.emr.models import emr_backends

    return emr_backends[ACCOUNT][REGION]


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


@dataclass
class StepRecord:
    cluster_id: str
    step_id: str
    args: list[str]
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


@dataclass
class EmrStandIn:
    """Plays the EMR service for moto's clusters (see the module docstring).

    `python_for_steps` replaces the cluster's PYSPARK_PYTHON (the bootstrap's venv does not exist
    here); a test that wants a broken node passes an interpreter without the runtime."""

    aws: MotoAws
    python_for_steps: str = sys.executable
    records: list[StepRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._seen: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="emr-stand-in", daemon=True)
        self.errors: list[BaseException] = []

    def __enter__(self) -> EmrStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for cluster in list(emr_backend().clusters.values()):
                    for step in list(cluster.steps):
                        if step.id not in self._seen and step.state in ("PENDING", "RUNNING"):
                            self._seen.add(step.id)
                            self._run(cluster, step)
            except BaseException as error:  # surfaced by the test
                self.errors.append(error)
            self._stop.wait(0.5)

    def _run(self, cluster, step) -> None:
        from moto.core.utils import utcnow

        step.state = "RUNNING"
        step.start_date_time = utcnow()
        record = StepRecord(cluster.id, step.id, list(step.args))
        self.records.append(record)
        s3 = self.aws.client("s3")
        with tempfile.TemporaryDirectory(prefix="emr-stand-in-") as work:
            command = []
            for arg in step.args:
                if arg.startswith("s3://"):  # EMRFS: spark-submit reads these straight from S3
                    bucket, key = _split_s3(arg)
                    local = Path(work) / Path(key).name
                    s3.download_file(bucket, key, str(local))
                    arg = str(local)
                command.append(arg)
            assert command[0] == "/usr/lib/spark/bin/spark-submit", command
            command[0] = SPARK_SUBMIT
            command[command.index("--master") + 1] = "local[2]"  # YARN -> local
            command[1:1] = ["--conf", "spark.ui.enabled=false", "--driver-memory", "1g"]
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", work),
                "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
                "SPARK_HOME": SPARK_HOME,  # /usr/lib/spark on EMR
                **self.aws.env,
                # what every EMR node exports through the cluster's spark-env configuration
                **exported_env(cluster.configurations, "spark-env"),
                "PYSPARK_PYTHON": self.python_for_steps,
                "PYSPARK_DRIVER_PYTHON": self.python_for_steps,
            }
            started = time.monotonic()
            done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
            record.seconds = time.monotonic() - started
        record.returncode, record.stdout, record.stderr = done.returncode, done.stdout, done.stderr
        # EMR copies the step's logs to LogUri; the launcher reads stderr from there on failure.
        if cluster.log_uri:
            bucket, prefix = _split_s3(cluster.log_uri.rstrip("/") + f"/{cluster.id}/steps/{step.id}/")
            for name, text in (("stdout.gz", done.stdout), ("stderr.gz", done.stderr)):
                s3.put_object(Bucket=bucket, Key=prefix + name, Body=gzip.compress(text.encode()))
        step.end_date_time = utcnow()
        if done.returncode == 0:
            step.state = "COMPLETED"
        else:
            step.last_state_change_reason = f"spark-submit exited with status {done.returncode}"
            step.state = "FAILED"
