"""`make demo`: the whole pipeline on the sample lake, from nothing to the top shows.

1. writes the sample lake (2020-11-23 .. 2020-12-01) unless the lake already holds data: posts
   (scaled down) through the ingest host, TMDB pulls, and `counts_raw/` at the published full-scale
   volumes, in the format `ingest-host fetch-counts` lands;
2. materializes every asset for the 9 days in ONE run (one Spark job per asset for the range),
   into the Dagster instance under $DAGSTER_HOME so `make ui` shows the run afterwards;
3. prints the top shows of the period, checks tweet_stat and show_volume against the sample's
   ground truth, and ends with the last day's popular and trending tables (show_trends ranks the
   exact volumes of show_volume).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.report import TOP_N
from trending_tv.settings import settings as code_location_settings
from trending_tv_sample.catalog import FIRST_DAY as START
from trending_tv_sample.catalog import LAST_DAY as END

console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)


DEMO_BUFFER = Path(".demo") / "ingest_buffer.sqlite3"  # the demo's own buffer, never TRENDING_TV_BUFFER


DEMO_MARKER = ".demo-in-progress"  # written first and removed last: a lake with it is an interrupted demo
DEMO_PREFIXES = (
    "tweet_raw/",
    "tmdb_raw/",
    "counts_raw/",
    "config/",
    "sample_truth/",
    "ingest_meta/",
    "manifests/",
)


def ensure_sample_lake(lake: Lake) -> None:
    """An empty lake gets the sample: its posts through the ingest host (the sample's v2 stream
    replayed into a fresh buffer, then uploaded hour by hour), the rest (TMDB pulls, tracked lists,
    ground truth) from the generator. A lake that an interrupted demo left behind is rewritten;
    any other lake with data is used as it is."""
    from trending_tv_sample.generator import generate_sample_lake, lake_is_empty

    if not lake_is_empty(lake):
        if not lake.exists(DEMO_MARKER):
            console.print(f"[1/3] Lake {lake.url} already holds data: using it as it is")
            return
        console.print(f"[1/3] Lake {lake.url} was left by an interrupted demo: writing it again")
        for prefix in DEMO_PREFIXES:
            lake.delete_prefix(prefix)
    lake.write_text(DEMO_MARKER, "make demo is writing this lake\n")
    console.print(f"[1/3] Writing the sample lake to {lake.url}: posts through ingest-host replay -> upload")
    replay_and_upload(lake)
    summary = generate_sample_lake(lake, start=START, end=END, write_posts=False)
    lake.delete([DEMO_MARKER])
    console.print(f"      {summary.describe()}")


def replay_and_upload(lake: Lake) -> None:
    """`trending-tv-sample-lake replay` then `ingest-host upload --now <after the sample>`, in process."""
    from datetime import UTC, datetime, timedelta

    from ingest_host.config import Settings
    from ingest_host.upload import run_upload
    from trending_tv_sample.replay import replay_sample

    for leftover in DEMO_BUFFER.parent.glob(DEMO_BUFFER.name + "*"):  # a fresh buffer every time
        leftover.unlink()
    # Default settings (not the user's environment or .env): this buffer, this lake, plain files; a
    # throw-away buffer needs no fsync per line to survive power loss (FULL makes the replay minutes long).
    settings = Settings(lake=lake.url, buffer=str(DEMO_BUFFER), sqlite_synchronous="NORMAL")
    started = time.monotonic()
    hours = ((END - START).days + 1) * 24

    with tqdm(total=hours, unit="hour", desc="      replay", leave=False) as bar:
        previous: datetime | None = None  # the receipt hour of the message before

        def count_hours(message) -> None:
            nonlocal previous
            hour = message.received_at.replace(minute=0, second=0, microsecond=0)
            if previous is not None and hour != previous and START <= previous.date() <= END:
                bar.update()
            previous = hour

        replayed = replay_sample(settings, START, END, on_message=count_hours)
        bar.update(bar.total - bar.n)
    replay_seconds = time.monotonic() - started
    # Every sample hour is finished: the uploader's clock is set after the range (plus its grace).
    after = datetime.combine(END + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    with tqdm(total=hours + 2, unit="file", desc="      upload", leave=False) as bar:
        report = run_upload(
            settings, now=int(after.timestamp() * 1000), lake=lake, progress=lambda _: bar.update()
        )
    if not report.ok:
        console.print(
            f"[red]upload failed: {report.left} hour(s) not uploaded (first: {report.failed})[/red]"
        )
        sys.exit(1)
    kinds = replayed.by_kind
    notices = {k: n for k, n in sorted(kinds.items()) if k not in ("post", "duplicate", "keepalive")}
    console.print(
        f"      replayed {sum(kinds.values()):,} stream messages: {kinds.get('post', 0):,} posts stored, "
        f"{kinds.get('duplicate', 0)} duplicates, {sum(notices.values())} notices and junk lines "
        f"({', '.join(f'{k} {n}' for k, n in notices.items())}), {kinds.get('keepalive', 0):,} keep-alives; "
        f"uploaded {len(report.uploaded)} hour files in {time.monotonic() - started:.1f} s "
        f"(replay {replay_seconds:.1f} s; buffer {DEMO_BUFFER})"
    )


class RunProgress(threading.Thread):
    """Prints the steps and materializations of the newest run as they happen."""

    def __init__(self, instance, started_after: float):
        super().__init__(daemon=True)
        self.instance, self.started_after = instance, started_after
        self.stop = threading.Event()

    def run(self) -> None:
        seen = 0
        run_id = None
        while not self.stop.wait(1.0):
            if run_id is None:
                records = self.instance.get_run_records(limit=1)
                if records and records[0].create_timestamp.timestamp() >= self.started_after:
                    run_id = records[0].dagster_run.run_id
                continue
            logs = self.instance.all_logs(run_id)
            for entry in logs[seen:]:
                self.describe(entry)
            seen = len(logs)

    @staticmethod
    def describe(entry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            console.print(f"      ▶ {event.step_key} ...")
        elif kind == "STEP_SUCCESS":
            console.print(f"      ✓ {event.step_key} ({event.event_specific_data.duration_ms / 1000:.1f} s)")
        elif kind == "STEP_FAILURE":
            console.print(f"      ✗ {event.step_key} failed")
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            status = "passed" if data.passed else f"FAILED ({data.severity.value})"
            console.print(f"        check {data.asset_key.to_user_string()}:{data.check_name} {status}")


def materialize_everything(lake: Lake) -> None:
    from dagster import DagsterInstance, materialize

    from trending_tv.definitions import defs

    console.print(f"[2/3] Materializing every asset for {START} .. {END} in one run")
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    # every asset and every asset check, the separate ones too (ids in parents, the sample's drift)
    assets = [*(defs.assets or []), *(defs.asset_checks or [])]
    progress = RunProgress(instance, time.time() - 1)
    progress.start()
    started = time.monotonic()
    try:
        result = materialize(
            assets,
            resources=defs.resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": START.isoformat(),
                "dagster/asset_partition_range_end": END.isoformat(),
                "trending_tv/launched_by": "make demo",
            },
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            raise_on_error=False,
        )
    finally:
        time.sleep(1.2)
        progress.stop.set()
        progress.join()
    if not result.success:
        console.print("[red]The run failed; see the errors above and the run in the UI (make ui).[/red]")
        sys.exit(1)
    console.print(f"      run {result.run_id[:8]} succeeded in {time.monotonic() - started:.0f} s")


def read_table(lake: Lake, table: str) -> list[dict]:
    rows = []
    for obj in lake.list(layout.table_prefix(table)):
        if obj.key.endswith(".parquet"):
            rows.extend(pq.read_table(io.BytesIO(lake.read_bytes(obj.key))).to_pylist())
    return rows


def print_top_shows(lake: Lake) -> None:
    stats = [r for r in read_table(lake, "tweet_stat") if START <= r["date"] <= END]
    names = {r["id"]: r["name"] for r in read_table(lake, "tvshows")}
    totals: dict[int, dict[str, int]] = {}
    for r in stats:
        t = totals.setdefault(r["id"], {"hashtag_count": 0, "text_count": 0, "tweet_count": 0})
        for column in t:
            t[column] += r[column]
    console.print(f"[3/3] Top {TOP_N} shows of {START} .. {END}")
    for column, title in (
        ("tweet_count", "posts mentioning the show"),
        ("hashtag_count", "posts with its hashtag"),
    ):
        table = Table(title=f"Top {TOP_N} by {column} ({title})", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("show")
        table.add_column(column, justify="right")
        top = sorted(totals.items(), key=lambda kv: (-kv[1][column], names.get(kv[0], "")))[:TOP_N]
        for rank, (show_id, t) in enumerate(top, start=1):
            table.add_row(str(rank), names.get(show_id, str(show_id)), f"{t[column]:,}")
        console.print(table)
    check_ground_truth(lake, stats)
    check_show_volume(lake)
    print_report(lake)


def print_report(lake: Lake) -> None:
    """Where the last day's report and charts are."""
    from trending_tv.assets.trending_report import report_key

    console.print(f"Charts and report of {END}:")
    for obj in lake.list(report_key(END, "")):
        console.print(f"    {lake.uri(obj.key)}")


