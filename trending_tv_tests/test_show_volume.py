"""raw_counts, show_volume, the sample-drift check and show_trends on exact volumes, through Dagster on
sample lakes: the sample's counts_raw/ (the published 2020 volumes at full scale, in fetch-counts'
format) for the 9 days, a deliberately broken hashtag, a missing and a low-coverage counts day."""

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
from trending_tv.assets.dimensions import tvshows
from trending_tv.assets.raw import raw_tmdb, raw_tweets
from trending_tv.assets.raw_counts import raw_counts
from trending_tv.assets.show_trends import show_trends
from trending_tv.assets.show_volume import show_volume, show_volume_sample_drift
from trending_tv.assets.tweet_stat import tweet_stat
from trending_tv.settings import DataQualityResource
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
    missing = {json.loads(line)["show_id"] for line in lines[len(kept) :]}
    assert set(one_row.metadata[day.isoformat()].value["missing"]) <= missing
    assert len(read_rows(tmp_path / "lake", "show_volume")) == 160 - len(
        one_row.metadata[day.isoformat()].value["missing"]
    )


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
