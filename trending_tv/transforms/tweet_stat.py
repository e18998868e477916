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
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
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
    local_path,
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
# Counts of one partition's distinct posts per (date, id), summed over the partitions by Spark.
_PARTIAL_COUNTS = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("id", T.LongType()),
        *[T.StructField(column, T.LongType()) for column in COUNT_COLUMNS],
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

    The files are read once, in one Spark job: the line counts by kind and the deliveries of each day's
    posts are observed on the way (`DataFrame.observe`), so nothing is cached, and each day's number of
    distinct posts comes out of the same aggregation as the counts (as the row of id 0, which no
    TMDB show has). `plan="exact"` skips the fast plan (the equivalence tests compare both); the
    result's `plan` says which plan counted.
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
    matched = posts.select("post_id", *ORDER_COLUMNS, "date", "text", "hashtags").mapInArrow(
        DeliveriesMatched(_matchers_by_day(shows_by_day)), _MATCHED_DELIVERIES
    )
    counts = _distinct_posts_counted(matched, ORDER_COLUMNS)
    metrics = observation.get
    line_counts = {kind: int(metrics[kind]) for kind in KINDS}
    delivered = {d: int(metrics[f"delivered_{d:%Y%m%d}"]) for d in days}
    return _counted(
        shows_by_day, line_counts, delivered, _counts_by_day_and_id(counts), len(raw_paths), plan=plan
    )


def _distinct_posts_counted(deliveries: DataFrame, order: Sequence[str]) -> list:
    """Per (date, id), over each post's first delivery in `order` (rule 3) among `deliveries` (post_id,
    *order, date, hashtag_ids, text_ids): posts by hashtag, by text and either; id 0's row is the day's
    number of distinct posts. Every delivery of a post lands in one partition, where Arrow keeps the
    first and counts; Spark sums the partitions' counts."""
    partial = deliveries.repartition("post_id").mapInArrow(FirstDeliveriesCounted(order), _PARTIAL_COUNTS)
    return (
        partial.groupBy("date", "id").agg(*[F.sum(c).cast("long").alias(c) for c in COUNT_COLUMNS]).collect()
    )


def _counts_by_day_and_id(counts: list) -> dict[tuple[date, int], tuple[int, int, int]]:
    return {(r["date"], r["id"]): tuple(r[c] for c in COUNT_COLUMNS) for r in counts}


