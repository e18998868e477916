"""show_trends: which shows are popular and which are trending each day (plain Python; a day is a
few hundred rows, so Spark only hands the rows over).

*Popular* is volume: a show's posts, its share of the day's posts and its rank by posts.
*Trending* is surprise: how unlikely today's posts are given the show's own recent level.

The trend score (docs/design.md and the README, "Popular and trending"):

1. Level. For each of the show's complete days in the trailing `baseline_days` (7), the odds of its
   posts against the rest of the day, q = (posts + 0.5) / (day's posts - posts). The baseline is the
   median of log q, so one spike does not move it (a 7-day median ignores up to 3 spikes).
2. Shrinkage. The median is pulled toward a prior from all shows of the day (a least-squares line
   of log q on log TMDB popularity when popularity is known, else the day's mean log q), weighted by
   precision: the baseline's variance is (dispersion + posts_per_event / typical posts) / days, so a
   small or short history leans on the prior and a big steady show on itself. A show with no complete
   day of history (cold start) gets the prior and its (wide) spread.
3. Expected posts today = exp(shrunk log q) x (today's posts of all other shows): the show's own
   spike does not inflate its expectation.
4. Surprise. Posts arrive in bursts (a retweeted post brings several), so posts / posts_per_event
   are modelled as a negative binomial with that mean and variance m + phi m^2, where
   phi = dispersion (day-to-day variation of a steady show) + the baseline's variance. The score is
   -log10 P(at least today's posts): a 5-post show cannot reach the score of 26 -> 217, and a big
   show needs a large ratio, not just a large count.
5. Support. Only shows with at least `min_posts` posts today and above their expectation get a
   trending rank; the others have none (a zero day or a drop is never ranked as trending).

Missing days are not zeros: a day with no rows, or whose collection covered less than
`min_coverage` of its minutes, is left out of every baseline and of the day-over-day change, and its
own rows are marked `complete = false` (scored on shares, which a partial day still gives, but
flagged). The input is generic daily posts per show (tweet_stat's sample, or exact volumes)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import types as T
from scipy.special import betainc

BASELINE_DAYS = 7
MIN_BASELINE_DAYS = 3  # fewer complete days of history: cold start (flagged)
SOURCE_SAMPLE = "tweet_stat"  # the stream's capped sample
SOURCE_EXACT = "show_volume"  # exact volumes from the X counts endpoint
MAX_SCORE = 300.0  # -log10 of the smallest double; a tail below it is "certain"

SHOW_TRENDS_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("name", T.StringType()),
        # popular
        T.StructField("posts", T.LongType()),
        T.StructField("hashtag_posts", T.LongType()),
        T.StructField("text_posts", T.LongType()),
        T.StructField("day_posts", T.LongType()),
        T.StructField("share", T.DoubleType()),
        T.StructField("posts_change", T.LongType()),
        T.StructField("popular_rank", T.IntegerType()),
        # trending
        T.StructField("baseline_days", T.IntegerType()),
        T.StructField("baseline_share", T.DoubleType()),
        T.StructField("expected_posts", T.DoubleType()),
        T.StructField("ratio", T.DoubleType()),
        T.StructField("trend_score", T.DoubleType()),
        T.StructField("trend_rank", T.IntegerType()),
        T.StructField("cold_start", T.BooleanType()),
        # data quality and provenance
        T.StructField("complete", T.BooleanType()),
        T.StructField("coverage", T.DoubleType()),
        T.StructField("source", T.StringType()),
        # TMDB
        T.StructField("popularity", T.DoubleType()),
        T.StructField("popularity_change", T.DoubleType()),
    ]
)

COLUMN_DESCRIPTIONS = {
    "id": "TMDB show id",
    "date": "UTC day",
    "name": "show name (that day's tvshows)",
    "posts": "posts about the show that day (tweet_stat tweet_count, or show_volume posts)",
    "hashtag_posts": "posts with one of the show's hashtags",
    "text_posts": "posts naming the show",
    "day_posts": "posts of all tracked shows that day",
    "share": "posts / day_posts",
    "posts_change": "posts minus the previous day's (null when that day is missing or partial)",
    "popular_rank": "rank of the day by posts (1 = most)",
    "baseline_days": "complete days of the trailing 7 in the baseline",
    "baseline_share": "median share over those days (null without any)",
    "expected_posts": "posts expected today from the shrunk baseline and the other shows' posts",
    "ratio": "posts / expected_posts",
    "trend_score": "-log10 P(posts at least this high | expected), negative binomial on bursts",
    "trend_rank": "rank of the day by trend_score among shows above expectation with enough posts",
    "cold_start": "fewer than 3 baseline days: expectation mostly from the all-shows prior",
    "complete": "the day's collection covered the whole day",
    "coverage": "share of the day's minutes the collector covered (1.0 without a coverage file or on "
    "exact volumes; 0 when the file is not final or unreadable)",
    "source": "tweet_stat (the stream's capped sample) or show_volume (exact counts)",
    "popularity": "TMDB popularity that day",
    "popularity_change": "popularity minus the previous day's",
}


@dataclass(frozen=True)
class TrendModel:
    """The score's parameters (values chosen on the published 2020 days; README, "Popular and trending")."""

    baseline_days: int = BASELINE_DAYS
    min_baseline_days: int = MIN_BASELINE_DAYS
    # variance of log(share) of a steady show from one day to the next (2020 days: robust (MAD)
    # estimate 0.064, median over the 51 shows with >= 100 posts a day; 0.1 leaves room for spikes)
    dispersion: float = 0.1
    # posts per independent burst (a retweet cascade): variance of small counts is about this many
    # times a Poisson's
    posts_per_event: float = 5.0
    min_posts: int = 20  # support needed for a trending rank
    # share of the day's minutes the collector covered for the day to be complete (the ingest host's
    # definition of a complete day: ingest_host/README.md, "Coverage")
    min_coverage: float = 0.95
    min_prior_variance: float = 1.0  # floor of the all-shows prior's log-variance (a factor ~e)


