"""Write-audit-publish: a table's days are staged, the asset's blocking checks run on the staged rows,
and the days are swapped in only when they pass. On failure the published partition stays byte for
byte, the staged rows are kept under _quarantine/<run_id>/<table>/, the step fails naming the checks,
and the failed check results are recorded in the instance (what the UI shows)."""

# no `from __future__ import annotations`: Dagster reads the probe's config class from its annotation
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    Config,
    DagsterInstance,
    MaterializeResult,
    build_run_status_sensor_context,
    materialize,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from ingest_host import layout
from trending_tv import checks
from trending_tv.alerts import alert_payload
from trending_tv.assets.daily import UNIQUE_ID_DATE_CHECK, daily_asset, partition_days, publish
from trending_tv.assets.dimensions import date_dimension
from trending_tv.resources.lake import LakeResource, StagedTable, quarantine_prefix
from trending_tv_tests.lake_fixtures import LAKE_KINDS, empty_lake
from trending_tv_tests.test_slice_materialize import DAY

DAY_DATE = date.fromisoformat(DAY)
PARTITION = layout.table_partition_prefix("tweet_stat", DAY_DATE)


def probe_rows(root: Path) -> list[tuple]:
    files = str(root / "analytics" / "wap_probe" / "*" / "*" / "*" / "*.parquet")
    return duckdb.sql(f"SELECT id, posts FROM read_parquet('{files}') ORDER BY id").fetchall()


def materialize_probe(root: Path, repeat_an_id: bool, instance: DagsterInstance | None = None):
    return materialize(
        [wap_probe],
        resources={"lake": LakeResource(url=str(root))},
        partition_key=DAY,
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"wap_probe": {"config": {"repeat_an_id": repeat_an_id}}}},
    )


def test_a_failing_blocking_check_publishes_nothing_and_quarantines_the_staged_rows(tmp_path):
    """Through Dagster with a probe table: its day published once, then a run whose staged day
    repeats an id. (tweet_stat builds one row per tracked show from its tracked ids, so its blocking
    checks cannot be made to fail with real input data.)"""
    root = tmp_path / "lake"
    root.mkdir()
    assert materialize_probe(root, repeat_an_id=False).success
    published = root / layout.table_partition_prefix("wap_probe", DAY_DATE) / "part-00000.snappy.parquet"
    before = published.read_bytes()
    old_rows = probe_rows(root)
    assert old_rows == [(1, 10), (2, 20)]

    instance = DagsterInstance.ephemeral()
    result = materialize_probe(root, repeat_an_id=True, instance=instance)
    assert not result.success
    run_id = result.run_id

    # the published day is untouched, byte for byte, and DuckDB still reads the old rows
    assert published.read_bytes() == before
    assert [p.name for p in published.parent.iterdir()] == ["part-00000.snappy.parquet"]
    assert probe_rows(root) == old_rows

    # the staged rows are kept for inspection under the run's quarantine prefix
    quarantined = root / quarantine_prefix(run_id, "wap_probe") / "year=2020/month=11/day=23"
    assert [p.name for p in quarantined.iterdir()] == ["part-00000.snappy.parquet"]
    staged = pq.read_table(quarantined / "part-00000.snappy.parquet").to_pylist()
    assert sorted((r["id"], r["posts"]) for r in staged) == [(1, 10), (1, 30), (2, 20)]

    # no materialization, the step failed naming the check and the quarantine
    assert not [e for e in result.get_asset_materialization_events()]
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.to_string()
    assert "unique_id_date" in message and "not published" in message
    assert str(root / quarantine_prefix(run_id, "wap_probe")) in message

    # what the UI shows: the check evaluation recorded in the instance, unique_id_date failed
    key = AssetCheckKey(AssetKey("wap_probe"), "unique_id_date")
    [failed] = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    assert failed.run_id == run_id
    assert failed.status == AssetCheckExecutionRecordStatus.FAILED
    evaluation = failed.event.dagster_event.event_specific_data
    assert evaluation.passed is False and evaluation.metadata["repeated_keys"].value == 1
    assert evaluation.metadata["quarantine"].value == str(root / quarantine_prefix(run_id, "wap_probe"))
    assert instance.get_latest_materialization_event(AssetKey("wap_probe")) is None

    # the failure alert names the step and the checks that kept the day from being published
    run_failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    alert = alert_payload(
        build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run_id),
            dagster_event=run_failure,
        ).for_run_failure()
    )
    assert alert["error"].startswith(
        "step wap_probe: wap_probe not published for 2020-11-23: blocking check(s) failed: unique_id_date."
    )


