"""tweet_stat: per tracked show and UTC day, posts mentioning it by hashtag, by text, and either
(docs/design.md, "Counting rules for tweet_stat"). One Spark job for any range of days."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pyarrow as pa
from pyspark.sql import Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from ingest_host import layout
from ingest_host.lake import LakeObject
from ingest_host.tracked_shows import TrackedShow
from trending_tv.transforms.matching import ShowMatcher, ShowTerms
from trending_tv.transforms.posts import KINDS, ORDER_COLUMNS, parse_lines, read_raw_lines

TWEET_STAT_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("hashtag_count", T.LongType()),
        T.StructField("text_count", T.LongType()),
        T.StructField("tweet_count", T.LongType()),
    ]
)
TWEET_STAT_ARROW_SCHEMA = to_arrow_schema(TWEET_STAT_SCHEMA)
COUNT_COLUMNS = ("hashtag_count", "text_count", "tweet_count")
# The id under which each day's distinct posts are counted in the one aggregation (TMDB ids start at 1).
_POSTS_ROW = 0
_MATCHED = T.StructType(
    [
        T.StructField("date", T.DateType()),
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
    rows: list[dict]  # TWEET_STAT_SCHEMA, one row per tracked show per day (small: shows x days)
    line_counts: dict[str, int]  # by kind, over every file read
    posts_in_days: dict[date, int]  # distinct posts dated on each day
    duplicates_dropped: int  # repeated deliveries of posts dated on the days
    files_read: int = 0
    per_day: dict[date, dict[str, int]] = field(default_factory=dict)

    def tables_by_day(self) -> dict[date, pa.Table]:
        """The rows as one Arrow table per day, in TWEET_STAT_SCHEMA, ordered by show id: the table
        is collected already, so it is written without another Spark job."""
        by_day: dict[date, list[dict]] = {day: [] for day in self.per_day}
        for row in self.rows:
            by_day[row["date"]].append(row)
        return {
            day: pa.Table.from_pylist(rows, schema=TWEET_STAT_ARROW_SCHEMA) for day, rows in by_day.items()
        }


def compute_tweet_stat(
    spark: SparkSession,
    raw_paths: Sequence[str],
    shows_by_day: Mapping[date, Sequence[TrackedShow]],
) -> TweetStatResult:
    """Count mentions for every day in `shows_by_day` from the given raw files.

    One Spark job reads the files once: the line counts by kind and the deliveries of each day's posts
    are observed on the way (`DataFrame.observe`), so nothing is cached, and each day's number of
    distinct posts comes out of the same aggregation as the counts (as the row of id 0, which no
    TMDB show has).
    """
    days = sorted(shows_by_day)
    if not days:
        raise ValueError("compute_tweet_stat needs at least one day")
    if not raw_paths:  # nothing to read (an empty plan would never report its observed metrics)
        return _counted(shows_by_day, dict.fromkeys(KINDS, 0), dict.fromkeys(days, 0), {}, 0)
    parsed = parse_lines(read_raw_lines(spark, list(raw_paths)))
    observation = Observation("tweet_stat_lines")
    is_post = F.col("kind") == "post"
    observed = parsed.observe(
        observation,
        *[F.count_if(F.col("kind") == kind).alias(kind) for kind in KINDS],
        *[F.count_if(is_post & (F.col("date") == F.lit(d))).alias(f"delivered_{d:%Y%m%d}") for d in days],
    )
    day_set = F.array(*[F.lit(d) for d in days])
    posts = observed.where(is_post & F.array_contains(day_set, F.col("date")))
    # Every delivery of a post lands in the same partition; Python keeps the first and matches it.
    matched = (
        posts.select(*_DELIVERY_COLUMNS)
        .repartition("post_id")
        .mapInArrow(FirstDeliveriesMatched(_matchers_by_day(shows_by_day)), _MATCHED)
    )
    hashtag_ids, text_ids = F.col("hashtag_ids"), F.col("text_ids")
    # Every post also counts once under id 0: that row is the day's number of distinct posts.
    ids = F.array_union(F.array(F.lit(_POSTS_ROW).cast("long")), F.array_union(hashtag_ids, text_ids))
    counts = (
        matched.select("date", F.explode(ids).alias("id"), hashtag_ids.alias("h"), text_ids.alias("t"))
        .groupBy("date", "id")
        .agg(
            F.count_if(F.array_contains("h", F.col("id"))).alias("hashtag_count"),
            F.count_if(F.array_contains("t", F.col("id"))).alias("text_count"),
            F.count("*").alias("tweet_count"),
        )
        .collect()
    )
    metrics = observation.get
    line_counts = {kind: int(metrics[kind]) for kind in KINDS}
    delivered = {d: int(metrics[f"delivered_{d:%Y%m%d}"]) for d in days}
    found = {(r["date"], r["id"]): tuple(r[c] for c in COUNT_COLUMNS) for r in counts}
    return _counted(shows_by_day, line_counts, delivered, found, len(raw_paths))


def _counted(
    shows_by_day: Mapping[date, Sequence[TrackedShow]],
    line_counts: dict[str, int],
    delivered: dict[date, int],
    found: dict[tuple[date, int], tuple[int, int, int]],
    files_read: int,
) -> TweetStatResult:
    """The result from the collected counts: every tracked show of every day, zeros included."""
    days = sorted(shows_by_day)
    posts_in_days = {d: found.get((d, _POSTS_ROW), (0, 0, 0))[2] for d in days}
    rows = [
        {
            "id": show_id,
            "date": day,
            **dict(zip(COUNT_COLUMNS, found.get((day, show_id), (0, 0, 0)), strict=True)),
        }
        for day in days
        # One row per entry as listed: a repeated id stays visible to the unique_id_date check.
        for show_id in sorted(show.id for show in shows_by_day[day])
    ]
    return TweetStatResult(
        rows=rows,
        line_counts=line_counts,
        posts_in_days=posts_in_days,
        duplicates_dropped=sum(delivered.values()) - sum(posts_in_days.values()),
        files_read=files_read,
        per_day={d: {"posts": posts_in_days[d], "duplicates": delivered[d] - posts_in_days[d]} for d in days},
    )


_DELIVERY_COLUMNS = ("post_id", *ORDER_COLUMNS, "date", "text", "hashtags")


def keep_first_deliveries(
    deliveries: Iterable[Sequence], first: dict[str, tuple] | None = None
) -> dict[str, tuple]:
    """Rule 3 over rows (post_id, source_file, block_start, row_in_partition, *content): each post's least
    (file, block, line) delivery, as {post_id: (order, *content)}. Adds to `first` when given (a
    partition arriving in batches)."""
    first = {} if first is None else first
    for post_id, *delivery in deliveries:
        order = tuple(delivery[: len(ORDER_COLUMNS)])
        kept = first.get(post_id)
        if kept is None or order < kept[0]:
            first[post_id] = (order, *delivery[len(ORDER_COLUMNS) :])
    return first


class FirstDeliveriesMatched:
    """For `DataFrame.mapInArrow` over posts partitioned by post id: keeps each post's first delivery in
    file order, then line order (rule 3: the least (source_file, block_start, row_in_partition), as
    Spark orders them: UTF-8 bytes and code points sort alike), then matches it with its day's
    matcher (rules 5 and 6). Yields (date, hashtag_ids, text_ids), one row per distinct post.

    A hash partition of the posts and a dict replace a sort-based aggregation in the JVM (the kept
    content is text, which Spark's hash aggregation cannot hold) and a second pass over the rows."""

    def __init__(self, matchers: Mapping[date, ShowMatcher], chunk_rows: int = 2000):
        self.matchers = dict(matchers)
        self.chunk_rows = chunk_rows

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        first: dict[str, tuple] = {}
        for batch in batches:
            columns = (batch.column(name).to_pylist() for name in _DELIVERY_COLUMNS)
            keep_first_deliveries(zip(*columns, strict=True), first)
        kept_posts = list(first.values())
        ids = pa.list_(pa.int64())
        for start in range(0, len(kept_posts), self.chunk_rows):
            chunk = kept_posts[start : start + self.chunk_rows]
            found = [self.matchers[day].match(text, tags) for _, day, text, tags in chunk]
            columns = [
                pa.array([day for _, day, _, _ in chunk], pa.date32()),
                pa.array([f[0] for f in found], ids),
                pa.array([f[1] for f in found], ids),
            ]
            yield pa.RecordBatch.from_arrays(columns, schema=MATCHED_ARROW)


MATCHED_ARROW = to_arrow_schema(_MATCHED)


def _matchers_by_day(shows_by_day: Mapping[date, Sequence[TrackedShow]]) -> dict[date, ShowMatcher]:
    """One matcher per distinct tracked list, shared by the days that use it."""
    built: dict[tuple, ShowMatcher] = {}
    result = {}
    for day, shows in shows_by_day.items():
        terms = tuple(sorted((ShowTerms.from_tracked(s) for s in shows), key=lambda t: t.id))
        result[day] = built.setdefault(terms, ShowMatcher(terms))
    return result
