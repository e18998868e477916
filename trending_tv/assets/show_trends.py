"""show_trends: each show's daily trend scores (beyond the 2020 project, which stopped at tables)."""

from datetime import date, timedelta
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, ResourceParam
from dagster_pyspark import LazyPySparkResource

from ingest_host import layout
from trending_tv import report
from trending_tv.assets.daily import SPARK_TABLE, daily_asset, partition_days
from trending_tv.constants import TRENDS_GROUP
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.trends import BASELINE_DAYS, SHOW_TRENDS_SCHEMA, compute_show_trends
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

TMDB_STAT_COLUMNS = "id long, date date, popularity double"


def _partition_keys(lake: LakeResource, table: str, days: list[date]) -> list[str]:
    """The Parquet files of `table` on `days` (days without a partition have none)."""
    keys = []
    for day in days:
        keys += [
            o.key
            for o in lake.client.list(layout.table_partition_prefix(table, day))
            if o.key.endswith(".parquet")
        ]
    return keys


@daily_asset(group_name=TRENDS_GROUP, kinds=SPARK_TABLE, deps=["tweet_stat", "tvshows"])
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
