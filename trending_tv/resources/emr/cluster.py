"""The cluster a run's Spark steps go to: the job-flow request (instances, configurations exporting the
deployment's environment, bootstrap) and its lifecycle (created on demand per run, or a configured
cluster checked and reused)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster_aws.emr import EmrError

from trending_tv.resources.emr.packaging import bootstrap_script, lock_constraints, runtime_pins
from trending_tv.resources.emr.settings import CLUSTER_PYTHON, EmrSettings
from trending_tv.resources.spark import COMMON_SPARK_CONFIG

LIVE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")


def cluster_name(run_id: str) -> str:
    return f"trending-tv run {run_id}"


def cluster_configurations(settings: EmrSettings) -> list[dict[str, Any]]:
    """The environment set cluster-wide: exported by spark-env (the driver started by spark-submit),
    yarn-env and hadoop-env (containers and daemons), and the executors' env through spark-defaults."""
    env = dict(settings.cluster_env)
    export = [{"Classification": "export", "Properties": env}]
    spark_defaults = COMMON_SPARK_CONFIG | {
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
        script = bootstrap_script(runtime_pins(), lock_constraints()).encode()
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
        with run_lock(run_id):
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


@contextmanager
def run_lock(run_id: str) -> Iterator[None]:
    """Held while a step looks for its run's cluster or creates it: steps of one run in separate
    processes on this host must not create two clusters. The lock file is under DAGSTER_HOME (the
    Dagster user's own folder) when it is set, so no other local user can hold or replace it."""
    home = os.environ.get("DAGSTER_HOME", "").strip()
    folder = Path(home) / ".trending_tv_emr_locks" if home else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"trending-tv-emr-{run_id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
