"""The counts sensor: a counts day landing in counts_raw/ requests the counts run (raw_counts,
show_volume, show_trends, trending_report) once the day's tracked shows are in the lake; the posts
and TMDB day selection leaves the counts assets out. Against a folder lake, with Dagster's
build_sensor_context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import AssetKey, DagsterInstance, RunRequest, build_sensor_context

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.lake_watch import COUNTS, WatchSettings, evaluate
from trending_tv.resources.lake import LakeResource
from trending_tv.sensors import FINGERPRINT_TAG, build_lake_sensor
from trending_tv.settings import LakeWatchResource

# The ticks' clock: 05:00 UTC of the day before the real one, so that it is in the past of every object a
# test writes (a tick ignores objects older than the horizon it sets at `now`) at any real hour; from
# 00:00 to 05:00 UTC a clock of today's 05:00 was in the future and the ticks skipped new objects.
NOW = (datetime.now(UTC) - timedelta(days=1)).replace(hour=5, minute=0, second=0, microsecond=0)
YESTERDAY = NOW.date() - timedelta(days=1)
SETTINGS = WatchSettings(first_day=NOW.date() - timedelta(days=30), settle=timedelta(0), sweep_seconds=30)
COUNTS_LINE = b'{"show_id":1,"query_kind":"any"}\n'


def land_tvshows(lake: Lake) -> None:
    lake.write_bytes(
        layout.table_partition_prefix("tvshows", YESTERDAY) + "part-00000.snappy.parquet", b"PAR1"
    )


def test_a_counts_day_waits_for_the_days_tracked_shows_then_runs(tmp_path):
    lake = Lake.from_url(tmp_path)
    first = evaluate(lake, COUNTS, None, NOW, SETTINGS)
    assert first.runs == [] and first.arrivals == {}

    lake.write_bytes(layout.counts_day_key(YESTERDAY), COUNTS_LINE)
    landed = evaluate(lake, COUNTS, first.cursor, NOW, SETTINGS)
    assert [o.key for o in landed.arrivals[YESTERDAY]] == [layout.counts_day_key(YESTERDAY)]
    assert landed.runs == [] and "tvshows" in landed.waiting[YESTERDAY]
    assert all(p.startswith((layout.COUNTS_RAW + "/", layout.ANALYTICS + "/")) for p in landed.prefixes)

    land_tvshows(lake)
    ready = evaluate(lake, COUNTS, landed.cursor, NOW, SETTINGS)
    [run] = ready.runs
    assert run.day == YESTERDAY and run.run_key.startswith(YESTERDAY.isoformat())
    assert evaluate(lake, COUNTS, ready.cursor, NOW, SETTINGS).runs == []  # once

    # fetch-counts resumed the day and landed more lines: a new file, a new run
    lake.write_bytes(layout.counts_day_key(YESTERDAY), COUNTS_LINE * 2)
    again = evaluate(lake, COUNTS, ready.cursor, NOW + timedelta(minutes=1), SETTINGS)
    [rerun] = again.runs
    assert rerun.run_key != run.run_key


def test_the_counts_sensor_requests_the_days_counts_run(tmp_path):
    lake = Lake.from_url(tmp_path)
    lake.write_bytes(layout.counts_day_key(YESTERDAY), COUNTS_LINE)
    land_tvshows(lake)
    sensor_def = build_lake_sensor(COUNTS, target=["raw_counts", "show_volume"], watch=SETTINGS)
    assert sensor_def.name == "raw_counts_sensor"
    context = build_sensor_context(
        instance=DagsterInstance.ephemeral(),
        resources={"lake": LakeResource(url=str(tmp_path)), "lake_watch": LakeWatchResource()},
    )
    result = sensor_def(context)
    [request] = result.run_requests
    assert isinstance(request, RunRequest)
    assert request.partition_key == YESTERDAY.isoformat()
    assert request.tags[FINGERPRINT_TAG] == request.run_key
    [observation] = [e for e in result.asset_events if e.partition == YESTERDAY.isoformat()]
    assert observation.asset_key == AssetKey("raw_counts")
    assert observation.metadata["key"].value == str(tmp_path / layout.counts_day_key(YESTERDAY))


def test_definitions_run_counts_apart_from_the_day_selection():
    from trending_tv.definitions import defs

    repo = defs.get_repository_def()

    def selected(sensor: str) -> set[str]:
        job = repo.get_sensor_def(sensor).targets[0]
        return {k.to_user_string() for k in job.resolvable_to_job.selection.selected_keys}

    assert selected("raw_counts_sensor") == {"raw_counts", "show_volume", "show_trends", "trending_report"}
    day = selected("raw_tweets_sensor")
    assert {"raw_tweets", "tweet_stat", "show_trends"} <= day and not {"raw_counts", "show_volume"} & day
    assert selected("raw_tmdb_sensor") == day
