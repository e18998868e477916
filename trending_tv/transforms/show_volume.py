"""show_volume: exact X post volumes per tracked show and UTC day, from one day's `counts_raw` lines.

Each counts_raw line is one show and one query kind (`hashtags`: its hashtags; `text`: its name and
aliases as exact phrases; `any`: either), holding every response of `GET /2/tweets/counts/recent`
as received (hour buckets, one or more pages, and one or more disjoint query parts whose counts
add up exactly). A show's row: hashtag_posts, text_posts and posts (the `any` query), each with its
24-hour series. Pure Python on plain data (no Spark, no Dagster): the wiring stays thin.

Also here: the day's coverage (which shows, queries and hours are present) and a drift comparison
of the sampled tweet_stat's shares with the exact volumes' shares, which flags a show whose sample
drifts (a broken rule, a hashtag X tokenises differently). The table's checks are trending_tv.checks'
(one row per tracked show, (id, date) unique, max(h, t) <= posts <= h + t, hours complete).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

# The table as written (pyarrow, no Spark: a day is 160 rows) and what each column means
ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64()),
        pa.field("date", pa.date32()),
        pa.field("hashtag_posts", pa.int64()),
        pa.field("text_posts", pa.int64()),
        pa.field("posts", pa.int64()),
        pa.field("hashtag_hourly", pa.list_(pa.int64())),
        pa.field("text_hourly", pa.list_(pa.int64())),
        pa.field("posts_hourly", pa.list_(pa.int64())),
    ]
)
COLUMN_DESCRIPTIONS = {
    "id": "TMDB id of the tracked show",
    "date": "UTC day",
    "hashtag_posts": "posts X counted for the show's hashtags (null: that query is missing)",
    "text_posts": "posts X counted for its name and aliases as exact phrases (null: missing)",
    "posts": "posts X counted for either (the `any` query): the show's exact volume",
    "hashtag_hourly": "hashtag_posts per UTC hour, 00..23 (null hour: not covered by the request)",
    "text_hourly": "text_posts per UTC hour, 00..23",
    "posts_hourly": "posts per UTC hour, 00..23",
}

QUERY_KINDS = ("hashtags", "text", "any")
HOURS = 24
COLUMN = {"hashtags": "hashtag_posts", "text": "text_posts", "any": "posts"}
HOURLY_COLUMN = {"hashtags": "hashtag_hourly", "text": "text_hourly", "any": "posts_hourly"}
# tweet_stat's sampled counts against the exact volumes they estimate
DRIFT_MEASURES = (("hashtag_count", "hashtag_posts"), ("text_count", "text_posts"), ("tweet_count", "posts"))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass
class CountsSeries:
    """One (show, query kind) of a day: hourly counts (None: hour not covered by the window)."""

    show_id: int
    name: str
    kind: str
    hourly: list[int | None]
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(v is not None for v in self.hourly) and not self.problems

    @property
    def total(self) -> int:
        return sum(v for v in self.hourly if v is not None)


def parse_counts_line(raw: bytes | str, day: date) -> CountsSeries:
    """Sum the hour buckets of every page of every part of one landed line. Hours inside the
    request window without a bucket are 0 (an empty result has no buckets); hours outside it are
    None. Raises ValueError for a line that is not a counts_raw line."""
    obj = json.loads(raw)
    show_id, kind = int(obj["show_id"]), str(obj["query_kind"])
    if kind not in QUERY_KINDS:
        raise ValueError(f"unknown query_kind {kind!r}")
    day_start = _day_start(day)
    window_start, window_end = _parse_time(obj["start_time"]), _parse_time(obj["end_time"])
    hourly: list[int | None] = [
        0
        if window_start <= day_start + timedelta(hours=h) and day_start + timedelta(hours=h + 1) <= window_end
        else None
        for h in range(HOURS)
    ]
    problems: list[str] = []
    for part in obj["parts"]:
        seen: set[int] = set()
        for page in part["pages"]:
            try:
                body = json.loads(page["body"])
            except ValueError:
                problems.append("a page body is not JSON")
                continue
            buckets = body.get("data") or []
            total = (body.get("meta") or {}).get("total_tweet_count")
            if isinstance(total, int) and total != sum(int(b["tweet_count"]) for b in buckets):
                problems.append(f"page total_tweet_count {total} differs from its buckets' sum")
            for bucket in buckets:
                offset = _parse_time(bucket["start"]) - day_start
                hour = int(offset.total_seconds() // 3600)
                if offset.total_seconds() % 3600 or not 0 <= hour < HOURS:
                    problems.append(f"bucket {bucket['start']} is not an hour of {day}")
                    continue
                if hour in seen:
                    problems.append(f"hour {hour:02d} answered twice for one query part")
                    continue
                seen.add(hour)
                if hourly[hour] is None:
                    problems.append(f"bucket {bucket['start']} is outside the request window")
                    continue
                hourly[hour] = int(hourly[hour] or 0) + int(bucket["tweet_count"])
    return CountsSeries(show_id, str(obj.get("name", "")), kind, hourly, problems)


def parse_counts_day(lines: Iterable[bytes | str], day: date) -> tuple[list[CountsSeries], list[str]]:
    """Every parseable line of a day (first line wins for a repeated show and kind), and the problems
    of the others."""
    series: list[CountsSeries] = []
    seen: set[tuple[int, str]] = set()
    problems: list[str] = []
    for number, raw in enumerate(lines, start=1):
        if not (raw.strip() if isinstance(raw, str) else raw.strip()):
            continue
        try:
            item = parse_counts_line(raw, day)
        except (ValueError, KeyError, TypeError) as error:
            problems.append(f"line {number}: not a counts line ({type(error).__name__}: {error})")
            continue
        if (item.show_id, item.kind) in seen:
            problems.append(f"line {number}: show {item.show_id} {item.kind} repeated (first kept)")
            continue
        seen.add((item.show_id, item.kind))
        series.append(item)
    return series, problems


def show_volume_rows(series: Sequence[CountsSeries], day: date) -> list[dict[str, object]]:
    """One row per show that has any counts line: id, date, hashtag_posts, text_posts, posts and
    their hourly series (a missing query gives None and a None series)."""
    by_show: dict[int, dict[str, CountsSeries]] = {}
    for item in series:
        by_show.setdefault(item.show_id, {})[item.kind] = item
    rows = []
    for show_id in sorted(by_show):
        kinds = by_show[show_id]
        row: dict[str, object] = {"id": show_id, "date": day}
        for kind in QUERY_KINDS:
            item = kinds.get(kind)
            row[COLUMN[kind]] = item.total if item else None
            row[HOURLY_COLUMN[kind]] = list(item.hourly) if item else None
        rows.append(row)
    return rows


def coverage(series: Sequence[CountsSeries], tracked_ids: Iterable[int]) -> dict[str, object]:
    """Which tracked shows, queries and hours are present."""
    tracked = sorted(set(tracked_ids))
    present = {(s.show_id, s.kind): s for s in series}
    missing_pairs = [f"{i}:{k}" for i in tracked for k in QUERY_KINDS if (i, k) not in present]
    incomplete = {
        f"{s.show_id}:{s.kind}": [h for h, v in enumerate(s.hourly) if v is None]
        for s in series
        if any(v is None for v in s.hourly)
    }
    complete_shows = [i for i in tracked if all((i, k) in present for k in QUERY_KINDS)]
    pairs_expected = len(tracked) * len(QUERY_KINDS)
    pairs_present = pairs_expected - len(missing_pairs)
    hours_expected = pairs_expected * HOURS
    hours_present = sum(
        sum(v is not None for v in present[(i, k)].hourly)
        for i in tracked
        for k in QUERY_KINDS
        if (i, k) in present
    )
    return {
        "shows_expected": len(tracked),
        "shows_complete": len(complete_shows),
        "missing_shows": [i for i in tracked if i not in set(complete_shows)],
        "pairs_expected": pairs_expected,
        "pairs_present": pairs_present,
        "pair_coverage": pairs_present / pairs_expected if pairs_expected else 0.0,
        "missing_pairs": missing_pairs,
        "hours_expected": hours_expected,
        "hours_present": hours_present,
        "hour_coverage": hours_present / hours_expected if hours_expected else 0.0,
        "incomplete_hours": incomplete,
        "untracked_shows": sorted({s.show_id for s in series} - set(tracked)),
    }


@dataclass(frozen=True)
class Drift:
    id: int
    measure: str  # the exact volume's column: hashtag_posts, text_posts or posts
    sample: int
    exact: int
    sample_share: float
    exact_share: float
    expected_sample: float
    ratio: float  # sample / expected (with 0.5 added to both, so 0 stays finite)
    z: float


def sample_drift(
    tweet_stat: Sequence[Mapping[str, object]],
    volumes: Sequence[Mapping[str, object]],
    *,
    min_expected: float = 20.0,
    max_ratio: float = 2.0,
    min_z: float = 4.0,
    rate_min_expected: float = 5.0,
) -> list[Drift]:
    """Shows whose share of the sampled stream (tweet_stat) drifts from their share of the exact
    volumes, per measure. Under a fair sample a show's sampled count is about its exact volume times
    the sampling rate (Poisson noise around it); a show is flagged when that expectation or its
    sample is at least `min_expected`, the ratio is beyond `max_ratio` either way and the deviation
    is at least `min_z` standard deviations (both, so neither noise nor a trivial gap fires).

    The sampling rate is the median of sample / exact over the shows big enough to estimate it
    (at least `rate_min_expected` sampled posts expected at the overall rate; the overall rate when
    fewer than 3 are): a broken big show (a third of the day's hashtag posts) would otherwise raise
    every other show's share, and many small shows kept at a post or two by a sparse sample would
    lower the big ones'."""
    sample_by_id = {int(r["id"]): r for r in tweet_stat}  # type: ignore[call-overload]
    exact_by_id = {int(r["id"]): r for r in volumes}  # type: ignore[call-overload]
    ids = sorted(set(sample_by_id) & set(exact_by_id))
    flagged: list[Drift] = []
    for sample_col, exact_col in DRIFT_MEASURES:
        pairs = [
            (i, int(sample_by_id[i][sample_col] or 0), exact_by_id[i][exact_col])  # type: ignore[arg-type]
            for i in ids
            if exact_by_id[i].get(exact_col) is not None
        ]
        sample_total = sum(s for _, s, _ in pairs)
        exact_total = sum(int(e) for _, _, e in pairs)  # type: ignore[arg-type]
        if not sample_total or not exact_total:
            continue
        overall = sample_total / exact_total
        judged = sorted(
            s / int(e)  # type: ignore[arg-type]
            for _, s, e in pairs
            if int(e) * overall >= rate_min_expected  # type: ignore[arg-type]
        )
        rate = statistics.median(judged) if len(judged) >= 3 else overall
        for show_id, sample, exact in pairs:
            exact_share = int(exact) / exact_total  # type: ignore[arg-type]
            expected = int(exact) * rate  # type: ignore[arg-type]
            if max(expected, sample) < min_expected:
                continue
            ratio = (sample + 0.5) / (expected + 0.5)
            z = (sample - expected) / math.sqrt(max(expected, 1.0))
            if (ratio > max_ratio or ratio < 1 / max_ratio) and abs(z) >= min_z:
                flagged.append(
                    Drift(
                        show_id,
                        exact_col,
                        sample,
                        int(exact),  # type: ignore[arg-type]
                        sample / sample_total,
                        exact_share,
                        expected,
                        ratio,
                        z,
                    )
                )
    return flagged


@dataclass
class ShowVolumeDay:
    """What the Dagster side needs of one day: the table's rows, coverage and line problems."""

    day: date
    rows: list[dict[str, object]]
    coverage: dict[str, object]
    problems: list[str]


def show_volume_day(lines: Iterable[bytes | str], day: date, tracked_ids: Iterable[int]) -> ShowVolumeDay:
    """One day's counts_raw lines and the tracked ids in force (ingest_meta's `tracked_show_ids`)
    -> rows, coverage and the lines that could not be read."""
    series, problems = parse_counts_day(lines, day)
    return ShowVolumeDay(day, show_volume_rows(series, day), coverage(series, tracked_ids), problems)