_UNDECIDED = "undecided"
# Bytes of undecided lines each task brings back to the driver (a normal day leaves a few KB in all:
# notices, odd lines). Past it, the exact plan runs instead, so memory stays bounded on any input.
BRING_BACK_BYTES_PER_TASK = 1 << 20
# The fast plan's rows: a post of a counted day, a line left to Spark's parser, or a task's counts.
_POST, _SUMMARY = "post", "summary"
_CLASSIFIED = T.StructType(
    [
        T.StructField("kind", T.StringType()),  # _POST, _UNDECIDED or _SUMMARY
        T.StructField("post_id", T.StringType()),
        # Rule 3's order in this plan: the file's number in path order, then the line's in the file.
        T.StructField("file_number", T.LongType()),
        T.StructField("line_number", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("hashtag_ids", T.ArrayType(T.LongType())),
        T.StructField("text_ids", T.ArrayType(T.LongType())),
        T.StructField("value", T.BinaryType()),  # an undecided line's bytes
        # A summary's count of lines of kind `counted` (and posts delivered for `date` when "delivered").
        T.StructField("counted", T.StringType()),
        T.StructField("count", T.LongType()),
    ]
)
_DELIVERED, _NOT_BROUGHT_BACK = "delivered", "not_brought_back"
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
    kind = F.col("kind")
    observed = classified.observe(
        observation,
        F.collect_list(F.when(kind == _SUMMARY, F.struct("counted", "date", "count"))).alias("summaries"),
        F.collect_list(F.when(kind == _UNDECIDED, F.struct(*_LEFT_LINE_COLUMNS))).alias("left_lines"),
    )
    deliveries = observed.where(kind == _POST).select(
        "post_id", *_FILE_ORDER, "date", "hashtag_ids", "text_ids"
    )
    counts = _distinct_posts_counted(deliveries, _FILE_ORDER)
    metrics = observation.get
    totals: Counter[tuple[str, date | None]] = Counter()
    for counted, day, count in metrics["summaries"]:
        totals[(counted, day)] += count
    if totals[(_NOT_BROUGHT_BACK, None)]:
        undecided = totals[(_UNDECIDED, None)]
        return f"{undecided} lines left to Spark's parser, more than the fast plan brings back"
    line_counts = {k: totals[(k, None)] for k in KINDS}
    left = list(metrics["left_lines"])
    if left:
        left_counts, left_posts_in_days = _classify_left_lines(spark, left, paths, days)
        if left_posts_in_days:
            return f"{left_posts_in_days} post(s) of the counted days left to Spark's parser"
        for k, n in left_counts.items():
            line_counts[k] += n
    delivered = {d: totals[(_DELIVERED, d)] for d in days}
    result = _counted(shows_by_day, line_counts, delivered, _counts_by_day_and_id(counts), len(raw_paths))
    result.lines_parsed_by_spark = len(left)
    return result


def _task_slots(spark: SparkSession) -> int | None:
    """How many tasks a local session runs at once; None elsewhere: on a cluster the executors may not
    have registered yet when the plan is made (YARN's default parallelism is then 2), and a Spark
    Connect client has no SparkContext to ask."""
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect sessions have no SparkContext
        return None
    return context.defaultParallelism if context.master.startswith("local") else None


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
    local = local_path(path)
    try:
        return os.path.getsize(local) if local is not None else 1
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


_IDS = pa.list_(pa.int64())
_MATCHED_DELIVERIES = T.StructType(
    [
        T.StructField("post_id", T.StringType()),
        *[T.StructField(c, T.StringType() if c == "source_file" else T.LongType()) for c in ORDER_COLUMNS],
        T.StructField("date", T.DateType()),
        T.StructField("hashtag_ids", T.ArrayType(T.LongType())),
        T.StructField("text_ids", T.ArrayType(T.LongType())),
    ]
)
_MATCHED_DELIVERIES_ARROW = to_arrow_schema(_MATCHED_DELIVERIES)
_PARTIAL_COUNTS_ARROW = to_arrow_schema(_PARTIAL_COUNTS)


class DeliveriesMatched:
    """For `DataFrame.mapInArrow` over the exact plan's posts (post_id, *ORDER_COLUMNS, date, text,
    hashtags): each delivery matched with its day's matcher (rules 5 and 6), as (post_id, *ORDER_COLUMNS,
    date, hashtag_ids, text_ids); the first delivery is chosen after."""

    def __init__(self, matchers: Mapping[date, ShowMatcher]):
        self.matchers = dict(matchers)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            days, texts, tags = (batch.column(c).to_pylist() for c in ("date", "text", "hashtags"))
            found = [self.matchers[d].match(text, t) for d, text, t in zip(days, texts, tags, strict=True)]
            columns = [batch.column(c) for c in ("post_id", *ORDER_COLUMNS, "date")]
            columns += [pa.array([f[0] for f in found], _IDS), pa.array([f[1] for f in found], _IDS)]
            yield pa.RecordBatch.from_arrays(columns, schema=_MATCHED_DELIVERIES_ARROW)


def first_deliveries(deliveries: pa.Table, order: Sequence[str]) -> pa.Table:
    """Rule 3 on an Arrow table holding every delivery of its posts: each post_id's row with the least
    `order` (file order, then line order; strings compare as UTF-8 bytes, as Spark compares them)."""
    if deliveries.num_rows == 0:
        return deliveries
    ordered = deliveries.sort_by([("post_id", "ascending"), *[(c, "ascending") for c in order]])
    ids = ordered.column("post_id").combine_chunks()
    later = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))  # a row whose id differs from the last
    return ordered.filter(pa.concat_arrays([pa.array([True]), later]))


class FirstDeliveriesCounted:
    """For `DataFrame.mapInArrow` over matched deliveries partitioned by post id: keeps each post's first
    delivery in `order` (first_deliveries), then counts them per (date, id): by hashtag, by text,
    either, and under id 0 every post once. Vectorised in Arrow: no Python object per post."""

    def __init__(self, order: Sequence[str]):
        self.order = list(order)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = list(batches)
        if not batches:
            return
        kept = first_deliveries(pa.Table.from_batches(batches), self.order)
        if kept.num_rows == 0:
            return
        dates = kept.column("date").combine_chunks()
        hashtag, text = (kept.column(c).combine_chunks() for c in ("hashtag_ids", "text_ids"))
        by_hashtag = (pc.list_parent_indices(hashtag), pc.list_flatten(hashtag))
        by_text = (pc.list_parent_indices(text), pc.list_flatten(text))
        # Either: the distinct (post, id) pairs of both lists.
        either = (
            pa.table(
                {
                    "post": pa.concat_arrays([by_hashtag[0], by_text[0]]),
                    "id": pa.concat_arrays([by_hashtag[1], by_text[1]]),
                }
            )
            .group_by(["post", "id"])
            .aggregate([])
        )
        parts = [
            _counted_pairs(dates, *by_hashtag, "hashtag_count"),
            _counted_pairs(dates, *by_text, "text_count"),
            _counted_pairs(dates, either.column("post"), either.column("id"), "tweet_count"),
            # Every post once under id 0: the day's distinct posts.
            _counted_pairs(
                dates, pa.array(range(len(dates))), _constant(_POSTS_ROW, len(dates)), "tweet_count"
            ),
        ]
        yield from pa.concat_tables(parts).to_batches()


