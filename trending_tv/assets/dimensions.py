"""Dimension snapshots of each day, from that day's TMDB pull and tracked-show list."""

from typing import Any

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)
from dagster_pyspark import LazyPySparkResource

from ingest_host import layout
from ingest_host.tracked_shows import parse_tracked_shows
from trending_tv.assets.raw import partition_days
from trending_tv.constants import DIMENSIONS_GROUP
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.tmdb import TVSHOWS_SCHEMA, parse_tmdb_details, tvshows_rows


@asset(
    key="tvshows",
    group_name=DIMENSIONS_GROUP,
    kinds={"spark", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["raw_tmdb"],
)
def tvshows(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> MaterializeResult:
    """The tracked TV shows of each day: TMDB names, genres and networks, plus the hashtags and
    aliases that posts are matched against."""
    rows = []
    skipped: dict[str, int] = {}
    missing: dict[str, list[int]] = {}
    for day in partition_days(context):
        tracked = parse_tracked_shows(lake.client.read_text(layout.tracked_shows_day_key(day)))
        details, counts = parse_tmdb_details(lake.client.read_text(layout.tmdb_day_key(day)).splitlines())
        for kind, count in counts.items():
            if kind != "records":
                skipped[kind] = skipped.get(kind, 0) + count
        absent = [s.id for s in tracked if s.id not in details]
        if absent:
            missing[day.isoformat()] = absent
        rows.extend(tvshows_rows(tracked, details, day))
    df = pyspark.spark_session.createDataFrame(rows, TVSHOWS_SCHEMA)
    written = lake.write_daily_table(df, "tvshows", partition_days(context))
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "shows_without_tmdb_record": MetadataValue.json(missing),
            "tmdb_lines_skipped": MetadataValue.json(skipped),
            "files": MetadataValue.json({d.isoformat(): k for d, k in written.items()}),
            "path": MetadataValue.path(lake.client.uri(layout.table_prefix("tvshows"))),
        }
    )
