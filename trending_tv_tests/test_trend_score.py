"""The count-aware trend score (plain Python) on hand-made series, and on the published 2020 days."""

from __future__ import annotations

import random
import statistics
from datetime import date, timedelta

import pytest

from trending_tv.transforms.trends import (
    SHOW_TRENDS_SCHEMA,
    TrendModel,
    coverage_of_day,
    daily_posts,
    score_trends,
)

START = date(2021, 3, 1)
DAYS = [START + timedelta(days=k) for k in range(10)]
TODAY = DAYS[-1]
# A background of steady shows spread like real ones (5 to ~5,000 posts a day), so that the day's
# total and the all-shows prior are realistic.
BACKGROUND = {100 + k: round(5 * 1.5**k) for k in range(18)}


def _posts(series: dict[int, dict[date, int]], days=DAYS) -> list[dict]:
    rows = []
    for day in days:
        for show_id, level in BACKGROUND.items():
            rows.append({"id": show_id, "date": day, "posts": level})
        for show_id, by_day in series.items():
            if day in by_day:
                rows.append({"id": show_id, "date": day, "posts": by_day[day]})
    return rows


def _flat(level: int, days=DAYS) -> dict[date, int]:
    return {d: level for d in days}


def _today(rows: list[dict], day: date = TODAY, **kwargs) -> dict[int, dict]:
    return {r["id"]: r for r in score_trends(rows, [day], **kwargs)}


def _top(scored: dict[int, dict]) -> list[int]:
    ranked = sorted((r for r in scored.values() if r["trend_rank"]), key=lambda r: r["trend_rank"])
    return [r["id"] for r in ranked]


def test_rows_follow_the_table_schema_and_popular_is_separate_from_trending():
    scored = _today(_posts({1: _flat(50) | {TODAY: 400}, 2: _flat(9000)}))
    row = scored[1]
    assert list(row) == [f.name for f in SHOW_TRENDS_SCHEMA.fields]
    assert scored[2]["popular_rank"] == 1 and scored[2]["trend_score"] < 1  # biggest, not trending
    assert row["trend_rank"] == 1 and row["popular_rank"] > 5
    day_posts = sum(BACKGROUND.values()) + 400 + 9000
    assert row["day_posts"] == day_posts and row["share"] == pytest.approx(400 / day_posts)
    assert row["posts_change"] == 350 and row["baseline_days"] == 7 and not row["cold_start"]
    assert row["complete"] and row["coverage"] == 1.0 and row["source"] == "tweet_stat"


def test_a_spike_leads_and_its_expectation_is_the_usual_level():
    scored = _today(_posts({1: _flat(40) | {TODAY: 320}}))
    spike = scored[1]
    assert _top(scored)[0] == 1
    # expected = the show's usual share of the rest of the day: its own spike does not inflate it
    assert spike["expected_posts"] == pytest.approx(40, rel=0.05)
    assert spike["ratio"] == pytest.approx(8, rel=0.05)
    assert spike["trend_score"] > 10
    assert all(scored[b]["trend_score"] < 1 for b in BACKGROUND)


def test_the_day_after_a_spike_is_not_hidden_by_it():
    # Show 1 spiked yesterday; show 2 spikes today. A mean baseline would carry show 1's spike into
    # its expectation; the median does not, and show 1 back at its level is not trending.
    series = {1: _flat(60) | {DAYS[-2]: 900}, 2: _flat(60) | {TODAY: 300}}
    scored = _today(_posts(series))
    assert scored[2]["expected_posts"] == pytest.approx(60, rel=0.05)
    assert scored[1]["trend_rank"] is None and scored[1]["trend_score"] < 1
    assert _top(scored)[0] == 2
    # and a spike that goes on (900 again) still trends the day after
    scored = _today(_posts({1: _flat(60) | {DAYS[-2]: 900, TODAY: 900}}))
    assert scored[1]["expected_posts"] == pytest.approx(60, rel=0.05)
    assert _top(scored)[0] == 1


def test_a_steady_big_show_does_not_trend_on_ordinary_swings():
    rng = random.Random(7)
    big = {d: int(8000 * rng.uniform(0.9, 1.1)) for d in DAYS[:-1]} | {TODAY: 9600}  # +20%
    scored = _today(_posts({1: big, 2: _flat(26) | {TODAY: 217}}))
    assert scored[1]["popular_rank"] == 1
    assert scored[1]["trend_score"] < 2
    assert _top(scored)[0] == 2  # 26 -> 217 beats +20% on a big show
    # but a big show at 4x its level is a real spike, and leads
    scored = _today(_posts({1: big | {TODAY: 32000}, 2: _flat(26) | {TODAY: 60}}))
    assert _top(scored)[0] == 1


