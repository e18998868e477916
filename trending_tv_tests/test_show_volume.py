"""raw_counts, show_volume, the sample-drift check and show_trends on exact volumes, through Dagster on
sample lakes: the sample's counts_raw/ (the published 2020 volumes at full scale, in fetch-counts'
format) for the 9 days, a deliberately broken hashtag, a missing and a low-coverage counts day; and
show_volume's checks (trending_tv.checks) on small hand-made rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import AssetCheckSeverity, AssetKey, materialize

from ingest_host import layout
from ingest_host.lake import Lake
from ingest_host.tracked_shows import format_tracked_shows, parse_tracked_shows
from trending_tv import checks
from trending_tv.assets.dimensions import tvshows
from trending_tv.assets.raw import raw_tmdb, raw_tweets
from trending_tv.assets.raw_counts import raw_counts
from trending_tv.assets.show_trends import show_trends
from trending_tv.assets.show_volume import (
    drift_result,
    show_volume,
    show_volume_sample_drift,
    table_checks,
)
from trending_tv.assets.tweet_stat import tweet_stat
from trending_tv.settings import DataQualityResource
from trending_tv.transforms.show_volume import Drift
from trending_tv_sample.generator import generate_sample_lake
from trending_tv_tests.test_slice_materialize import resources

START, END = date(2020, 11, 23), date(2020, 12, 1)
DAYS = [START + timedelta(days=i) for i in range((END - START).days + 1)]
RANGE_TAGS = {
    "dagster/asset_partition_range_start": START.isoformat(),
    "dagster/asset_partition_range_end": END.isoformat(),
}
MANDALORIAN = 82856


def read_rows(root: Path, table: str) -> list[dict]:
    return [
        r
        for f in sorted((root / "analytics" / table).rglob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]


def checks_of(result) -> dict[str, object]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def truth(root: Path) -> dict[tuple[int, str], dict]:
    text = (root / "sample_truth" / "show_volume.csv").read_text()
    return {(int(r["id"]), r["date"]): r for r in csv.DictReader(io.StringIO(text))}


@pytest.fixture(scope="module")
def nine_days(tmp_path_factory):
    """The 9-day sample lake with every table show_trends needs, materialized in one run."""
    root = tmp_path_factory.mktemp("sample") / "lake"
    generate_sample_lake(Lake.from_url(root), start=START, end=END)
    result = materialize(
        [
            raw_tweets,
            raw_tmdb,
            tvshows,
            tweet_stat,
            raw_counts,
            show_volume,
            show_volume_sample_drift,
            show_trends,
        ],
        resources=resources(root),
        tags=RANGE_TAGS,
        raise_on_error=False,
    )
    return root, result


def test_show_volume_equals_the_samples_counts_for_the_9_days(spark, nine_days):
    root, result = nine_days
    assert result.success
    checks = checks_of(result)
    for name in (
        "raw_counts:raw_data_landed",
        "show_volume:one_row_per_tracked_show",
        "show_volume:unique_id_date",
        "show_volume:posts_between_max_and_sum",
        "show_volume:hours_complete",
    ):
        assert checks[name].passed, name
    rows = read_rows(root, "show_volume")
    expected = truth(root)
    assert len(rows) == len(expected) == 160 * len(DAYS)
    for r in rows:
        t = expected[(r["id"], r["date"].isoformat())]
        assert (r["hashtag_posts"], r["text_posts"], r["posts"]) == (
            int(t["hashtag_posts"]),
            int(t["text_posts"]),
            int(t["posts"]),
        )
        assert r["posts_hourly"] == [int(v) for v in t["posts_hourly"].split("|")]
        assert sum(r["hashtag_hourly"]) == r["hashtag_posts"] and sum(r["text_hourly"]) == r["text_posts"]
    # full scale: the published 2020 volumes, e.g. The Mandalorian's 10,890 posts on 11-27
    by_key = {(r["id"], r["date"]): r for r in rows}
    assert by_key[(MANDALORIAN, date(2020, 11, 27))]["posts"] == 10_890
    meta = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("show_volume")]
    assert meta[0].materialization.metadata["dagster/row_count"].value == 160 * len(DAYS)
    assert "dagster/column_schema" in show_volume.specs_by_key[AssetKey("show_volume")].metadata


def test_show_trends_ranks_the_exact_volumes_on_all_9_days(spark, nine_days):
    root, result = nine_days
    assert result.success
    volume = {(r["id"], r["date"]): r["posts"] for r in read_rows(root, "show_volume")}
    sample = {(r["id"], r["date"]): r["tweet_count"] for r in read_rows(root, "tweet_stat")}
    trends = read_rows(root, "show_trends")
    assert {r["date"] for r in trends} == set(DAYS)
    assert {r["source"] for r in trends} == {"show_volume"}
    assert {(r["id"], r["date"]): r["posts"] for r in trends} == volume
    assert sum(volume.values()) > 25 * sum(sample.values())  # full scale, not the 0.02 sample
    last = [r for r in trends if r["date"] == END]
    top = min(last, key=lambda r: r["popular_rank"])
    assert top["posts"] == max(volume[(r["id"], END)] for r in last)


def test_the_drift_check_passes_on_the_sample(spark, nine_days):
    _, result = nine_days
    drift = checks_of(result)["show_volume:sample_drift"]
    assert drift.passed, drift.description
    assert drift.metadata["days_compared"].value == len(DAYS)


def test_the_drift_check_flags_a_show_whose_hashtag_is_broken(spark, tmp_path):
    """The tracked list misspells The Mandalorian's hashtags on 11-27: the stream's sample loses its
    hashtag posts while X's counts (fetched with the right query) keep them."""
    day = date(2020, 11, 27)
    root = tmp_path / "lake"
    lake = Lake.from_url(root)
    generate_sample_lake(lake, start=day, end=day)
    key = layout.tracked_shows_day_key(day)
    shows = list(parse_tracked_shows(lake.read_text(key)))
    broken = [
        s if s.id != MANDALORIAN else type(s)(s.id, s.name, ("#TheMandolorian",), s.aliases) for s in shows
    ]
    lake.write_text(key, format_tracked_shows(broken))
    result = materialize(
        [raw_tweets, raw_tmdb, tvshows, tweet_stat, raw_counts, show_volume, show_volume_sample_drift],
        resources=resources(root),
        partition_key=day.isoformat(),
    )
    assert result.success  # a WARN: it names the show, it does not stop the run
    drift = checks_of(result)["show_volume:sample_drift"]
    assert not drift.passed and drift.severity == AssetCheckSeverity.WARN
    flagged = drift.metadata["flagged"].value.records
    assert {r.data["id"] for r in flagged} == {MANDALORIAN}
    hashtag = next(r.data for r in flagged if r.data["measure"] == "hashtag_posts")
    assert hashtag["sample"] < hashtag["exact"] and hashtag["ratio"] < 0.5
    assert str(MANDALORIAN) in drift.description


