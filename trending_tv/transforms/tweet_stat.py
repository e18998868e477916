"""tweet_stat: per tracked show and UTC day, posts mentioning it by hashtag, by text, and either
(docs/design.md, "Counting rules for tweet_stat"). One Spark job for any range of days."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ingest_host import layout
from ingest_host.lake import LakeObject
from ingest_host.tracked_shows import TrackedShow
from trending_tv.transforms.matching import ShowMatcher, ShowTerms
from trending_tv.transforms.posts import KINDS, first_deliveries, parse_lines, read_raw_lines

TWEET_STAT_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("hashtag_count", T.LongType()),
        T.StructField("text_count", T.LongType()),
        T.StructField("tweet_count", T.LongType()),
    ]
)
COUNT_COLUMNS = ("hashtag_count", "text_count", "tweet_count")
_MATCHES = T.StructType(
    [
        T.StructField("hashtag_ids", T.ArrayType(T.LongType())),
        T.StructField("text_ids", T.ArrayType(T.LongType())),
    ]
)


def raw_keys_for_days(objects: Sequence[LakeObject], days: Sequence[date]) -> list[str]:
    """The hourly files to read for `days` (rule 1): each day's 24 hours plus, when they exist, hour
    23 of the day before and hour 00 of the day after. `objects` lists the candidate days' prefixes."""
    wanted_hours: set[str] = set()
    for day in days:
        start = datetime.combine(day, time(0))
        for offset in range(-1, 25):
            hour = start + timedelta(hours=offset)
            wanted_hours.add(f"{layout.TWEET_RAW}/{hour:%Y/%m/%d/%H}/")
    return sorted(
        o.key
        for o in objects
        if o.key.rsplit("/", 1)[0] + "/" in wanted_hours
        and o.key.endswith((".json", ".json.gz"))
        and o.size > 0
    )


def prefixes_to_list(days: Sequence[date]) -> list[str]:
    """Day prefixes covering `days` and their neighbours (for the boundary hours)."""
    all_days = sorted({d + timedelta(days=k) for d in days for k in (-1, 0, 1)})
    return [layout.tweet_day_prefix(d) for d in all_days]


@dataclass
class TweetStatResult:
    table: DataFrame  # TWEET_STAT_SCHEMA, one row per tracked show per day
    rows: list[dict]  # the same rows, collected (small: shows x days)
    line_counts: dict[str, int]  # by kind, over every file read
    posts_in_days: dict[date, int]  # distinct posts dated on each day
    duplicates_dropped: int  # repeated deliveries of posts dated on the days
    files_read: int = 0
    per_day: dict[date, dict[str, int]] = field(default_factory=dict)


def compute_tweet_stat(
    spark: SparkSession,
    raw_paths: Sequence[str],
    shows_by_day: Mapping[date, Sequence[TrackedShow]],
) -> TweetStatResult:
    """Count mentions for every day in `shows_by_day` from the given raw files.

    The parsed posts are cached once and used for the line counts and the table, so the raw files
    are read once per run whatever the number of days.
    """
    days = sorted(shows_by_day)
    if not days:
        raise ValueError("compute_tweet_stat needs at least one day")
    parsed = parse_lines(read_raw_lines(spark, list(raw_paths))).cache()
    try:
        # Action 1: lines by kind, and deliveries of posts by date.
        line_counts = dict.fromkeys(KINDS, 0)
        delivered: dict[date, int] = {}
        for r in parsed.groupBy("kind", "date").count().collect():
            line_counts[r["kind"]] += r["count"]
            if r["kind"] == "post" and r["date"] in shows_by_day:
                delivered[r["date"]] = r["count"]

        day_set = F.array(*[F.lit(d) for d in days])
        posts = parsed.where((F.col("kind") == "post") & F.array_contains(day_set, F.col("date")))
        matchers = _matchers_by_day(shows_by_day)
        match_udf = F.udf(lambda day, text, tags: matchers[day].match(text, tags), _MATCHES, useArrow=True)
        matched = (
            first_deliveries(posts).select("date", match_udf("date", "text", "hashtags").alias("m")).cache()
        )
        counts = (
            matched.select(
                "date",
                F.explode(F.array_union(F.col("m.hashtag_ids"), F.col("m.text_ids"))).alias("id"),
                "m.hashtag_ids",
                "m.text_ids",
            )
            .groupBy("date", "id")
            .agg(
                F.count_if(F.array_contains("hashtag_ids", F.col("id"))).alias("hashtag_count"),
                F.count_if(F.array_contains("text_ids", F.col("id"))).alias("text_count"),
                F.count("*").alias("tweet_count"),
            )
        )
        posts_per_day = matched.groupBy("date").agg(F.count("*").alias("posts_that_day"))
        tracked = spark.createDataFrame(
            [(show.id, day) for day in days for show in shows_by_day[day]], "id long, date date"
        )
        zero = F.lit(0).cast("long")
        # Action 2: the table, with each day's number of distinct posts riding along.
        collected = (
            tracked.join(counts, ["date", "id"], "left")
            .join(posts_per_day, ["date"], "left")
            .select(
                "id",
                "date",
                *[F.coalesce(F.col(c).cast("long"), zero).alias(c) for c in COUNT_COLUMNS],
                F.coalesce("posts_that_day", zero).alias("posts_that_day"),
            )
            .orderBy("date", "id")
            .collect()
        )
        matched.unpersist()
    finally:
        parsed.unpersist()
    posts_in_days = dict.fromkeys(days, 0)
    rows = []
    for r in collected:
        posts_in_days[r["date"]] = r["posts_that_day"]
        rows.append({k: r[k] for k in ("id", "date", *COUNT_COLUMNS)})
    # The table is small (shows x days): built from collected rows it carries the exact schema.
    table = spark.createDataFrame([tuple(r.values()) for r in rows], TWEET_STAT_SCHEMA)
    return TweetStatResult(
        table=table,
        rows=rows,
        line_counts=line_counts,
        posts_in_days=posts_in_days,
        duplicates_dropped=sum(delivered.values()) - sum(posts_in_days.values()),
        files_read=len(raw_paths),
        per_day={
            d: {"posts": posts_in_days[d], "duplicates": delivered.get(d, 0) - posts_in_days[d]} for d in days
        },
    )


def _matchers_by_day(shows_by_day: Mapping[date, Sequence[TrackedShow]]) -> dict[date, ShowMatcher]:
    """One matcher per distinct tracked list, shared by the days that use it."""
    built: dict[tuple, ShowMatcher] = {}
    result = {}
    for day, shows in shows_by_day.items():
        terms = tuple(sorted((ShowTerms.from_tracked(s) for s in shows), key=lambda t: t.id))
        result[day] = built.setdefault(terms, ShowMatcher(terms))
    return result
