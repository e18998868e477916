"""`ingest-host upload` under faults, with real processes: two uploads at once (the lock), late posts
arriving while uploads run, and a full disk (a small tmpfs in a private mount namespace)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ingest_host.buffer import EXIT_DISK_FULL, Buffer
from ingest_host.lake import Lake
from ingest_host.upload import EXIT_BUSY, lock_path
from trending_tv_tests.ingest_host.conftest import child_env, ingest_host_cmd, run_cli, run_cli_on_tmpfs
from trending_tv_tests.ingest_host.servers import ms, post_ids_in, s3_env, utc, v2_post, wait_for

HOUR = utc(2024, 6, 1, 10)


class StalledS3:
    """An S3 endpoint on 127.0.0.1 that holds every request until `release` is set, then answers 500:
    an upload against it stays inside its run (holding the lock) for as long as the test wants."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                owner.hits += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                owner.release.wait(60)
                body = b"<Error><Code>InternalError</Code></Error>"
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _uploaded_post_ids(buffer_path: str) -> dict[str, int]:
    """Post id -> hour of every post the buffer says is uploaded."""
    db = sqlite3.connect(f"file:{buffer_path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT post_id, hour FROM lines WHERE post_id IS NOT NULL AND uploaded_at IS NOT NULL"
        )
        return {pid: hour for pid, hour in rows}
    finally:
        db.close()


