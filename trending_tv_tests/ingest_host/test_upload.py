"""`ingest-host upload`: finished hours -> the lake (a local folder and moto's S3 server)."""

from __future__ import annotations

import gzip
import json
import socket

import pytest

from ingest_host.buffer import Buffer
from ingest_host.config import load_settings
from ingest_host.lake import Lake
from ingest_host.upload import run_upload
from trending_tv_tests.ingest_host.conftest import run_cli
from trending_tv_tests.ingest_host.servers import MotoS3, ms, post_ids_in, s3_env, utc, v2_post


def _lines(lake: Lake, key: str) -> list[bytes]:
    data = lake.read_bytes(key)
    if key.endswith(".gz"):
        data = gzip.decompress(data)
    return [line for line in data.split(b"\n") if line]


def test_hours_are_half_open_by_created_at_and_covered_empty_hours_get_a_file(env):
    settings = load_settings()
    lake = Lake.from_url(settings.lake)
    with Buffer(settings.buffer) as buffer:
        buffer.mark_minute(ms(utc(2024, 1, 1, 11, 30)))  # the collector ran in hour 11; nothing matched
        buffer.accept(v2_post(1, utc(2024, 1, 1, 9, 59, 59, 999000)), ms(utc(2024, 1, 1, 10, 0, 1)))
        buffer.accept(v2_post(2, utc(2024, 1, 1, 10, 0, 0)), ms(utc(2024, 1, 1, 10, 0, 1)))
        buffer.accept(v2_post(2, utc(2024, 1, 1, 10, 0, 0)), ms(utc(2024, 1, 1, 10, 0, 2)))  # duplicate
        buffer.accept(b'{"errors":[{"title":"operational-disconnect"}]}', ms(utc(2024, 1, 1, 10, 5)))
        buffer.accept(b"garbage", ms(utc(2024, 1, 1, 10, 6)))
        buffer.accept(v2_post(3, utc(2024, 1, 1, 12, 59, 59)), ms(utc(2024, 1, 1, 13, 0, 0)))
        buffer.accept(v2_post(4, utc(2024, 1, 1, 13, 10)), ms(utc(2024, 1, 1, 13, 10)))  # hour not finished
    report = run_upload(settings, now=ms(utc(2024, 1, 1, 14, 3)))  # 13:00 not finished until 14:05
    assert report.ok, report
    assert post_ids_in(_lines(lake, "tweet_raw/2024/01/01/09/2024-01-01-09.json")) == ["1"]
    ten = _lines(lake, "tweet_raw/2024/01/01/10/2024-01-01-10.json")
    assert post_ids_in(ten) == ["2"] and len(ten) == 3 and b"garbage" in ten  # notices kept as received
    assert lake.read_bytes("tweet_raw/2024/01/01/11/2024-01-01-11.json") == b""  # covered, empty file
    assert not lake.exists("tweet_raw/2024/01/01/08/2024-01-01-08.json")  # never covered: no file
    assert post_ids_in(_lines(lake, "tweet_raw/2024/01/01/12/2024-01-01-12.json")) == ["3"]
    assert not lake.exists("tweet_raw/2024/01/01/13/2024-01-01-13.json")
    stats = json.loads(lake.read_bytes("ingest_meta/tweet_raw/2024/01/01/10/2024-01-01-10.json"))
    assert stats["lines_by_kind_in_file"] == {"post": 1, "errors": 1, "corrupt": 1}
    assert stats["received_in_hour"]["duplicate"] == 1
    # nothing left: a second run uploads nothing
    assert run_upload(settings, now=ms(utc(2024, 1, 1, 14, 3))).uploaded == []
    # 13:00 finishes after the grace period
    assert run_upload(settings, now=ms(utc(2024, 1, 1, 14, 6))).uploaded == [
        "tweet_raw/2024/01/01/13/2024-01-01-13.json"
    ]