def test_a_small_noisy_show_cannot_outrank_a_real_rise():
    rng = random.Random(3)
    noisy = {d: rng.choice([0, 1, 2, 3]) for d in DAYS[:-1]} | {TODAY: 5}
    series = {1: noisy, 2: _flat(26) | {TODAY: 217}, 3: _flat(2) | {TODAY: 19}}
    scored = _today(_posts(series))
    assert scored[1]["trend_rank"] is None  # 5 posts: below the minimum support
    assert scored[3]["trend_rank"] is None  # 19 posts: still below it
    assert _top(scored) == [2]
    assert scored[2]["trend_score"] > scored[1]["trend_score"]
    # Without the support rule the count model alone still ranks 26 -> 217 above 2 -> 5.
    scored = _today(
        _posts({1: _flat(2) | {TODAY: 5}, 2: _flat(26) | {TODAY: 217}}), model=TrendModel(min_posts=0)
    )
    assert (scored[2]["trend_rank"], scored[1]["trend_rank"]) == (1, 2)


def test_a_new_show_gets_the_prior_and_needs_more_evidence():
    series = {1: {TODAY: 400}, 2: _flat(40) | {TODAY: 320}}
    scored = _today(_posts(series))
    new = scored[1]
    assert new["cold_start"] and new["baseline_days"] == 0 and new["baseline_share"] is None
    assert new["posts_change"] is None
    # the prior is the typical show of the day (no popularity given): the background's level
    typical = statistics.geometric_mean(BACKGROUND.values())
    assert new["expected_posts"] == pytest.approx(typical, rel=0.35)
    assert _top(scored)[0] == 2  # the established 8x spike beats a new show at a typical volume
    # with TMDB popularity, the prior follows it: a new show far above its popularity's level trends
    popularity = {(show_id, TODAY): float(level) for show_id, level in BACKGROUND.items()}
    popularity |= {(1, TODAY): 10.0, (2, TODAY): 40.0}
    scored = _today(_posts({1: {TODAY: 400}}), popularity=popularity)
    assert scored[1]["expected_posts"] < 40 and scored[1]["trend_rank"] == 1


def test_a_short_history_is_shrunk_toward_the_prior():
    # Two days of history (cold start, flagged): the expectation sits between the show's level and
    # the all-shows prior, and its spread is wider than with a full week.
    short = _today(_posts({1: {DAYS[-3]: 40, DAYS[-2]: 40, TODAY: 200}}))[1]
    full = _today(_posts({1: _flat(40) | {TODAY: 200}}))[1]
    assert short["cold_start"] and short["baseline_days"] == 2 and not full["cold_start"]
    assert 40 < short["expected_posts"] < statistics.geometric_mean(BACKGROUND.values())
    assert short["trend_score"] < full["trend_score"]


def test_missing_days_are_not_zeros():
    # Days 5 and 6 have no data at all (collector down): the baseline uses the 5 other days, and a
    # show not tracked on day 3 is not read as 0 posts that day.
    days = [d for d in DAYS if d not in (DAYS[5], DAYS[6])]
    series = {1: _flat(50, days) | {TODAY: 55}, 2: {d: 80 for d in days if d != DAYS[3]}}
    rows = _posts(series, days)
    scored = _today(rows)
    assert scored[1]["baseline_days"] == 5 and scored[2]["baseline_days"] == 4
    assert scored[1]["trend_score"] < 1  # 50 a day, 55 today: no rise
    assert scored[2]["expected_posts"] == pytest.approx(80, rel=0.05)
    # the day after a gap has no day-over-day change (a gap is not a drop)
    after_gap = {r["id"]: r for r in score_trends(rows, [DAYS[7]])}
    assert after_gap[1]["posts_change"] is None
    # a day with no data yields no rows (nothing to rank)
    assert score_trends(rows, [DAYS[5]]) == []


