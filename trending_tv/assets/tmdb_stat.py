"""tmdb_stat, the daily TMDB figures per tracked show, and its check against tvshows.

Dating: a row's `date` is the UTC day the snapshot was taken, which is the day of the raw file
(`tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json`). The ingest host fetches at 23:30 UTC, so the row describes
TMDB's state on that day and lines up with that day's posts. (The 2020 project fetched at 01:00 and
gave the snapshot the same date, so its rows mostly described the previous day.)

Staleness: TMDB does not refresh every value every day. A popularity exactly equal to the previous
day's tmdb_stat value is reported by the `popularity_refreshed` WARN check (count and ids). The
previous day comes from this run when the run covers it, else from the lake; the first day of the
data (or a day whose previous partition was never materialized) has nothing to compare with, which
the check's metadata says."""

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, MetadataValue, ResourceParam
from dagster_pyspark import LazyPySparkResource

from trending_tv import checks
from trending_tv.assets.daily import (
    SPARK_TABLE,
    UNIQUE_ID_DATE_CHECK,
    Check,
    daily_asset,
    partition_days,
    publish,
)
from trending_tv.assets.dimensions import add_skipped, read_tmdb_day
from trending_tv.assets.integrity import ids_in_parent_check
from trending_tv.assets.metadata import column_schema, table
from trending_tv.constants import FACTS_GROUP, IDS_IN_TVSHOWS, POPULARITY_REFRESHED, TMDB_COVERAGE
from trending_tv.freshness import DAILY_FRESHNESS
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import TMDB_MIN_COVERAGE, DataQualityResource
from trending_tv.transforms.columns import COLUMN_DESCRIPTIONS
from trending_tv.transforms.tmdb import (
    TMDB_STAT_COUNTS,
    TMDB_STAT_MEASURES,
    TMDB_STAT_SCHEMA,
    stale_popularity,
    tmdb_stat_rows,
)


def _previous_rows(lake: LakeResource, day: date, computed: dict[date, list[dict]]) -> list[dict] | None:
    """tmdb_stat of the day before `day`: from this run if it covers it, else from the lake."""
    before = day - timedelta(days=1)
    return computed[before] if before in computed else lake.table_rows("tmdb_stat", before)


def _top_popularity(rows: list[dict], names: dict[int, str], limit: int = 10) -> list[dict]:
    """The most popular shows of the last day of the run."""
    latest = max((r["date"] for r in rows), default=None)
    top = sorted(
        (r for r in rows if r["date"] == latest and r["popularity"] is not None),
        key=lambda r: (-r["popularity"], r["id"]),
    )[:limit]
    return [{**r, "show": names.get(r["id"], str(r["id"]))} for r in top]


@daily_asset(
    group_name=FACTS_GROUP,
    kinds=SPARK_TABLE,
    freshness_policy=DAILY_FRESHNESS,
    deps=["raw_tmdb"],
    metadata={"dagster/column_schema": column_schema(TMDB_STAT_SCHEMA, COLUMN_DESCRIPTIONS["tmdb_stat"])},
    checks=[
        Check(
            TMDB_COVERAGE,
            "Share of tracked shows with a TMDB record: ERROR below "
            f"{TMDB_MIN_COVERAGE} (default 95%), WARN for any missing show",
        ),
        UNIQUE_ID_DATE_CHECK,
        Check(
            POPULARITY_REFRESHED,
            "WARN for shows whose popularity equals the previous day's (TMDB did not refresh it)",
            blocking=False,
        ),
    ],
)
def tmdb_stat(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    data_quality: DataQualityResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Daily TMDB figures per tracked show: seasons, episodes, votes, vote average and popularity."""
    days = partition_days(context)
    computed: dict[date, list[dict]] = {}
    tracked_by_day: dict[date, set[int]] = {}
    stale: dict[date, list[int] | None] = {}
    missing: dict[str, list[int]] = {}
    untracked: dict[str, list[int]] = {}
    nulls = {c: 0 for c in (*TMDB_STAT_COUNTS, *TMDB_STAT_MEASURES)}
    skipped: dict[str, int] = {}
    names: dict[int, str] = {}
    for day in days:
        tracked, details, counts = read_tmdb_day(lake, day)
        add_skipped(skipped, counts)
        result = tmdb_stat_rows(tracked, details, day)
        for column, n in result.null_values.items():
            nulls[column] += n
        if result.missing_ids:
            missing[day.isoformat()] = result.missing_ids
        if result.untracked_ids:
            untracked[day.isoformat()] = result.untracked_ids
        stale[day] = stale_popularity(result.rows, _previous_rows(lake, day, computed))
        computed[day] = result.rows
        tracked_by_day[day] = {s.id for s in tracked}
        names.update({s.id: s.name for s in tracked})
    rows = [r for day in days for r in computed[day]]
    df = pyspark.spark_session.createDataFrame(rows, TMDB_STAT_SCHEMA)
    per_day = [
        {
            "day": d,
            "tracked": len(tracked_by_day[d]),
            "rows": len(computed[d]),
            "missing": len(missing.get(d.isoformat(), [])),
            "stale_popularity": None if stale[d] is None else len(stale[d]),  # None: no previous day
        }
        for d in days
    ]
    with lake.stage_daily_table(df, "tmdb_stat", days) as staged:
        staged_rows = staged.rows()
        materialized = MaterializeResult(
            metadata={
                "dagster/row_count": len(staged_rows),
                "per_day": table(
                    per_day,
                    {
                        "day": "date",
                        "tracked": "int",
                        "rows": "int",
                        "missing": "int",
                        "stale_popularity": "int",
                    },
                ),
                "missing_ids": MetadataValue.json(missing),
                "untracked_records": MetadataValue.json(untracked),
                "null_values": MetadataValue.json(nulls),
                "tmdb_lines_skipped": MetadataValue.json(dict(sorted(skipped.items()))),
                "date_label": "UTC day the snapshot was taken (fetched at 23:30 UTC)",
                "top_popularity": table(
                    _top_popularity(staged_rows, names),
                    {
                        "date": "date",
                        "show": "string",
                        "popularity": "float",
                        "vote_count": "int",
                        "vote_average": "float",
                    },
                ),
            },
            check_results=[
                checks.tmdb_coverage(staged_rows, tracked_by_day, data_quality.tmdb_min_coverage),
                checks.unique_id_date(staged_rows),
                checks.popularity_refreshed(stale),
            ],
        )
        yield from publish(context, staged, materialized)


tmdb_stat_ids_in_tvshows = ids_in_parent_check("tmdb_stat", "id", "tvshows", IDS_IN_TVSHOWS, blocking=True)