def print_last_day(lake: Lake) -> None:
    """The last day's popular and trending tables, as `trending-tv trends` prints them."""
    from trending_tv.analyst.render import popular_table, trending_table

    trends = [r for r in read_table(lake, "show_trends") if r["date"] == END]
    if not trends:
        console.print(f"[red]show_trends has no rows for {END}[/red]")
        sys.exit(1)
    sources = sorted({r["source"] for r in trends})
    console.print(f"\n{END}: {len(trends)} shows ranked on {', '.join(sources)}")
    console.print(popular_table(trends, title=f"Popular on {END}: posts, share of the day"))
    ranked = [r for r in trends if r["trend_rank"] is not None]
    console.print(
        trending_table(
            trends, title=f"Trending on {END}: posts against what the show's own last 7 days predict"
        )
        if ranked
        else f"No show above its expected level with enough posts on {END}."
    )


def _compare_with_truth(lake: Lake, table: str, rows: list[dict], columns: tuple[str, ...]) -> dict | None:
    """`rows` of `table` against the sample's sample_truth/<table>.csv, by (id, date) on `columns`:
    exits 1 when any row differs; the truth by (id, date), or None when the lake has no truth file."""
    key = f"sample_truth/{table}.csv"
    if not lake.exists(key):
        return None
    truth = {
        (int(r["id"]), r["date"]): tuple(int(r[c]) for c in columns)
        for r in csv.DictReader(io.StringIO(lake.read_text(key)))
    }
    computed = {(r["id"], r["date"].isoformat()): tuple(r[c] for c in columns) for r in rows}
    differing = [k for k in truth if computed.get(k) != truth[k]]
    if differing:
        console.print(f"[red]{len(differing)} of {len(truth)} {table} rows differ from {key}[/red]")
        sys.exit(1)
    return truth


