"""The EMR deployment's settings, read from TRENDING_TV_* environment variables, and the allow-list of
settings exported to the cluster's nodes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

# Where the bootstrap action puts the runtime: a venv on every node, used by the driver and executors.
CLUSTER_VENV = "/opt/trending-tv/venv"
CLUSTER_PYTHON = f"{CLUSTER_VENV}/bin/python"

# The variables `EmrSettings.from_env` reads. The remote step loads the same definitions on a node and
# parses them again there, so each is exported to the cluster (none is a secret).
EMR_SETTING_NAMES = (
    "TRENDING_TV_LAKE",
    "TRENDING_TV_EMR_REGION",
    "TRENDING_TV_EMR_STAGING",
    "TRENDING_TV_EMR_LOG_URI",
    "TRENDING_TV_EMR_CLUSTER_ID",
    "TRENDING_TV_EMR_SERVICE_ROLE",
    "TRENDING_TV_EMR_INSTANCE_PROFILE",
    "TRENDING_TV_EMR_RELEASE_LABEL",
    "TRENDING_TV_EMR_CAPACITY",
    "TRENDING_TV_EMR_MASTER_INSTANCE_TYPE",
    "TRENDING_TV_EMR_WORKER_INSTANCE_TYPES",
    "TRENDING_TV_EMR_WORKER_COUNT",
    "TRENDING_TV_EMR_SPOT_TIMEOUT_MINUTES",
    "TRENDING_TV_EMR_IDLE_TIMEOUT_SECONDS",
    "TRENDING_TV_EMR_STEP_CONCURRENCY",
    "TRENDING_TV_EMR_SUBNET_IDS",
    "TRENDING_TV_EMR_EC2_KEY_NAME",
    "TRENDING_TV_EMR_FAILURE_LOG_WAIT_SECONDS",
)

# Settings the asset and check code read while a step runs on the cluster.
STEP_SETTING_NAMES = ("TRENDING_TV_TMDB_MIN_COVERAGE",)

# The explicit allow-list of host settings exported to every node. Cluster configurations are
# readable by anyone with elasticmapreduce:DescribeCluster, so a name is added here only when the
# remote step needs it and it is not a secret: tokens, API keys, passwords, AWS credentials and the
# alert webhook URL (which embeds its token) stay on the host. Everything else is left out.
EXPORTED_SETTING_NAMES = EMR_SETTING_NAMES + STEP_SETTING_NAMES


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
            cluster_env=cluster_environment(env, region),
        )


def cluster_environment(env: Mapping[str, str], region: str) -> dict[str, str]:
    """The environment every node exports: the allow-listed settings that are set here, the resolved
    region (the host may have it from AWS_REGION, which is not exported), the deployment, and the
    bootstrap's Python for PySpark."""
    exported = {name: env[name] for name in EXPORTED_SETTING_NAMES if env.get(name, "").strip()}
    exported["TRENDING_TV_EMR_REGION"] = region
    exported["TRENDING_TV_DEPLOYMENT"] = "emr"
    exported["PYSPARK_PYTHON"] = CLUSTER_PYTHON
    exported["PYSPARK_DRIVER_PYTHON"] = CLUSTER_PYTHON
    return dict(sorted(exported.items()))
