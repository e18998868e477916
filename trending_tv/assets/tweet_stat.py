"""tweet_stat, the daily post counts per tracked show, computed with PySpark, and its check against
tvshows."""

from collections.abc import Iterator
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
from trending_tv.assets.integrity import ids_in_parent_check
from trending_tv.assets.metadata import column_schema, table
from trending_tv.constants import COUNTS_CONSISTENT, FACTS_GROUP, IDS_IN_TVSHOWS, ONE_ROW_PER_TRACKED_SHOW
from trending_tv.freshness import DAILY_FRESHNESS
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.columns import COLUMN_DESCRIPTIONS
from trending_tv.transforms.posts import NOTICE_KINDS
from trending_tv.transforms.tmdb import tracked_from_tvshows
from trending_tv.transforms.tweet_stat import (
    TWEET_STAT_SCHEMA,
    compute_tweet_stat,
    prefixes_to_list,
    raw_keys_for_days,
)


def _top_shows(rows: list[dict], names: dict[int, str], limit: int = 10) -> list[dict]:
    totals: dict[int, dict] = {}
    for r in rows:
        total = totals.setdefault(
            r["id"], {"show": names.get(r["id"], str(r["id"])), "tweets": 0, "by_hashtag": 0, "by_text": 0}
        )
        total["tweets"] += r["tweet_count"]
        total["by_hashtag"] += r["hashtag_count"]
        total["by_text"] += r["text_count"]
    return [t for _, t in sorted(totals.items(), key=lambda kv: (-kv[1]["tweets"], kv[0]))][:limit]


@daily_asset(
    group_name=FACTS_GROUP,
    kinds=SPARK_TABLE,
    freshness_policy=DAILY_FRESHNESS,
    deps=["raw_tweets", "tvshows"],
    metadata={"dagster/column_schema": column_schema(TWEET_STAT_SCHEMA, COLUMN_DESCRIPTIONS["tweet_stat"])},
    checks=[
        Check(ONE_ROW_PER_TRACKED_SHOW, "One row per show tracked that day, zeros included"),
        UNIQUE_ID_DATE_CHECK,
        Check(COUNTS_CONSISTENT, "max(hashtag, text) <= tweet <= hashtag + text"),
    ],
)
def tweet_stat(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> Iterator[MaterializeResult | AssetCheckResult]:
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
    names = {s.id: s.name for shows in shows_by_day.values() for s in shows}
    tracked = {day: {s.id for s in shows} for day, shows in shows_by_day.items()}
    notices = {k: result.line_counts[k] for k in NOTICE_KINDS}
    per_day = [
        {"day": d, "posts": v["posts"], "duplicates_dropped": v["duplicates"]}
        for d, v in result.per_day.items()
    ]
    with lake.stage_daily_arrow(result.tables_by_day(), "tweet_stat") as staged:
        rows = staged.rows()
        materialized = MaterializeResult(
            metadata={
                "dagster/row_count": len(rows),
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
                # Which plan counted (docs/design.md, "How tweet_stat runs"), and how many lines only
                # Spark's JSON parser could classify.
                "plan": result.plan,
                "lines_parsed_by_spark": result.lines_parsed_by_spark,
                "per_day": table(per_day, {"day": "date", "posts": "int", "duplicates_dropped": "int"}),
                "top_shows": table(
                    _top_shows(rows, names),
                    {"show": "string", "tweets": "int", "by_hashtag": "int", "by_text": "int"},
                ),
            },
            check_results=[
                checks.one_row_per_tracked_show(rows, tracked),
                checks.unique_id_date(rows),
                checks.counts_consistent(rows),
            ],
        )
        yield from publish(context, staged, materialized)


tweet_stat_ids_in_tvshows = ids_in_parent_check("tweet_stat", "id", "tvshows", IDS_IN_TVSHOWS, blocking=True)
