"""Reliability figures: SIGKILL at random points while receiving, then upload; replay; isolation."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from ingest_host.lake import Lake
from trending_tv_tests.ingest_host.conftest import child_env, ingest_host_cmd, run_cli
from trending_tv_tests.ingest_host.servers import FakeX, PacedPosts, post_ids_in, utc, v2_post, wait_for


def _committed(path: str) -> list[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("SELECT post_id FROM lines WHERE post_id IS NOT NULL")]
    finally:
        db.close()


def _later() -> str:
    """An upload clock two hours ahead, so every hour the stream has touched counts as finished."""
    return (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.slow
def test_sigkill_at_20_random_points_with_uploads_running_puts_every_committed_post_in_the_lake_once(env):
    """The stream is killed with SIGKILL at 20 random points while receiving, and restarted each time;
    meanwhile `ingest-host upload` runs again and again (late posts re-upload their hours). A kill
    loses only what was in flight, and the lake ends with every committed post exactly once."""
    rng = random.Random(20240101)
    kills = 20
    produced_by: dict[int, list[str]] = {}  # stream connection (its server thread) -> post ids, in order
    uploads: list[int] = []
    stop_uploads = threading.Event()

    def upload_meanwhile() -> None:
        while not stop_uploads.is_set():
            result = run_cli(env, "upload", "--now", _later(), "--wait", "60", timeout=120)
            uploads.append(result.returncode)

    with FakeX() as x:
        # posts created over the last three hours (created_at is close to arrival, as on X)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
        paced = PacedPosts(start, rate=150.0, step=timedelta(seconds=3.6))

        connection = threading.local()  # fresh in each server thread, even if its ident is reused

        def source() -> bytes | None:
            line = paced()
            if not hasattr(connection, "number"):
                connection.number = len(produced_by)
                produced_by[connection.number] = []
            produced_by[connection.number].extend(post_ids_in([line]))
            return line

        x.source = source
        env["TRENDING_TV_X_API_URL"] = x.url
        # About crashes, not the cap: with the default cap, the slice of the hour the test runs in
        # could pause the stream between kills.
        env.update(
            {
                "TRENDING_TV_MAX_POSTS_PER_HOUR": "1000000",
                "TRENDING_TV_MONTHLY_READ_CAP": "1000000000",
                "TRENDING_TV_STREAM_BUDGET_USD": "1000000",
                "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD": "1000000",
            }
        )
        uploader = threading.Thread(target=upload_meanwhile)
        uploader.start()
        try:
            for _ in range(kills):
                connects = x.connects
                proc = subprocess.Popen(
                    ingest_host_cmd("stream"),
                    env=child_env(env),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    assert wait_for(lambda c=connects: x.connects > c, 15), "stream did not connect"
                    time.sleep(rng.uniform(0.05, 0.8))  # a random point while posts are arriving
                finally:
                    proc.kill()  # SIGKILL: no handler, no flush, no goodbye
                    proc.wait(10)
                time.sleep(0.1)  # let the server notice the dead socket
        finally:
            stop_uploads.set()
            uploader.join(180)
            x.source = None
    committed = _committed(env["TRENDING_TV_BUFFER"])
    sent = post_ids_in(list(x.sent))
    assert len(committed) == len(set(committed))
    assert len(uploads) >= 2 and set(uploads) == {0}, uploads  # uploads ran during the kills, all fine
    result = run_cli(env, "upload", "--now", _later())
    assert result.returncode == 0, result.stderr
    lake = Lake.from_url(env["TRENDING_TV_LAKE"])
    hour_files = [o.key for o in lake.list("tweet_raw/")]
    in_lake = [pid for key in hour_files for pid in post_ids_in(lake.read_bytes(key).split(b"\n"))]
    assert sorted(in_lake) == sorted(committed)  # every committed post, exactly once
    assert set(committed) <= set(sent)
    # Per connection, what a kill lost is only its tail: the lines after the last one committed (in
    # socket buffers, or being committed). A post missing before a committed one would be a real loss.
    delivered, kept = set(sent), set(committed)
    lost_per_kill = []
    for ids in produced_by.values():
        ids = [pid for pid in ids if pid in delivered]
        committed_here = [i for i, pid in enumerate(ids) if pid in kept]
        tail_start = committed_here[-1] + 1 if committed_here else 0
        assert all(pid in kept for pid in ids[:tail_start]), "a post lost before a committed one"
        lost_per_kill.append(len(ids) - tail_start)
    assert len(produced_by) >= kills
    figures = {
        "kills": kills,
        "uploads_during_kills": len(uploads),
        "posts_sent": len(sent),
        "posts_committed": len(committed),
        "posts_in_lake": len(in_lake),
        "duplicates_in_lake": len(in_lake) - len(set(in_lake)),
        "hour_files": len(hour_files),
        "sent_not_committed_per_kill": lost_per_kill,
    }
    print("\nSIGKILL figures:", json.dumps(figures))


def test_replay_feeds_the_buffer_through_the_same_path_then_upload(env, tmp_path):
    lines = [
        v2_post(1, utc(2020, 11, 23, 0, 0)),
        b"",
        v2_post(2, utc(2020, 11, 23, 0, 59, 59, 999000)),
        b'{"delete":{"status":{"id_str":"1"}}}',
        v2_post(2, utc(2020, 11, 23, 0, 59, 59, 999000)),
        json.dumps(
            {"id_str": "3", "created_at": "Mon Nov 23 02:00:00 +0000 2020", "text": "v1.1 #Mandalorian"}
        ).encode(),
        b"{broken",
    ]
    source = tmp_path / "posts.jsonl"
    source.write_bytes(b"\r\n".join(lines) + b"\r\n")
    result = run_cli(env, "replay", str(source))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.split("replayed: ", 1)[1]) == {
        "post": 3,
        "duplicate": 1,
        "delete": 1,
        "corrupt": 1,
        "keepalive": 1,
    }
    assert run_cli(env, "upload").returncode == 0
    lake = Lake.from_url(env["TRENDING_TV_LAKE"])
    keys = [o.key for o in lake.list("tweet_raw/")]
    # hour 01: nothing replayed in it, so never covered: missing (no file), not "empty"
    assert keys == [f"tweet_raw/2020/11/23/{h:02d}/2020-11-23-{h:02d}.json" for h in (0, 2)]
    assert lake.read_bytes(keys[0]) == b"\n".join([lines[0], lines[2], lines[3]]) + b"\n"
    # a non-post line is filed by the (replayed) time it was received: after the 02:00 post
    assert lake.read_bytes(keys[1]) == lines[5] + b"\n" + lines[6] + b"\n"
    coverage = json.loads(lake.read_text("ingest_meta/tweet_raw/2020/11/23/2020-11-23.json"))
    assert coverage["hours_with_file"] == ["00", "02"] and coverage["missing_hours"][0] == "01"
    stats = json.loads(lake.read_text("ingest_meta/tweet_raw/2020/11/23/00/2020-11-23-00.json"))
    assert stats["minutes_covered"] == 2


def test_ingest_host_imports_without_dagster_or_pyspark():
    code = (
        "import sys, importlib\n"
        "for m in ('cli','config','buffer','stream','upload','tmdb_client','tmdb_fetch','shows','replay',"
        "'rules','lake','layout','tracked_shows','normalize'):\n"
        "    importlib.import_module('ingest_host.' + m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'pyspark', 'py4j')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_secrets_are_never_printed(env):
    result = run_cli(env, "status")
    assert result.returncode == 0
    settings = json.loads(result.stdout)["settings"]
    assert settings["x_bearer_token"] == "set" and settings["tmdb_api_key"] == "set"
    assert env["X_BEARER_TOKEN"] not in result.stdout + result.stderr
    assert env["TMDB_API_KEY"] not in result.stdout + result.stderr


def test_settings_come_from_a_dotenv_file(env, tmp_path):
    dotenv = tmp_path / "custom.env"
    dotenv.write_text("TRENDING_TV_MAX_POSTS_PER_HOUR=123\nTRENDING_TV_RETENTION_DAYS=3\n")
    result = run_cli(env, "--env-file", str(dotenv), "status")
    settings = json.loads(result.stdout)["settings"]
    assert settings["max_posts_per_hour"] == 123 and settings["retention_days"] == 3
    bad = run_cli({**env, "TRENDING_TV_MAX_POSTS_PER_HOUR": "lots"}, "status")
    assert bad.returncode == 2 and "TRENDING_TV_MAX_POSTS_PER_HOUR must be an integer" in bad.stderr
