"""tweet_stat through the real EMR step launcher with no AWS: moto's S3 and EMR on 127.0.0.1, the
orchestrator as the real CLI (`dagster asset materialize`) in TRENDING_TV_DEPLOYMENT=emr, and
`EmrStandIn` (the one mock: AWS EMR itself) running the submitted step with a local spark-submit.

Each test waits for the launcher's hardcoded 15 s poll at least once, hence `slow`."""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, materialize

from trending_tv.assets.dimensions import tvshows
from trending_tv.assets.raw import raw_tmdb
from trending_tv.resources.emr import EmrSettings, job_flow_request
from trending_tv_tests.emr_standin import EmrStandIn, MotoAws, emr_backend
from trending_tv_tests.lake_fixtures import tiny_lake
from trending_tv_tests.test_slice_materialize import DAY, resources, table_rows

pytestmark = pytest.mark.slow

STAGING_BUCKET = "tt-emr-staging"
DAGSTER = str(Path(sys.executable).parent / "dagster")


@pytest.fixture
def aws():
    with MotoAws() as aws:
        aws.client("s3").create_bucket(Bucket=STAGING_BUCKET)
        yield aws


@pytest.fixture
def lake_with_tvshows(spark, tmp_path):
    """A small lake with the day's tvshows already materialized (locally: only tweet_stat goes to
    EMR here, so each test costs one launcher poll cycle, not two)."""
    root = tmp_path / "lake"
    tiny_lake(root)
    assert materialize([raw_tmdb, tvshows], resources=resources(root), partition_key=DAY).success
    return root


def emr_env(aws: MotoAws, lake: Path, dagster_home: Path, **extra: str) -> dict[str, str]:
    dagster_home.mkdir(exist_ok=True)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TRENDING_TV_")}
    env = {
        **inherited,
        **aws.env,
        "DAGSTER_HOME": str(dagster_home),
        "TRENDING_TV_DEPLOYMENT": "emr",
        "TRENDING_TV_LAKE": f"file://{lake}",  # the stand-in runs on this machine: a folder lake is shared
        "TRENDING_TV_EMR_REGION": "us-east-1",
        "TRENDING_TV_EMR_STAGING": f"s3://{STAGING_BUCKET}/emr_staging",
        "TRENDING_TV_EMR_SERVICE_ROLE": "trending-tv-emr-service",
        "TRENDING_TV_EMR_INSTANCE_PROFILE": "trending-tv-emr-nodes",
        "TRENDING_TV_EMR_CAPACITY": "groups",  # moto records instance groups (not fleets)
        "TRENDING_TV_EMR_FAILURE_LOG_WAIT_SECONDS": "20",
        **extra,
    }
    return env


def materialize_on_emr(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "trending_tv.definitions"]
        + ["--select", "tweet_stat", "--partition", DAY],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=480,
    )


def run_events(dagster_home: Path):
    instance = DagsterInstance.from_config(str(dagster_home))
    [run] = instance.get_runs()
    return run, [e.dagster_event for e in instance.all_logs(run.run_id) if e.is_dagster_event]


