"""Fact tables computed with PySpark."""

from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)
from dagster_pyspark import LazyPySparkResource

from ingest_host import layout
from trending_tv import checks
from trending_tv.assets.raw import partition_days
from trending_tv.constants import COUNTS_CONSISTENT, FACTS_GROUP, ONE_ROW_PER_TRACKED_SHOW, UNIQUE_ID_DATE
from trending_tv.freshness import DAILY_FRESHNESS
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.tmdb import tracked_from_tvshows
from trending_tv.transforms.tweet_stat import compute_tweet_stat, prefixes_to_list, raw_keys_for_days


def _top_shows_md(rows: list[dict], names: dict[int, str], limit: int = 10) -> str:
    totals: dict[int, list[int]] = {}
    for r in rows:
        t = totals.setdefault(r["id"], [0, 0, 0])
        t[0] += r["hashtag_count"]
        t[1] += r["text_count"]
        t[2] += r["tweet_count"]
    top = sorted(totals.items(), key=lambda kv: (-kv[1][2], kv[0]))[:limit]
    lines = ["| show | tweets | by hashtag | by text |", "|---|---:|---:|---:|"]
    lines += [f"| {names.get(i, i)} | {t[2]:,} | {t[0]:,} | {t[1]:,} |" for i, t in top]
    return "\n".join(lines)


@asset(
    key="tweet_stat",
    group_name=FACTS_GROUP,
    freshness_policy=DAILY_FRESHNESS,
    kinds={"spark", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["raw_tweets", "tvshows"],
    check_specs=[
        AssetCheckSpec(
            ONE_ROW_PER_TRACKED_SHOW,
            asset="tweet_stat",
            blocking=True,
            description="One row per show tracked that day, zeros included",
        ),
        AssetCheckSpec(UNIQUE_ID_DATE, asset="tweet_stat", blocking=True, description="(id, date) is unique"),
        AssetCheckSpec(
            COUNTS_CONSISTENT,
            asset="tweet_stat",
            blocking=True,
            description="max(hashtag, text) <= tweet <= hashtag + text",
        ),
    ],
)
def tweet_stat(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> MaterializeResult:
    """Daily posts per tracked show mentioning it by hashtag, by name or alias in the text, and either."""
    days = partition_days(context)
    shows_by_day = {
        day: tracked_from_tvshows(lake.read_table_partition("tvshows", day).to_pylist()) for day in days
    }
    listed = [o for prefix in prefixes_to_list(days) for o in lake.client.list(prefix)]
    keys = raw_keys_for_days(listed, days)
    context.log.info(f"Counting {len(days)} day(s) from {len(keys)} raw files")
    with lake.local_paths(keys) as paths:
        result = compute_tweet_stat(pyspark.spark_session, paths, shows_by_day)
        written = lake.write_daily_table(result.table, "tweet_stat", days)
    names = {s.id: s.name for shows in shows_by_day.values() for s in shows}
    tracked = {day: {s.id for s in shows} for day, shows in shows_by_day.items()}
    notices = {k: result.line_counts[k] for k in ("limit", "delete", "errors", "other")}
    per_day = ["| day | posts | duplicates dropped |", "|---|---:|---:|"] + [
        f"| {d} | {v['posts']:,} | {v['duplicates']:,} |" for d, v in result.per_day.items()
    ]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(result.rows),
            "files_read": result.files_read,
            "lines_read": sum(result.line_counts.values()),
            "posts_read": result.line_counts["post"],
            "posts_counted": sum(result.posts_in_days.values()),
            "duplicates_dropped": result.duplicates_dropped,
            "corrupt_lines": result.line_counts["corrupt"],
            "invalid_posts": result.line_counts["invalid_post"],
            "keepalives_skipped": result.line_counts["keepalive"],
            "notices_skipped": sum(notices.values()),
            "notices_by_kind": MetadataValue.json(notices),
            "per_day": MetadataValue.md("\n".join(per_day)),
            "top_shows": MetadataValue.md(_top_shows_md(result.rows, names)),
            "files": MetadataValue.json({d.isoformat(): k for d, k in written.items()}),
            "path": MetadataValue.path(lake.client.uri(layout.table_prefix("tweet_stat"))),
        },
        check_results=[
            checks.one_row_per_tracked_show(result.rows, tracked),
            checks.unique_id_date(result.rows),
            checks.counts_consistent(result.rows),
        ],
    )
