"""tweet_stat: per tracked show and UTC day, posts mentioning it by hashtag, by text, and either
(docs/design.md, "Counting rules for tweet_stat"). One Spark job for any range of days.

Two plans give the same table. The fast one (always tried first) classifies, decodes and matches every
line in Python (post_decoder.PostDecoder.classify) and brings back the few lines whose kind only
Spark's JSON parser can tell; those are classified by Spark afterwards. The exact one
(`posts.parse_lines`) parses in Spark every line the decoder does not decide; it runs instead when a
post of the counted days is among the lines left to Spark (its first delivery would have to be
compared with the decoded ones) or when a task leaves more lines than it brings back.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import unquote, urlparse

import pyarrow as pa
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from ingest_host import layout
from ingest_host.lake import LakeObject
from ingest_host.tracked_shows import TrackedShow
from trending_tv.transforms.matching import ShowMatcher, ShowTerms
from trending_tv.transforms.post_decoder import PostDecoder
from trending_tv.transforms.posts import (
    KINDS,
    ORDER_COLUMNS,
    RAW_LINE,
    parse_lines,
    raw_file_lines,
    read_raw_lines,
)

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
    lines_parsed_by_spark: int = 0  # lines whose kind only Spark's JSON parser could tell
    plan: str = "fast"  # "fast", or "exact" and why (see the module's docstring)

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
    *,
    plan: str = "fast",
) -> TweetStatResult:
    """Count mentions for every day in `shows_by_day` from the given raw files.

    One Spark job reads the files once: the line counts by kind and the deliveries of each day's posts
    are observed on the way (`DataFrame.observe`), so nothing is cached, and each day's number of
    distinct posts comes out of the same aggregation as the counts (as the row of id 0, which no
    TMDB show has). `plan="exact"` skips the fast plan (the equivalence tests compare both).
    """
    days = sorted(shows_by_day)
    if not days:
        raise ValueError("compute_tweet_stat needs at least one day")
    if not raw_paths:  # nothing to read (an empty plan would never report its observed metrics)
        return _counted(shows_by_day, dict.fromkeys(KINDS, 0), dict.fromkeys(days, 0), {}, 0)
    if plan == "fast":
        result = _compute_fast(spark, raw_paths, shows_by_day)
        if isinstance(result, TweetStatResult):
            return result
        plan = f"exact: {result}"
    elif plan != "exact":
        raise ValueError(f"plan is 'fast' or 'exact', not {plan!r}")
    return _compute_exact(spark, raw_paths, shows_by_day, plan)


def _compute_exact(
    spark: SparkSession,
    raw_paths: Sequence[str],
    shows_by_day: Mapping[date, Sequence[TrackedShow]],
    plan: str,
) -> TweetStatResult:
    """The plan where Spark parses every line the decoder does not decide (posts.parse_lines)."""
    days = sorted(shows_by_day)
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
    counts = _distinct_posts_counted(matched)
    metrics = observation.get
    line_counts = {kind: int(metrics[kind]) for kind in KINDS}
    delivered = {d: int(metrics[f"delivered_{d:%Y%m%d}"]) for d in days}
    return _counted(
        shows_by_day, line_counts, delivered, _counts_by_day_and_id(counts), len(raw_paths), plan=plan
    )


def _distinct_posts_counted(matched: DataFrame) -> list:
    """Per (date, id) over one row per distinct post (date, hashtag_ids, text_ids): posts by hashtag, by
    text and either; every post also counts once under id 0, whose row is the day's distinct posts."""
    hashtag_ids, text_ids = F.col("hashtag_ids"), F.col("text_ids")
    ids = F.array_union(F.array(F.lit(_POSTS_ROW).cast("long")), F.array_union(hashtag_ids, text_ids))
    return (
        matched.select("date", F.explode(ids).alias("id"), hashtag_ids.alias("h"), text_ids.alias("t"))
        .groupBy("date", "id")
        .agg(
            F.count_if(F.array_contains("h", F.col("id"))).alias("hashtag_count"),
            F.count_if(F.array_contains("t", F.col("id"))).alias("text_count"),
            F.count("*").alias("tweet_count"),
        )
        .collect()
    )


