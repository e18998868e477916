"""The TMDB fact table, tmdb_stat, and the referential-integrity checks of the fact tables.

Dating: a row's `date` is the UTC day the snapshot was taken, which is the day of the raw file
(`tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json`). The ingest host fetches at 23:30 UTC, so the row describes
TMDB's state on that day and lines up with that day's posts. (The 2020 project fetched at 01:00 and
gave the snapshot the same date, so its rows mostly described the previous day; seed weakness 6.)

Staleness: TMDB does not refresh every value every day. A popularity exactly equal to the previous
day's tmdb_stat value is reported by the `popularity_refreshed` WARN check (count and ids). The
previous day comes from this run when the run covers it, else from the lake; the first day of the
data (or a day whose previous partition was never materialized) has nothing to compare with, which
the check's metadata says."""

from datetime import date, timedelta
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
    asset_check,
)
from dagster_pyspark import LazyPySparkResource

from ingest_host import layout
from trending_tv import checks
from trending_tv.assets.dimensions import check_days, ids_in_parent, read_tmdb_day
from trending_tv.assets.raw import partition_days
from trending_tv.constants import (
    FACTS_GROUP,
    IDS_IN_TVSHOWS,
    POPULARITY_REFRESHED,
    TMDB_COVERAGE,
    UNIQUE_ID_DATE,
)
from trending_tv.freshness import DAILY_FRESHNESS
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import TMDB_MIN_COVERAGE, DataQualityResource
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
    if before in computed:
        return computed[before]
    try:
        return lake.read_table_partition("tmdb_stat", before).to_pylist()
    except FileNotFoundError:
        return None


def _top_popularity_md(rows: list[dict], names: dict[int, str], limit: int = 10) -> str:
    latest = max((r["date"] for r in rows), default=None)
    top = sorted(
        (r for r in rows if r["date"] == latest and r["popularity"] is not None),
        key=lambda r: (-r["popularity"], r["id"]),
    )[:limit]
    lines = [f"Most popular on {latest}", "", "| show | popularity | votes | average |"]
    lines.append("|---|---:|---:|---:|")
    for r in top:
        name = names.get(r["id"], r["id"])
        lines.append(f"| {name} | {r['popularity']:,.3f} | {r['vote_count']} | {r['vote_average']} |")
    return "\n".join(lines)


@asset(
    key="tmdb_stat",
    group_name=FACTS_GROUP,
    freshness_policy=DAILY_FRESHNESS,
    kinds={"spark", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["raw_tmdb"],
    check_specs=[
        AssetCheckSpec(
            TMDB_COVERAGE,
            asset="tmdb_stat",
            blocking=True,
            description=(
                "Share of tracked shows with a TMDB record: ERROR below "
                f"{TMDB_MIN_COVERAGE} (default 95%), WARN for any missing show"
            ),
        ),
        AssetCheckSpec(UNIQUE_ID_DATE, asset="tmdb_stat", blocking=True, description="(id, date) is unique"),
        AssetCheckSpec(
            POPULARITY_REFRESHED,
            asset="tmdb_stat",
            description="WARN for shows whose popularity equals the previous day's (TMDB did not refresh it)",
        ),
    ],
)
def tmdb_stat(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    data_quality: DataQualityResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> MaterializeResult:
    """Daily TMDB figures per tracked show: seasons, episodes, votes, vote average and popularity."""
    days = partition_days(context)
    min_coverage = data_quality.tmdb_min_coverage
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
        for kind, n in counts.items():
            if kind != "records":
                skipped[kind] = skipped.get(kind, 0) + n
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
    written = lake.write_daily_table(df, "tmdb_stat", days)
    per_day = ["| day | tracked | rows | missing | stale popularity |", "|---|---:|---:|---:|---:|"] + [
        f"| {d} | {len(tracked_by_day[d])} | {len(computed[d])} | {len(missing.get(d.isoformat(), []))} "
        f"| {'n/a' if stale[d] is None else len(stale[d])} |"
        for d in days
    ]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "per_day": MetadataValue.md("\n".join(per_day)),
            "missing_ids": MetadataValue.json(missing),
            "untracked_records": MetadataValue.json(untracked),
            "null_values": MetadataValue.json(nulls),
            "tmdb_lines_skipped": MetadataValue.json(dict(sorted(skipped.items()))),
            "date_label": "UTC day the snapshot was taken (fetched at 23:30 UTC)",
            "top_popularity": MetadataValue.md(_top_popularity_md(rows, names)),
            "files": MetadataValue.json({d.isoformat(): k for d, k in written.items()}),
            "path": MetadataValue.path(lake.client.uri(layout.table_prefix("tmdb_stat"))),
        },
        check_results=[
            checks.tmdb_coverage(rows, tracked_by_day, min_coverage),
            checks.unique_id_date(rows),
            checks.popularity_refreshed(stale),
        ],
    )


@asset_check(
    asset="tmdb_stat",
    name=IDS_IN_TVSHOWS,
    blocking=True,
    additional_deps=["tvshows"],
    description="Every tmdb_stat.id is a tvshows.id of the same day (read from the lake)",
)
def tmdb_stat_ids_in_tvshows(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    days = check_days(context, lake, "tmdb_stat")
    return ids_in_parent(lake, days, "tmdb_stat", "id", "tvshows", IDS_IN_TVSHOWS)


@asset_check(
    asset="tweet_stat",
    name=IDS_IN_TVSHOWS,
    blocking=True,
    additional_deps=["tvshows"],
    description="Every tweet_stat.id is a tvshows.id of the same day (read from the lake)",
)
def tweet_stat_ids_in_tvshows(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    days = check_days(context, lake, "tweet_stat")
    return ids_in_parent(lake, days, "tweet_stat", "id", "tvshows", IDS_IN_TVSHOWS)