def test_a_partially_covered_day_is_flagged_and_kept_out_of_baselines():
    # Yesterday's collection covered 12 of 24 hours: its halved counts must not look like a drop
    # today (no change computed) nor lower tomorrow's baseline; the day itself is marked partial.
    half = DAYS[-2]
    series = {1: _flat(100) | {half: 50, TODAY: 100}}
    coverage = {half: 0.5}
    rows = [r | ({"posts": r["posts"] // 2} if r["date"] == half else {}) for r in _posts(series)]
    scored = _today(rows, coverage=coverage)
    assert scored[1]["complete"] and scored[1]["baseline_days"] == 6
    assert scored[1]["posts_change"] is None
    assert scored[1]["expected_posts"] == pytest.approx(100, rel=0.05)
    partial = {r["id"]: r for r in score_trends(rows, [half], coverage=coverage)}
    assert not partial[1]["complete"] and partial[1]["coverage"] == 0.5
    assert partial[1]["trend_rank"] is None  # half the posts: below expectation, never "trending"


def test_coverage_comes_from_the_ingest_hosts_day_file():
    assert coverage_of_day(None) is None  # no file: the day counts as covered
    assert coverage_of_day({"final": True, "share_covered": 0.97}) == 0.97
    assert coverage_of_day({"final": False, "share_covered": 1.0}) == 0.0  # still being collected
    rows = _posts({1: _flat(100)})
    scored = {r["id"]: r for r in score_trends(rows, [TODAY], coverage={TODAY: 0.96, DAYS[-2]: 0.9})}
    assert scored[1]["complete"] and scored[1]["baseline_days"] == 6  # 96% is complete, 90% is not


@pytest.mark.parametrize(
    "document",
    [
        {},  # an unreadable file, as raw_manifest.read_day_coverage reads it
        {"final": "true", "share_covered": 1.0},
        {"final": True},
        {"final": True, "share_covered": "1.0"},
        {"final": True, "share_covered": True},
        {"final": True, "share_covered": 1.5},
        {"final": True, "share_covered": float("nan")},
    ],
)
def test_a_coverage_file_that_does_not_vouch_for_the_day_is_zero_coverage(document):
    assert coverage_of_day(document) == 0.0
    rows = _posts({1: _flat(100)})
    scored = {r["id"]: r for r in score_trends(rows, [TODAY], coverage={TODAY: coverage_of_day(document)})}
    assert scored[1]["complete"] is False and scored[1]["coverage"] == 0.0


def test_exact_volumes_replace_the_sample_on_the_days_that_have_them():
    sample = [
        {"id": i, "date": d, "tweet_count": c, "hashtag_count": c // 2, "text_count": c}
        for d in DAYS
        for i, c in ((1, 40), (2, 400))
    ]
    exact = [
        {"id": i, "date": TODAY, "hashtag_posts": 9, "text_posts": 90, "posts": c}
        for i, c in ((1, 990), (2, 4000))
    ]
    posts = daily_posts(sample, exact)
    today = {r["id"]: r for r in posts if r["date"] == TODAY}
    assert today[1] == {
        "id": 1,
        "date": TODAY,
        "posts": 990,
        "hashtag_posts": 9,
        "text_posts": 90,
        "source": "show_volume",
    }
    assert len([r for r in posts if r["date"] == TODAY]) == 2  # one source per day, never both
    scored = {r["id"]: r for r in score_trends(posts, [TODAY])}
    assert scored[1]["source"] == "show_volume" and scored[1]["posts"] == 990
    # shares are comparable across sources: 990 against the rest's 4000 is ~2.5x the usual 40/400
    assert scored[1]["ratio"] == pytest.approx(2.475, rel=0.1)


def _seed_days():
    from trending_tv_sample.catalog import load_catalog

    catalog = load_catalog()
    figures = list(catalog.figures.values())
    rows = [
        {
            "id": f.show_id,
            "date": f.day,
            "posts": f.tweet_count,
            "hashtag_posts": f.hashtag_count,
            "text_posts": f.text_count,
        }
        for f in figures
    ]
    popularity = {(f.show_id, f.day): f.popularity for f in figures}
    names = {(f.show_id, f.day): catalog.by_id[f.show_id].name for f in figures}
    return rows, popularity, names


def test_on_the_published_2020_days_the_visible_spikes_lead():
    """A spike a person sees: at least 200 posts and 3x the show's median of the other 8 days."""
    rows, popularity, names = _seed_days()
    days = sorted({r["date"] for r in rows})
    series: dict[int, dict[date, int]] = {}
    for r in rows:
        series.setdefault(r["id"], {})[r["date"]] = r["posts"]
    scored = score_trends(rows, days, names=names, popularity=popularity)
    found = total = leaders = 0
    for day in days[1:]:  # the first day has no history at all
        spikes = {
            i
            for i, s in series.items()
            if s[day] >= 200 and s[day] >= 3 * statistics.median(v for d, v in s.items() if d != day)
        }
        ranked = sorted(
            (r for r in scored if r["date"] == day and r["trend_rank"]), key=lambda r: r["trend_rank"]
        )
        top5 = {r["id"] for r in ranked[:5]}
        found, total = found + len(spikes & top5), total + len(spikes)
        leaders += ranked[0]["id"] in spikes
    assert (found, total, leaders) == (18, 19, 8)
    by_key = {(r["name"], r["date"]): r for r in scored}
    # the examples: the day after The Mandalorian's 10,890 it is still rising (7,239)
    assert by_key[("The Mandalorian", date(2020, 11, 28))]["trend_rank"] <= 2
    assert by_key[("Young Sheldon", date(2020, 11, 29))]["trend_rank"] == 1  # 1,204 posts, ~40x
