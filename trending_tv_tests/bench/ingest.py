"""Ingest host benchmarks (`make bench`): buffer throughput and the stream's peak RSS.

Targets (the ingest host runs on a 1 vCPU / 512 MB box): >= 2,000 posts/s into the buffer on one
core; <= 80 MB RSS for `ingest-host stream` receiving from a local X API v2 server. Results replace
the "Ingest host" section of BENCHMARKS.md at the repository root."""

from __future__ import annotations

import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_host.buffer import Buffer
from trending_tv_tests.bench._report import write_section
from trending_tv_tests.ingest_host.servers import BEARER, FakeX, PacedPosts, v2_post, wait_for

ROOT = Path(__file__).resolve().parents[2]
TRACKED = "id,name,hashtags,aliases\n82856,The Mandalorian,#TheMandalorian|#Mandalorian,\n"


def bench_buffer(folder: Path, n: int, synchronous: str) -> dict[str, float]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = [v2_post(i, start + timedelta(seconds=i * 0.36)) for i in range(1, n + 1)]
    with Buffer(folder / f"bench-{synchronous}.sqlite3", synchronous=synchronous) as buffer:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for line in lines:
            buffer.accept(line)  # one transaction (one commit) per message, as the stream does
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"posts": n, "posts_per_s": n / wall, "cpu_posts_per_s": n / cpu, "wall_s": wall}


def _vm(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))  # type: ignore[union-attr]


def bench_stream(folder: Path, n: int) -> dict[str, float]:
    (folder / "tracked.csv").write_text(TRACKED)
    reads = n * 10_000  # a month's reads: far above n in any hour left of the month
    env = {
        **{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ},
        "PYTHONPATH": str(ROOT),
        "TRENDING_TV_LAKE": str(folder / "lake"),
        "TRENDING_TV_BUFFER": str(folder / "stream.sqlite3"),
        "TRENDING_TV_TRACKED_SHOWS": str(folder / "tracked.csv"),
        "X_BEARER_TOKEN": BEARER,
        "TRENDING_TV_MAX_POSTS_PER_HOUR": str(n * 10),
        # uncapped whatever the day and minute: the hour's cap in one slice, a budget to match
        "TRENDING_TV_SLICES_PER_HOUR": "1",
        "TRENDING_TV_PRICE_PER_POST_READ": "0.005",
        "TRENDING_TV_MONTHLY_READ_CAP": str(reads),
        "TRENDING_TV_STREAM_BUDGET_USD": str(reads * 0.005),
        "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD": str(reads * 0.005),
    }
    source = PacedPosts(datetime.now(UTC) - timedelta(hours=1), rate=1e9, step=timedelta(milliseconds=100))
    produced = 0

    def limited() -> bytes | None:
        nonlocal produced
        if produced >= n:
            return None
        produced += 1
        return source()

    with FakeX() as x:
        env["TRENDING_TV_X_API_URL"] = x.url
        x.source = limited
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest_host.cli", "stream"], env=env, stderr=subprocess.DEVNULL
        )
        try:
            assert wait_for(lambda: x.connects > 0, 30)
            started = time.perf_counter()
            db_path = folder / "stream.sqlite3"

            def stored() -> int:
                db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
                try:
                    return db.execute("SELECT COUNT(*) FROM lines").fetchone()[0]
                finally:
                    db.close()

            assert wait_for(lambda: stored() >= n, 300, interval=0.2)
            elapsed = time.perf_counter() - started
            peak_kb, rss_kb = _vm(proc.pid, "VmHWM"), _vm(proc.pid, "VmRSS")
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    return {
        "posts": n,
        "posts_per_s": n / elapsed,
        "peak_rss_mb": peak_kb / 1024,
        "rss_mb": rss_kb / 1024,
        "exit_code": code,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        normal = bench_buffer(folder, 20_000, "NORMAL")
        full = bench_buffer(folder, 5_000, "FULL")
        stream = bench_stream(folder, 30_000)
    for name, result in (("buffer NORMAL", normal), ("buffer FULL", full), ("stream", stream)):
        print(
            f"{name}: "
            + ", ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items())
        )
    ok_rate = "meets" if normal["posts_per_s"] >= 2000 else "MISSES"
    ok_rss = "meets" if stream["peak_rss_mb"] <= 80 else "MISSES"
    rows = [
        (
            "buffer: posts committed one transaction each, `TRENDING_TV_SQLITE_SYNCHRONOUS=NORMAL` "
            "(no fsync per commit: survives a process crash, not a power loss)",
            f"{normal['posts_per_s']:,.0f} posts/s wall, {normal['cpu_posts_per_s']:,.0f} posts per "
            f"CPU-second ({normal['posts']:,} posts)",
            f">= 2,000 posts/s on one core: {ok_rate}",
        ),
        (
            "buffer with `TRENDING_TV_SQLITE_SYNCHRONOUS=FULL`, the default (fsync per post)",
            f"{full['posts_per_s']:,.0f} posts/s ({full['posts']:,} posts)",
            "informative",
        ),
        (
            "`ingest-host stream` end to end (tweepy, local X v2 server, chunked HTTP; the default FULL)",
            f"{stream['posts_per_s']:,.0f} posts/s ({stream['posts']:,} posts)",
            "informative (X delivers at most 250 posts/s)",
        ),
        ("`ingest-host stream` peak RSS (VmHWM)", f"{stream['peak_rss_mb']:.1f} MB", f"<= 80 MB: {ok_rss}"),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    section = (
        "## Ingest host\n\n"
        f"`python -m trending_tv_tests.bench ingest` ({datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}).\n\n"
        "| measure | result | target |\n| --- | --- | --- |\n" + table + "\n\n"
    )
    write_section("Ingest host", section)
    print(section)


if __name__ == "__main__":
    main()