def _counts_by_day_and_id(counts: list) -> dict[tuple[date, int], tuple[int, int, int]]:
    return {(r["date"], r["id"]): tuple(r[c] for c in COUNT_COLUMNS) for r in counts}


_UNDECIDED = "undecided"
# Bytes of undecided lines each task brings back to the driver (a normal day leaves a few KB in all:
# notices, odd lines). Past it, the exact plan runs instead, so memory stays bounded on any input.
BRING_BACK_BYTES_PER_TASK = 1 << 20
_CLASSIFIED = T.StructType(
    [
        T.StructField("kind", T.StringType()),
        T.StructField("post_id", T.StringType()),
        # Rule 3's order in this plan: the file's number in path order, then the line's in the file.
        T.StructField("file_number", T.LongType()),
        T.StructField("line_number", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("hashtag_ids", T.ArrayType(T.LongType())),
        T.StructField("text_ids", T.ArrayType(T.LongType())),
        T.StructField("value", T.BinaryType()),  # the undecided lines brought back, else null
    ]
)
_FILE_ORDER = ("file_number", "line_number")
_LEFT_LINE_COLUMNS = ("value", *_FILE_ORDER)


def _compute_fast(
    spark: SparkSession, raw_paths: Sequence[str], shows_by_day: Mapping[date, Sequence[TrackedShow]]
) -> TweetStatResult | str:
    """The fast plan, or why the exact one must run instead."""
    days = sorted(shows_by_day)
    paths = sorted(raw_paths)
    slots = _task_slots(spark)
    files_by_task = _files_by_task(paths, slots and slots * 2)
    classify = FilesClassifiedMatched(
        files_by_task, _matchers_by_day(shows_by_day), BRING_BACK_BYTES_PER_TASK
    )
    # One row per task, each in its own partition: the task's number.
    tasks = len(files_by_task)
    classified = spark.range(0, tasks, 1, tasks).mapInArrow(classify, _CLASSIFIED)
    observation = Observation("tweet_stat_lines")
    kind, is_post = F.col("kind"), F.col("kind") == "post"
    undecided = kind == _UNDECIDED
    observed = classified.observe(
        observation,
        *[F.count_if(kind == k).alias(k) for k in (*KINDS, _UNDECIDED)],
        F.count_if(undecided & F.col("value").isNull()).alias("not_brought_back"),
        F.collect_list(F.when(undecided, F.struct(*_LEFT_LINE_COLUMNS))).alias("left_lines"),
        *[F.count_if(is_post & (F.col("date") == F.lit(d))).alias(f"delivered_{d:%Y%m%d}") for d in days],
    )
    posts = observed.where(is_post & F.array_contains(F.array(*[F.lit(d) for d in days]), F.col("date")))
    # Every delivery of a post lands in the same partition, where Python keeps the first.
    first = (
        posts.select("post_id", *_FILE_ORDER, "date", "hashtag_ids", "text_ids")
        .repartition("post_id")
        .mapInArrow(FirstDeliveries(), _MATCHED)
    )
    counts = _distinct_posts_counted(first)
    metrics = observation.get
    if metrics["not_brought_back"]:
        return f"{metrics[_UNDECIDED]} lines left to Spark's parser, more than the fast plan brings back"
    line_counts = {k: int(metrics[k]) for k in KINDS}
    left = [r for r in metrics["left_lines"] if r is not None]
    if left:
        left_counts, left_posts_in_days = _classify_left_lines(spark, left, paths, days)
        if left_posts_in_days:
            return f"{left_posts_in_days} post(s) of the counted days left to Spark's parser"
        for k, n in left_counts.items():
            line_counts[k] += n
    delivered = {d: int(metrics[f"delivered_{d:%Y%m%d}"]) for d in days}
    result = _counted(shows_by_day, line_counts, delivered, _counts_by_day_and_id(counts), len(raw_paths))
    result.lines_parsed_by_spark = len(left)
    return result


def _task_slots(spark: SparkSession) -> int | None:
    """How many tasks the session runs at once; None where the client cannot tell (Spark Connect)."""
    try:
        return spark.sparkContext.defaultParallelism
    except Exception:  # Spark Connect sessions have no SparkContext
        return None


def _files_by_task(paths: Sequence[str], tasks: int | None) -> list[list[tuple[int, str]]]:
    """The files each task reads, as (number in `paths`, path): all of them spread over `tasks` (one
    per file when None), the largest first, each to the task with the fewest bytes so far. A Python
    task costs tens of milliseconds before it reads a byte, so a local run gives each core two tasks,
    not one per file."""
    numbered = list(enumerate(paths))
    if tasks is None or tasks >= len(paths):
        return [[file] for file in numbered]
    sizes = [_local_size(path) for path in paths]
    loads: list[tuple[int, int]] = [(0, task) for task in range(tasks)]  # (bytes, task), a min-heap
    assigned: list[list[tuple[int, str]]] = [[] for _ in range(tasks)]
    for number, path in sorted(numbered, key=lambda file: -sizes[file[0]]):
        load, task = heapq.heappop(loads)
        assigned[task].append((number, path))
        heapq.heappush(loads, (load + sizes[number], task))
    return [sorted(files) for files in assigned if files]


def _local_size(path: str) -> int:
    """A local file's size; 1 for a file elsewhere (S3 files are spread by count)."""
    if path.startswith("s3"):
        return 1
    local = unquote(urlparse(path).path) if path.startswith("file:") else path
    try:
        return os.path.getsize(local)
    except OSError:
        return 1


def _classify_left_lines(
    spark: SparkSession, left: list, paths: Sequence[str], days: Sequence[date]
) -> tuple[dict[str, int], int]:
    """Spark's kinds of the lines the decoder left, and how many of them are posts of `days`."""
    schema = "value binary, source_file string, block_start long, row_in_partition long"
    rows = [(bytes(value), paths[file_number], 0, line_number) for value, file_number, line_number in left]
    lines = spark.createDataFrame(rows, schema).withColumn("value", F.col("value").cast("string"))
    parsed = parse_lines(lines, decide_posts_in_python=False).select("kind", "date").collect()
    counts, counted_days = dict.fromkeys(KINDS, 0), set(days)
    for row in parsed:
        counts[row["kind"]] += 1
    return counts, sum(1 for row in parsed if row["kind"] == "post" and row["date"] in counted_days)


def _counted(
    shows_by_day: Mapping[date, Sequence[TrackedShow]],
    line_counts: dict[str, int],
    delivered: dict[date, int],
    found: dict[tuple[date, int], tuple[int, int, int]],
    files_read: int,
    plan: str = "fast",
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
        plan=plan,
    )


_DELIVERY_COLUMNS = ("post_id", *ORDER_COLUMNS, "date", "text", "hashtags")


def keep_first_deliveries(
    deliveries: Iterable[Sequence],
    first: dict[str, tuple] | None = None,
    order_columns: int = len(ORDER_COLUMNS),
) -> dict[str, tuple]:
    """Rule 3 over rows (post_id, *order, *content), the order being (source_file, block_start,
    row_in_partition) unless `order_columns` says otherwise: each post's least delivery, as
    {post_id: (order, *content)}. Adds to `first` when given (a partition arriving in batches)."""
    first = {} if first is None else first
    for post_id, *delivery in deliveries:
        order = tuple(delivery[:order_columns])
        kept = first.get(post_id)
        if kept is None or order < kept[0]:
            first[post_id] = (order, *delivery[order_columns:])
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
_CLASSIFIED_ARROW = to_arrow_schema(_CLASSIFIED)


class FirstDeliveries:
    """For `DataFrame.mapInArrow` over matched deliveries (post_id, file_number, line_number, date,
    hashtag_ids, text_ids) partitioned by post id: each post's first delivery (rule 3, as in
    FirstDeliveriesMatched), as (date, hashtag_ids, text_ids)."""

    _COLUMNS = ("post_id", *_FILE_ORDER, "date", "hashtag_ids", "text_ids")

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        first: dict[str, tuple] = {}
        for batch in batches:
            columns = (batch.column(name).to_pylist() for name in self._COLUMNS)
            keep_first_deliveries(zip(*columns, strict=True), first, order_columns=len(_FILE_ORDER))
        kept = list(first.values())
        if kept:
            _, days, hashtag_ids, text_ids = zip(*kept, strict=True)
            yield pa.RecordBatch.from_arrays(
                [pa.array(days, pa.date32()), pa.array(hashtag_ids, _IDS), pa.array(text_ids, _IDS)],
                schema=MATCHED_ARROW,
            )


_IDS = pa.list_(pa.int64())


class FilesClassifiedMatched:
    """For `DataFrame.mapInArrow` over task numbers (`spark.range`, one per partition): reads the task's
    raw files itself (posts.raw_file_lines) and gives every line its kind as the decoder decides it, and for a
    post of a counted day its id, date and the shows it mentions (rules 2-6; each delivery is matched,
    the first is chosen after). Line order is (file, 0, line number in the file), like the text
    reader's (file, block, row). A line the decoder leaves is `undecided` and its bytes come back, up
    to `bring_back_bytes` per task (then null: the driver runs the exact plan).

    Reading in Python instead of through Spark's text reader saves handing every byte from the JVM to
    Python: the decoder reads the bytes anyway, and only one small row per line goes back."""

    def __init__(
        self,
        files_by_task: Sequence[Sequence[tuple[int, str]]],
        matchers: Mapping[date, ShowMatcher],
        bring_back_bytes: int,
    ):
        self.files_by_task = [list(files) for files in files_by_task]
        self.matchers = dict(matchers)
        self.bring_back_bytes = bring_back_bytes
        self.decoder = PostDecoder(RAW_LINE)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        room = self.bring_back_bytes
        for batch in batches:
            for task in batch.column(0).to_pylist():
                for file_number, path in self.files_by_task[task]:
                    first_line = 0
                    for lines in raw_file_lines(path):
                        classified, room = self._classified(lines, file_number, first_line, room)
                        first_line += len(lines)
                        yield classified

    def _classified(
        self, lines: list[bytes], file_number: int, first_line: int, room: int
    ) -> tuple[pa.RecordBatch, int]:
        matchers = self.matchers
        kinds, post_ids, days, hashtag_ids, text_ids, left = [], [], [], [], [], []
        for value, decided in zip(lines, self.decoder.classify_lines(lines), strict=True):
            post = day = found = None
            if decided is None:
                kinds.append(_UNDECIDED)
                room -= len(value)
                left.append(value if room >= 0 else None)
            else:
                kinds.append(decided[0])
                left.append(None)
                post = decided[1]
                if post is not None:
                    day = post[1].date()  # created_at is in UTC
                    matcher = matchers.get(day)
                    found = matcher.match(post[2], post[3]) if matcher is not None else None
            post_ids.append(post[0] if post is not None else None)
            days.append(day)
            hashtag_ids.append(found[0] if found is not None else None)
            text_ids.append(found[1] if found is not None else None)
        count = len(lines)
        columns = [
            pa.array(kinds, pa.string()),
            pa.array(post_ids, pa.string()),
            pa.repeat(pa.scalar(file_number, pa.int64()), count),
            pa.array(range(first_line, first_line + count), pa.int64()),
            pa.array(days, pa.date32()),
            pa.array(hashtag_ids, _IDS),
            pa.array(text_ids, _IDS),
            pa.array(left, pa.binary()),
        ]
        return pa.RecordBatch.from_arrays(columns, schema=_CLASSIFIED_ARROW), room


def _matchers_by_day(shows_by_day: Mapping[date, Sequence[TrackedShow]]) -> dict[date, ShowMatcher]:
    """One matcher per distinct tracked list, shared by the days that use it."""
    built: dict[tuple, ShowMatcher] = {}
    result = {}
    for day, shows in shows_by_day.items():
        terms = tuple(sorted((ShowTerms.from_tracked(s) for s in shows), key=lambda t: t.id))
        result[day] = built.setdefault(terms, ShowMatcher(terms))
    return result