def _constant(value: int, length: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.int64()), length)


def _counted_pairs(dates: pa.Array, posts: pa.Array, ids: pa.Array, column: str) -> pa.Table:
    """Rows of _PARTIAL_COUNTS with `column` = how many (post, id) pairs fall on each (date, id)."""
    pairs = pa.table({"date": pc.take(dates, posts), "id": ids})
    counted = pairs.group_by(["date", "id"]).aggregate([([], "count_all")])
    count = counted.column("count_all")
    zeros = _constant(0, counted.num_rows)
    columns = {c: (count if c == column else zeros) for c in COUNT_COLUMNS}
    return pa.table(
        {"date": counted.column("date"), "id": counted.column("id"), **columns}, schema=_PARTIAL_COUNTS_ARROW
    )


_CLASSIFIED_ARROW = to_arrow_schema(_CLASSIFIED)


class FilesClassifiedMatched:
    """For `DataFrame.mapInArrow` over task numbers (`spark.range`, one per partition): reads the task's
    raw files itself (posts.raw_file_lines) and gives every line its kind as the decoder decides it, and for a
    post of a counted day its id, date and the shows it mentions (rules 2-6; each delivery is matched,
    the first is chosen after). Rule 3's order is (file number, line number in the file), as the text
    reader's (file, block, row). A line the decoder leaves comes back as `undecided` with its bytes, up
    to `bring_back_bytes` per task (past that it is only counted, and the driver runs the exact plan).
    Each task ends with one `summary` row per count: lines by kind, posts delivered by day.

    Reading in Python instead of through Spark's text reader saves handing every byte from the JVM to
    Python: the decoder reads the bytes anyway, and only one small row per post goes back."""

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
        self._room = self.bring_back_bytes
        counts: Counter[tuple[str, date | None]] = Counter()
        for batch in batches:
            for task in batch.column(0).to_pylist():
                for file_number, path in self.files_by_task[task]:
                    first_line = 0
                    for lines in raw_file_lines(path):
                        yield self._classified(lines, file_number, first_line, counts)
                        first_line += len(lines)
        summary = [{"kind": _SUMMARY, "counted": k, "date": d, "count": n} for (k, d), n in counts.items()]
        yield pa.RecordBatch.from_pylist(summary, schema=_CLASSIFIED_ARROW)

    def _classified(
        self, lines: list[bytes], file_number: int, first_line: int, counts: Counter
    ) -> pa.RecordBatch:
        """The rows of one chunk of a file's lines: its posts of the counted days and its undecided
        lines; every line is counted in `counts` by kind (and posts by day, as delivered)."""
        matchers = self.matchers
        rows = []  # (kind, post_id, line_number, date, hashtag_ids, text_ids, value)
        decisions = self.decoder.classify_lines(lines)
        for number, (value, decided) in enumerate(zip(lines, decisions, strict=True), first_line):
            if decided is None:
                counts[(_UNDECIDED, None)] += 1
                self._room -= len(value)
                if self._room >= 0:
                    rows.append((_UNDECIDED, None, number, None, None, None, value))
                else:
                    counts[(_NOT_BROUGHT_BACK, None)] += 1
                continue
            kind, post = decided
            counts[(kind, None)] += 1
            if post is None:
                continue
            day = post[1].date()  # created_at is in UTC
            matcher = matchers.get(day)
            if matcher is None:  # a post of another day, in a boundary hour
                continue
            counts[(_DELIVERED, day)] += 1
            hashtag_ids, text_ids = matcher.match(post[2], post[3])
            rows.append((_POST, post[0], number, day, hashtag_ids, text_ids, None))
        columns_of_rows = list(zip(*rows, strict=True)) or [()] * 7
        kinds, post_ids, line_numbers, days, hashtag_ids, text_ids, left = columns_of_rows
        count = len(rows)
        columns = [
            pa.array(kinds, pa.string()),
            pa.array(post_ids, pa.string()),
            _constant(file_number, count),
            pa.array(line_numbers, pa.int64()),
            pa.array(days, pa.date32()),
            pa.array(hashtag_ids, _IDS),
            pa.array(text_ids, _IDS),
            pa.array(left, pa.binary()),
            pa.nulls(count, pa.string()),
            pa.nulls(count, pa.int64()),
        ]
        return pa.RecordBatch.from_arrays(columns, schema=_CLASSIFIED_ARROW)


def _matchers_by_day(shows_by_day: Mapping[date, Sequence[TrackedShow]]) -> dict[date, ShowMatcher]:
    """One matcher per distinct tracked list, shared by the days that use it."""
    built: dict[tuple, ShowMatcher] = {}
    result = {}
    for day, shows in shows_by_day.items():
        terms = tuple(sorted((ShowTerms.from_tracked(s) for s in shows), key=lambda t: t.id))
        result[day] = built.setdefault(terms, ShowMatcher(terms))
    return result
