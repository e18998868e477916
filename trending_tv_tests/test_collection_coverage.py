"""Coverage on the Dagster side: raw_tweets reads the ingest host's day coverage file (written by the
real `ingest-host upload`), reports each hour's and day's coverage, and warns below the configured
share of the day's minutes, naming the hours; sealing takes the uploader's line counts instead of
reading every raw file again (on S3: without downloading the day)."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, materialize

from ingest_host import layout
from ingest_host.buffer import Buffer
from ingest_host.lake import Lake
from trending_tv.assets.raw import raw_tweets
from trending_tv.checks import COLLECTION_COVERAGE
from trending_tv.raw_manifest import DayCoverage, read_day_coverage, seal_tweet_day
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import DataQualityResource
from trending_tv_tests.ingest_host.conftest import run_cli
from trending_tv_tests.ingest_host.servers import BEARER, TMDB_KEY, MotoS3, ms, s3_env, v2_post
from trending_tv_tests.lake_fixtures import tiny_lake

DAY = date(2024, 3, 10)
OUTAGE = ["06", "07", "08", "09", "10", "11"]


def collect_with_an_outage(tmp_path: Path, lake_url: str, extra_env: dict[str, str] | None = None) -> None:
    """The collector connected 00:00-05:59 and 12:00-23:59 on DAY (the host down 06-11), one post in
    every covered hour but 02 (covered, nothing matched), then the real `ingest-host upload`."""
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    buffer_path = tmp_path / "buffer.sqlite3"
    with Buffer(str(buffer_path), "NORMAL") as buffer:
        for hour in (*range(0, 6), *range(12, 24)):
            for minute in range(60):
                buffer.mark_minute(ms(start + timedelta(hours=hour, minutes=minute)), cap=5000)
            if hour != 2:
                created = start + timedelta(hours=hour, minutes=17)
                buffer.accept(v2_post(1000 + hour, created), ms(created))
    tracked = tmp_path / "tracked_shows.csv"
    tracked.write_text("id,name,hashtags,aliases\n82856,The Mandalorian,#TheMandalorian,\n")
    env = {
        "TRENDING_TV_LAKE": lake_url,
        "TRENDING_TV_BUFFER": str(buffer_path),
        "TRENDING_TV_TRACKED_SHOWS": str(tracked),
        "X_BEARER_TOKEN": BEARER,
        "TMDB_API_KEY": TMDB_KEY,
        **(extra_env or {}),
    }
    result = run_cli(env, "upload", "--now", "2024-03-11T00:10:00Z")
    assert result.returncode == 0, result.stderr
    assert "uploaded 18 hour file(s)" in result.stdout


def materialize_raw_tweets(root: Path, day: date = DAY, **quality):
    return materialize(
        [raw_tweets],
        resources={"lake": LakeResource(url=str(root)), "data_quality": DataQualityResource(**quality)},
        partition_key=day.isoformat(),
    )


def check(result, name: str):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_a_six_hour_outage_gives_six_missing_hours_and_a_warning_naming_them(tmp_path):
    root = tmp_path / "lake"
    root.mkdir()
    collect_with_an_outage(tmp_path, str(root))
    result = materialize_raw_tweets(root)
    assert result.success  # a WARN, not a failure: the day's data is real, only incomplete

    coverage = check(result, COLLECTION_COVERAGE)
    assert coverage.passed is False and coverage.severity == AssetCheckSeverity.WARN
    assert "75.0% of the day's minutes covered" in coverage.description
    assert "6 hour(s) not covered: 06, 07, 08, 09, 10, 11" in coverage.description
    assert coverage.metadata["days_below_threshold"].value == {
        "2024-03-10": {"share_of_day": 0.75, "hours_not_covered": OUTAGE, "partial_hours": {}, "final": True}
    }
    assert check(result, "all_24_hours_present").passed is False

    [event] = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    hours = [r.data for r in meta["coverage_by_hour"].records]
    assert [h["hour"] for h in hours if h["state"] == "missing"] == OUTAGE
    assert all(not h["file"] and h["minutes_covered"] == 0 for h in hours if h["state"] == "missing")
    assert {h["state"] for h in hours if h["hour"] not in OUTAGE} == {"complete"}
    assert next(h for h in hours if h["hour"] == "02")["posts"] == 0
    [day] = meta["coverage_by_day"].records
    assert day.data["state"] == "incomplete"
    assert day.data["share_covered"] == 0.75 and day.data["minutes_covered"] == 18 * 60
    assert day.data["missing_hours"] == ", ".join(OUTAGE) and day.data["empty_hours"] == "02"

    # sealing took every file's lines from the uploader: the same figures as reading them
    manifest = json.loads((root / layout.manifest_key("tweet_raw", DAY)).read_text())
    assert manifest["lines_from"] == {"coverage": 18, "read": 0}
    read = seal_tweet_day(Lake.from_url(root), DAY)
    assert read.lines_from == {"coverage": 0, "read": 18}
    assert [(f["key"], f["lines"]) for f in manifest["files"]] == [(f.key, f.lines) for f in read.files]
    assert meta["lines_counted_by_uploader"].value == 18


def test_the_share_is_configurable(tmp_path):
    root = tmp_path / "lake"
    root.mkdir()
    collect_with_an_outage(tmp_path, str(root))
    result = materialize_raw_tweets(root, collection_min_coverage=0.7)
    assert check(result, COLLECTION_COVERAGE).passed is True


def test_a_day_without_a_coverage_file_is_coverage_unknown(tmp_path):
    root = tmp_path / "lake"
    tiny_lake(root, date(2020, 11, 23))
    result = materialize_raw_tweets(root, date(2020, 11, 23))
    coverage = check(result, COLLECTION_COVERAGE)
    assert coverage.passed is False and coverage.severity == AssetCheckSeverity.WARN
    assert "2020-11-23: coverage unknown (no coverage file" in coverage.description
    assert coverage.metadata["days_coverage_unknown"].value == ["2020-11-23"]
    [day] = result.get_asset_materialization_events()[0].materialization.metadata["coverage_by_day"].records
    assert day.data["state"] == "coverage unknown"
    manifest = json.loads((root / layout.manifest_key("tweet_raw", date(2020, 11, 23))).read_text())
    assert manifest["lines_from"] == {"coverage": 0, "read": 24}  # without coverage every file is read


def test_a_file_replaced_after_the_coverage_was_written_is_read_again(tmp_path):
    root = tmp_path / "lake"
    root.mkdir()
    collect_with_an_outage(tmp_path, str(root))
    lake = Lake.from_url(root)
    replaced = root / layout.tweet_hour_key(datetime(2024, 3, 10, 13))
    replaced.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": 3}\n')
    later = read_day_coverage(lake, DAY).written.timestamp() + 60
    os.utime(replaced, (later, later))
    manifest = seal_tweet_day(lake, DAY, read_day_coverage(lake, DAY))
    assert manifest.lines_from == {"coverage": 17, "read": 1}
    assert next(f.lines for f in manifest.files if f.key.endswith("13.json")) == 3


def test_the_uploader_records_each_files_bytes_and_a_same_age_file_of_another_size_is_read(tmp_path):
    """The real upload writes each hour's bytes into the coverage file; a file replaced by one of
    another size is counted again even when its timestamp is not later than the coverage file's."""
    root = tmp_path / "lake"
    root.mkdir()
    collect_with_an_outage(tmp_path, str(root))
    lake = Lake.from_url(root)
    coverage = read_day_coverage(lake, DAY)
    for label in coverage.document["hours_with_file"]:
        entry = coverage.hour(label)
        assert entry["bytes"] == (root / entry["key"]).stat().st_size, label  # 02: empty, 0 bytes
    replaced = root / layout.tweet_hour_key(datetime(2024, 3, 10, 13))
    stamp = replaced.stat().st_mtime  # before the coverage file was written
    replaced.write_bytes(replaced.read_bytes() + b'{"late": 1}\n{"late": 2}\n')
    os.utime(replaced, (stamp, stamp))
    manifest = seal_tweet_day(lake, DAY, read_day_coverage(lake, DAY))
    assert manifest.lines_from == {"coverage": 17, "read": 1}
    assert next(f.lines for f in manifest.files if f.key.endswith("13.json")) == 3


