"""Trending (beyond the 2020 project, which stopped at tables): daily scores and a report."""

import base64
from datetime import date, timedelta
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
from trending_tv import report
from trending_tv.assets.raw import partition_days
from trending_tv.constants import TRENDS_GROUP
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.trends import BASELINE_DAYS, SHOW_TRENDS_SCHEMA, compute_show_trends
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

REPORT_WINDOW_DAYS = 9  # the 2020 project's period: a report covers the day and the 8 before it
TMDB_STAT_COLUMNS = "id long, date date, popularity double"


def _partition_keys(lake: LakeResource, table: str, days: list[date]) -> list[str]:
    keys = []
    for day in days:
        keys += [
            o.key
            for o in lake.client.list(layout.table_partition_prefix(table, day))
            if o.key.endswith(".parquet")
        ]
    return keys


def _read_days(lake: LakeResource, table: str, days: list[date]) -> list[dict]:
    """Rows of the days that have a partition (days before the first landed data have none)."""
    return [
        r
        for d in days
        if _partition_keys(lake, table, [d])
        for r in lake.read_table_partition(table, d).to_pylist()
    ]


def report_key(day: date, name: str) -> str:
    return f"reports/trending_report/{day:%Y/%m/%d}/{name}"


@asset(
    key="show_trends",
    group_name=TRENDS_GROUP,
    kinds={"spark", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["tweet_stat", "tvshows"],
)
def show_trends(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> MaterializeResult:
    """Each show's daily share of posts, change, z-score against its own trailing 7-day baseline,
    TMDB popularity and change, and its trending rank."""
    days = partition_days(context)
    spark = pyspark.spark_session
    history = [days[0] - timedelta(days=k) for k in range(BASELINE_DAYS, 0, -1)] + days
    names_rows = [
        {"id": r["id"], "date": r["date"], "name": r["name"]}
        for day in days
        for r in lake.read_table_partition("tvshows", day).select(["id", "date", "name"]).to_pylist()
    ]
    tweet_keys = _partition_keys(lake, "tweet_stat", history)
    tmdb_keys = _partition_keys(lake, "tmdb_stat", [days[0] - timedelta(days=1), *days])
    with lake.local_paths(tweet_keys + tmdb_keys) as paths:
        tweet_stat = spark.read.schema(TWEET_STAT_SCHEMA).parquet(*paths[: len(tweet_keys)])
        tmdb_stat = (
            spark.read.schema(TMDB_STAT_COLUMNS).parquet(*paths[len(tweet_keys) :]) if tmdb_keys else None
        )
        names = spark.createDataFrame(names_rows, "id long, date date, name string")
        trends = compute_show_trends(tweet_stat, names, tmdb_stat, days)
        rows = [r.asDict() for r in trends.collect()]
        table = spark.createDataFrame(
            [tuple(r[f.name] for f in SHOW_TRENDS_SCHEMA) for r in rows], SHOW_TRENDS_SCHEMA
        )
        lake.write_daily_table(table, "show_trends", days)
    last_day = [r for r in rows if r["date"] == days[-1]]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "history_days_read": len({k.rsplit("/", 2)[0] for k in tweet_keys}),
            "with_tmdb_popularity": bool(tmdb_keys),
            f"trending_on_{days[-1]}": MetadataValue.md(report.trending_table_md(last_day)),
            "path": MetadataValue.path(lake.client.uri(layout.table_prefix("show_trends"))),
        }
    )


@asset(
    key="trending_report",
    group_name=TRENDS_GROUP,
    kinds={"python", "png"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["show_trends"],
)
def trending_report(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """Charts of the top shows over the 9 days ending on the day (totals, daily heat map) and the
    day's trending table, as PNG and markdown in the lake and on this page."""
    days = partition_days(context)
    written = []
    for day in days:
        window = [day - timedelta(days=k) for k in range(REPORT_WINDOW_DAYS - 1, -1, -1)]
        stats, names = [], {}
        for d in window:
            for table, target in (("tweet_stat", stats),):
                if _partition_keys(lake, table, [d]):
                    target.extend(lake.read_table_partition(table, d).to_pylist())
            if _partition_keys(lake, "tvshows", [d]):
                names.update(
                    {r["id"]: r["name"] for r in lake.read_table_partition("tvshows", d).to_pylist()}
                )
        trends = lake.read_table_partition("show_trends", day).to_pylist()
        span = f"{window[0]} .. {day}"
        charts = {
            "top_by_tweet_count.png": report.bar_chart_png(
                stats, names, "tweet_count", f"Posts per show, {span}"
            ),
            "top_by_hashtag_count.png": report.bar_chart_png(
                stats, names, "hashtag_count", f"Posts with the show's hashtag, {span}"
            ),
            "daily_tweet_count.png": report.heat_map_png(
                stats, names, "tweet_count", window, f"Daily posts of the top shows, {span}"
            ),
        }
        markdown = f"# Trending TV shows, {day}\n\n" + report.trending_table_md(trends) + "\n"
        for name, png in charts.items():
            lake.client.write_bytes(report_key(day, name), png)
            markdown += f"\n![{name}]({name})\n"
        lake.client.write_text(report_key(day, "report.md"), markdown)
        written.append(report_key(day, "report.md"))
    last = days[-1]
    preview = base64.b64encode(charts["top_by_tweet_count.png"]).decode()
    return MaterializeResult(
        metadata={
            "reports": MetadataValue.json(written),
            "folder": MetadataValue.path(lake.client.uri(report_key(last, ""))),
            f"trending_on_{last}": MetadataValue.md(report.trending_table_md(trends)),
            "top_shows_chart": MetadataValue.md(
                f"![Posts per show, {span}](data:image/png;base64,{preview})"
            ),
        }
    )
