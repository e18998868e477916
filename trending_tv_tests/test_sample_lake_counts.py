"""End to end against ground truth: the Spark counting of a generated sample lake equals what the
generator knows it wrote (rows tallied from its plans, never by matching text), and the parser's
line counts equal the generator's count of each kind of line."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from ingest_host import layout
from ingest_host.lake import Lake
from ingest_host.tracked_shows import parse_tracked_shows
from trending_tv.transforms.tweet_stat import compute_tweet_stat, prefixes_to_list, raw_keys_for_days
from trending_tv_sample.generator import generate_sample_lake

DAYS = [date(2020, 11, 26), date(2020, 11, 27), date(2020, 11, 28)]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample_lake")
    summary = generate_sample_lake(Lake.from_url(root), start=DAYS[0], end=DAYS[-1])
    return Lake.from_url(root), summary


@pytest.fixture(scope="module")
def counted(spark, sample):
    lake, _ = sample
    shows = {d: list(parse_tracked_shows(lake.read_text(layout.tracked_shows_day_key(d)))) for d in DAYS}
    listed = [o for prefix in prefixes_to_list(DAYS) for o in lake.list(prefix)]
    keys = raw_keys_for_days(listed, DAYS)
    return compute_tweet_stat(spark, [lake.uri(k) for k in keys], shows)


def test_every_tweet_stat_row_equals_the_ground_truth(sample, counted):
    _, summary = sample
    truth = {(r.id, r.date): (r.hashtag_count, r.text_count, r.tweet_count) for r in summary.tweet_stat}
    computed = {
        (r["id"], r["date"]): (r["hashtag_count"], r["text_count"], r["tweet_count"]) for r in counted.rows
    }
    assert len(computed) == 160 * len(DAYS)
    assert computed == truth
    assert sum(t[2] for t in computed.values()) > 1000  # the comparison is not between empty tables


def test_line_kinds_posts_and_duplicates_equal_the_generators_counts(sample, counted):
    _, summary = sample
    expected: Counter = Counter()
    for day in summary.parse_counts:
        for kind, count in day.counts.items():
            expected[kind] += count
    assert {k: v for k, v in counted.line_counts.items() if v} == {k: v for k, v in expected.items() if v}
    assert counted.posts_in_days == {d.date: d.posts_on_date for d in summary.parse_counts}
    assert counted.duplicates_dropped == sum(d.duplicate_deliveries_on_date for d in summary.parse_counts)
