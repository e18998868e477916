"""show_trends: each show's popular and trending figures per day (beyond the 2020 project, which
stopped at tables)."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
)
from dagster_pyspark import LazyPySparkResource
from pyspark.sql import DataFrame

from ingest_host import layout
from trending_tv.assets import metadata
from trending_tv.assets.daily import SPARK_TABLE, daily_asset, partition_days, publish
from trending_tv.constants import TRENDS_GROUP
from trending_tv.raw_manifest import read_day_coverage
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.trends import (
    BASELINE_DAYS,
    COLUMN_DESCRIPTIONS,
    SHOW_TRENDS_SCHEMA,
    compute_show_trends,
    coverage_of_day,
)
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

TMDB_STAT_COLUMNS = "id long, date date, popularity double"
SHOW_VOLUME_COLUMNS = "id long, date date, hashtag_posts long, text_posts long, posts long"
COLUMN_SCHEMA = metadata.column_schema(SHOW_TRENDS_SCHEMA, COLUMN_DESCRIPTIONS)
POPULAR_COLUMNS = {
    "popular_rank": "int",
    "name": "string",
    "posts": "int",
    "share": "float",
    "posts_change": "int",
}
TRENDING_COLUMNS = {
    "trend_rank": "int",
    "name": "string",
    "posts": "int",
    "expected_posts": "float",
    "ratio": "float",
    "trend_score": "float",
    "baseline_days": "int",
    "cold_start": "bool",
    "complete": "bool",
}


def _partition_keys(lake: LakeResource, table: str, days: list[date]) -> dict[date, list[str]]:
    """The Parquet files of `table` on each of `days` (a day without a partition has none)."""
    return {
        day: [
            o.key
            for o in lake.client.list(layout.table_partition_prefix(table, day))
            if o.key.endswith(".parquet")
        ]
        for day in days
    }


def _flat(keys: dict[date, list[str]]) -> list[str]:
    return [key for day_keys in keys.values() for key in day_keys]


def _days_with_rows(frame: DataFrame | None) -> set[date]:
    """The days `frame` has rows for (a partition can exist and hold none)."""
    if frame is None:
        return set()
    return {r["date"] for r in frame.select("date").distinct().collect()}


@dataclass(frozen=True)
class SampleCoverage:
    """What the day coverage files say of the days ranked on the stream's sample."""

    shares: dict[date, float]  # coverage_of_day of each day with a file (0 when unreadable)
    unknown: list[date]  # no coverage file: counted as covered, as raw_tweets' check reads it
    unreadable: dict[date, str]  # file present but not a JSON object: why (the day is not complete)


def _sample_coverage(lake: LakeResource, days: Iterable[date]) -> SampleCoverage:
    files = {day: read_day_coverage(lake.client, day) for day in days}
    return SampleCoverage(
        shares={day: coverage_of_day(c.document) for day, c in files.items() if c is not None},
        unknown=sorted(day for day, c in files.items() if c is None),
        unreadable={day: c.error for day, c in sorted(files.items()) if c is not None and c.error},
    )


def _log_coverage(
    context: AssetExecutionContext, coverage: SampleCoverage, volume_days_without_rows: list[date]
) -> None:
    for day, error in coverage.unreadable.items():
        context.log.warning(
            f"{day}: coverage file {layout.tweet_day_coverage_key(day)} unreadable ({error}): "
            "the day is not complete (flagged, out of the baselines)"
        )
    if coverage.unknown:
        unknown = ", ".join(map(str, coverage.unknown))
        context.log.info(f"coverage unknown (no coverage file), counted as covered: {unknown}")
    if volume_days_without_rows:
        context.log.warning(
            "show_volume partitions without a row, ranked on tweet_stat's sample instead: "
            + ", ".join(map(str, volume_days_without_rows))
        )


