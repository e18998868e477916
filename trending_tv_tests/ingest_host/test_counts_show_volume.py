"""show_volume's pure transforms and checks on small hand-made counts_raw lines."""

from __future__ import annotations

import json
from datetime import date, timedelta

from trending_tv.assets.show_volume import drift_result, table_checks
from trending_tv.transforms.show_volume import (
    coverage,
    parse_counts_day,
    sample_drift,
    show_volume_day,
    show_volume_rows,
)
from trending_tv_tests.ingest_host.servers import utc

DAY = date(2026, 11, 28)


def _body(counts: dict[int, int], hours: range = range(24), next_token: str | None = None) -> str:
    start = utc(2026, 11, 28)
    data = [
        {
            "end": (start + timedelta(hours=h + 1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "start": (start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "tweet_count": counts.get(h, 0),
        }
        for h in hours
    ]
    meta: dict[str, object] = {"total_tweet_count": sum(b["tweet_count"] for b in data)}
    if next_token:
        meta["next_token"] = next_token
    return json.dumps({"data": data, "meta": meta})


def _line(show_id: int, kind: str, *parts: list[str], start: str = "2026-11-28T00:00:00Z") -> bytes:
    return json.dumps(
        {
            "show_id": show_id,
            "name": f"show {show_id}",
            "query_kind": kind,
            "query": "q",
            "start_time": start,
            "end_time": "2026-11-29T00:00:00Z",
            "granularity": "hour",
            "parts": [
                {"query": f"q{i}", "pages": [{"body": b} for b in pages]} for i, pages in enumerate(parts)
            ],
        }
    ).encode()


def _show(show_id: int, h: dict[int, int], t: dict[int, int], p: dict[int, int]) -> list[bytes]:
    return [
        _line(show_id, "hashtags", [_body(h)]),
        _line(show_id, "text", [_body(t)]),
        _line(show_id, "any", [_body(p)]),
    ]


def test_rows_sum_pages_and_disjoint_parts_and_the_checks_pass():
    lines = [
        # hashtags over two pages (hours 0-11, then 12-23)
        _line(1, "hashtags", [_body({3: 4}, range(12), "p1"), _body({20: 6}, range(12, 24))]),
        _line(1, "text", [_body({3: 2, 20: 1})]),
        # either, split into two disjoint parts: their counts add up
        _line(1, "any", [_body({3: 5})], [_body({20: 6})]),
        *_show(2, {}, {0: 9}, {0: 9}),
    ]
    series, problems = parse_counts_day(lines, DAY)
    rows = show_volume_rows(series, DAY)
    assert problems == []
    one, two = rows
    assert (one["id"], one["date"], one["hashtag_posts"], one["text_posts"], one["posts"]) == (
        1,
        DAY,
        10,
        3,
        11,
    )
    assert (
        one["hashtag_hourly"][3] == 4 and one["hashtag_hourly"][20] == 6 and len(one["hashtag_hourly"]) == 24
    )
    assert one["posts_hourly"][3] == 5 and one["posts_hourly"][20] == 6
    assert (two["hashtag_posts"], two["text_posts"], two["posts"]) == (0, 9, 9)
    for check in table_checks(rows, {DAY: [1, 2]}):
        assert check.passed, check
    cov = coverage(series, [1, 2])
    assert cov["pair_coverage"] == 1.0 and cov["hour_coverage"] == 1.0 and cov["missing_shows"] == []


def test_checks_fail_on_a_missing_show_a_broken_bound_and_missing_hours():
    lines = [
        *_show(1, {5: 3}, {5: 2}, {5: 6}),  # posts 6 > h + t = 5
        *_show(2, {5: 3}, {5: 2}, {5: 2}),  # posts 2 < max(h, t) = 3
        _line(3, "hashtags", [_body({1: 1})]),
        _line(3, "text", [_body({}, range(6, 24))], start="2026-11-28T06:00:00Z"),  # hours 0-5 not asked
        b"not json",
        _line(3, "hashtags", [_body({1: 99})]),  # repeated: the first is kept
    ]
    series, problems = parse_counts_day(lines, DAY)
    rows = show_volume_rows(series, DAY)
    assert len(problems) == 2 and "not a counts line" in problems[0] and "repeated" in problems[1]
    one_row, unique, bounds, hours = table_checks(rows, {DAY: [1, 2, 3, 4]})
    assert not one_row.passed and one_row.metadata["missing_ids"].value == {"2026-11-28": [4]}
    assert unique.passed
    assert not bounds.passed and bounds.metadata["violations"].value == 4
    assert bounds.metadata["sample"].value == [
        "1@2026-11-28",
        "1@2026-11-28 hour 05",
        "2@2026-11-28",
        "2@2026-11-28 hour 05",
    ]
    assert not hours.passed and hours.metadata["incomplete"].value == 2
    assert hours.metadata["sample"].value == {
        "3@2026-11-28:text": [0, 1, 2, 3, 4, 5],
        "3@2026-11-28:any": "query missing",
    }
    row3 = next(r for r in rows if r["id"] == 3)
    assert row3["hashtag_posts"] == 1 and row3["posts"] is None and row3["text_hourly"][:6] == [None] * 6
    cov = coverage(series, [1, 2, 3, 4])
    assert cov["missing_pairs"] == ["3:any", "4:hashtags", "4:text", "4:any"]
    assert cov["missing_shows"] == [3, 4] and cov["incomplete_hours"] == {"3:text": [0, 1, 2, 3, 4, 5]}


def test_a_bucket_outside_the_day_or_a_wrong_total_is_a_problem():
    body = json.loads(_body({2: 1}))
    body["data"].append(
        {"start": "2026-11-29T00:00:00.000Z", "end": "2026-11-29T01:00:00.000Z", "tweet_count": 5}
    )
    body["meta"]["total_tweet_count"] = 99
    series, _ = parse_counts_day([_line(1, "hashtags", [json.dumps(body)])], DAY)
    (item,) = series
    assert not item.complete and item.total == 1
    assert any("total_tweet_count 99" in p for p in item.problems)
    assert any("not an hour of 2026-11-28" in p for p in item.problems)


def _volumes_and_sample(broken: int | None = None) -> tuple[list[dict], list[dict]]:
    """Twenty shows with exact volumes; the sample takes about 5 % of each (exactly, to keep the
    fixture small and deterministic), except a show whose hashtag rule is broken."""
    volumes, sample = [], []
    for i in range(1, 21):
        h, t = 400 * i, 300 * i
        posts = h + t - 100 * i
        volumes.append({"id": i, "hashtag_posts": h, "text_posts": t, "posts": posts})
        if i == broken:  # the stream's rule never matches the hashtag (X tokenises it differently):
            # the hashtag-only posts are lost, the others still arrive by their text
            sample.append({"id": i, "hashtag_count": 0, "text_count": t // 20, "tweet_count": t // 20})
        else:
            sample.append(
                {"id": i, "hashtag_count": h // 20, "text_count": t // 20, "tweet_count": posts // 20}
            )
    return volumes, sample


def test_the_drift_check_flags_a_show_whose_hashtag_is_broken():
    volumes, sample = _volumes_and_sample()
    assert sample_drift(sample, volumes) == []
    assert drift_result({DAY: sample_drift(sample, volumes)}, []).passed
    volumes, sample = _volumes_and_sample(broken=12)
    flagged = sample_drift(sample, volumes)
    assert {(d.id, d.measure) for d in flagged} >= {(12, "hashtag_posts")}
    assert all(d.id == 12 for d in flagged)
    hashtag = next(d for d in flagged if d.measure == "hashtag_posts")
    assert hashtag.sample == 0 and hashtag.expected_sample > 200 and hashtag.z < -4
    outcome = drift_result({DAY: flagged}, [])
    assert not outcome.passed and "12 (hashtag_posts)" in outcome.description


def test_drift_ignores_small_shows_and_noise():
    volumes = [{"id": i, "hashtag_posts": 100, "text_posts": 100, "posts": 150} for i in range(1, 5)]
    volumes.append({"id": 5, "hashtag_posts": 10, "text_posts": 10, "posts": 15})
    # show 5 expects ~0.6 sampled posts: 3 or 0 are noise, not drift; shows 1-4 wobble by 20 %
    sample = [
        {"id": i, "hashtag_count": c, "text_count": c, "tweet_count": c}
        for i, c in enumerate([12, 8, 10, 10, 3], 1)
    ]
    assert sample_drift(sample, volumes) == []


def test_show_volume_day_bundles_rows_and_coverage_and_the_checks_list_a_missing_show():
    lines = [*_show(1, {0: 2}, {0: 1}, {0: 3}), *_show(2, {}, {}, {})]
    result = show_volume_day(lines, DAY, [1, 2, 3])
    assert [r["id"] for r in result.rows] == [1, 2] and result.problems == []
    assert result.coverage["missing_shows"] == [3]
    assert [(c.check_name, c.passed) for c in table_checks(result.rows, {DAY: [1, 2, 3]})] == [
        ("one_row_per_tracked_show", False),
        ("unique_id_date", True),
        ("posts_between_max_and_sum", True),
        ("hours_complete", True),
    ]
