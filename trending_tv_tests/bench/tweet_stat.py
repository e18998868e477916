"""tweet_stat at full volume, side by side (`python -m trending_tv_tests.bench tweet_stat`, part of
`make bench`; `--only floor,day` reruns some sections).

The sample generator's full-size days (2020-11-23..2020-12-01, seed 20201123, both payload families)
are written once to .bench_cache/lake (gitignored; about 5 GB, 13 minutes) and their raw days sealed
and `tvshows` materialized once. Then, on the same files, each a fresh process:

- floor: `dagster definitions validate` (the CLI's start and code load); Spark's session start; start
  plus an explicit-schema scan and count of one day's files and of the nine days' files; each the
  best of three runs;
- day: `dagster asset materialize --select tweet_stat --partition 2020-11-27` (cold), best of three;
- backfill: the same for the nine days in one run (`--partition-range`), best of two;
- warm: the day's materialize three times through one Spark Connect server started once (the warm
  path, TRENDING_TV_SPARK_REMOTE), each a fresh CLI process; the first run warms the server;
- duckdb: the same table computed with DuckDB from the counting rules (docs/design.md), checked
  equal to ours row for row on every day;
- etl2020: the 2020 project's tweet ETL ported to Spark 4 (inferred schema, substring UDF, joins);
- matcher: the Python matcher alone on the day's distinct posts, 160 and 2,000 tracked shows;
- seal: sealing one day (raw_manifest.seal_tweet_day) on the folder lake and on moto's S3 server.

A full run then repeats floor, day, backfill and etl2020 (a second round, to show the figures
reproduce) and writes the "tweet_stat at full volume" section of BENCHMARKS.md; `--only` runs print
their figures and leave the file alone (its ratios must come from one run)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from trending_tv_tests.bench._measure import Measured, load_average, run_measured
from trending_tv_tests.bench._report import write_section

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench_cache"
LAKE = CACHE / "lake"
HOME = CACHE / "dagster_home"
FIRST, LAST = date(2020, 11, 23), date(2020, 12, 1)
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
DAY = date(2020, 11, 27)  # the busiest published day
SECTIONS = ("floor", "day", "backfill", "warm", "duckdb", "etl2020", "matcher", "seal")
TIMED = ("floor", "day", "backfill", "etl2020")  # run twice in a full run, to show they reproduce
BIN = Path(sys.executable).parent
HEADING = "tweet_stat at full volume"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "TRENDING_TV_LAKE")}
    env |= {"DAGSTER_HOME": str(HOME), "TRENDING_TV_LAKE": str(LAKE), "PYTHONPATH": str(ROOT)}
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


def _dagster(*args: str) -> list[str]:
    return [str(BIN / "dagster"), *args, "-m", "trending_tv.definitions"]


def prepare() -> None:
    """Generate the full-size days once, seal them and build tvshows once (not measured)."""
    marker = CACHE / "prepared.json"
    if marker.exists():
        return
    if not (LAKE / "sample_truth").exists():
        print("generating the full-size sample lake (once, ~15 min)", flush=True)
        subprocess.run(
            [str(BIN / "trending-tv-sample-lake"), "write", "--lake", str(LAKE), "--full-size", "--force"],
            check=True,
        )
    HOME.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", HOME / "dagster.yaml")
    print("sealing the days and materializing tvshows (once)", flush=True)
    subprocess.run(
        _dagster(
            "asset",
            "materialize",
            "--select",
            "raw_tweets,raw_tmdb,tvshows",
            "--partition-range",
            f"{FIRST}...{LAST}",
        ),
        env=_env(),
        check=True,
        cwd=ROOT,
    )
    marker.write_text(json.dumps({"prepared_at": datetime.now(UTC).isoformat()}))


def raw_paths(days: list[date]) -> list[str]:
    from ingest_host.lake import Lake
    from trending_tv.transforms.tweet_stat import prefixes_to_list, raw_keys_for_days

    lake = Lake.from_url(LAKE)
    keys = raw_keys_for_days([o for p in prefixes_to_list(days) for o in lake.list(p)], days)
    return [lake.uri(k) for k in keys]


def _bytes(paths: list[str]) -> tuple[int, int]:
    """(stored bytes, bytes after gunzip) of the files."""
    import gzip

    stored = sum(os.path.getsize(p) for p in paths)
    raw = 0
    for p in paths:
        if p.endswith(".gz"):
            with gzip.open(p, "rb") as f:
                while chunk := f.read(1 << 24):
                    raw += len(chunk)
        else:
            raw += os.path.getsize(p)
    return stored, raw


def _figure(m: Measured, mb: float | None = None) -> dict:
    out = {"wall_s": m.wall_s, "peak_tree_mb": m.peak_tree_mb, "peak_tree_pss_mb": m.peak_tree_pss_mb}
    out["load"] = m.load_before
    out["peak_java_mb"] = m.peak_by_process_mb.get("java", 0.0)
    out["peak_python_mb"] = max(
        (v for k, v in m.peak_by_process_mb.items() if k.startswith(("python", "dagster"))), default=0.0
    )
    if mb is not None:
        out["mb_per_s"] = mb / m.wall_s
    return out


def _best_of(runs: int, command: list[str], mb: float | None = None) -> dict:
    """The fastest of `runs` runs (one stalled start on this shared machine is not what a run costs),
    with every run's wall time; memory is the largest of the runs'."""
    figures = [_figure(run_measured(command, env=_env(), cwd=ROOT), mb) for _ in range(runs)]
    best = min(figures, key=lambda f: f["wall_s"])
    peaks = {
        key: max(f[key] for f in figures) for key in ("peak_tree_mb", "peak_tree_pss_mb", "peak_java_mb")
    }
    return best | peaks | {"walls_s": [f["wall_s"] for f in figures]}


def bench_floor(day_paths: list[str], all_paths: list[str], mb_day: float, mb_all: float) -> dict:
    floor = [sys.executable, "-m", "trending_tv_tests.bench._spark_floor"]
    return {
        "validate": _best_of(3, _dagster("definitions", "validate")),
        "spark_start": _best_of(3, [*floor, "start"]),
        "scan_day": _best_of(3, [*floor, "scan", *day_paths], mb_day),
        "scan_all": _best_of(3, [*floor, "scan", *all_paths], mb_all),
    }


# Our runs are repeated like the floor's parts, so that each ratio compares best with best.
DAY_RUNS, BACKFILL_RUNS = 3, 2


def bench_materialize(partition_args: list[str], mb: float, runs: int) -> dict:
    command = _dagster("asset", "materialize", "--select", "tweet_stat", *partition_args)
    return _best_of(runs, command, mb)


def bench_warm(mb_day: float) -> dict:
    """The warm path: a Spark Connect server started once (not timed), then the day's materialize
    three times through it. Peak RSS is the CLI process tree's; the server's JVM is reported apart."""
    import socket

    from trending_tv.resources.spark_connect import SparkConnectServer
    from trending_tv_tests.bench._measure import _rss_mb, _tree

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = _dagster("asset", "materialize", "--select", "tweet_stat", "--partition", DAY.isoformat())
    with (
        tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp,
        SparkConnectServer(port, log_path=Path(tmp) / "server.log") as server,
    ):
        env = _env() | {"TRENDING_TV_SPARK_REMOTE": server.remote}
        runs = [_figure(run_measured(command, env=env, cwd=ROOT), mb_day) for _ in range(3)]
        server_mb = sum((_rss_mb(pid) or ("", 0.0))[1] for pid in _tree(server.process.pid))
    return {"runs": runs, "server_rss_mb": server_mb}


def our_table(day: date) -> list[tuple]:
    import pyarrow.parquet as pq

    folder = LAKE / "analytics" / "tweet_stat" / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"
    rows = [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return sorted((r["id"], r["date"], r["hashtag_count"], r["text_count"], r["tweet_count"]) for r in rows)


def bench_duckdb() -> dict:
    from trending_tv_tests.bench._duckdb_tweet_stat import tweet_stat_duckdb

    result: dict = {"days": {}, "equal_days": 0}
    started = time.perf_counter()
    for day in DAYS:
        t0 = time.perf_counter()
        rows, timings = tweet_stat_duckdb(raw_paths([day]), LAKE, day)
        equal = rows == our_table(day)
        result["days"][str(day)] = {"wall_s": time.perf_counter() - t0, "equal": equal, **timings}
        result["equal_days"] += equal
        print(f"duckdb {day}: {time.perf_counter() - t0:.1f} s, equal to ours: {equal}", flush=True)
    result["all_wall_s"] = time.perf_counter() - started
    return result


def bench_etl2020(day_paths: list[str], mb: float) -> dict:
    from ingest_host import layout

    shows_csv = LAKE / layout.tracked_shows_day_key(DAY)
    with tempfile.TemporaryDirectory(prefix="bench-etl2020-") as out:
        command = [
            sys.executable,
            "-m",
            "trending_tv_tests.bench._etl_2020",
            f"{out}/tweet_stat",
            DAY.isoformat(),
            str(shows_csv),
            *day_paths,
        ]
        return _figure(run_measured(command, env=_env(), cwd=ROOT), mb)


def day_posts(day: date) -> list[tuple[str | None, list[str] | None]]:
    """The day's distinct posts (text, hashtags) as tweet_stat matches them, cached as Parquet."""
    import pyarrow.parquet as pq

    cached = CACHE / f"posts-{day}.parquet"
    if not cached.exists():
        from pyspark.sql import SparkSession

        from trending_tv.resources.spark import local_spark_config, use_this_python_for_workers
        from trending_tv.transforms.posts import ORDER_COLUMNS, parse_lines, read_raw_lines
        from trending_tv.transforms.tweet_stat import first_deliveries

        use_this_python_for_workers()
        spark = SparkSession.builder.appName("bench-posts").config(map=local_spark_config()).getOrCreate()
        lines = parse_lines(read_raw_lines(spark, raw_paths([day])))
        posts = lines.where((lines.kind == "post") & (lines.date == day))
        first = first_deliveries(
            posts.select("post_id", *ORDER_COLUMNS, "text", "hashtags").toArrow(), ORDER_COLUMNS
        )
        spark.stop()
        pq.write_table(first.select(["text", "hashtags"]), cached)
    table = pq.read_table(cached)
    return list(zip(table.column("text").to_pylist(), table.column("hashtags").to_pylist(), strict=True))


