"""tweet_stat counting benchmark (`python -m trending_tv_tests.bench tweet_stat`).

Measures the Spark job on one generated day at a quarter of full size (about 30,000 posts), and
the share of it spent in the Python matcher (the Arrow-batched UDF: html.unescape, NFKC, casefold
and Unicode word boundaries have no Spark SQL equivalent), by timing the matcher alone on the same
posts. Results replace the "tweet_stat" section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

from ingest_host import layout
from ingest_host.lake import Lake
from ingest_host.tracked_shows import parse_tracked_shows
from trending_tv.resources.spark import local_spark_config, use_this_python_for_workers
from trending_tv.transforms.matching import ShowMatcher, ShowTerms
from trending_tv.transforms.posts import first_deliveries, parse_lines, read_raw_lines
from trending_tv.transforms.tweet_stat import compute_tweet_stat, prefixes_to_list, raw_keys_for_days
from trending_tv_sample.generator import generate_sample_lake
from trending_tv_tests.bench._report import write_section

DAY = date(2020, 11, 27)  # the busiest published day
SCALE = 0.25


def main() -> None:
    from pyspark.sql import SparkSession

    use_this_python_for_workers()
    builder = SparkSession.builder.appName("bench-tweet-stat")
    for key, value in local_spark_config(cores=2, shuffle_partitions=4).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    with tempfile.TemporaryDirectory(prefix="bench-tweet-stat-") as tmp:
        lake = Lake.from_url(Path(tmp))
        summary = generate_sample_lake(lake, start=DAY, end=DAY, scale=SCALE)
        shows = list(parse_tracked_shows(lake.read_text(layout.tracked_shows_day_key(DAY))))
        keys = raw_keys_for_days([o for p in prefixes_to_list([DAY]) for o in lake.list(p)], [DAY])
        paths = [lake.uri(k) for k in keys]
        raw_bytes = sum(os.path.getsize(p) for p in paths)
        compute_tweet_stat(spark, paths, {DAY: shows})  # warm-up: JVM, Python workers
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            result = compute_tweet_stat(spark, paths, {DAY: shows})
            runs.append(time.perf_counter() - started)
        posts = [
            (r["text"], r["hashtags"])
            for r in first_deliveries(
                parse_lines(read_raw_lines(spark, paths)).where("kind = 'post'")
            ).collect()
        ]
    matcher = ShowMatcher(ShowTerms.from_tracked(s) for s in shows)
    started = time.process_time()
    for text, tags in posts:
        matcher.match(text, tags)
    match_cpu = time.process_time() - started
    spark.stop()
    best = min(runs)
    lines = sum(result.line_counts.values())
    print(f"{lines:,} lines, {len(posts):,} posts, {raw_bytes / 1e6:.1f} MB: best {best:.2f} s of {runs}")
    print(f"matcher alone: {match_cpu:.2f} CPU s ({len(posts) / match_cpu:,.0f} posts per CPU-second)")
    section = "\n".join(
        [
            "## tweet_stat",
            "",
            f"`python -m trending_tv_tests.bench tweet_stat` ({date.today()}, {platform.machine()}, "
            f"{os.cpu_count()} cores, Spark local[2], Python {platform.python_version()}). One generated "
            f"day ({DAY}, scale {SCALE}: {summary.lines:,} lines in its own 24 files), counted as the "
            "asset counts it (26 hourly files read, both payload families).",
            "",
            "| measure | result |",
            "| --- | --- |",
            f"| input | {lines:,} lines, {raw_bytes / 1e6:.1f} MB, {len(posts):,} distinct posts |",
            f"| `compute_tweet_stat`, best of 3 after a warm-up | {best:.2f} s "
            f"({lines / best:,.0f} lines/s) |",
            f"| the Python matcher alone on the same posts (one core) | {match_cpu:.2f} CPU s "
            f"({len(posts) / match_cpu:,.0f} posts per CPU-second) |",
            f"| matcher share of the job (CPU s of matching / wall s of the job) | {match_cpu / best:.0%} |",
            "",
            "At full size (about 120,000 posts a day) the matcher alone costs about "
            f"{120_000 / (len(posts) / match_cpu):.0f} CPU-seconds a day, spread over the executors.",
            "",
        ]
    )
    write_section("tweet_stat", section)