def check_ground_truth(lake: Lake, stats: list[dict]) -> None:
    """The sample lake knows what it contains: compare every row with it."""
    truth = _compare_with_truth(lake, "tweet_stat", stats, ("hashtag_count", "text_count", "tweet_count"))
    if truth is not None:
        console.print(f"      all {len(truth):,} tweet_stat rows equal the sample's ground truth")


def check_show_volume(lake: Lake) -> None:
    """show_volume against the counts the sample wrote (sample_truth/show_volume.csv)."""
    rows = [r for r in read_table(lake, "show_volume") if START <= r["date"] <= END]
    truth = _compare_with_truth(lake, "show_volume", rows, ("hashtag_posts", "text_posts", "posts"))
    if truth is not None:
        posts = sum(v[2] for v in truth.values())
        console.print(
            f"      all {len(truth):,} show_volume rows equal the sample's counts: {posts:,} posts, "
            "the published 2020 volumes at full scale"
        )


def main() -> None:
    lake = Lake.from_url(code_location_settings().lake_url)
    started = time.monotonic()
    ensure_sample_lake(lake)
    materialize_everything(lake)
    print_top_shows(lake)
    console.print(
        f"\nDone in {time.monotonic() - started:.0f} s. Open the Dagster UI on the same lake and runs:"
    )
    console.print("    make ui        # then http://127.0.0.1:3000")
    print_last_day(lake)


if __name__ == "__main__":
    main()