def test_a_file_whose_size_differs_from_the_recorded_bytes_is_read_again(tmp_path):
    """A coverage entry that records the file's bytes vouches for its lines only at that size, even
    when the timestamps say the file is older than the coverage file."""
    root = tmp_path / "lake"
    root.mkdir()
    collect_with_an_outage(tmp_path, str(root))
    lake = Lake.from_url(root)
    coverage = read_day_coverage(lake, DAY)
    replaced = root / layout.tweet_hour_key(datetime(2024, 3, 10, 13))
    size = replaced.stat().st_size
    hours = dict(coverage.document["hours"])
    hours["13"] = {**hours["13"], "bytes": size}
    hours["14"] = {**hours["14"], "bytes": size + 1}  # not what is in the lake: read the file
    recorded = DayCoverage(DAY, {**coverage.document, "hours": hours}, coverage.written)
    manifest = seal_tweet_day(lake, DAY, recorded)
    assert manifest.lines_from == {"coverage": 17, "read": 1}
    assert next(f.lines for f in manifest.files if f.key.endswith("14.json")) == 1


def test_sealing_on_s3_reads_the_coverage_file_and_no_raw_file(tmp_path, monkeypatch):
    with MotoS3(bucket="coverage-lake") as s3:
        env = s3_env(s3.endpoint)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        url = f"s3://{s3.bucket}/lake"
        collect_with_an_outage(tmp_path, url, env)
        lake = Lake.from_url(url)
        opened: list[str] = []
        open_read = lake.open_read

        def spy(key: str):
            opened.append(key)
            return open_read(key)

        monkeypatch.setattr(lake, "open_read", spy)
        manifest = seal_tweet_day(lake, DAY, read_day_coverage(lake, DAY))
        assert opened == [layout.tweet_day_coverage_key(DAY)]
        assert manifest.lines_from == {"coverage": 18, "read": 0}
        assert manifest.total_lines == 17  # one post in each covered hour but 02