def _counts_only_lake(root: Path, day: date) -> Lake:
    lake = Lake.from_url(root)
    generate_sample_lake(lake, start=day, end=day, write_posts=False)
    return lake


def test_raw_counts_blocks_a_missing_day(tmp_path):
    day = date(2020, 11, 24)
    lake = _counts_only_lake(tmp_path / "lake", day)
    lake.delete([layout.counts_day_key(day)])
    result = materialize(
        [raw_counts, show_volume],
        resources={**resources(tmp_path / "lake"), "data_quality": DataQualityResource()},
        partition_key=day.isoformat(),
        raise_on_error=False,
    )
    assert not result.success
    landed = checks_of(result)["raw_counts:raw_data_landed"]
    assert not landed.passed and landed.severity == AssetCheckSeverity.ERROR
    assert layout.counts_day_key(day) in landed.description
    assert not [
        e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("show_volume")
    ]
    assert not (tmp_path / "lake" / "analytics" / "show_volume").exists()


def test_raw_counts_blocks_a_low_coverage_day_at_the_configured_threshold(tmp_path):
    day = date(2020, 11, 24)
    lake = _counts_only_lake(tmp_path / "lake", day)
    key = layout.counts_day_key(day)
    lines = lake.read_bytes(key).splitlines(keepends=True)
    kept = lines[: int(len(lines) * 0.9)]  # the last 10% of (show, query) pairs never landed
    lake.write_bytes(key, b"".join(kept))

    def run(min_coverage: float):
        return materialize(
            [raw_counts, show_volume],
            resources={
                **resources(tmp_path / "lake"),
                "data_quality": DataQualityResource(counts_min_coverage=min_coverage),
            },
            partition_key=day.isoformat(),
            raise_on_error=False,
        )

    blocked = run(0.95)
    assert not blocked.success
    landed = checks_of(blocked)["raw_counts:raw_data_landed"]
    assert not landed.passed and "below 95%" in landed.description
    assert landed.metadata["coverage"].value == {day.isoformat(): round(len(kept) / len(lines), 4)}

    allowed = run(0.85)  # the same day passes a lower threshold; show_volume then lists the gaps
    assert allowed.success
    checks = checks_of(allowed)
    assert checks["raw_counts:raw_data_landed"].passed
    one_row = checks["show_volume:one_row_per_tracked_show"]
    assert not one_row.passed and one_row.severity == AssetCheckSeverity.WARN
    dropped = {json.loads(line)["show_id"] for line in lines[len(kept) :]}
    missing = one_row.metadata["missing_ids"].value[day.isoformat()]
    assert missing and set(missing) <= dropped and one_row.metadata["missing"].value == len(missing)
    assert one_row.metadata["unexpected_ids"].value == {}
    assert len(read_rows(tmp_path / "lake", "show_volume")) == 160 - len(missing)


