"""The EMR deployment: settings from the environment, the job-flow request, the cluster lifecycle and
the step launcher that runs the Spark assets on the cluster.

The launcher is dagster-aws's `EmrPySparkStepLauncher` (the product card's choice). Upstream marks
step launchers *superseded* in favour of Dagster Pipes (`PipesEMRClient`); they are maintained and
have no removal date. We keep the launcher because the same asset body then runs locally and on EMR,
filter only its SupersessionWarning, and document PipesEMRClient as the alternative
(docs/DEPLOY_EMR.md). This subclass adds what the upstream launcher lacks:

- a cluster created on demand per run (or a configured cluster id reused, after checking that it
  exports this deployment's environment), with an on-demand master, spot capacity with on-demand
  fallback, idle auto-termination, logs on S3, a bootstrap installing pinned runtime versions and
  the environment set cluster-wide (spark-env, yarn-env, hadoop-env), so that the remote step
  resolves the same deployment and resources;
- a code zip of `trending_tv` and `ingest_host` only (the upstream zip takes a whole folder tree,
  which at the repository root would ship .venv, .git, the lake and the tests);
- honest failures: a FAILED/CANCELLED EMR step raises with the step's failure details and the tail
  of its stderr from the cluster's LogUri; a COMPLETED step whose remote Dagster step reported no
  success also fails (seed weakness 19: a failed step must never pass for success).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dagster import DagsterEventType
from dagster_aws.emr import EmrError
from dagster_aws.emr.pyspark_step_launcher import EmrPySparkStepLauncher
from dagster_shared.utils.warnings import SupersessionWarning

# Packages whose code goes into the per-run code zip: the Dagster project and the shared contracts it
# imports from the ingest host. Nothing else (no tests, no .venv, no .git, no lake).
CODE_PACKAGES = ("trending_tv", "ingest_host")
SOURCE_ROOT = Path(__file__).resolve().parents[2]

# Where the bootstrap action puts the runtime: a venv on every node, used by the driver and executors.
CLUSTER_VENV = "/opt/trending-tv/venv"
CLUSTER_PYTHON = f"{CLUSTER_VENV}/bin/python"

# The cluster provides Spark itself (PySpark from /usr/lib/spark/python); the web UI is host-only.
NOT_INSTALLED_ON_CLUSTER = {"pyspark", "dagster-webserver", "trending-tv"}
# Installed without their dependencies, so pip does not pull a second PySpark next to the cluster's.
NO_DEPS_ON_CLUSTER = {"dagster-pyspark", "dagster-spark"}

LIVE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")

# Environment names the deployment forwards to the cluster (besides TRENDING_TV_DEPLOYMENT/LAKE).
FORWARDED_PREFIX = "TRENDING_TV_"
SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|API_KEY|ACCESS_KEY)", re.IGNORECASE)


class EmrSettingsError(ValueError):
    """The EMR deployment is missing settings or has invalid ones; the message names each of them."""


@dataclass(frozen=True)
class EmrSettings:
    """Everything the EMR deployment needs, read from TRENDING_TV_* environment variables
    (docs/DEPLOY_EMR.md lists them). No secrets: AWS credentials come from boto3's own chain
    (instance profile, SSO, environment) and are never forwarded to the cluster."""

    region: str
    lake_url: str
    staging_bucket: str
    staging_prefix: str
    log_uri: str
    cluster_id: str | None = None
    service_role: str | None = None
    instance_profile: str | None = None
    release_label: str = "emr-spark-8.0.0"
    capacity: str = "fleets"  # "fleets" (spot with on-demand fallback) or "groups"
    master_instance_type: str = "m5.xlarge"
    worker_instance_types: tuple[str, ...] = ("m5.xlarge", "m5a.xlarge", "m6i.xlarge")
    worker_count: int = 2
    spot_timeout_minutes: int = 10
    idle_timeout_seconds: int = 900
    step_concurrency: int = 2
    subnet_ids: tuple[str, ...] = ()
    ec2_key_name: str | None = None
    cluster_ready_timeout_seconds: int = 1800
    cluster_poll_seconds: float = 30.0
    failure_log_wait_seconds: float = 120.0
    cluster_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EmrSettings:
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(name, "").strip()

        missing: list[str] = []
        problems: list[str] = []

        lake = get("TRENDING_TV_LAKE")
        if not lake:
            missing.append("TRENDING_TV_LAKE (s3://bucket/prefix of the lake)")
        elif not lake.startswith(("s3://", "file://")):
            problems.append(
                f"TRENDING_TV_LAKE={lake!r}: on EMR the lake must be s3://bucket/prefix "
                "(or an explicit file:// folder that the host and every node see)"
            )
        region = get("TRENDING_TV_EMR_REGION") or get("AWS_REGION") or get("AWS_DEFAULT_REGION")
        if not region:
            missing.append("TRENDING_TV_EMR_REGION (the cluster's AWS region)")
        staging = get("TRENDING_TV_EMR_STAGING")
        bucket, prefix = "", ""
        if not staging:
            missing.append("TRENDING_TV_EMR_STAGING (s3://bucket/prefix for step files, code and logs)")
        else:
            parsed = urlparse(staging)
            if parsed.scheme != "s3" or not parsed.netloc:
                problems.append(f"TRENDING_TV_EMR_STAGING={staging!r} is not s3://bucket/prefix")
            bucket, prefix = parsed.netloc, parsed.path.strip("/") or "emr_staging"
        cluster_id = get("TRENDING_TV_EMR_CLUSTER_ID") or None
        service_role = get("TRENDING_TV_EMR_SERVICE_ROLE") or None
        instance_profile = get("TRENDING_TV_EMR_INSTANCE_PROFILE") or None
        if not cluster_id:
            if not service_role:
                missing.append(
                    "TRENDING_TV_EMR_SERVICE_ROLE (EMR service role; or set TRENDING_TV_EMR_CLUSTER_ID)"
                )
            if not instance_profile:
                missing.append(
                    "TRENDING_TV_EMR_INSTANCE_PROFILE (EC2 instance profile of the nodes; "
                    "or set TRENDING_TV_EMR_CLUSTER_ID)"
                )
        capacity = get("TRENDING_TV_EMR_CAPACITY") or "fleets"
        if capacity not in ("fleets", "groups"):
            problems.append(f"TRENDING_TV_EMR_CAPACITY={capacity!r} is not 'fleets' or 'groups'")

        def integer(name: str, default: int, low: int, high: int) -> int:
            text = get(name)
            if not text:
                return default
            try:
                value = int(text)
            except ValueError:
                problems.append(f"{name}={text!r} is not an integer")
                return default
            if not low <= value <= high:
                problems.append(f"{name}={value} is outside {low}..{high}")
            return value

        worker_count = integer("TRENDING_TV_EMR_WORKER_COUNT", 2, 1, 100)
        idle = integer("TRENDING_TV_EMR_IDLE_TIMEOUT_SECONDS", 900, 60, 7 * 24 * 3600)
        spot_timeout = integer("TRENDING_TV_EMR_SPOT_TIMEOUT_MINUTES", 10, 5, 1440)
        concurrency = integer("TRENDING_TV_EMR_STEP_CONCURRENCY", 2, 1, 256)
        failure_wait = integer("TRENDING_TV_EMR_FAILURE_LOG_WAIT_SECONDS", 120, 0, 3600)
        workers = tuple(t for t in get("TRENDING_TV_EMR_WORKER_INSTANCE_TYPES").split(",") if t.strip())

        if missing or problems:
            lines = [f"  - missing {m}" for m in missing] + [f"  - {p}" for p in problems]
            raise EmrSettingsError(
                "TRENDING_TV_DEPLOYMENT=emr cannot load:\n" + "\n".join(lines) + "\nSee docs/DEPLOY_EMR.md."
            )
        # Cluster configurations are readable by anyone with elasticmapreduce:DescribeCluster: forward
        # the project's settings, never anything named like a secret (AWS credentials stay out too).
        forwarded_names = [k for k in env if k.startswith(FORWARDED_PREFIX) and not SECRET_NAME.search(k)]
        cluster_env = {k: env[k] for k in sorted(forwarded_names)}
        cluster_env["TRENDING_TV_DEPLOYMENT"] = "emr"
        cluster_env["PYSPARK_PYTHON"] = CLUSTER_PYTHON
        cluster_env["PYSPARK_DRIVER_PYTHON"] = CLUSTER_PYTHON
        return cls(
            region=region,
            lake_url=lake,
            staging_bucket=bucket,
            staging_prefix=prefix,
            log_uri=get("TRENDING_TV_EMR_LOG_URI") or f"s3://{bucket}/{prefix}/logs/",
            cluster_id=cluster_id,
            service_role=service_role,
            instance_profile=instance_profile,
            release_label=get("TRENDING_TV_EMR_RELEASE_LABEL") or cls.release_label,
            capacity=capacity,
            master_instance_type=get("TRENDING_TV_EMR_MASTER_INSTANCE_TYPE") or cls.master_instance_type,
            worker_instance_types=tuple(t.strip() for t in workers) or cls.worker_instance_types,
            worker_count=worker_count,
            spot_timeout_minutes=spot_timeout,
            idle_timeout_seconds=idle,
            step_concurrency=concurrency,
            subnet_ids=tuple(s.strip() for s in get("TRENDING_TV_EMR_SUBNET_IDS").split(",") if s.strip()),
            ec2_key_name=get("TRENDING_TV_EMR_EC2_KEY_NAME") or None,
            failure_log_wait_seconds=float(failure_wait),
            cluster_env=cluster_env,
        )


# -- pinned runtime ---------------------------------------------------------------------------------


def runtime_pins(extras: tuple[str, ...] = ("ingest", "pipeline")) -> dict[str, str]:
    """The project's runtime dependencies (pyproject extras) pinned to the versions installed here,
    so the cluster runs the same Dagster, dagster-aws, boto3... as the host that pickles the step."""
    names: dict[str, str] = {}
    for text in requires("trending-tv") or []:
        requirement, _, marker = text.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if not extra or extra.group(1) not in extras:
            continue
        name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower()
        if name in NOT_INSTALLED_ON_CLUSTER:
            continue
        names[name] = name
    names.update({n: n for n in NO_DEPS_ON_CLUSTER})
    pins = {}
    for name in sorted(names):
        try:
            pins[name] = version(name)
        except PackageNotFoundError as error:
            raise EmrSettingsError(f"{name} is a runtime dependency but is not installed here") from error
    return pins


def bootstrap_script(pins: Mapping[str, str]) -> str:
    """The bootstrap action, run as hadoop on every node before it joins the cluster: a venv with the
    pinned runtime, then an assertion that the versions are exactly the pins (dagster issue #4785:
    a missing or different Dagster otherwise fails later with a confusing error)."""
    with_deps = " ".join(f"'{n}=={v}'" for n, v in pins.items() if n not in NO_DEPS_ON_CLUSTER)
    no_deps = " ".join(f"'{n}=={v}'" for n, v in pins.items() if n in NO_DEPS_ON_CLUSTER)
    expected = ", ".join(f"{n!r}: {v!r}" for n, v in pins.items())
    return f"""#!/bin/bash