def test_passing_checks_publish_and_leave_no_staging_or_quarantine(tmp_path):
    """The date table (pyarrow, no Spark): published on success; its files hold only the columns
    that are not partition folders."""
    root = tmp_path / "lake"
    root.mkdir()
    result = materialize([date_dimension], resources={"lake": LakeResource(url=str(root))}, partition_key=DAY)
    assert result.success
    [part] = (root / layout.table_partition_prefix("date", DAY_DATE)).iterdir()
    assert pq.read_table(part).to_pylist() == [{"date": DAY_DATE, "weekday": 1}]
    assert not (root / "_quarantine").exists()
    # DuckDB's hive partitioning gives day, month and year from the folders, once each
    rows = duckdb.sql(
        "SELECT date, weekday, year, month, day FROM "
        f"read_parquet('{root}/analytics/date/*/*/*/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert rows == [(DAY_DATE, 1, 2020, 11, 23)]


@pytest.fixture(params=LAKE_KINDS)
def lake(request, tmp_path, monkeypatch) -> Iterator[LakeResource]:
    for client in empty_lake(request.param, tmp_path, monkeypatch):
        yield LakeResource(url=client.url)


def _parquet(ids: list[int]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"id": ids}), out)
    return out.getvalue()


def test_staged_days_in_a_local_folder_publish_or_quarantine(lake):
    """Staged with pyarrow in a temporary folder (as local runs stage Spark's output), on a folder
    and on an S3 lake: quarantine copies the days under the run's prefix and leaves the published
    day alone; publish swaps the day in; leaving the block removes the staging folder."""
    client = lake.client
    old = PARTITION + "part-00000.snappy.parquet"
    client.write_bytes(old, _parquet([1]))
    with lake.stage_daily_arrow({DAY_DATE: pa.table({"id": [7, 8]})}, "tweet_stat") as staged:
        assert staged.rows() == [{"id": 7}, {"id": 8}]
        prefix = staged.quarantine("run-1")
        assert client.read_bytes(old) == _parquet([1])
        [kept] = client.list(prefix)
        assert kept.key == prefix + "year=2020/month=11/day=23/part-00000.snappy.parquet"
        staged_folder = Path(staged.parts[DAY_DATE][0]).parent
        assert staged.publish() == {DAY_DATE: [old]}
    assert pq.read_table(io.BytesIO(client.read_bytes(old))).column("id").to_pylist() == [7, 8]
    assert not staged_folder.exists()
    with pytest.raises(ValueError, match="partition folders"):
        lake.stage_daily_arrow({DAY_DATE: pa.table({"date": [DAY_DATE], "day": [23]})}, "date")


def test_staged_days_on_s3_quarantine_with_server_side_copies(lake):
    """Direct mode (EMR) stages under _staging/ in the lake: the quarantine and the swap are copies
    inside the lake, and leaving the block removes the staging prefix."""
    client = lake.client
    staging = "_staging/tweet_stat/abc/"
    source = f"{staging}year=2020/month=11/day=23/part-00000-x.c000.snappy.parquet"
    client.write_bytes(source, _parquet([5]))
    client.write_bytes(PARTITION + "part-00000.snappy.parquet", _parquet([1]))
    with StagedTable(
        client, "tweet_stat", [DAY_DATE], {DAY_DATE: [source]}, staging_prefix=staging
    ) as staged:
        assert staged.rows() == [{"id": 5}]
        prefix = staged.quarantine("run-2")
    assert client.list("_staging/") == []
    assert [o.key for o in client.list(prefix)] == [
        prefix + "year=2020/month=11/day=23/part-00000.snappy.parquet"
    ]
    assert client.read_bytes(PARTITION + "part-00000.snappy.parquet") == _parquet([1])


def test_a_run_id_or_table_that_is_not_a_plain_key_is_refused():
    with pytest.raises(ValueError):
        quarantine_prefix("..", "tweet_stat")
    with pytest.raises(ValueError):
        quarantine_prefix("run", "../analytics")


class ProbeRows(Config):
    repeat_an_id: bool = True


@daily_asset(group_name="test", kinds={"python"}, checks=[UNIQUE_ID_DATE_CHECK])
def wap_probe(context, lake: LakeResource, config: ProbeRows):
    """A small table; when its day repeats an id, its blocking unique_id_date check fails."""
    [day] = partition_days(context)
    ids = [1, 2, 1] if config.repeat_an_id else [1, 2]
    rows = pa.table({"id": ids, "date": [day] * len(ids), "posts": [10, 20, 30][: len(ids)]})
    with lake.stage_daily_arrow({day: rows}, "wap_probe") as staged:
        result = MaterializeResult(check_results=[checks.unique_id_date(staged.rows())])
        yield from publish(context, staged, result)


def test_when_the_quarantine_cannot_be_written_the_failed_checks_are_still_named(tmp_path):
    root = tmp_path / "lake"
    root.mkdir()
    (root / "_quarantine").write_text("a file where the quarantine folder would go")
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [wap_probe],
        resources={"lake": LakeResource(url=str(root))},
        partition_key=DAY,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert not (root / "analytics").exists()
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.to_string()
    assert "blocking check(s) failed: unique_id_date" in message
    assert "the staged output could not be kept" in message
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed is False and "quarantine_error" in evaluation.metadata