def test_the_samples_counts_lines_are_what_fetch_counts_lands(tmp_path):
    """Every line passes the ingest host's own readers (line_key, validate_body), in tracked order,
    with fetch-counts' fields; a name inside another's counts that one's posts too."""
    from ingest_host.counts import line_key, validate_body
    from ingest_host.rules import COUNTS_QUERY_KINDS

    day = date(2020, 11, 25)
    lake = _counts_only_lake(tmp_path / "lake", day)
    lines = lake.read_bytes(layout.counts_day_key(day)).splitlines()
    shows = list(parse_tracked_shows(lake.read_text(layout.tracked_shows_day_key(day))))
    assert [line_key(line) for line in lines] == [(s.id, k) for s in shows for k in COUNTS_QUERY_KINDS]
    for line in lines:
        obj = json.loads(line)
        assert set(obj) == {
            "show_id", "name", "query_kind", "query", "combine", "granularity", "start_time", "end_time",
            "parts", "requests", "price_per_request_usd", "cost_usd", "fetched_at",
        }  # fmt: skip
        assert (obj["start_time"], obj["end_time"]) == ("2020-11-25T00:00:00Z", "2020-11-26T00:00:00Z")
        for part in obj["parts"]:
            [page] = part["pages"]
            assert len(validate_body(page["body"])["data"]) == 24 and page["status"] == 200
    volumes = {(int(r["id"])): r for (_, d), r in truth(tmp_path / "lake").items() if d == day.isoformat()}
    house, house_of_cards = volumes[1408], volumes[1425]
    assert int(house["text_posts"]) >= int(house_of_cards["text_posts"])


# --- show_volume's checks on hand-made rows ---

DAY = date(2026, 11, 28)


def _row(show_id: int, hashtag: int | None, text: int | None, posts: int | None, hour: int = 5) -> dict:
    """A show_volume row whose day falls in one hour (`hour`); a None count is a missing query."""

    def series(count: int | None) -> list[int] | None:
        return None if count is None else [count if h == hour else 0 for h in range(24)]

    return {
        "id": show_id,
        "date": DAY,
        "hashtag_posts": hashtag,
        "text_posts": text,
        "posts": posts,
        "hashtag_hourly": series(hashtag),
        "text_hourly": series(text),
        "posts_hourly": series(posts),
    }


def _table_checks(rows: list[dict], tracked: set[int]) -> dict[str, object]:
    return {r.check_name: r for r in table_checks(rows, {DAY: tracked})}


def test_the_table_checks_pass_on_consistent_rows():
    rows = [_row(1, 4, 3, 5), _row(2, 0, 9, 9), _row(3, 7, 7, 7)]
    results = _table_checks(rows, {1, 2, 3})
    assert list(results) == [
        "one_row_per_tracked_show",
        "unique_id_date",
        "posts_between_max_and_sum",
        "hours_complete",
    ]
    assert {name: r.passed for name, r in results.items()} == dict.fromkeys(results, True)


