"""The EMR deployment's settings, job-flow request and cluster lifecycle against moto's EMR and S3
(served on 127.0.0.1), the code folder, the LakeResource direct mode, and `dagster definitions
validate` in TRENDING_TV_DEPLOYMENT=emr. No Spark, no AWS."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
import subprocess
import sys
import zipfile
from datetime import date
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_aws.emr import EmrError
from packaging.utils import canonicalize_name

from trending_tv.resources import lake as lake_module
from trending_tv.resources.emr import (
    CLUSTER_PYTHON,
    LOCK_FILE,
    EmrClusters,
    EmrSettings,
    EmrSettingsError,
    bootstrap_script,
    code_folder,
    exported_env,
    job_flow_request,
    lock_constraints,
    lock_pins,
    runtime_names,
    runtime_pins,
)
from trending_tv.resources.emr.cluster import run_lock
from trending_tv.resources.emr.settings import EXPORTED_SETTING_NAMES, HOST_ONLY_SETTING_NAMES
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import SettingsError
from trending_tv_tests.emr_standin import MotoAws

LOG = logging.getLogger("test_emr_cluster")
STAGING = "tt-emr-cluster-staging"
PLACEHOLDERS = {
    "TRENDING_TV_DEPLOYMENT": "emr",
    "TRENDING_TV_LAKE": "s3://tt-lake/lake",
    "TRENDING_TV_EMR_REGION": "us-east-1",
    "TRENDING_TV_EMR_STAGING": f"s3://{STAGING}/emr",
    "TRENDING_TV_EMR_SERVICE_ROLE": "trending-tv-emr-service",
    "TRENDING_TV_EMR_INSTANCE_PROFILE": "trending-tv-emr-nodes",
}


@pytest.fixture(scope="module")
def aws():
    with MotoAws() as aws:
        aws.client("s3").create_bucket(Bucket=STAGING)
        yield aws


def settings(**overrides: str) -> EmrSettings:
    return EmrSettings.from_env({**PLACEHOLDERS, **overrides})


def clusters(aws: MotoAws, s: EmrSettings) -> EmrClusters:
    return EmrClusters(s, emr_client=aws.client("emr"), s3_client=aws.client("s3"))


def test_missing_settings_are_each_named():
    with pytest.raises(EmrSettingsError) as raised:
        EmrSettings.from_env(
            {
                "TRENDING_TV_DEPLOYMENT": "emr",
                "TRENDING_TV_EMR_CAPACITY": "cheap",
                "TRENDING_TV_EMR_WORKER_COUNT": "two",
                "TRENDING_TV_EMR_IDLE_TIMEOUT_SECONDS": "5",
            }
        )
    assert isinstance(raised.value, SettingsError)  # the code location's settings error
    message = str(raised.value)
    for name in (
        "TRENDING_TV_LAKE",
        "TRENDING_TV_EMR_REGION",
        "TRENDING_TV_EMR_STAGING",
        "TRENDING_TV_EMR_SERVICE_ROLE",
        "TRENDING_TV_EMR_INSTANCE_PROFILE",
        "TRENDING_TV_EMR_CAPACITY='cheap'",
        "TRENDING_TV_EMR_WORKER_COUNT='two' is not an integer",
        "TRENDING_TV_EMR_IDLE_TIMEOUT_SECONDS='5' must be between 60 and 604800",
    ):
        assert name in message
    # a reused cluster needs no roles; a bare folder is not a lake the cluster can see
    with pytest.raises(EmrSettingsError) as raised:
        EmrSettings.from_env(
            {**PLACEHOLDERS, "TRENDING_TV_LAKE": "./lake", "TRENDING_TV_EMR_CLUSTER_ID": "j-1"}
            | {"TRENDING_TV_EMR_SERVICE_ROLE": "", "TRENDING_TV_EMR_INSTANCE_PROFILE": ""}
        )
    assert str(raised.value).count("\n  - ") == 1 and "TRENDING_TV_LAKE='./lake'" in str(raised.value)


def test_cluster_environment_forwards_settings_but_no_secrets():
    s = settings(
        TRENDING_TV_TMDB_API_KEY="k", TRENDING_TV_X_BEARER_TOKEN="t", TRENDING_TV_EMR_WORKER_COUNT="3"
    )
    assert s.cluster_env["TRENDING_TV_DEPLOYMENT"] == "emr"
    assert s.cluster_env["TRENDING_TV_LAKE"] == "s3://tt-lake/lake"
    assert s.cluster_env["TRENDING_TV_EMR_WORKER_COUNT"] == "3"
    assert s.cluster_env["PYSPARK_PYTHON"] == CLUSTER_PYTHON
    assert not [k for k in s.cluster_env if "KEY" in k or "TOKEN" in k or k.startswith("AWS_")]


SECRETS = {
    "TRENDING_TV_ALERT_WEBHOOK_URL": "https://hooks.example.invalid/services/T0/B0/webhook-secret-value",
    "TRENDING_TV_X_BEARER_TOKEN": "bearer-token-secret-value",
    "TRENDING_TV_TMDB_API_KEY": "tmdb-key-secret-value",
    "TRENDING_TV_DB_PASSWORD": "password-secret-value",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
}


def test_only_allow_listed_settings_reach_the_nodes():
    """Cluster configurations are readable by anyone who may describe the cluster: a webhook URL, a
    token, a key or a password in the host's environment is in neither the job-flow request nor any
    configuration; unknown TRENDING_TV_* settings are not exported either."""
    s = settings(**SECRETS, TRENDING_TV_SOMETHING_NEW="x", TRENDING_TV_TMDB_MIN_COVERAGE="0.9")
    request = job_flow_request(s, "run-secrets", f"s3://{STAGING}/b.sh")
    text = json.dumps(request)
    for name, value in SECRETS.items():
        assert value not in text and name not in text
    assert "TRENDING_TV_SOMETHING_NEW" not in text
    allowed = set(EXPORTED_SETTING_NAMES) | {
        "TRENDING_TV_DEPLOYMENT",
        "PYSPARK_PYTHON",
        "PYSPARK_DRIVER_PYTHON",
    }
    for config in request["Configurations"]:
        exported = {name for sub in config.get("Configurations", []) for name in sub["Properties"]}
        exported |= {
            name.rsplit(".", 1)[-1]
            for name in config["Properties"]
            if name.startswith(("spark.executorEnv.", "spark.yarn.appMasterEnv."))
        }
        assert exported <= allowed, config["Classification"]
    env = exported_env(request["Configurations"])
    assert env["TRENDING_TV_TMDB_MIN_COVERAGE"] == "0.9"  # a setting the checks read on the node
    assert set(env) == set(s.cluster_env)


def test_the_allow_list_is_what_the_node_needs_and_names_no_secret():
    """Every variable EmrSettings.from_env reads is exported (the node parses them again), the region
    is exported even when the host took it from AWS_REGION, and no exported name looks like a secret."""
    read: set[str] = set()

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

    full = {
        **PLACEHOLDERS,
        "TRENDING_TV_EMR_CLUSTER_ID": "j-1",
        "TRENDING_TV_EMR_SUBNET_IDS": "subnet-a",
        "TRENDING_TV_EMR_EC2_KEY_NAME": "ops",
    }
    EmrSettings.from_env(Recording(full))
    assert read - {"AWS_REGION", "AWS_DEFAULT_REGION"} <= set(EXPORTED_SETTING_NAMES)
    secret_like = re.compile(r"SECRET|TOKEN|PASSWORD|API_KEY|ACCESS_KEY|WEBHOOK")
    assert not [n for n in EXPORTED_SETTING_NAMES if secret_like.search(n)]

    on_host = EmrSettings.from_env(
        {k: v for k, v in PLACEHOLDERS.items() if k != "TRENDING_TV_EMR_REGION"} | {"AWS_REGION": "eu-west-1"}
    )
    on_node = EmrSettings.from_env(on_host.cluster_env)
    assert on_node == on_host and on_node.region == "eu-west-1"


def test_every_code_location_setting_is_exported_or_kept_on_the_host_by_decision():
    """A new variable in trending_tv.settings fails this test until it is put in the allow-list (the
    Spark steps need it and it is not a secret) or in the host-only list."""
    import trending_tv.settings as code_location

    names = {v for v in vars(code_location).values() if isinstance(v, str) and v.startswith("TRENDING_TV_")}
    assert names, "trending_tv.settings names its variables as module constants"
    assert names <= set(EXPORTED_SETTING_NAMES) | set(HOST_ONLY_SETTING_NAMES)
    assert not set(EXPORTED_SETTING_NAMES) & set(HOST_ONLY_SETTING_NAMES)
    assert "TRENDING_TV_ALERT_WEBHOOK_URL" in HOST_ONLY_SETTING_NAMES


def test_on_demand_cluster_with_instance_groups_in_moto(aws):
    s = settings(
        TRENDING_TV_EMR_CAPACITY="groups",
        TRENDING_TV_EMR_WORKER_COUNT="3",
        TRENDING_TV_EMR_IDLE_TIMEOUT_SECONDS="600",
        TRENDING_TV_EMR_RELEASE_LABEL="emr-7.10.0",
    )
    manager = clusters(aws, s)
    cluster_id = manager.ensure_cluster("run-groups", LOG)
    emr = aws.client("emr")
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert cluster["Name"] == "trending-tv run run-groups"
    assert cluster["ReleaseLabel"] == "emr-7.10.0"
    assert cluster["LogUri"] == f"s3://{STAGING}/emr/logs/"
    assert cluster["Status"]["State"] == "WAITING"
    assert {t["Key"]: t["Value"] for t in cluster["Tags"]}["trending-tv:dagster-run-id"] == "run-groups"

    groups = {
        g["InstanceGroupType"]: g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
    }
    assert {k: (g["Market"], g["RequestedInstanceCount"]) for k, g in groups.items()} == {
        "MASTER": ("ON_DEMAND", 1),
        "CORE": ("ON_DEMAND", 1),  # the fallback capacity: progress without spot
        "TASK": ("SPOT", 3),
    }
    # the environment is exported cluster-wide, in every env classification
    for classification in ("spark-env", "yarn-env", "hadoop-env"):
        env = exported_env(cluster["Configurations"], classification)
        assert env["TRENDING_TV_DEPLOYMENT"] == "emr" and env["TRENDING_TV_LAKE"] == "s3://tt-lake/lake"
    [defaults] = [c for c in cluster["Configurations"] if c["Classification"] == "spark-defaults"]
    assert defaults["Properties"]["spark.executorEnv.TRENDING_TV_DEPLOYMENT"] == "emr"
    assert defaults["Properties"]["spark.sql.session.timeZone"] == "UTC"

    # the bootstrap action installs the pinned runtime, uploaded to the staging bucket
    [action] = emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"]
    assert action["ScriptPath"].startswith(f"s3://{STAGING}/emr/bootstrap/")
    key = action["ScriptPath"].removeprefix(f"s3://{STAGING}/")
    script = aws.client("s3").get_object(Bucket=STAGING, Key=key)["Body"].read().decode()
    assert f"'dagster=={version('dagster')}'" in script
    assert f"--no-deps 'dagster-pyspark=={version('dagster-pyspark')}'" in script

    # the request moto accepted carried the idle auto-termination (moto does not echo it back)
    request = job_flow_request(s, "run-groups", action["ScriptPath"])
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 600}
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True

    # later steps of the same run reuse it; another run gets its own cluster
    assert manager.ensure_cluster("run-groups", LOG) == cluster_id
    other = manager.ensure_cluster("run-other", LOG)
    assert other != cluster_id
    emr.terminate_job_flows(JobFlowIds=[cluster_id, other])


def test_instance_fleets_request_spot_with_on_demand_fallback(aws):
    s = settings(
        TRENDING_TV_EMR_WORKER_INSTANCE_TYPES="m5.xlarge,m6i.xlarge", TRENDING_TV_EMR_SUBNET_IDS="subnet-a,b"
    )
    request = job_flow_request(s, "run-fleets", f"s3://{STAGING}/b.sh")
    master, core = request["Instances"]["InstanceFleets"]
    assert (master["InstanceFleetType"], master["TargetOnDemandCapacity"]) == ("MASTER", 1)
    assert "TargetSpotCapacity" not in master
    assert (core["InstanceFleetType"], core["TargetSpotCapacity"]) == ("CORE", 2)
    assert [c["InstanceType"] for c in core["InstanceTypeConfigs"]] == ["m5.xlarge", "m6i.xlarge"]
    spot = core["LaunchSpecifications"]["SpotSpecification"]
    assert (spot["TimeoutAction"], spot["TimeoutDurationMinutes"]) == ("SWITCH_TO_ON_DEMAND", 10)
    assert request["Instances"]["Ec2SubnetIds"] == ["subnet-a", "b"]
    # botocore validates the whole request against the EMR API model before moto sees it
    cluster_id = aws.client("emr").run_job_flow(**request)["JobFlowId"]
    assert (
        aws.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Name"]
        == "trending-tv run run-fleets"
    )
    aws.client("emr").terminate_job_flows(JobFlowIds=[cluster_id])


def test_a_reused_cluster_must_export_this_deployments_environment(aws):
    emr = aws.client("emr")
    good = emr.run_job_flow(**job_flow_request(settings(), "x", "s3://b/s.sh"))["JobFlowId"]
    assert clusters(aws, settings(TRENDING_TV_EMR_CLUSTER_ID=good)).ensure_cluster("r", LOG) == good
    foreign = emr.run_job_flow(
        Name="someone else's",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="r",
        ServiceRole="s",
        ReleaseLabel="emr-7.10.0",
    )["JobFlowId"]
    with pytest.raises(EmrError, match="does not export this deployment's environment"):
        clusters(aws, settings(TRENDING_TV_EMR_CLUSTER_ID=foreign)).ensure_cluster("r", LOG)
    emr.terminate_job_flows(JobFlowIds=[good, foreign])
    with pytest.raises(EmrError, match="TERMINATED"):
        clusters(aws, settings(TRENDING_TV_EMR_CLUSTER_ID=good)).ensure_cluster("r", LOG)


def test_the_per_run_lock_is_under_dagster_home(tmp_path, monkeypatch):
    import fcntl

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    path = tmp_path / ".trending_tv_emr_locks" / "trending-tv-emr-run-1.lock"
    # another step process of the run would wait here
    with run_lock("run-1"), open(path) as other, pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(path) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


def test_pins_and_bootstrap_script_without_a_lock_file(tmp_path):
    pins = runtime_pins(lock_file=tmp_path / "no-lock.txt")  # the host's installed versions
    assert pins["dagster"] == version("dagster") and pins["dagster-aws"] == version("dagster-aws")
    assert pins["boto3"] == version("boto3") and pins["dagster-pyspark"] == version("dagster-pyspark")
    assert "pyspark" not in pins and "dagster-webserver" not in pins  # Spark comes with the cluster
    script = bootstrap_script(pins)
    syntax = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert syntax.returncode == 0, syntax.stderr
    assert "assert not wrong" in script and " -c " not in script


def write_lock(path: Path, pins: dict[str, str], extra: str = "") -> Path:
    """A lock file as pip-compile writes it: header, `# via` comments, hashes, markers."""
    lines = ["#", "# This file is autogenerated by pip-compile with Python 3.11", "#", "--index-url x"]
    for name, pinned in pins.items():
        lines += [
            f"{name.replace('-', '_').title()}=={pinned} \\",
            "    --hash=sha256:00",
            "    # via trending-tv",
        ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def test_pins_come_from_the_lock_file(tmp_path):
    names = runtime_names()
    assert {"dagster", "dagster-aws", "dagster-pyspark", "boto3", "pyarrow"} <= set(names)
    locked = {n: (version(n) if n.startswith("dagster") else "1.2.3") for n in names}
    lock = write_lock(
        tmp_path / "lock.txt",
        {**locked, "six": "1.17.0", "pyspark": "4.0.1"},
        'colorama==0.4.6 ; sys_platform == "win32"\ntrending-tv @ file:///src\n',
    )
    pins = runtime_pins(lock_file=lock)
    assert pins == {n: locked[n] for n in names}  # the runtime's own, at the lock's versions
    assert pins["boto3"] == "1.2.3" and "six" not in pins and "pyspark" not in pins
    constraints = lock_pins(lock)
    assert constraints["six"] == "1.17.0" and constraints["colorama"] == "0.4.6"
    script = bootstrap_script(pins, constraints)
    syntax = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert syntax.returncode == 0, syntax.stderr
    # every transitive dependency is held to the lock too
    assert "\nsix==1.17.0\n" in script and script.count("-c /opt/trending-tv/constraints.txt") == 2
    assert "'boto3==1.2.3'" in script

    # a needed package missing from the lock is named, with the file
    del locked["pyarrow"]
    with pytest.raises(EmrSettingsError, match=r"lock.txt pins no version of pyarrow"):
        runtime_pins(lock_file=write_lock(tmp_path / "lock.txt", locked))
    # the host must run the locked Dagster: the nodes unpickle what it pickles
    with pytest.raises(EmrSettingsError, match=rf"dagster {version('dagster')} \(locked: 0\.0\.1\)"):
        runtime_pins(
            lock_file=write_lock(tmp_path / "lock.txt", {**locked, "pyarrow": "1", "dagster": "0.0.1"})
        )
    with pytest.raises(EmrSettingsError, match=r"loose.txt:2 does not pin one version: 'boto3>=1'"):
        (tmp_path / "loose.txt").write_text("six==1\nboto3>=1\n")
        lock_pins(tmp_path / "loose.txt")


def test_a_sectioned_lock_file_pins_from_the_runtime_sections_only(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# header\n\n# --- ingest: the ingest host ---\nboto3==1.0\n\n"
        "# --- pipeline: the Dagster host ---\ndagster==9.9\n\n# --- dev: tests ---\npytest==8.0\n"
    )
    assert lock_pins(lock, ("ingest", "pipeline")) == {"boto3": "1.0", "dagster": "9.9"}
    assert lock_pins(lock) == {"boto3": "1.0", "dagster": "9.9", "pytest": "8.0"}


def test_the_repository_lock_file_pins_the_emr_runtime():
    """requirements/lock.txt is the one place versions are bumped: the bootstrap's pins and
    constraints come from its ingest and pipeline sections, and this venv was installed from it."""
    assert LOCK_FILE.is_file()
    pins = runtime_pins()
    constraints = lock_constraints()
    assert pins == {name: constraints[canonicalize_name(name)] for name in runtime_names()}
    assert pins["dagster"] == version("dagster") and pins["dagster-aws"] == version("dagster-aws")
    assert "dagster-postgres" not in pins  # the host's instance storage; steps use an ephemeral one
    assert "pytest" not in constraints and "moto" not in constraints  # dev tools stay off the nodes
    assert {"botocore", "s3transfer"} <= set(constraints)  # transitive dependencies are held too
    script = bootstrap_script(pins, constraints)
    assert f"\nbotocore=={constraints['botocore']}\n" in script


def test_code_folder_holds_only_the_project_packages(tmp_path):
    from dagster_pyspark.utils import build_pyspark_zip

    with code_folder() as folder:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # private: no other user can add code
        assert "pytest" not in str(folder)  # the upstream zip would silently exclude everything
        top = {p.name for p in folder.iterdir()}
        assert top == {"trending_tv", "ingest_host"}
        build_pyspark_zip(str(tmp_path / "code.zip"), str(folder))  # what the launcher uploads
    assert not folder.exists()  # removed once the step is launched
    files = zipfile.ZipFile(tmp_path / "code.zip").namelist()
    assert "trending_tv/definitions.py" in files and "ingest_host/layout.py" in files
    assert "trending_tv/resources/emr/launcher.py" in files
    # the sample generator and the demo are not product code: never shipped to the cluster
    assert not [f for f in files if "trending_tv_sample" in f or "sample_lake" in f or f.endswith("demo.py")]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def _parquet_bytes(ids: list[int]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"id": ids}), out)
    return out.getvalue()


def test_direct_mode_reads_s3_uris_and_swaps_days_in_with_stable_names(aws, monkeypatch):
    """Local Spark has no S3 connector, so Spark's write is replaced by putting objects where
    Spark on EMR (EMRFS) puts them, markers included; everything after that is the real code."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="tt-direct-lake")
    lake = LakeResource(url="s3://tt-direct-lake/lake", spark_io="direct")  # boto3 reaches moto
    with lake.local_paths(["tweet_raw/2020/11/23/10/2020-11-23-10.json"]) as paths:
        assert paths == ["s3://tt-direct-lake/lake/tweet_raw/2020/11/23/10/2020-11-23-10.json"]
    assert (
        LakeResource(url="s3://b/p", spark_io="direct", spark_s3_scheme="s3a").spark_uri("k") == "s3a://b/p/k"
    )

    day = date(2020, 11, 23)
    stale = "analytics/tweet_stat/year=2020/month=11/day=23/part-00007-old-uuid.snappy.parquet"
    lake.client.write_bytes(stale, _parquet_bytes([99]))
    seen_targets = []

    def fake_spark_write(df, target):
        seen_targets.append(target)
        staging = target.removeprefix("s3://tt-direct-lake/lake/")
        folder = f"{staging}year=2020/month=11/day=23/"
        lake.client.write_bytes(folder + "part-00001-abc.c000.snappy.parquet", _parquet_bytes([3, 4]))
        lake.client.write_bytes(folder + "part-00000-abc.c000.snappy.parquet", _parquet_bytes([1, 2]))
        lake.client.write_bytes(staging + "_SUCCESS", b"")
        lake.client.write_bytes(staging.rstrip("/") + "_$folder$", b"")

    monkeypatch.setattr(lake_module, "_write_partitioned", fake_spark_write)
    written = lake.write_daily_table(None, "tweet_stat", [day])
    prefix = "analytics/tweet_stat/year=2020/month=11/day=23/"
    assert written == {day: [prefix + "part-00000.snappy.parquet", prefix + "part-00001.snappy.parquet"]}
    assert [o.key for o in lake.client.list("analytics/")] == written[day]
    ids = [
        r["id"]
        for k in written[day]
        for r in pq.read_table(io.BytesIO(lake.client.read_bytes(k))).to_pylist()
    ]
    assert ids == [1, 2, 3, 4]
    assert seen_targets[0].startswith("s3://tt-direct-lake/lake/_staging/tweet_stat/")
    assert lake.client.list("_staging/") == []  # the staging prefix is removed


def _validate(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TRENDING_TV_", "AWS_"))}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-m",
            "trending_tv.definitions",
        ],
        env={**inherited, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_definitions_validate_in_emr_deployment(tmp_path):
    ok = _validate(PLACEHOLDERS, tmp_path)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "All code locations passed validation" in ok.stdout + ok.stderr

    failed = _validate({"TRENDING_TV_DEPLOYMENT": "emr", "TRENDING_TV_EMR_REGION": "eu-west-1"}, tmp_path)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "TRENDING_TV_DEPLOYMENT=emr cannot load" in output
    for name in (
        "missing TRENDING_TV_LAKE",
        "missing TRENDING_TV_EMR_STAGING",
        "missing TRENDING_TV_EMR_SERVICE_ROLE",
        "missing TRENDING_TV_EMR_INSTANCE_PROFILE",
    ):
        assert name in output
    assert "missing TRENDING_TV_EMR_REGION" not in output