def _more_shows(posts, shows, n: int):
    """`n` tracked shows: the day's list plus invented two-word names from the day's own vocabulary
    (so they occur in posts about as often as real names), each with its own hashtag."""
    import random
    import re
    from collections import Counter

    from ingest_host.normalize import normalize_text
    from trending_tv.transforms.matching import ShowTerms

    words = Counter()
    for text, _ in posts[:20000]:
        words.update(w for w in re.findall(r"[^\W\d_]{4,}", normalize_text(text or "")))
    vocabulary = [w for w, _ in words.most_common(3000)]
    rng = random.Random(2000)
    terms = [ShowTerms.from_tracked(s) for s in shows]
    seen = {p for t in terms for p in t.phrases}
    next_id = 10_000_000
    while len(terms) < n:
        phrase = f"{rng.choice(vocabulary)} {rng.choice(vocabulary)}"
        if phrase in seen:
            continue
        seen.add(phrase)
        terms.append(ShowTerms(next_id, (phrase,), (phrase.replace(" ", "") + "show",)))
        next_id += 1
    return terms


def bench_matcher() -> dict:
    from ingest_host import layout
    from ingest_host.lake import Lake
    from ingest_host.tracked_shows import parse_tracked_shows
    from trending_tv.transforms.matching import ShowMatcher

    posts = day_posts(DAY)
    lake = Lake.from_url(LAKE)
    shows = list(parse_tracked_shows(lake.read_text(layout.tracked_shows_day_key(DAY))))
    result = {"posts": len(posts)}
    for n in (len(shows), 2000):
        matcher = ShowMatcher(_more_shows(posts, shows, n))
        best = float("inf")
        matches = 0
        for _ in range(3):
            started = time.process_time()
            matches = sum(len(a) + len(b) for a, b in (matcher.match(t, h) for t, h in posts))
            best = min(best, time.process_time() - started)
        result[str(n)] = {"cpu_s": best, "posts_per_cpu_s": len(posts) / best, "matches": matches}
        print(
            f"matcher, {n} shows: {best:.2f} CPU s ({len(posts) / best:,.0f} posts per CPU-second)",
            flush=True,
        )
    result["shows_small"] = len(shows)
    return result