# trending-tv EMR bootstrap (generated from the host's installed versions; do not edit by hand)
set -euxo pipefail
PY=$(command -v python3.11 || command -v python3.12 || true)
if [ -z "$PY" ]; then sudo dnf install -y python3.11 python3.11-pip; PY=$(command -v python3.11); fi
sudo mkdir -p {Path(CLUSTER_VENV).parent}
sudo "$PY" -m venv {CLUSTER_VENV}
sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir --upgrade pip
sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir {with_deps}
sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir --no-deps {no_deps}
{CLUSTER_PYTHON} - <<'EOF'
from importlib.metadata import version
expected = {{{expected}}}
wrong = {{n: (version(n), v) for n, v in expected.items() if version(n) != v}}
assert not wrong, f"bootstrap installed other versions than pinned: {{wrong}}"
import dagster, dagster_aws, dagster_pyspark  # noqa: F401
print("trending-tv runtime OK:", expected)
EOF
"""


# -- code zip -------------------------------------------------------------------------------------


def build_code_folder(source_root: Path = SOURCE_ROOT) -> Path:
    """A clean folder holding only CODE_PACKAGES (no caches), keyed by content, for the upstream
    launcher to zip (it zips the whole tree under `local_job_package_path`)."""
    files: list[tuple[Path, str]] = []
    for package in CODE_PACKAGES:
        for path in sorted((source_root / package).rglob("*")):
            rel = path.relative_to(source_root).as_posix()
            if path.is_file() and "__pycache__" not in rel and not rel.endswith((".pyc", ".pyo")):
                files.append((path, rel))
    digest = hashlib.sha256()
    for path, rel in files:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    # The upstream zip excludes any absolute path matching `pytest`, `/venv/`, `/logs/`: keep the
    # folder under the system temp dir, with a neutral name.
    folder = Path(tempfile.gettempdir()) / f"trending-tv-emr-code-{digest.hexdigest()[:16]}"
    if not folder.is_dir():
        partial = Path(tempfile.mkdtemp(prefix="trending-tv-emr-code-partial-"))
        for path, rel in files:
            (partial / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, partial / rel)
        try:
            partial.rename(folder)
        except OSError:  # another process made it first: same content
            shutil.rmtree(partial, ignore_errors=True)
    return folder


# -- the job-flow request and the cluster lifecycle --------------------------------------------------


def cluster_name(run_id: str) -> str:
    return f"trending-tv run {run_id}"


def cluster_configurations(settings: EmrSettings) -> list[dict[str, Any]]:
    """The environment set cluster-wide: exported by spark-env (the driver started by spark-submit),
    yarn-env and hadoop-env (containers and daemons), and the executors' env through spark-defaults."""
    env = dict(settings.cluster_env)
    export = [{"Classification": "export", "Properties": env}]
    spark_defaults = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.compression.codec": "snappy",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.pyspark.python": CLUSTER_PYTHON,
        "spark.pyspark.driver.python": CLUSTER_PYTHON,
    }
    for key, value in env.items():
        spark_defaults[f"spark.executorEnv.{key}"] = value
        spark_defaults[f"spark.yarn.appMasterEnv.{key}"] = value
    return [
        {"Classification": "spark-env", "Properties": {}, "Configurations": export},
        {"Classification": "yarn-env", "Properties": {}, "Configurations": export},
        {"Classification": "hadoop-env", "Properties": {}, "Configurations": export},
        {"Classification": "spark-defaults", "Properties": spark_defaults},
    ]