def test_the_table_checks_name_each_broken_rule():
    rows = [
        _row(1, 3, 2, 6),  # posts 6 > h + t = 5
        _row(2, 3, 2, 2),  # posts 2 < max(h, t) = 3
        _row(2, 3, 2, 4),  # a second row of show 2
        _row(3, 1, None, 1),  # its text query is missing: not judged by the bounds
        _row(5, 1, 1, 1),  # not tracked
    ]
    rows[3]["hashtag_hourly"][:6] = [None] * 6  # hours 0-5 outside the request window
    results = _table_checks(rows, {1, 2, 3, 4})

    one_row = results["one_row_per_tracked_show"]
    assert not one_row.passed and one_row.severity == AssetCheckSeverity.ERROR  # untracked: a bug
    assert one_row.metadata["missing_ids"].value == {"2026-11-28": [4]}
    assert one_row.metadata["unexpected_ids"].value == {"2026-11-28": [5]}
    assert (one_row.metadata["missing"].value, one_row.metadata["unexpected"].value) == (1, 1)

    unique = results["unique_id_date"]
    assert not unique.passed and unique.metadata["sample"].value == ["2@2026-11-28"]

    bounds = results["posts_between_max_and_sum"]
    assert not bounds.passed and bounds.severity == AssetCheckSeverity.ERROR
    assert bounds.metadata["violations"].value == 4
    assert bounds.metadata["sample"].value == [
        "1@2026-11-28",
        "1@2026-11-28 hour 05",
        "2@2026-11-28",
        "2@2026-11-28 hour 05",
    ]

    hours = results["hours_complete"]
    assert not hours.passed and hours.severity == AssetCheckSeverity.WARN
    assert hours.metadata["incomplete"].value == 2
    assert hours.metadata["sample"].value == {
        "3@2026-11-28:hashtags": [0, 1, 2, 3, 4, 5],
        "3@2026-11-28:text": "query missing",
    }


def test_a_tracked_show_without_a_row_is_a_warning_for_show_volume_and_an_error_by_default():
    rows = [_row(1, 4, 3, 5)]
    show_volume_check = _table_checks(rows, {1, 2})["one_row_per_tracked_show"]
    assert not show_volume_check.passed and show_volume_check.severity == AssetCheckSeverity.WARN
    assert show_volume_check.metadata["missing_ids"].value == {"2026-11-28": [2]}
    default = checks.one_row_per_tracked_show(rows, {DAY: {1, 2}})  # as tweet_stat calls it
    assert not default.passed and default.severity == AssetCheckSeverity.ERROR


def test_counts_consistent_keeps_tweet_stats_columns_by_default():
    rows = [
        {"id": 1, "date": DAY, "hashtag_count": 2, "text_count": 1, "tweet_count": 3},
        {"id": 2, "date": DAY, "hashtag_count": -1, "text_count": 1, "tweet_count": 1},
        {"id": 3, "date": DAY, "hashtag_count": 2, "text_count": 2, "tweet_count": 5},
    ]
    result = checks.counts_consistent(rows)
    assert result.check_name == "counts_consistent" and not result.passed
    assert result.metadata["sample"].value == ["2@2026-11-28", "3@2026-11-28"]


def test_the_drift_result_names_each_day_show_and_measure():
    drift = Drift(12, "hashtag_posts", 0, 240, 0.0, 0.05, 240.0, 0.002, -15.5)
    flagged = drift_result({DAY: [drift], DAY + timedelta(days=1): []}, ["2026-11-30"])
    assert not flagged.passed and flagged.severity == AssetCheckSeverity.WARN
    assert flagged.description == "2026-11-28: sample drifts for show(s) 12 (hashtag_posts)"
    [record] = flagged.metadata["flagged"].records
    assert record.data == {
        "date": "2026-11-28",
        "id": 12,
        "measure": "hashtag_posts",
        "sample": 0,
        "exact": 240,
        "sample_share": 0.0,
        "exact_share": 0.05,
        "ratio": 0.002,
        "z": -15.5,
    }
    assert (flagged.metadata["flagged_count"].value, flagged.metadata["days_compared"].value) == (1, 2)
    assert flagged.metadata["days_without_both"].value == ["2026-11-30"]
    assert drift_result({DAY: []}, []).passed
    nothing = drift_result({}, ["2026-11-28"])
    assert nothing.passed and nothing.description.startswith("nothing to compare")