@dataclass(frozen=True)
class _Day:
    rows: dict[int, dict]  # id -> input row
    total: int
    complete: bool
    coverage: float


def posts_from_tweet_stat(rows: Iterable[Mapping]) -> list[dict]:
    """tweet_stat rows as the score's generic daily posts."""
    return [
        {
            "id": int(r["id"]),
            "date": r["date"],
            "posts": int(r["tweet_count"]),
            "hashtag_posts": int(r["hashtag_count"]),
            "text_posts": int(r["text_count"]),
            "source": SOURCE_SAMPLE,
        }
        for r in rows
    ]


def posts_from_show_volume(rows: Iterable[Mapping]) -> list[dict]:
    """show_volume rows (id, date, hashtag_posts, text_posts, posts) as the score's daily posts."""
    return [
        {
            "id": int(r["id"]),
            "date": r["date"],
            "posts": int(r["posts"]),
            "hashtag_posts": None if r.get("hashtag_posts") is None else int(r["hashtag_posts"]),
            "text_posts": None if r.get("text_posts") is None else int(r["text_posts"]),
            "source": SOURCE_EXACT,
        }
        for r in rows
    ]


def coverage_of_day(document: Mapping | None) -> float | None:
    """A day's coverage from the ingest host's day coverage file (ingest_meta/tweet_raw/.../
    YYYY-MM-DD.json): the share of its minutes covered, 0 when it is not final (the day was still
    being collected when the file was written) or holds no share between 0 and 1 (an unreadable
    file is read as an empty document: raw_manifest.read_day_coverage). None without a file (a lake
    filled otherwise)."""
    if document is None:
        return None
    share = document.get("share_covered")
    valid = isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 1
    return float(share) if valid and document.get("final") is True else 0.0


def daily_posts(tweet_stat: Iterable[Mapping], show_volume: Iterable[Mapping] = ()) -> list[dict]:
    """Each day from show_volume when that day has it, else from tweet_stat (one source per day, so
    a day's shares are never mixed)."""
    exact = posts_from_show_volume(show_volume)
    exact_days = {r["date"] for r in exact}
    return exact + [r for r in posts_from_tweet_stat(tweet_stat) if r["date"] not in exact_days]


