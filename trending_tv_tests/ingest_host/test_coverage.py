"""Coverage is data: an hour gets a file only when the collector covered it (or lines were filed under
it); the day's coverage file names every hour's state. On a folder lake and on moto's S3 server,
through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from ingest_host.buffer import Buffer
from trending_tv_tests.ingest_host.conftest import run_cli
from trending_tv_tests.ingest_host.servers import MotoS3, ms, post_ids_in, s3_env, utc, v2_post


class LakeView:
    """Reads the lake the CLI wrote, folder or bucket, by lake-relative key."""

    def __init__(self, env: dict[str, str], s3: MotoS3 | None):
        self.env, self.s3 = env, s3

    def keys(self, prefix: str) -> list[str]:
        if self.s3 is not None:
            return [k.removeprefix("lake/") for k in self.s3.keys("lake/" + prefix)]
        from ingest_host.lake import Lake

        return [o.key for o in Lake.from_url(self.env["TRENDING_TV_LAKE"]).list(prefix)]

    def read(self, key: str) -> bytes:
        if self.s3 is not None:
            return self.s3.read("lake/" + key)
        from ingest_host.lake import Lake

        return Lake.from_url(self.env["TRENDING_TV_LAKE"]).read_bytes(key)


@pytest.fixture(params=["folder", "s3"])
def lake_view(request, env) -> Iterator[LakeView]:
    if request.param == "folder":
        yield LakeView(env, None)
        return
    with MotoS3() as s3:
        env.update(s3_env(s3.endpoint))
        env["TRENDING_TV_LAKE"] = f"s3://{s3.bucket}/lake"
        yield LakeView(env, s3)


def cover(buffer: Buffer, start: datetime, hours: int) -> None:
    """The stream was connected every minute of `hours` hours from `start`."""
    for minute in range(hours * 60):
        buffer.mark_minute(ms(start + timedelta(minutes=minute)), cap=5000)


def test_a_six_hour_outage_gives_six_missing_hours_named_in_the_day_coverage(env, lake_view):
    day = utc(2024, 3, 10)
    expected_posts: list[str] = []
    with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        cover(buffer, day, 6)  # 00-05 connected
        cover(buffer, day + timedelta(hours=12), 12)  # 12-23 connected; 06-11 the host was down
        for hour in (*range(0, 6), *range(12, 24)):
            if hour == 2:
                continue  # covered, nothing matched: an empty file
            created = day + timedelta(hours=hour, minutes=17)
            buffer.accept(v2_post(1000 + hour, created), ms(created))
            expected_posts.append(str(1000 + hour))
    result = run_cli(env, "upload", "--now", "2024-03-11T00:10:00Z")
    assert result.returncode == 0, result.stderr
    assert "uploaded 18 hour file(s); 0 hour(s) left; coverage written for 1 day(s)" in result.stdout
    assert "6 hour(s) never covered by the collector (no file): 06, 07, 08, 09, 10, 11" in result.stderr
    hours_with_file = [key.split("/")[4] for key in lake_view.keys("tweet_raw/")]
    assert hours_with_file == [f"{h:02d}" for h in (*range(0, 6), *range(12, 24))]
    assert lake_view.read("tweet_raw/2024/03/10/02/2024-03-10-02.json") == b""
    landed = [p for k in lake_view.keys("tweet_raw/") for p in post_ids_in(lake_view.read(k).split(b"\n"))]
    assert landed == expected_posts
    coverage = json.loads(lake_view.read("ingest_meta/tweet_raw/2024/03/10/2024-03-10.json"))
    assert coverage["missing_hours"] == ["06", "07", "08", "09", "10", "11"]
    assert coverage["final"] is True and coverage["open_hours"] == []
    assert coverage["minutes_covered"] == 18 * 60 and coverage["share_covered"] == 0.75
    assert coverage["empty_hours"] == ["02"]
    assert coverage["hours"]["07"] == {
        "state": "missing",
        "minutes_covered": 0,
        "minutes_covered_mask": "0" * 60,
        "minutes_connected": 0,
        "minutes_connected_mask": "0" * 60,
        "minutes_paused_by_cap": 0,
        "key": None,
        "lines": None,
        "posts": None,
        "cap": None,
        "cap_reached_at": None,
    }
    assert coverage["hours"]["12"]["state"] == "complete"
    assert coverage["hours"]["12"]["key"] == "tweet_raw/2024/03/10/12/2024-03-10-12.json"
    assert coverage["hours"]["12"]["posts"] == 1 and coverage["hours"]["12"]["cap"] == 5000
    # the per-hour stats sit beside, one per hour file
    assert len(lake_view.keys("ingest_meta/tweet_raw/2024/03/10/")) == 18 + 1
    again = run_cli(env, "upload", "--now", "2024-03-11T00:10:00Z")
    assert again.returncode == 0 and "uploaded 0 hour file(s)" in again.stdout


def test_posts_six_years_apart_write_only_their_own_hours_and_the_covered_ones(env, lake_view):
    """A replayed archive and a skewed clock: posts created in 2020, 2023 and 2026 arrive while the
    collector runs in 2026. Each lands in its own hour; nothing is written for the years between."""
    running = utc(2026, 11, 29, 10)
    with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        cover(buffer, running, 2)  # 10:00-11:59 connected
        received = ms(running + timedelta(minutes=5))
        old = [
            utc(2020, 11, 24, 3, 1),
            utc(2020, 11, 24, 3, 2),
            utc(2020, 11, 25, 23, 59),
            utc(2023, 3, 23, 8),
        ]
        for n, created in enumerate(old):
            buffer.accept(v2_post(n + 1, created), received)
        buffer.accept(v2_post(9, running + timedelta(minutes=30)), received + 60_000)
        buffer.accept(v2_post(10, utc(2032, 1, 1)), received)  # a clock years ahead: not finished yet
    result = run_cli(env, "upload", "--now", "2026-11-29T13:10:00Z", timeout=120)
    assert result.returncode == 0, result.stderr
    written = lake_view.keys("tweet_raw/")
    assert written == [
        "tweet_raw/2020/11/24/03/2020-11-24-03.json",
        "tweet_raw/2020/11/25/23/2020-11-25-23.json",
        "tweet_raw/2023/03/23/08/2023-03-23-08.json",
        "tweet_raw/2026/11/29/10/2026-11-29-10.json",
        "tweet_raw/2026/11/29/11/2026-11-29-11.json",
    ]
    assert lake_view.read(written[-1]) == b""  # covered, nothing matched
    assert post_ids_in(lake_view.read(written[0]).split(b"\n")) == ["1", "2"]
    assert len(lake_view.keys("ingest_meta/")) == len(written) + 4  # hour stats + 4 day coverage files
    archive_day = json.loads(lake_view.read("ingest_meta/tweet_raw/2020/11/24/2020-11-24.json"))
    assert archive_day["uncovered_hours"] == ["03"] and archive_day["minutes_covered"] == 0
    assert len(archive_day["missing_hours"]) == 23
    today = json.loads(lake_view.read("ingest_meta/tweet_raw/2026/11/29/2026-11-29.json"))
    assert today["final"] is False and today["open_hours"] == [f"{h:02d}" for h in range(13, 24)]
    assert [h for h, v in today["hours"].items() if v["state"] == "complete"] == ["10", "11"]
    assert today["missing_hours"] == [f"{h:02d}" for h in range(10)] + ["12"]
    # the day is rewritten (final) by the first run after it has finished, with no new upload
    later = run_cli(env, "upload", "--now", "2026-11-30T00:10:00Z")
    assert later.returncode == 0 and "uploaded 0 hour file(s)" in later.stdout
    assert "coverage written for 1 day(s)" in later.stdout
    today = json.loads(lake_view.read("ingest_meta/tweet_raw/2026/11/29/2026-11-29.json"))
    assert today["final"] is True and today["open_hours"] == [] and len(today["missing_hours"]) == 22


def test_the_day_coverage_merges_with_the_lake_when_the_buffer_was_rebuilt(env, tmp_path):
    """A new buffer (lost disk, new host) knows only its own minutes: the lake's earlier coverage of
    the day is kept, not overwritten."""
    day = utc(2024, 5, 1)
    with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        cover(buffer, day, 3)
    assert run_cli(env, "upload", "--now", "2024-05-01T03:10:00Z").returncode == 0
    rebuilt = {**env, "TRENDING_TV_BUFFER": str(tmp_path / "rebuilt.sqlite3")}
    with Buffer(rebuilt["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        cover(buffer, day + timedelta(hours=20), 4)
    result = run_cli(rebuilt, "upload", "--now", "2024-05-02T00:10:00Z")
    assert result.returncode == 0, result.stderr
    coverage = json.loads(
        (tmp_path / "lake" / "ingest_meta/tweet_raw/2024/05/01/2024-05-01.json").read_bytes()
    )
    assert coverage["hours_with_file"] == ["00", "01", "02", "20", "21", "22", "23"]
    assert coverage["minutes_covered"] == 7 * 60
    assert coverage["missing_hours"] == [f"{h:02d}" for h in range(3, 20)]


def test_minutes_paused_by_the_cap_are_covered_not_missing(env, tmp_path):
    """The cap disconnects the stream on purpose (a slice's share used, or the hour's cap reached):
    those minutes are a sample, not an outage. They count as covered and are reported apart."""
    day = utc(2024, 7, 1)
    with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        for slice_start in range(0, 60, 5):  # hour 10: one connected minute per 5-minute slice
            at = day + timedelta(hours=10, minutes=slice_start)
            buffer.mark_minute(ms(at), cap=12)
            buffer.mark_paused(ms(at + timedelta(minutes=1)), ms(at + timedelta(minutes=5)))
        reached = day + timedelta(hours=11, minutes=20)  # hour 11: cap reached at 11:20
        buffer.accept(v2_post(1, reached), ms(reached))
        for minute in range(21):
            buffer.mark_minute(ms(day + timedelta(hours=11, minutes=minute)), cap=8)
        buffer.mark_cap_reached(ms(day + timedelta(hours=11)), ms(reached), 8)
        buffer.mark_paused(ms(day + timedelta(hours=12)), ms(day + timedelta(hours=13)))  # cap left nothing
    result = run_cli(env, "upload", "--now", "2024-07-01T13:10:00Z")
    assert result.returncode == 0, result.stderr
    coverage = json.loads((tmp_path / "lake/ingest_meta/tweet_raw/2024/07/01/2024-07-01.json").read_bytes())
    ten, eleven, twelve = (coverage["hours"][h] for h in ("10", "11", "12"))
    assert (ten["state"], ten["minutes_covered"], ten["minutes_connected"]) == ("complete", 60, 12)
    assert ten["minutes_paused_by_cap"] == 48 and ten["minutes_connected_mask"] == ("1" + "0" * 4) * 12
    assert (eleven["state"], eleven["minutes_connected"], eleven["minutes_paused_by_cap"]) == (
        "complete",
        21,
        39,
    )
    assert eleven["cap"] == 8 and eleven["cap_reached_at"].startswith("2024-07-01T11:20")
    assert twelve["state"] == "complete" and twelve["minutes_connected"] == 0 and twelve["posts"] == 0
    assert coverage["capped_hours"] == ["10", "11", "12"] and coverage["empty_hours"] == ["10", "12"]
    assert coverage["missing_hours"] == [f"{h:02d}" for h in range(10)]
    stats = json.loads(
        (tmp_path / "lake/ingest_meta/tweet_raw/2024/07/01/11/2024-07-01-11.json").read_bytes()
    )
    assert (stats["minutes_covered"], stats["minutes_connected"], stats["minutes_paused_by_cap"]) == (
        60,
        21,
        39,
    )


def test_a_buffer_made_before_the_paused_column_gains_it(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE coverage (hour INTEGER PRIMARY KEY, minutes INTEGER NOT NULL, cap INTEGER, "
        "cap_reached_ms INTEGER)"
    )
    db.execute("INSERT INTO coverage VALUES (0, 7, 5, NULL)")
    db.commit()
    db.close()
    with Buffer(path) as buffer:
        buffer.mark_paused(180_000, 240_000)
        assert buffer.coverage(0) == (7, 5, None) and buffer.paused(0) == 0b1000