def instances_request(settings: EmrSettings) -> dict[str, Any]:
    """On-demand master; workers on spot with an on-demand fallback.

    fleets (default): the core fleet asks for spot capacity across several instance types
    (price-capacity-optimized) and switches to on-demand if spot is not fulfilled within
    `spot_timeout_minutes` (SpotSpecification.TimeoutAction=SWITCH_TO_ON_DEMAND): the native
    fallback. groups: instance groups cannot fall back by themselves, so one on-demand core node
    guarantees progress and the spot task group adds capacity when spot is available (a run is then
    slower, never stuck, when spot is short).
    """
    instances: dict[str, Any] = {
        "KeepJobFlowAliveWhenNoSteps": True,  # steps arrive one by one; idle auto-termination ends it
        "TerminationProtected": False,
    }
    if settings.ec2_key_name:
        instances["Ec2KeyName"] = settings.ec2_key_name
    if settings.capacity == "fleets":
        instances["InstanceFleets"] = [
            {
                "Name": "master",
                "InstanceFleetType": "MASTER",
                "TargetOnDemandCapacity": 1,
                "InstanceTypeConfigs": [{"InstanceType": settings.master_instance_type}],
            },
            {
                "Name": "core",
                "InstanceFleetType": "CORE",
                "TargetSpotCapacity": settings.worker_count,
                "InstanceTypeConfigs": [
                    {"InstanceType": t, "WeightedCapacity": 1} for t in settings.worker_instance_types
                ],
                "LaunchSpecifications": {
                    "SpotSpecification": {
                        "TimeoutDurationMinutes": settings.spot_timeout_minutes,
                        "TimeoutAction": "SWITCH_TO_ON_DEMAND",
                        "AllocationStrategy": "price-capacity-optimized",
                    },
                    "OnDemandSpecification": {"AllocationStrategy": "lowest-price"},
                },
            },
        ]
        if settings.subnet_ids:
            instances["Ec2SubnetIds"] = list(settings.subnet_ids)
    else:
        instances["InstanceGroups"] = [
            {
                "Name": "master",
                "InstanceRole": "MASTER",
                "Market": "ON_DEMAND",
                "InstanceType": settings.master_instance_type,
                "InstanceCount": 1,
            },
            {
                "Name": "core (on-demand: the fallback capacity)",
                "InstanceRole": "CORE",
                "Market": "ON_DEMAND",
                "InstanceType": settings.worker_instance_types[0],
                "InstanceCount": 1,
            },
            {
                "Name": "task (spot)",
                "InstanceRole": "TASK",
                "Market": "SPOT",
                "InstanceType": settings.worker_instance_types[0],
                "InstanceCount": settings.worker_count,
            },
        ]
        if settings.subnet_ids:
            instances["Ec2SubnetId"] = settings.subnet_ids[0]
    return instances