def score_trends(
    posts: Iterable[Mapping],
    days: Sequence[date],
    *,
    names: Mapping[tuple[int, date], str] | None = None,
    popularity: Mapping[tuple[int, date], float] | None = None,
    coverage: Mapping[date, float] | None = None,
    model: TrendModel = TrendModel(),
) -> list[dict]:
    """show_trends rows (SHOW_TRENDS_SCHEMA) for `days`.

    `posts`: generic daily posts (id, date, posts, hashtag_posts, text_posts, source), holding also
    the `model.baseline_days` before the first day when they exist. A show without a row on a day was
    not tracked (or the day is missing): never read as zero. `coverage`: share of each day's minutes
    covered (`coverage_of_day`; a day not in it counts as fully covered). `popularity`: TMDB
    popularity by (id, day), for the cold-start prior and the popularity columns."""
    names, popularity, coverage = names or {}, popularity or {}, coverage or {}
    by_day: dict[date, dict[int, dict]] = defaultdict(dict)
    for r in posts:
        by_day[r["date"]][int(r["id"])] = dict(r)
    book = {
        d: _Day(
            rows,
            sum(r["posts"] for r in rows.values()),
            coverage.get(d, 1.0) >= model.min_coverage,
            coverage.get(d, 1.0),
        )
        for d, rows in by_day.items()
    }
    out: list[dict] = []
    for day in days:
        if day in book:
            out += _score_day(day, book, popularity, names, model)
    return out


def _log_odds(posts: float, total: int) -> float | None:
    rest = total - posts
    return math.log((posts + 0.5) / rest) if rest > 0 else None


def _prior(today: _Day, popularity: Mapping[tuple[int, date], float], day: date, model: TrendModel):
    """(id -> prior mean of log q, prior variance): the day's cross-section of all shows, on log TMDB
    popularity when at least 10 shows have it, else the mean."""
    points = [(i, _log_odds(r["posts"], today.total)) for i, r in today.rows.items()]
    points = [(i, y) for i, y in points if y is not None]
    if not points:
        return {}, model.min_prior_variance
    with_pop = [(i, math.log(popularity[(i, day)]), y) for i, y in points if popularity.get((i, day), 0) > 0]
    if len(with_pop) >= 10:
        slope, intercept = statistics.linear_regression(
            [x for _, x, _ in with_pop], [y for *_, y in with_pop]
        )
        fitted = {i: intercept + slope * x for i, x, _ in with_pop}
        residuals = [y - fitted[i] for i, _, y in with_pop]
        fallback = statistics.fmean(y for _, y in points)
        means = {i: fitted.get(i, fallback) for i, _ in points}
    else:
        mean = statistics.fmean(y for _, y in points)
        residuals = [y - mean for _, y in points]
        means = {i: mean for i, _ in points}
    variance = statistics.fmean(e * e for e in residuals) if len(residuals) > 1 else 0.0
    return means, max(variance, model.min_prior_variance)


def _tail(posts: int, expected: float, phi: float, model: TrendModel) -> float:
    """P(at least `posts`) for bursts of `posts_per_event`: negative binomial with mean
    expected / c and variance m + phi m^2, at posts / c (continuous in the count)."""
    events = posts / model.posts_per_event
    if events <= 0:
        return 1.0
    mean = max(expected, 1e-9) / model.posts_per_event
    r = 1.0 / phi
    return float(betainc(events, r, mean / (r + mean)))


