"""show_trends scoring (pure Spark transform) and the report's charts and markdown."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from trending_tv import report
from trending_tv.transforms.trends import compute_show_trends
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

DAYS = [date(2020, 11, 20) + timedelta(days=k) for k in range(10)]
STEADY, SPIKE, QUIET = 1, 2, 3


def _tweet_stat(spark):
    rows = []
    for index, day in enumerate(DAYS):
        spike = 60 if day == DAYS[-1] else 10 + index % 2
        for show_id, count in ((STEADY, 50), (SPIKE, spike), (QUIET, 0)):
            rows.append((show_id, day, count // 2, count, count))
    return spark.createDataFrame(rows, TWEET_STAT_SCHEMA)


def _names(spark):
    return spark.createDataFrame(
        [(i, d, n) for d in DAYS for i, n in ((STEADY, "Steady"), (SPIKE, "Spike"), (QUIET, "Quiet"))],
        "id long, date date, name string",
    )


def test_a_spike_against_the_shows_own_baseline_ranks_first(spark):
    tmdb = spark.createDataFrame(
        [(SPIKE, DAYS[-2], 10.0), (SPIKE, DAYS[-1], 14.5)], "id long, date date, popularity double"
    )
    rows = {
        r["id"]: r for r in compute_show_trends(_tweet_stat(spark), _names(spark), tmdb, [DAYS[-1]]).collect()
    }
    spike, steady, quiet = rows[SPIKE], rows[STEADY], rows[QUIET]
    # Steady keeps its volume but loses share on a busier day: it falls below the flat Quiet.
    assert (spike["rank"], quiet["rank"], steady["rank"]) == (1, 2, 3)
    assert quiet["zscore"] == 0
    assert spike["name"] == "Spike" and spike["tweet_count"] == 60
    assert spike["share"] == pytest.approx(60 / 110)
    assert spike["tweet_count_change"] == 60 - 10  # day 9 had 10 + 8 % 2
    assert spike["baseline_days"] == 7
    assert spike["zscore"] > 10
    assert steady["zscore"] < 0  # same volume, smaller share of a busier day
    assert spike["popularity"] == 14.5 and spike["popularity_change"] == pytest.approx(4.5)
    assert steady["popularity"] is None


def test_without_enough_history_shows_are_ranked_by_volume(spark):
    rows = compute_show_trends(_tweet_stat(spark), _names(spark), None, DAYS[:2]).collect()
    first_day = sorted((r for r in rows if r["date"] == DAYS[0]), key=lambda r: r["rank"])
    assert [r["id"] for r in first_day] == [STEADY, SPIKE, QUIET]
    assert all(r["zscore"] is None and r["baseline_days"] == 0 for r in first_day)
    assert all(r["tweet_count_change"] is None for r in first_day)
    assert sum(r["share"] for r in first_day) == pytest.approx(1.0)


def test_report_renders_png_charts_and_a_markdown_table():
    stats = [
        {"id": i, "date": d, "tweet_count": c, "hashtag_count": c // 2}
        for d in DAYS[:3]
        for i, c in ((STEADY, 5), (SPIKE, 9))
    ]
    names = {STEADY: "Steady", SPIKE: "Spike"}
    bar = report.bar_chart_png(stats, names, "tweet_count", "Posts per show")
    heat = report.heat_map_png(stats, names, "tweet_count", DAYS[:3], "Daily posts")
    assert bar.startswith(b"\x89PNG") and heat.startswith(b"\x89PNG")
    assert report.totals_by_show(stats, "tweet_count") == [(SPIKE, 27), (STEADY, 15)]
    trends = [
        {
            "rank": 1,
            "name": "Spike",
            "tweet_count": 9,
            "share": 0.64,
            "tweet_count_change": 2,
            "zscore": 2.5,
            "popularity": 14.5,
            "popularity_change": 4.5,
        },
        {
            "rank": 2,
            "name": "Steady",
            "tweet_count": 5,
            "share": 0.36,
            "tweet_count_change": None,
            "zscore": None,
            "popularity": None,
            "popularity_change": None,
        },
    ]
    table = report.trending_table_md(trends)
    assert "| 1 | Spike | 9 | 64.0% | +2 | 2.5 | 14.5 (+4.5) |" in table
    assert "| 2 | Steady | 5 | 36.0% | n/a | n/a | n/a |" in table