@daily_asset(
    group_name=TRENDS_GROUP,
    kinds=SPARK_TABLE,
    deps=["tweet_stat", "tvshows", "show_volume"],
    metadata={"dagster/column_schema": COLUMN_SCHEMA},
)
def show_trends(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Each show's day, popular (posts, share, popular rank) apart from trending (trend rank by
    surprise): expected posts = the median of the show's odds against the rest of the day over its
    last 7 complete days, shrunk toward an all-shows prior (TMDB popularity), times the other shows'
    posts today; trend_score = -log10 P(at least today's posts), negative binomial on bursts of 5
    posts; a trend rank needs 20 posts. Exact show_volume counts replace the sample on the days that
    have them; partial or missing days are flagged, never read as drops (README, "Popular and
    trending")."""
    days = partition_days(context)
    spark = pyspark.spark_session
    history = [days[0] - timedelta(days=k) for k in range(BASELINE_DAYS, 0, -1)] + days
    names_rows = [
        {"id": r["id"], "date": r["date"], "name": r["name"]}
        for day in days
        for r in lake.read_table_partition("tvshows", day).select(["id", "date", "name"]).to_pylist()
    ]
    tweet_by_day = _partition_keys(lake, "tweet_stat", history)
    tweet_keys = _flat(tweet_by_day)
    volume_by_day = _partition_keys(lake, "show_volume", history)
    volume_keys = _flat(volume_by_day)
    tmdb_keys = _flat(_partition_keys(lake, "tmdb_stat", [days[0] - timedelta(days=1), *days]))
    with lake.local_paths(tweet_keys + volume_keys + tmdb_keys) as paths:
        tweet_paths = paths[: len(tweet_keys)]
        volume_paths = paths[len(tweet_keys) : len(tweet_keys) + len(volume_keys)]
        tmdb_paths = paths[len(tweet_keys) + len(volume_keys) :]
        tweet_stat = spark.read.schema(TWEET_STAT_SCHEMA).parquet(*tweet_paths)
        show_volume = spark.read.schema(SHOW_VOLUME_COLUMNS).parquet(*volume_paths) if volume_paths else None
        tmdb_stat = spark.read.schema(TMDB_STAT_COLUMNS).parquet(*tmdb_paths) if tmdb_paths else None
        # a day is ranked on exact volumes only when its show_volume partition has rows (an empty
        # one falls back to the sample, as a day without the partition does); exact volumes are
        # whole whatever the stream's collection covered, so coverage only qualifies sample days
        exact_days = _days_with_rows(show_volume)
        volume_days_without_rows = sorted(
            d for d, keys in volume_by_day.items() if keys and d not in exact_days
        )
        coverage = _sample_coverage(
            lake, [d for d, keys in tweet_by_day.items() if keys and d not in exact_days]
        )
        _log_coverage(context, coverage, volume_days_without_rows)
        names = spark.createDataFrame(names_rows, "id long, date date, name string")
        trends = compute_show_trends(
            tweet_stat, names, tmdb_stat, days, show_volume=show_volume, coverage=coverage.shares
        )
        rows = [r.asDict() for r in trends.collect()]
        table = spark.createDataFrame(
            [tuple(r[f.name] for f in SHOW_TRENDS_SCHEMA) for r in rows], SHOW_TRENDS_SCHEMA
        )
    last = days[-1]
    last_day = [r for r in rows if r["date"] == last]
    popular = sorted(last_day, key=lambda r: r["popular_rank"])[:10]
    ranked = [r for r in last_day if r["trend_rank"] is not None]
    trending = sorted(ranked, key=lambda r: r["trend_rank"])[:10]
    materialized = MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "history_days_read": len({k.rsplit("/", 2)[0] for k in tweet_keys}),
            "days_with_exact_volumes": MetadataValue.json(
                sorted({r["date"].isoformat() for r in rows if r["source"] == "show_volume"})
            ),
            "incomplete_days": MetadataValue.json(
                sorted({r["date"].isoformat() for r in rows if not r["complete"]})
            ),
            # of the days read (with the baselines' history): the sample days whose coverage is
            # unknown or unreadable, and the show_volume partitions without a row
            "days_coverage_unknown": MetadataValue.json([d.isoformat() for d in coverage.unknown]),
            "coverage_files_unreadable": MetadataValue.json(
                {d.isoformat(): error for d, error in coverage.unreadable.items()}
            ),
            "show_volume_days_without_rows": MetadataValue.json(
                [d.isoformat() for d in volume_days_without_rows]
            ),
            "cold_start_rows": sum(1 for r in rows if r["cold_start"]),
            "with_tmdb_popularity": bool(tmdb_keys),
            f"trending_on_{last}": metadata.table(trending, TRENDING_COLUMNS),
            f"popular_on_{last}": metadata.table(popular, POPULAR_COLUMNS),
        }
    )
    with lake.stage_daily_table(table, "show_trends", days) as staged:
        yield from publish(context, staged, materialized)