def _write_coverage(lake, day: date) -> None:
    """What the ingest host's upload writes for a day (the fields sealing reads): each hour's key and
    lines, written after the hour files, as the uploader does."""
    from ingest_host import layout
    from trending_tv.raw_manifest import count_lines

    hours = {}
    for obj in lake.list(layout.tweet_day_prefix(day)):
        label = obj.key.split("/")[-2]
        hours[label] = {
            "key": obj.key,
            "lines": count_lines(lake, obj.key),
            "state": "complete",
            "minutes_covered": 60,
        }
    lake.write_text(
        layout.tweet_day_coverage_key(day), json.dumps({"day": str(day), "hours": hours, "final": True})
    )


def bench_seal() -> dict:
    from ingest_host import layout
    from ingest_host.lake import Lake
    from trending_tv import raw_manifest
    from trending_tv_tests.bench._s3 import moto_s3_bucket

    results: dict = {}
    day_keys = [o.key for o in Lake.from_url(LAKE).list(layout.tweet_day_prefix(DAY))]

    def seal(lake, name: str) -> None:
        started = time.perf_counter()  # reading the coverage file is part of sealing
        manifest = raw_manifest.seal_tweet_day(lake, DAY, raw_manifest.read_day_coverage(lake, DAY))
        wall = time.perf_counter() - started
        lines_from = manifest.lines_from
        results[name] = {
            "wall_s": wall,
            "files": len(manifest.files),
            "lines": manifest.total_lines,
            "lines_from": lines_from,
        }
        print(f"seal {name}: {wall:.2f} s {lines_from}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-seal-") as tmp:
        folder = Lake.from_url(Path(tmp) / "lake")
        source = Lake.from_url(LAKE)
        for key in day_keys:
            folder.write_bytes(key, source.read_bytes(key))
        seal(folder, "folder lake, no coverage file")
        _write_coverage(folder, DAY)
        seal(folder, "folder lake, coverage file")

        with moto_s3_bucket("bench"):
            s3 = Lake.from_url("s3://bench/lake")
            for key in day_keys:
                s3.write_bytes(key, source.read_bytes(key))
            seal(s3, "moto S3 server, no coverage file")
            s3.write_bytes(
                layout.tweet_day_coverage_key(DAY), folder.read_bytes(layout.tweet_day_coverage_key(DAY))
            )
            seal(s3, "moto S3 server, coverage file")
    return results