@pytest.mark.parametrize(
    ("document", "error"), [(b'{"final": true, "share_cov', "not JSON"), (b"[1, 2]", "not a JSON object")]
)
def test_an_unreadable_coverage_file_vouches_for_nothing_and_says_so(tmp_path, document, error):
    """Not "coverage unknown" (that is a day without a file): the file is there and says nothing, so
    no minute counts as covered, no file's lines are taken from it and the day warns, naming the
    file as unreadable."""
    root = tmp_path / "lake"
    tiny_lake(root, DAY)
    (root / layout.tweet_day_coverage_key(DAY)).parent.mkdir(parents=True)
    (root / layout.tweet_day_coverage_key(DAY)).write_bytes(document)
    coverage = read_day_coverage(Lake.from_url(root), DAY)
    assert coverage is not None and coverage.error.startswith(error)
    assert (coverage.share_of_day, coverage.final, coverage.document) == (0.0, False, {})

    result = materialize_raw_tweets(root)
    assert result.success  # a WARN, not a crash
    warned = check(result, COLLECTION_COVERAGE)
    assert warned.passed is False and warned.severity == AssetCheckSeverity.WARN
    assert f"2024-03-10: coverage file unreadable ({error}" in warned.description
    assert warned.metadata["days_below_threshold"].value["2024-03-10"]["unreadable"].startswith(error)
    assert warned.metadata["days_coverage_unknown"].value == []
    [day] = result.get_asset_materialization_events()[0].materialization.metadata["coverage_by_day"].records
    assert day.data["state"] == "coverage file unreadable" and day.data["share_covered"] == 0.0
    manifest = json.loads((root / layout.manifest_key("tweet_raw", DAY)).read_text())
    assert manifest["lines_from"] == {"coverage": 0, "read": 24}