def _has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` holds `path` open (from /proc)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except FileNotFoundError:  # the process or one of its descriptors went away meanwhile
        return False


def test_a_second_upload_exits_while_one_runs_and_a_waiting_one_goes_next(env):
    with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        for n in range(5):
            created = HOUR + timedelta(minutes=n)
            buffer.accept(v2_post(n + 1, created), ms(created))
    stalled = StalledS3()
    try:
        first_env = {
            **env,
            **s3_env(stalled.endpoint),
            "TRENDING_TV_LAKE": "s3://lake-bucket/lake",
            "AWS_MAX_ATTEMPTS": "1",
            "TRENDING_TV_RETRY_ATTEMPTS": "2",
        }
        first = subprocess.Popen(
            ingest_host_cmd("upload", "--now", "2024-06-01T12:00:00Z"),
            env=child_env(first_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lock = lock_path(env["TRENDING_TV_BUFFER"])
        assert wait_for(lambda: stalled.hits > 0, 30), "the first upload never reached the store"
        assert lock.read_text().strip() == str(first.pid)
        second = run_cli(env, "upload", "--now", "2024-06-01T12:00:00Z")
        assert second.returncode == EXIT_BUSY, second.stderr
        assert f"another `ingest-host upload` is running (pid {first.pid}, lock {lock})" in second.stderr
        assert not list(Path(env["TRENDING_TV_LAKE"]).rglob("*.json"))  # it wrote nothing
        waiting = subprocess.Popen(
            ingest_host_cmd("upload", "--now", "2024-06-01T12:00:00Z", "--wait", "60"),
            env=child_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # once it has the lock file open, it cannot finish while the first one holds the lock (the
        # store answers nothing yet); watching from its start alone would pass on a slow start-up
        assert wait_for(lambda: _has_open(waiting.pid, lock), 30), "the waiting upload never opened the lock"
        assert not wait_for(lambda: waiting.poll() is not None, 1.0)
        assert not list(Path(env["TRENDING_TV_LAKE"]).rglob("*.json"))
        stalled.release.set()
        _, first_err = first.communicate(timeout=60)
        assert first.returncode == 1, first_err  # the store failed: nothing marked
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert "uploaded 1 hour file(s)" in out
    finally:
        stalled.close()
    lake = Lake.from_url(env["TRENDING_TV_LAKE"])
    assert post_ids_in(lake.read_bytes("tweet_raw/2024/06/01/10/2024-06-01-10.json").split(b"\n")) == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]


def test_uploads_racing_late_posts_never_mark_a_post_the_lake_lacks(env):
    """Late posts for an already uploaded hour keep arriving while pairs of uploads run at once:
    every post the buffer marks uploaded is in that hour's file in the lake."""
    with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        buffer.accept(v2_post(1, HOUR), ms(HOUR))
    stop = threading.Event()
    arrived: list[str] = []

    def late_posts() -> None:
        with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
            n = 2
            while not stop.is_set():
                buffer.accept(v2_post(n, HOUR + timedelta(seconds=n)), ms(HOUR + timedelta(hours=3)))
                arrived.append(str(n))
                n += 1
                stop.wait(0.002)

    writer = threading.Thread(target=late_posts)
    writer.start()
    try:
        for _ in range(3):
            pair = [
                subprocess.Popen(
                    ingest_host_cmd("upload", "--now", "2024-06-01T12:00:00Z", "--wait", "60"),
                    env=child_env(env),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            for proc in pair:
                _, err = proc.communicate(timeout=120)
                assert proc.returncode == 0, err
    finally:
        stop.set()
        writer.join(10)
    lake = Lake.from_url(env["TRENDING_TV_LAKE"])
    in_lake = post_ids_in(lake.read_bytes("tweet_raw/2024/06/01/10/2024-06-01-10.json").split(b"\n"))
    marked = _uploaded_post_ids(env["TRENDING_TV_BUFFER"])
    assert len(marked) > 1 and len(arrived) > len(marked) - 1
    assert set(marked) <= set(in_lake)  # nothing marked uploaded that the lake lacks
    assert len(in_lake) == len(set(in_lake))
    final = run_cli(env, "upload", "--now", "2024-06-01T12:00:00Z")  # the rest lands on the next run
    assert final.returncode == 0, final.stderr
    in_lake = post_ids_in(lake.read_bytes("tweet_raw/2024/06/01/10/2024-06-01-10.json").split(b"\n"))
    assert sorted(in_lake, key=int) == ["1", *arrived]


def test_a_full_disk_exits_4_with_a_clear_message_and_marks_only_what_landed(env, tmp_path):
    """The folder lake is a 64 KiB tmpfs (mounted in a private mount namespace, so nothing is left
    mounted): the hours that fit are uploaded and marked, the first that does not fit stops the run
    with exit code 4, and no hour is marked uploaded that the lake does not hold whole."""
    with Buffer(env["TRENDING_TV_BUFFER"], "NORMAL") as buffer:
        for hour in range(12):
            for n in range(40):  # ~40 x 330 bytes a file: a few hours fit in 64 KiB
                created = utc(2024, 6, 2, hour, n)
                buffer.accept(v2_post(hour * 100 + n + 1, created, text="x" * 100), ms(created))
            buffer.mark_minute(ms(utc(2024, 6, 2, hour, 30)))
    lake_dir = Path(env["TRENDING_TV_LAKE"])
    listing = tmp_path / "listing.json"
    list_lake = (  # what the tmpfs holds, written out before the namespace (and its tmpfs) goes away
        'python3 -c "import json,pathlib,sys; root=pathlib.Path(sys.argv[1]); '
        "print(json.dumps({str(p.relative_to(root)): p.read_bytes().decode() for p in root.rglob('*') "
        f'if p.is_file()}}))" {lake_dir} > {listing}'
    )
    result = run_cli_on_tmpfs(
        env, lake_dir, "64k", ["upload", "--now", "2024-06-03T00:00:00Z"], then=list_lake
    )
    assert result.returncode == EXIT_DISK_FULL, result.stdout + result.stderr
    assert "ingest-host upload: disk full:" in result.stderr
    assert "No space left on device" in result.stderr and "Free space where the buffer" in result.stderr
    assert "Traceback" not in result.stderr and "Retrying" not in result.stderr  # one clear line
    print("\nfull disk:", result.stderr.strip().splitlines()[-1])
    files = json.loads(listing.read_text())
    marked = _uploaded_post_ids(env["TRENDING_TV_BUFFER"])
    assert 0 < len(marked) < 12 * 40
    landed = {
        pid: key
        for key, text in files.items()
        if key.startswith("tweet_raw/")
        for pid in post_ids_in(text.split("\n"))
    }
    assert set(marked) <= set(landed)