def _score_day(day, book, popularity, names, model: TrendModel) -> list[dict]:
    today: _Day = book[day]
    prior_mean, prior_var = _prior(today, popularity, day, model)
    window = [day - timedelta(days=k) for k in range(model.baseline_days, 0, -1)]
    history = [book[d] for d in window if d in book and book[d].complete]
    previous = book.get(day - timedelta(days=1))
    rows = []
    for show_id, r in today.rows.items():
        n = int(r["posts"])
        own = [(h.rows[show_id]["posts"], h.total) for h in history if show_id in h.rows]
        own = [(p, t) for p, t in own if t - p > 0]
        log_q = [_log_odds(p, t) for p, t in own]
        mu_prior = prior_mean.get(show_id, statistics.fmean(prior_mean.values()) if prior_mean else 0.0)
        if log_q:
            typical = statistics.median(p for p, _ in own)
            own_var = (model.dispersion + model.posts_per_event / (typical + 0.5)) / len(log_q)
            weight = (1 / own_var) / (1 / own_var + 1 / prior_var)
            level = weight * statistics.median(log_q) + (1 - weight) * mu_prior
            level_var = 1 / (1 / own_var + 1 / prior_var)
        else:
            level, level_var = mu_prior, prior_var
        rest = today.total - n
        expected = math.exp(level) * rest if rest > 0 else float(n)
        phi = model.dispersion + level_var
        score = min(-math.log10(max(_tail(n, expected, phi, model), 1e-300)), MAX_SCORE)
        prev_row = previous.rows.get(show_id) if previous is not None and previous.complete else None
        pop, pop_before = popularity.get((show_id, day)), popularity.get((show_id, day - timedelta(days=1)))
        rows.append(
            {
                "id": show_id,
                "date": day,
                "name": names.get((show_id, day)),
                "posts": n,
                "hashtag_posts": r.get("hashtag_posts"),
                "text_posts": r.get("text_posts"),
                "day_posts": today.total,
                "share": n / today.total if today.total else 0.0,
                "posts_change": None if prev_row is None else n - int(prev_row["posts"]),
                "baseline_days": len(log_q),
                "baseline_share": statistics.median(p / t for p, t in own) if own else None,
                "expected_posts": expected,
                "ratio": n / expected if expected > 0 else None,
                "trend_score": score,
                "cold_start": len(log_q) < model.min_baseline_days,
                "complete": today.complete,
                "coverage": today.coverage,
                "source": r.get("source", SOURCE_SAMPLE),
                "popularity": pop,
                "popularity_change": None if pop is None or pop_before is None else pop - pop_before,
            }
        )
    for rank, row in enumerate(sorted(rows, key=lambda x: (-x["posts"], x["id"])), start=1):
        row["popular_rank"] = rank
    eligible = [x for x in rows if x["posts"] >= model.min_posts and x["posts"] > x["expected_posts"]]
    for row in rows:
        row["trend_rank"] = None
    for rank, row in enumerate(sorted(eligible, key=lambda x: (-x["trend_score"], -x["posts"], x["id"])), 1):
        row["trend_rank"] = rank
    return [{f.name: row[f.name] for f in SHOW_TRENDS_SCHEMA.fields} for row in rows]


def compute_show_trends(
    tweet_stat: DataFrame,
    names: DataFrame,
    tmdb_stat: DataFrame | None,
    days: list[date],
    *,
    show_volume: DataFrame | None = None,
    coverage: Mapping[date, float] | None = None,
) -> DataFrame:
    """Spark adapter of `score_trends`: `tweet_stat` (and `show_volume`, preferred on the days it
    has) must also hold the BASELINE_DAYS before the first day when they exist; `names` is
    (id, date, name); `tmdb_stat` (id, date, popularity) may be None."""
    spark = tweet_stat.sparkSession
    exact = [] if show_volume is None else [r.asDict() for r in show_volume.collect()]
    posts = daily_posts([r.asDict() for r in tweet_stat.collect()], exact)
    popularity = {}
    if tmdb_stat is not None:
        popularity = {
            (int(r["id"]), r["date"]): float(r["popularity"])
            for r in tmdb_stat.select("id", "date", "popularity").collect()
            if r["popularity"] is not None
        }
    name_of = {(int(r["id"]), r["date"]): r["name"] for r in names.collect()}
    rows = score_trends(posts, days, names=name_of, popularity=popularity, coverage=coverage)
    return spark.createDataFrame([tuple(r.values()) for r in rows], SHOW_TRENDS_SCHEMA)