def job_flow_request(settings: EmrSettings, run_id: str, bootstrap_uri: str) -> dict[str, Any]:
    """The run_job_flow request of a cluster created on demand for one Dagster run."""
    return {
        "Name": cluster_name(run_id),
        "ReleaseLabel": settings.release_label,
        "LogUri": settings.log_uri,
        "Applications": [{"Name": "Spark"}, {"Name": "Hadoop"}],
        "Instances": instances_request(settings),
        "AutoTerminationPolicy": {"IdleTimeout": settings.idle_timeout_seconds},
        "StepConcurrencyLevel": settings.step_concurrency,
        "BootstrapActions": [
            {
                "Name": "trending-tv pinned runtime",
                "ScriptBootstrapAction": {"Path": bootstrap_uri, "Args": []},
            }
        ],
        "Configurations": cluster_configurations(settings),
        "ServiceRole": settings.service_role,
        "JobFlowRole": settings.instance_profile,
        "VisibleToAllUsers": True,
        "Tags": [
            {"Key": "project", "Value": "trending-tv"},
            {"Key": "trending-tv:dagster-run-id", "Value": run_id},
        ],
    }


def exported_env(configurations: list[dict[str, Any]], classification: str = "spark-env") -> dict[str, str]:
    for config in configurations or []:
        if config.get("Classification") == classification:
            for sub in config.get("Configurations") or []:
                if sub.get("Classification") == "export":
                    return dict(sub.get("Properties") or {})
    return {}


