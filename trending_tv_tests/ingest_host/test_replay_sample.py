"""`trending-tv-sample-lake replay` (the sample's stream through `ingest_host.replay`) -> buffer ->
`ingest-host upload` into a folder lake and into moto's S3 server:
both get the same bytes, and the Spark counting of the bucket's files (staged locally, as local
runs read an S3 lake) equals the sample's ground truth, row for row."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from ingest_host import layout
from ingest_host.buffer import HOUR_MS, Buffer, classify
from ingest_host.lake import Lake
from ingest_host.replay import replay_lines
from ingest_host.tracked_shows import parse_tracked_shows
from trending_tv.transforms.tweet_stat import compute_tweet_stat, prefixes_to_list, raw_keys_for_days
from trending_tv_sample.cli import main as sample_cli
from trending_tv_sample.generator import expected_tweet_stat, generate_sample_lake, iter_stream_messages
from trending_tv_tests.ingest_host.conftest import child_env, run_cli
from trending_tv_tests.ingest_host.servers import MotoS3, s3_env, utc, v2_post

DAYS = [date(2020, 11, 27), date(2020, 11, 28)]
NOW = "2020-11-30T00:00:00Z"  # every hour of the sample is finished


def run_sample_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`trending-tv-sample-lake ARGS` in a subprocess with exactly the given settings."""
    return subprocess.run(
        [sys.executable, "-m", "trending_tv_sample.cli", *args],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _copy_buffer(source: str, target: str) -> None:
    """A second buffer with the same lines, none uploaded (SQLite's backup API, WAL-safe)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _count(spark, lake: Lake, shows_lake: Lake, local_paths) -> list[tuple[int, date, int, int, int]]:
    shows = {
        d: list(parse_tracked_shows(shows_lake.read_text(layout.tracked_shows_day_key(d)))) for d in DAYS
    }
    listed = [o for prefix in prefixes_to_list(DAYS) for o in lake.list(prefix)]
    keys = raw_keys_for_days(listed, DAYS)
    assert len(keys) == 24 * len(DAYS) + 2  # the days' hours, D-1 hour 23 and D+1 hour 00
    result = compute_tweet_stat(spark, local_paths(keys), shows)
    assert result.duplicates_dropped == 0  # the buffer stored each post once
    return sorted(
        (r["id"], r["date"], r["hashtag_count"], r["text_count"], r["tweet_count"]) for r in result.rows
    )


@pytest.mark.slow
def test_replay_sample_upload_to_folder_and_s3_counts_equal_the_ground_truth(env, spark, tmp_path):
    lake = Lake.from_url(env["TRENDING_TV_LAKE"])
    # what make demo does first: everything but the posts, with the ground truth
    summary = generate_sample_lake(lake, start=DAYS[0], end=DAYS[-1], write_posts=False)
    assert not summary.posts_written and summary.files == 0
    assert lake.list("tweet_raw/") == []
    assert not lake.exists("sample_truth/parse_counts.csv")
    assert lake.exists(layout.tracked_shows_day_key(DAYS[0])) and lake.exists(layout.CONFIG_TRACKED_SHOWS)

    started = time.monotonic()
    # NORMAL as in make demo: an fsync per message (FULL) only makes the replay of ~11,000 messages slow
    replay_env = {**env, "TRENDING_TV_SQLITE_SYNCHRONOUS": "NORMAL"}
    result = run_sample_cli(replay_env, "replay", "--start", "2020-11-27", "--end", "2020-11-28", timeout=120)
    assert result.returncode == 0, result.stderr
    replayed = json.loads(result.stdout.split("replayed: ", 1)[1])
    messages = list(iter_stream_messages(DAYS[0], DAYS[-1]))
    kinds = {"keepalive": sum(1 for m in messages if not m.line.strip())}
    seen: set[str] = set()
    for m in messages:
        if m.line.strip():
            c = classify(m.line)
            kind = "duplicate" if c.post_id is not None and c.post_id in seen else c.kind
            if c.post_id is not None:
                seen.add(c.post_id)
            kinds[kind] = kinds.get(kind, 0) + 1
    assert replayed == kinds
    assert replayed["post"] > 5000 and replayed["duplicate"] > 0 and replayed["errors"] > 0

    _copy_buffer(env["TRENDING_TV_BUFFER"], str(tmp_path / "buffer_s3.sqlite3"))
    result = run_cli(env, "upload", "--now", NOW)
    assert result.returncode == 0, result.stderr
    assert "uploaded 50 hour file(s); 0 hour(s) left" in result.stdout
    print(f"\nsample replay (2 days) + upload to a folder: {time.monotonic() - started:.1f} s")

    day_before, day_after = DAYS[0] - timedelta(days=1), DAYS[-1] + timedelta(days=1)
    raw = [o.key for o in lake.list("tweet_raw/")]
    assert raw[0] == f"tweet_raw/{day_before:%Y/%m/%d}/23/{day_before}-23.json"
    assert raw[-1] == f"tweet_raw/{day_after:%Y/%m/%d}/00/{day_after}-00.json"
    post_ids = [c.post_id for k in raw for c in map(classify, lake.read_bytes(k).splitlines()) if c.post_id]
    assert len(post_ids) == len(set(post_ids)) == replayed["post"]  # each stored post once in the lake
    for day in DAYS:  # the sample is a stream connected all day: its days are complete
        coverage = json.loads(lake.read_text(layout.tweet_day_coverage_key(day)))
        assert coverage["final"] and coverage["share_covered"] == 1.0, coverage
        assert {h["state"] for h in coverage["hours"].values()} == {"complete"}

    truth = sorted(
        (r.id, r.date, r.hashtag_count, r.text_count, r.tweet_count)
        for r in expected_tweet_stat(DAYS[0], DAYS[-1])
    )
    assert len(truth) == 160 * len(DAYS) and sum(r[4] for r in truth) > 1000
    written = lake.read_text("sample_truth/tweet_stat.csv").splitlines()[1:]
    assert len(written) == len(truth)

    with MotoS3() as s3:
        s3_settings = {
            **env,
            **s3_env(s3.endpoint),
            "TRENDING_TV_LAKE": f"s3://{s3.bucket}/lake",
            "TRENDING_TV_BUFFER": str(tmp_path / "buffer_s3.sqlite3"),
        }
        result = run_cli(s3_settings, "upload", "--now", NOW)
        assert result.returncode == 0, result.stderr
        assert "uploaded 50 hour file(s); 0 hour(s) left" in result.stdout
        assert s3.keys("lake/tweet_raw/") == ["lake/" + k for k in raw]
        for key in raw:  # the same bytes as in the folder lake: one Spark count covers both
            assert s3.read("lake/" + key) == lake.read_bytes(key)

        with pytest.MonkeyPatch.context() as mp:
            for name, value in s3_env(s3.endpoint).items():
                mp.setenv(name, value)
            bucket_lake = Lake.from_url(f"s3://{s3.bucket}/lake")
            staged = tmp_path / "staged"

            def download(keys: list[str]) -> list[str]:
                for key in keys:
                    bucket_lake.download_file(key, staged / key)
                return [str(staged / key) for key in keys]

            assert _count(spark, bucket_lake, lake, download) == truth


class _FakeWallClock:
    """Stands in for the `time` module of ingest_host.replay: time moves only when the replay
    sleeps, so each wake-up is exactly when the replay meant to resume, however fast the machine."""

    def __init__(self) -> None:
        self.now = 0.0
        self.wakeups: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.wakeups.append(self.now)


def test_replay_sample_at_a_speed_follows_the_posts_clock(env, monkeypatch):
    """--speed X replays the sample's own clock X times faster: at 28,800 a day lasts 3 s, each
    message taken when its receipt time, counted from the first, divided by X has passed."""
    wall = _FakeWallClock()
    monkeypatch.setattr("ingest_host.replay.time", wall)
    monkeypatch.setenv("TRENDING_TV_SQLITE_SYNCHRONOUS", "NORMAL")  # no fsync per message: pacing only
    day, speed = date(2020, 11, 29), 28_800
    args = ["replay", "--start", str(day), "--end", str(day), "--scale", "0.001", "--speed", str(speed)]
    result = CliRunner().invoke(sample_cli, args)
    assert result.exit_code == 0, result.output
    received = [m.received_at for m in iter_stream_messages(day, day, scale=0.001)]
    due = sorted({(at - received[0]).total_seconds() / speed for at in received} - {0.0})
    assert wall.wakeups == pytest.approx(due)  # one wait per later receipt time, until it is due
    assert wall.now == pytest.approx(24 * 3600 / speed, abs=60 / speed)  # the day, but its last minute
    with Buffer(env["TRENDING_TV_BUFFER"]) as buffer:
        counts = buffer.counts()
    assert counts["post"] > 0 and counts["keepalive"] > 0


def test_replay_refuses_missing_files_and_reversed_sample_days(env):
    # the ingest host replays files only: the sample's stream is the sample's command
    for args in (["replay"], ["replay", "--sample"]):
        result = run_cli(env, *args)
        assert result.returncode == 2, (args, result.stderr)
    result = run_sample_cli(env, "replay", "--start", "2020-11-28", "--end", "2020-11-27")
    assert result.returncode == 2 and "before" in result.stderr
    result = run_sample_cli(env, "replay", "--speed", "-1")
    assert result.returncode == 2 and "--speed" in result.stderr


def test_sample_messages_are_filed_at_their_receipt_time(tmp_path):
    """(received_at, line) pairs: keep-alives and notices count in the hour they were received."""
    day = date(2020, 11, 30)
    messages = list(iter_stream_messages(day, day, scale=0.001))
    with Buffer(tmp_path / "b.sqlite3") as buffer:
        replay_lines(buffer, messages)
        by_hour: dict[int, int] = {}
        for m in messages:
            if not m.line.strip():
                hour = int(m.received_at.timestamp()) // 3600 * 3_600_000
                by_hour[hour] = by_hour.get(hour, 0) + 1
        assert {h: buffer.counts(h).get("keepalive", 0) for h in by_hour} == by_hour


def _minutes(*minutes: int) -> int:
    return sum(1 << m for m in minutes)


def test_replayed_keepalives_cover_their_minutes_as_the_live_stream_does(tmp_path):
    """The live stream marks every minute in which it receives a line or a keep-alive (X sends one
    every 20 s of silence while connected). A replay does the same: keep-alives alone cover minutes
    00..09; the silence without any (a disconnect) from 10:10 to 10:20 stays uncovered."""
    hour = utc(2020, 11, 30, 10)
    messages = [(hour + timedelta(seconds=20 * k), b"") for k in range(30)]  # 10:00:00 .. 10:09:40
    messages.append((hour + timedelta(minutes=20, seconds=5), v2_post(1, hour + timedelta(minutes=20))))
    with Buffer(tmp_path / "b.sqlite3") as buffer:
        report = replay_lines(buffer, messages)
        assert report.by_kind == {"keepalive": 30, "post": 1} and report.lines == 1
        assert buffer.coverage(int(hour.timestamp() * 1000))[0] == _minutes(*range(10), 20)


def test_every_minute_of_the_replayed_sample_is_covered(tmp_path):
    """The sample's stream has no outage: replayed, every minute of its days is covered."""
    day = date(2020, 11, 30)
    with Buffer(tmp_path / "b.sqlite3", "NORMAL") as buffer:
        replay_lines(buffer, iter_stream_messages(day, day, scale=0.001))
        start = int(datetime(2020, 11, 30, tzinfo=UTC).timestamp() * 1000)
        covered = {h: buffer.coverage(start + h * HOUR_MS)[0] for h in range(24)}
    assert covered == {h: _minutes(*range(60)) for h in range(24)}


def test_replay_sample_loads_neither_dagster_nor_pyspark(env):
    """The sample's replay runs on an ingest-only install: no Dagster, Spark or pipeline progress bars."""
    code = (
        "import sys\n"
        "from trending_tv_sample.cli import main\n"
        "sys.argv = ['trending-tv-sample-lake', 'replay', '--start', '2020-11-30', '--end', '2020-11-30',"
        " '--scale', '0.001']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'pyspark', 'py4j', 'tqdm')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=child_env(env), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    with Buffer(env["TRENDING_TV_BUFFER"]) as buffer:
        assert buffer.counts()["post"] > 0