def _versions() -> str:
    import dagster
    import duckdb
    import pyspark

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (
        f"Python {platform.python_version()}, Dagster {dagster.__version__}, PySpark {pyspark.__version__} "
        f"({java}), DuckDB {duckdb.__version__}"
    )


def main(only: list[str] | None = None) -> None:
    sections = only or list(SECTIONS)
    prepare()
    day_paths, all_paths = raw_paths([DAY]), raw_paths(DAYS)
    sizes = CACHE / "sizes.json"
    if not sizes.exists():
        sizes.write_text(json.dumps({"day": _bytes(day_paths), "all": _bytes(all_paths)}))
    size = json.loads(sizes.read_text())
    mb_day, mb_all = size["day"][1] / 1e6, size["all"][1] / 1e6
    results: dict = {"started": datetime.now(UTC).isoformat(), "load_start": load_average(), "sizes": size}
    results["files"] = {"day": len(day_paths), "all": len(all_paths)}
    for section in sections:
        print(f"-- {section} (load {load_average():.1f})", flush=True)
        if section == "floor":
            results["floor"] = bench_floor(day_paths, all_paths, mb_day, mb_all)
        elif section == "day":
            results["day"] = bench_materialize(["--partition", DAY.isoformat()], mb_day, DAY_RUNS)
        elif section == "backfill":
            results["backfill"] = bench_materialize(
                ["--partition-range", f"{FIRST}...{LAST}"], mb_all, BACKFILL_RUNS
            )
        elif section == "warm":
            results["warm"] = bench_warm(mb_day)
        elif section == "duckdb":
            results["duckdb"] = bench_duckdb()
        elif section == "etl2020":
            results["etl2020"] = bench_etl2020(day_paths, mb_day)
        elif section == "matcher":
            results["matcher"] = bench_matcher()
        elif section == "seal":
            results["seal"] = bench_seal()
        print(json.dumps(results.get(section), default=str, indent=1), flush=True)
    if only is None:
        # The timed sections once more, minutes later on the same files: whether the figures reproduce.
        print(f"-- second round of {', '.join(TIMED)} (load {load_average():.1f})", flush=True)
        results["repeat"] = {
            "floor": bench_floor(day_paths, all_paths, mb_day, mb_all),
            "day": bench_materialize(["--partition", DAY.isoformat()], mb_day, DAY_RUNS),
            "backfill": bench_materialize(["--partition-range", f"{FIRST}...{LAST}"], mb_all, BACKFILL_RUNS),
            "etl2020": bench_etl2020(day_paths, mb_day),
        }
        print(json.dumps(results["repeat"], default=str, indent=1), flush=True)
    results["load_end"] = load_average()
    runs = CACHE / "runs"
    runs.mkdir(exist_ok=True)
    (runs / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{'-'.join(sections)}.json").write_text(
        json.dumps(results, default=str, indent=1)
    )
    if only is None:
        write_section(HEADING, render(results))
    print(render(results))


def render(r: dict) -> str:
    from trending_tv_tests.bench._render import render_section

    return render_section(r, _versions(), DAY, FIRST, LAST)


if __name__ == "__main__":
    main()