def test_a_late_post_re_uploads_its_hour_whole_even_after_pruning(env, monkeypatch):
    monkeypatch.setenv("TRENDING_TV_RETENTION_DAYS", "1")
    settings = load_settings()
    lake = Lake.from_url(settings.lake)
    key = "tweet_raw/2024/01/01/10/2024-01-01-10.json"
    with Buffer(settings.buffer) as buffer:
        buffer.accept(v2_post(1, utc(2024, 1, 1, 10, 1)), ms(utc(2024, 1, 1, 10, 1)))
        buffer.accept(v2_post(2, utc(2024, 1, 1, 10, 2)), ms(utc(2024, 1, 1, 10, 2)))
    # upload_at is the wall clock, so the retention cut-off is relative to it
    assert run_upload(settings).ok
    assert post_ids_in(_lines(lake, key)) == ["1", "2"]
    with Buffer(settings.buffer) as buffer:
        buffer.accept(v2_post(3, utc(2024, 1, 1, 10, 59)), ms(utc(2024, 1, 1, 11, 30)))
    assert key in run_upload(settings).uploaded  # (with the now-known empty hour 11)
    assert post_ids_in(_lines(lake, key)) == ["1", "2", "3"]  # the whole hour, not only the late post
    # prune everything uploaded (as if 2 days passed), then another late post arrives
    import time

    future = int(time.time() * 1000) + 2 * 86_400_000
    report = run_upload(settings, now=future)
    assert report.pruned_lines == 3
    with Buffer(settings.buffer) as buffer:
        assert buffer.stats()["lines"] == 0
        buffer.accept(v2_post(4, utc(2024, 1, 1, 10, 30)), ms(utc(2024, 1, 3, 0, 0)))
        buffer.accept(
            v2_post(2, utc(2024, 1, 1, 10, 2)), ms(utc(2024, 1, 3, 0, 0))
        )  # redelivered after prune
    assert key in run_upload(settings, now=future).uploaded
    assert post_ids_in(_lines(lake, key)) == ["1", "2", "3", "4"]  # merged with the lake, each once


def test_gzip_upload_replaces_the_plain_file(env, monkeypatch):
    settings = load_settings()
    lake = Lake.from_url(settings.lake)
    with Buffer(settings.buffer) as buffer:
        buffer.accept(v2_post(1, utc(2024, 1, 1, 10, 1)), ms(utc(2024, 1, 1, 10, 1)))
    assert run_upload(settings).ok
    with Buffer(settings.buffer) as buffer:
        buffer.accept(v2_post(2, utc(2024, 1, 1, 10, 2)), ms(utc(2024, 1, 1, 12, 1)))
    monkeypatch.setenv("TRENDING_TV_UPLOAD_GZIP", "true")
    assert run_upload(load_settings()).ok
    keys = [o.key for o in lake.list("tweet_raw/2024/01/01/10/")]
    assert keys == ["tweet_raw/2024/01/01/10/2024-01-01-10.json.gz"]
    assert post_ids_in(_lines(lake, keys[0])) == ["1", "2"]


def _dead_endpoint() -> str:
    with socket.socket() as sock:  # a port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.slow
def test_s3_unreachable_for_hours_then_every_hour_lands_once(env):
    """Hourly cron runs while S3 is down exit 1 and upload nothing; the first run after it returns
    uploads every hour (posts and empty hours), each post exactly once."""
    with MotoS3() as s3:
        env.update(s3_env(s3.endpoint))
        env["TRENDING_TV_LAKE"] = f"s3://{s3.bucket}/lake"
        env["TRENDING_TV_RETRY_ATTEMPTS"] = "2"
        settings_ids: list[str] = []
        with Buffer(env["TRENDING_TV_BUFFER"]) as buffer:
            for hour in range(0, 6):
                for n in range(3 if hour != 3 else 0):  # hour 03 has no posts
                    post_id = 100 * hour + n + 1
                    created = utc(2024, 2, 1, hour, 10 * n)
                    buffer.accept(v2_post(post_id, created), ms(created))
                    settings_ids.append(str(post_id))
                buffer.count_keepalive(ms(utc(2024, 2, 1, hour, 30)))
                buffer.mark_minute(ms(utc(2024, 2, 1, hour, 30)))
        down = {**env, "AWS_ENDPOINT_URL_S3": _dead_endpoint(), "AWS_MAX_ATTEMPTS": "2"}
        for hour in range(1, 7):  # six hourly runs during the outage
            result = run_cli(down, "upload", "--now", f"2024-02-01T{hour:02d}:07:00Z")
            assert result.returncode == 1, result.stderr
            assert "not uploaded" in result.stderr
        assert s3.keys("lake/tweet_raw/") == []
        result = run_cli(env, "upload", "--now", "2024-02-01T07:07:00Z")
        assert result.returncode == 0, result.stderr
        keys = s3.keys("lake/tweet_raw/")
        assert keys == [f"lake/tweet_raw/2024/02/01/{h:02d}/2024-02-01-{h:02d}.json" for h in range(6)]
        landed = [pid for key in keys for pid in post_ids_in(s3.read(key).split(b"\n"))]
        assert sorted(landed) == sorted(settings_ids) and len(landed) == len(set(landed))
        assert s3.read("lake/tweet_raw/2024/02/01/03/2024-02-01-03.json") == b""
        assert len(s3.keys("lake/ingest_meta/tweet_raw/")) == 6 + 1  # the hours' stats and the day's coverage
        coverage = json.loads(s3.read("lake/ingest_meta/tweet_raw/2024/02/01/2024-02-01.json"))
        assert coverage["hours_with_file"] == [f"{h:02d}" for h in range(6)]
        assert coverage["empty_hours"] == ["03"]
        again = run_cli(env, "upload", "--now", "2024-02-01T07:07:00Z")
        assert again.returncode == 0 and "uploaded 0 hour file(s)" in again.stdout