class EmrClusters:
    """Creates a cluster on demand for a run (one per run, found again by name by later steps of
    the same run), or checks and reuses the configured cluster id."""

    def __init__(self, settings: EmrSettings, emr_client=None, s3_client=None):
        self.settings = settings
        self._emr = emr_client
        self._s3 = s3_client

    @property
    def emr(self):
        if self._emr is None:
            import boto3

            self._emr = boto3.client("emr", region_name=self.settings.region)
        return self._emr

    @property
    def s3(self):
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3", region_name=self.settings.region)
        return self._s3

    def upload_bootstrap(self) -> str:
        script = bootstrap_script(runtime_pins()).encode()
        digest = hashlib.sha256(script).hexdigest()[:16]
        key = f"{self.settings.staging_prefix}/bootstrap/{digest}/install_runtime.sh"
        self.s3.put_object(Bucket=self.settings.staging_bucket, Key=key, Body=script)
        return f"s3://{self.settings.staging_bucket}/{key}"

    def find_cluster_for_run(self, run_id: str) -> str | None:
        paginator = self.emr.get_paginator("list_clusters")
        for page in paginator.paginate(ClusterStates=list(LIVE_CLUSTER_STATES)):
            for cluster in page.get("Clusters", []):
                if cluster["Name"] == cluster_name(run_id):
                    return cluster["Id"]
        return None

    def check_reused_cluster(self, cluster_id: str) -> None:
        cluster = self.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        state = cluster["Status"]["State"]
        if state not in LIVE_CLUSTER_STATES:
            raise EmrError(f"TRENDING_TV_EMR_CLUSTER_ID={cluster_id} is {state}, not running")
        env = exported_env(cluster.get("Configurations", []))
        expected = {"TRENDING_TV_DEPLOYMENT": "emr", "TRENDING_TV_LAKE": self.settings.lake_url}
        wrong = {k: env.get(k) for k, v in expected.items() if env.get(k) != v}
        if wrong:
            # Otherwise the remote step would silently bind other resources (another lake, local mode).
            raise EmrError(
                f"cluster {cluster_id} does not export this deployment's environment in spark-env "
                f"(found {wrong}, expected {expected}); create it with this project's job-flow request"
            )

    def ensure_cluster(self, run_id: str, log) -> str:
        if self.settings.cluster_id:
            self.check_reused_cluster(self.settings.cluster_id)
            return self.settings.cluster_id
        lock_path = Path(tempfile.gettempdir()) / f"trending-tv-emr-{run_id}.lock"
        with open(lock_path, "w") as lock:
            # Steps of one run in separate processes on this host must not create two clusters.
            fcntl.flock(lock, fcntl.LOCK_EX)
            cluster_id = self.find_cluster_for_run(run_id)
            if cluster_id:
                log.info(f"Reusing this run's EMR cluster {cluster_id}")
            else:
                request = job_flow_request(self.settings, run_id, self.upload_bootstrap())
                cluster_id = self.emr.run_job_flow(**request)["JobFlowId"]
                log.info(
                    f"Created EMR cluster {cluster_id} ({self.settings.release_label}, "
                    f"{self.settings.capacity}, idle timeout {self.settings.idle_timeout_seconds}s), "
                    f"logs in {self.settings.log_uri}"
                )
        self.wait_until_ready(cluster_id, log)
        return cluster_id

    def wait_until_ready(self, cluster_id: str, log) -> None:
        deadline = time.monotonic() + self.settings.cluster_ready_timeout_seconds
        while True:
            status = self.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
            state = status["State"]
            if state in ("RUNNING", "WAITING"):
                return
            if state.startswith("TERMINAT"):
                reason = status.get("StateChangeReason", {})
                raise EmrError(
                    f"EMR cluster {cluster_id} is {state} before running any step: "
                    f"{reason.get('Code', '')} {reason.get('Message', '')}".strip()
                )
            if time.monotonic() > deadline:
                raise EmrError(f"EMR cluster {cluster_id} still {state} after the ready timeout")
            log.info(f"EMR cluster {cluster_id} is {state}; waiting")
            time.sleep(self.settings.cluster_poll_seconds)


# -- the step launcher -------------------------------------------------------------------------------


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
                wait_for_logs=False,  # dagster #10086: log fetching can turn a success into an error
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
        # The upstream launcher zips everything under local_job_package_path; give it a folder
        # holding only our packages. Module code pointers (trending_tv.definitions) are unaffected.
        self.local_job_package_path = str(build_code_folder())
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
