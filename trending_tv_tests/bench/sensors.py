"""Lake sensor benchmark (`make bench`, or `python -m trending_tv_tests.bench sensors`).

Target (a tick must stay short however much history the lake holds): with a year of hourly post
files (8,760 keys) in the lake, every sensor tick takes under 1 second, on a folder lake and on
moto's S3 server on 127.0.0.1. Measured: the ticks of the first pass (adopting the year) and steady
ticks afterwards (nothing new; one new hour). Results replace the "Lake sensors" section of
BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.lake_watch import TWEETS, WatchSettings, evaluate
from trending_tv_tests.bench._report import write_section
from trending_tv_tests.bench._s3 import moto_s3_bucket

DAYS = 365


def _hours(now: datetime):
    first = now.date() - timedelta(days=DAYS)
    for i in range(DAYS):
        for hour in range(24):
            yield datetime.combine(first + timedelta(days=i), datetime.min.time()) + timedelta(hours=hour)


def _measure(lake: Lake, now: datetime) -> dict:
    settings = WatchSettings(first_day=now.date() - timedelta(days=DAYS), settle=timedelta(0))
    cursor, first_pass, seen = None, [], 0
    while True:
        started = time.perf_counter()
        result = evaluate(lake, TWEETS, cursor, now, settings)
        first_pass.append(time.perf_counter() - started)
        cursor, seen = result.cursor, seen + sum(len(v) for v in result.arrivals.values())
        if result.pass_completed:
            break
    steady = []
    for _ in range(5):
        started = time.perf_counter()
        result = evaluate(lake, TWEETS, cursor, now, settings)
        steady.append(time.perf_counter() - started)
        cursor = result.cursor
    lake.write_text(
        layout.tweet_hour_key(datetime.combine(now.date(), datetime.min.time()) + timedelta(hours=4)), "{}\n"
    )
    started = time.perf_counter()
    new_hour = evaluate(lake, TWEETS, cursor, now, settings)
    one_new = time.perf_counter() - started
    assert sum(len(v) for v in new_hour.arrivals.values()) == 1
    return {
        "keys": seen,
        "first_pass_ticks": len(first_pass),
        "first_pass_max_s": max(first_pass),
        "first_pass_total_s": sum(first_pass),
        "steady_max_s": max(steady),
        "steady_prefixes": len(result.prefixes),
        "new_hour_s": one_new,
    }


def bench_local(folder: Path, now: datetime) -> dict:
    root = folder / "lake"
    for hour in _hours(now):
        path = root / layout.tweet_hour_key(hour)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return _measure(Lake.from_url(root), now)


def bench_s3(now: datetime) -> dict:
    """moto's S3 server in its own process (as S3 is, for the sensor): the tick's figures are then
    the sensor's own work plus HTTP round trips, not moto's request handling under the same GIL."""
    with moto_s3_bucket("bench") as client:
        for hour in _hours(now):
            client.put_object(Bucket="bench", Key=f"lake/{layout.tweet_hour_key(hour)}", Body=b"")
        return _measure(Lake.from_url("s3://bench/lake"), now)


def main() -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-sensors-") as tmp:
        results = {
            "folder lake": bench_local(Path(tmp), now),
            "moto S3 server on 127.0.0.1 (own process)": bench_s3(now),
        }
    rows = []
    for name, r in results.items():
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()})
        worst = max(r["first_pass_max_s"], r["steady_max_s"], r["new_hour_s"])
        first = (
            f"{r['first_pass_ticks']} ticks, slowest {r['first_pass_max_s']:.2f} s "
            f"(total {r['first_pass_total_s']:.1f} s)"
        )
        steady = f"{r['steady_max_s']:.2f} s ({r['steady_prefixes']} prefixes)"
        verdict = "meets" if worst < 1 else "MISSES"
        rows.append(f"| {name} | {r['keys']:,} | {first} | {steady} | {r['new_hour_s']:.2f} s | {verdict} |")
    section = (
        "## Lake sensors\n\n"
        f"`python -m trending_tv_tests.bench sensors` ({now:%Y-%m-%d}, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work, Python {platform.python_version()}). "
        "A year of hourly post files; "
        "one `raw_tweets_sensor` evaluation per tick (listing budget 0.5 s).\n\n"
        "| lake | keys | first pass (adopting the year) | steady tick, nothing new | tick with one new hour "
        "| every tick < 1 s |\n| --- | ---: | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
    )
    write_section("Lake sensors", section)
    print(section)


if __name__ == "__main__":
    main()