def test_tweet_stat_round_trip_through_the_step_launcher(aws, lake_with_tvshows, tmp_path):
    home = tmp_path / "dagster_home"
    with EmrStandIn(aws) as standin:
        done = materialize_on_emr(emr_env(aws, lake_with_tvshows, home), tmp_path)
    assert not standin.errors
    assert done.returncode == 0, done.stderr[-3000:]

    # the host received the remote step's events: a materialization of the partition and its checks
    run, events = run_events(home)
    assert run.is_success
    [materialization] = [e for e in events if e.event_type == DagsterEventType.ASSET_MATERIALIZATION]
    assert materialization.asset_key.to_user_string() == "tweet_stat"
    assert materialization.partition == DAY
    assert materialization.event_specific_data.materialization.metadata["dagster/row_count"].value == 6
    checks = {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }
    # every check of the asset evaluated remotely and passed (other checks may be added to the asset)
    assert {"one_row_per_tracked_show", "unique_id_date", "counts_consistent"} <= set(checks)
    assert all(checks.values()), checks

    # the table was written by the remote step, with the local slice's exact numbers
    files, rows = table_rows(lake_with_tvshows, "tweet_stat", DAY)
    assert [f.name for f in files] == ["part-00000.snappy.parquet"]
    by_id = {r["id"]: (r["hashtag_count"], r["text_count"], r["tweet_count"]) for r in rows}
    assert by_id == {1: (0, 1, 1), 2: (0, 1, 1), 3: (0, 1, 1), 4: (0, 0, 0), 5: (0, 0, 0), 6: (1, 0, 1)}

    # one cluster, created on demand for this run, with the deployment's environment exported
    [cluster] = emr_backend().clusters.values()
    assert cluster.name == f"trending-tv run {run.run_id}"
    [record] = standin.records
    assert record.cluster_id == cluster.id and record.returncode == 0

    # the real launcher uploaded the step files and the code zip, and submitted spark-submit on YARN
    s3 = aws.client("s3")
    prefix = f"emr_staging/{run.run_id}/tweet_stat/"
    staged = {
        o["Key"][len(prefix) :] for o in s3.list_objects_v2(Bucket=STAGING_BUCKET, Prefix=prefix)["Contents"]
    }
    assert staged == {"emr_step_main.py", "code.zip", "step_run_ref.pkl", "events.pkl"}
    assert record.args[:5] == [
        "/usr/lib/spark/bin/spark-submit",
        "--master",
        "yarn",
        "--deploy-mode",
        "client",
    ]
    assert record.args[record.args.index("--py-files") + 1] == f"s3://{STAGING_BUCKET}/{prefix}code.zip"
    assert record.args[-3:] == [
        f"s3://{STAGING_BUCKET}/{prefix}emr_step_main.py",
        STAGING_BUCKET,
        prefix + "step_run_ref.pkl",
    ]

    # the code zip holds trending_tv and ingest_host only
    code = zipfile.ZipFile(
        io.BytesIO(s3.get_object(Bucket=STAGING_BUCKET, Key=prefix + "code.zip")["Body"].read())
    )
    names = code.namelist()
    assert {n.split("/", 1)[0] for n in names} == {"trending_tv", "ingest_host"}
    assert "trending_tv/definitions.py" in names and "ingest_host/lake.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "tests" in n.split("/")[0]]
    assert not [n for n in names if "trending_tv_sample" in n or "sample_lake" in n]  # no sample generator

    # the step's logs are where the launcher looks for them on failure
    log = s3.get_object(
        Bucket=STAGING_BUCKET, Key=f"emr_staging/logs/{cluster.id}/steps/{record.step_id}/stderr.gz"
    )
    assert gzip.decompress(log["Body"].read()).decode() == record.stderr


def test_a_failed_emr_step_fails_the_run_with_the_steps_error(aws, lake_with_tvshows, tmp_path):
    """A node whose bootstrap did not install the runtime (dagster-io/dagster#4785): the step's Python
    cannot import it, spark-submit exits 1, EMR marks the step FAILED. The Dagster run must fail and
    show that error: a failed step must never pass for success. Also exercises a reused cluster id."""
    home = tmp_path / "dagster_home"
    base = emr_env(aws, lake_with_tvshows, home)
    settings = EmrSettings.from_env(base)
    cluster_id = aws.client("emr").run_job_flow(**job_flow_request(settings, "shared", "s3://x/b.sh"))[
        "JobFlowId"
    ]
    no_runtime = tmp_path / "python-without-runtime"
    no_runtime.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    no_runtime.chmod(no_runtime.stat().st_mode | stat.S_IEXEC)

    with EmrStandIn(aws, python_for_steps=str(no_runtime)) as standin:
        done = materialize_on_emr({**base, "TRENDING_TV_EMR_CLUSTER_ID": cluster_id}, tmp_path)
    assert not standin.errors
    [record] = standin.records
    assert record.cluster_id == cluster_id and record.returncode != 0
    assert "ModuleNotFoundError" in record.stdout  # spark-submit client mode: the driver's output

    assert done.returncode != 0
    run, events = run_events(home)
    assert run.is_failure
    assert not [e for e in events if e.event_type == DagsterEventType.ASSET_MATERIALIZATION]
    [failure] = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    error = failure.event_specific_data.error
    text = error.message + "".join(str(c.message) for c in [error.cause] if c)
    assert f"EMR step {record.step_id}" in text and "FAILED" in text
    assert "ModuleNotFoundError: No module named" in text  # the step's own error, from its logs
    assert len(emr_backend().clusters) == 1  # the configured cluster was reused, none created
