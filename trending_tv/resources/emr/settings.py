"""The EMR deployment's settings, read from TRENDING_TV_* environment variables with the code location's
readers (trending_tv.settings), and the allow-list of settings exported to the cluster's nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from trending_tv.settings import (
    ALERT_WEBHOOK_URL,
    COLLECTION_MIN_COVERAGE,
    COUNTS_MIN_COVERAGE,
    DEPLOYMENT,
    LAKE,
    SENSOR_GRACE_HOURS,
    SENSOR_INTERVAL_SECONDS,
    SENSOR_SETTLE_SECONDS,
    SENSOR_SWEEP_SECONDS,
    SENSOR_WINDOW_DAYS,
    SPARK_REMOTE,
    TMDB_MIN_COVERAGE,
    EnvReader,
    SettingsError,
)

# Where the bootstrap action puts the runtime: a venv on every node, used by the driver and executors.
CLUSTER_VENV = "/opt/trending-tv/venv"
CLUSTER_PYTHON = f"{CLUSTER_VENV}/bin/python"

REGION = "TRENDING_TV_EMR_REGION"
STAGING = "TRENDING_TV_EMR_STAGING"
LOG_URI = "TRENDING_TV_EMR_LOG_URI"
CLUSTER_ID = "TRENDING_TV_EMR_CLUSTER_ID"
SERVICE_ROLE = "TRENDING_TV_EMR_SERVICE_ROLE"
INSTANCE_PROFILE = "TRENDING_TV_EMR_INSTANCE_PROFILE"
RELEASE_LABEL = "TRENDING_TV_EMR_RELEASE_LABEL"
CAPACITY = "TRENDING_TV_EMR_CAPACITY"
MASTER_INSTANCE_TYPE = "TRENDING_TV_EMR_MASTER_INSTANCE_TYPE"
WORKER_INSTANCE_TYPES = "TRENDING_TV_EMR_WORKER_INSTANCE_TYPES"
WORKER_COUNT = "TRENDING_TV_EMR_WORKER_COUNT"
SPOT_TIMEOUT_MINUTES = "TRENDING_TV_EMR_SPOT_TIMEOUT_MINUTES"
IDLE_TIMEOUT_SECONDS = "TRENDING_TV_EMR_IDLE_TIMEOUT_SECONDS"
STEP_CONCURRENCY = "TRENDING_TV_EMR_STEP_CONCURRENCY"
SUBNET_IDS = "TRENDING_TV_EMR_SUBNET_IDS"
EC2_KEY_NAME = "TRENDING_TV_EMR_EC2_KEY_NAME"
FAILURE_LOG_WAIT_SECONDS = "TRENDING_TV_EMR_FAILURE_LOG_WAIT_SECONDS"

# The variables `EmrSettings.from_env` reads. The remote step loads the same definitions on a node and
# parses them again there, so each is exported to the cluster (none is a secret).
EMR_SETTING_NAMES = (
    LAKE,
    REGION,
    STAGING,
    LOG_URI,
    CLUSTER_ID,
    SERVICE_ROLE,
    INSTANCE_PROFILE,
    RELEASE_LABEL,
    CAPACITY,
    MASTER_INSTANCE_TYPE,
    WORKER_INSTANCE_TYPES,
    WORKER_COUNT,
    SPOT_TIMEOUT_MINUTES,
    IDLE_TIMEOUT_SECONDS,
    STEP_CONCURRENCY,
    SUBNET_IDS,
    EC2_KEY_NAME,
    FAILURE_LOG_WAIT_SECONDS,
)

# Settings the asset and check code read while a step runs on the cluster.
STEP_SETTING_NAMES = (TMDB_MIN_COVERAGE, COUNTS_MIN_COVERAGE, COLLECTION_MIN_COVERAGE)

# The explicit allow-list of host settings exported to every node. Cluster configurations are
# readable by anyone with elasticmapreduce:DescribeCluster, so a name is added here only when the
# remote step needs it and it is not a secret: tokens, API keys, passwords, AWS credentials and the
# alert webhook URL (which embeds its token) stay on the host. Everything else is left out.
EXPORTED_SETTING_NAMES = EMR_SETTING_NAMES + STEP_SETTING_NAMES

# The code location's settings that stay on the host: the deployment (set to emr for the nodes), the
# alert webhook URL (a secret), the lake sensors' timing (sensors run on the host) and the local
# deployment's warm Spark server (EMR runs its own Spark). Every variable
# of trending_tv.settings is in one of the two lists (a test checks it), so a new one is a decision.
HOST_ONLY_SETTING_NAMES = (
    DEPLOYMENT,
    ALERT_WEBHOOK_URL,
    SENSOR_INTERVAL_SECONDS,
    SENSOR_WINDOW_DAYS,
    SENSOR_GRACE_HOURS,
    SENSOR_SETTLE_SECONDS,
    SENSOR_SWEEP_SECONDS,
    SPARK_REMOTE,
)


class EmrSettingsError(SettingsError):
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
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmrSettings:
        """Every variable parsed once with the code location's readers (trending_tv.settings); every
        missing or invalid one is named in one error."""
        env = EnvReader(environ, collect=True)

        def require(name: str, meaning: str) -> str:
            value = env.text(name)
            if not value:
                env.problem(f"missing {name} ({meaning})")
            return value

        lake = require(LAKE, "s3://bucket/prefix of the lake")
        if lake and not lake.startswith(("s3://", "file://")):
            env.problem(
                f"{LAKE}={lake!r}: on EMR the lake must be s3://bucket/prefix "
                "(or an explicit file:// folder that the host and every node see)"
            )
        region = env.text(REGION) or env.text("AWS_REGION") or env.text("AWS_DEFAULT_REGION")
        if not region:
            env.problem(f"missing {REGION} (the cluster's AWS region)")
        staging = require(STAGING, "s3://bucket/prefix for step files, code and logs")
        bucket, prefix = "", ""
        if staging:
            parsed = urlparse(staging)
            if parsed.scheme != "s3" or not parsed.netloc:
                env.problem(f"{STAGING}={staging!r} is not s3://bucket/prefix")
            bucket, prefix = parsed.netloc, parsed.path.strip("/") or "emr_staging"
        cluster_id = env.text(CLUSTER_ID) or None
        service_role = env.text(SERVICE_ROLE) or None
        instance_profile = env.text(INSTANCE_PROFILE) or None
        if not cluster_id:
            if not service_role:
                env.problem(f"missing {SERVICE_ROLE} (EMR service role; or set {CLUSTER_ID})")
            if not instance_profile:
                env.problem(
                    f"missing {INSTANCE_PROFILE} (EC2 instance profile of the nodes; or set {CLUSTER_ID})"
                )
        capacity = env.choice(CAPACITY, cls.capacity, ("fleets", "groups"))
        worker_count = env.integer(WORKER_COUNT, cls.worker_count, minimum=1, maximum=100)
        idle = env.integer(IDLE_TIMEOUT_SECONDS, cls.idle_timeout_seconds, minimum=60, maximum=7 * 24 * 3600)
        spot_timeout = env.integer(SPOT_TIMEOUT_MINUTES, cls.spot_timeout_minutes, minimum=5, maximum=1440)
        concurrency = env.integer(STEP_CONCURRENCY, cls.step_concurrency, minimum=1, maximum=256)
        failure_wait = env.integer(
            FAILURE_LOG_WAIT_SECONDS, int(cls.failure_log_wait_seconds), minimum=0, maximum=3600
        )
        workers = _comma_list(env.text(WORKER_INSTANCE_TYPES))

        if env.problems:
            lines = "\n".join(f"  - {p}" for p in env.problems)
            raise EmrSettingsError(f"{DEPLOYMENT}=emr cannot load:\n{lines}\nSee docs/DEPLOY_EMR.md.")
        return cls(
            region=region,
            lake_url=lake,
            staging_bucket=bucket,
            staging_prefix=prefix,
            log_uri=env.text(LOG_URI) or f"s3://{bucket}/{prefix}/logs/",
            cluster_id=cluster_id,
            service_role=service_role,
            instance_profile=instance_profile,
            release_label=env.text(RELEASE_LABEL, cls.release_label),
            capacity=capacity,
            master_instance_type=env.text(MASTER_INSTANCE_TYPE, cls.master_instance_type),
            worker_instance_types=workers or cls.worker_instance_types,
            worker_count=worker_count,
            spot_timeout_minutes=spot_timeout,
            idle_timeout_seconds=idle,
            step_concurrency=concurrency,
            subnet_ids=_comma_list(env.text(SUBNET_IDS)),
            ec2_key_name=env.text(EC2_KEY_NAME) or None,
            failure_log_wait_seconds=float(failure_wait),
            cluster_env=cluster_environment(env.environ, region),
        )


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def cluster_environment(env: Mapping[str, str], region: str) -> dict[str, str]:
    """The environment every node exports: the allow-listed settings that are set here, the resolved
    region (the host may have it from AWS_REGION, which is not exported), the deployment, and the
    bootstrap's Python for PySpark."""
    exported = {name: env[name] for name in EXPORTED_SETTING_NAMES if env.get(name, "").strip()}
    exported[REGION] = region
    exported[DEPLOYMENT] = "emr"
    exported["PYSPARK_PYTHON"] = CLUSTER_PYTHON
    exported["PYSPARK_DRIVER_PYTHON"] = CLUSTER_PYTHON
    return dict(sorted(exported.items()))
