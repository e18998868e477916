"""`ingest-host`: the ingest host's one command line.

Exit codes: 0 done; 1 failed or work left (e.g. hours not uploaded, TMDB or counts coverage too
low, the monthly X spend limit reached); 2 configuration error; 3 credentials refused (X 401/403,
TMDB 401); 4 disk full (any command); 5 another upload holds the upload lock.
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from ingest_host.config import ConfigError, Settings, load_settings, scrub, setup_logging

log = logging.getLogger("ingest_host")

EXIT_FAILED, EXIT_CONFIG, EXIT_AUTH = 1, 2, 3


def _fail(code: int, message: str) -> None:
    click.echo(scrub(message), err=True)
    sys.exit(code)


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known errors into clear one-line messages and exit codes; scrub every message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ingest_host.buffer import EXIT_DISK_FULL, is_disk_full
        from ingest_host.tracked_shows import TrackedShowsError

        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except ConfigError as error:
            _fail(EXIT_CONFIG, f"ingest-host: configuration error: {error}")
        except TrackedShowsError as error:
            _fail(EXIT_CONFIG, f"ingest-host: {error}")
        except Exception as error:
            if type(error).__name__ in ("AuthError", "TmdbAuthError"):
                _fail(EXIT_AUTH, f"ingest-host: {error}")
            if is_disk_full(error):  # retrying cannot help until space is freed
                _fail(EXIT_DISK_FULL, f"ingest-host: disk full: {error}")
            log.error("failed: %s: %s", type(error).__name__, error, exc_info=True)
            _fail(EXIT_FAILED, f"ingest-host: failed: {type(error).__name__}: {error}")

    return wrapper


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    return load_settings(ctx.obj["env_file"], **overrides)


@click.group()
@click.option(
    "--env-file", type=click.Path(dir_okay=False), default=None, help="Settings file (default ./.env)."
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging (secrets are still scrubbed).")
@click.pass_context
def main(ctx: click.Context, env_file: str | None, verbose: bool) -> None:
    """Collect X posts and TMDB details for trending-tv into the lake."""
    setup_logging(verbose)
    ctx.obj = {"env_file": env_file}


def _install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@main.command()
@click.option(
    "--max-posts-per-hour", type=int, default=None, help="Overrides TRENDING_TV_MAX_POSTS_PER_HOUR."
)
@click.pass_context
@guarded
def stream(ctx: click.Context, max_posts_per_hour: int | None) -> None:
    """Stream matching posts from the X API v2 filtered stream into the buffer (runs until stopped)."""
    from ingest_host.stream import run_stream

    settings = _settings(ctx, max_posts_per_hour=max_posts_per_hour)
    settings.require("x_bearer_token")
    stop = threading.Event()
    _install_stop_handlers(stop)
    run_stream(settings, stop)


def _parse_now(value: str | None) -> int | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@main.command()
@click.option("--now", "now_text", default=None, help="Pretend it is this UTC time (ISO-8601).")
@click.option("--gzip/--no-gzip", "gzipped", default=None, help="Overrides TRENDING_TV_UPLOAD_GZIP.")
@click.option("--lake", default=None, help="Overrides TRENDING_TV_LAKE.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another running upload (then exit 5).",
)
@click.pass_context
@guarded
def upload(
    ctx: click.Context, now_text: str | None, gzipped: bool | None, lake: str | None, wait: float
) -> None:
    """Upload every finished UTC hour the collector covered and not yet uploaded, and each touched
    day's coverage file; exits 1 while any hour is left, 4 on a full disk, 5 while another upload runs."""
    from ingest_host.buffer import EXIT_DISK_FULL, DiskFullError
    from ingest_host.upload import EXIT_BUSY, UploadBusy, run_upload

    settings = _settings(ctx, upload_gzip=gzipped, lake=lake)
    try:
        report = run_upload(settings, now=_parse_now(now_text), wait=wait)
    except UploadBusy as error:
        _fail(EXIT_BUSY, f"ingest-host upload: {error}")
    except DiskFullError as error:
        _fail(EXIT_DISK_FULL, f"ingest-host upload: {error}")
    click.echo(
        f"uploaded {len(report.uploaded)} hour file(s); {report.left} hour(s) left; "
        f"coverage written for {len(report.coverage_days)} day(s); pruned {report.pruned_lines} line(s)"
    )
    if not report.ok:
        first = report.failed[0] if report.failed else "?"
        _fail(EXIT_FAILED, f"ingest-host upload: {report.left} hour(s) not uploaded (first: {first})")


@main.command("fetch-tmdb")
@click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="UTC day label (default today)."
)
@click.option("--lake", default=None, help="Overrides TRENDING_TV_LAKE.")
@click.pass_context
@guarded
def fetch_tmdb_command(ctx: click.Context, day: datetime | None, lake: str | None) -> None:
    """Snapshot TMDB /tv/{id} for every tracked show into tmdb_raw/ (exits 1 below the coverage threshold)."""
    from ingest_host.buffer import EXIT_DISK_FULL, is_disk_full
    from ingest_host.tmdb_fetch import fetch_tmdb

    settings = _settings(ctx, lake=lake)
    settings.require("tmdb_api_key")
    try:
        report = fetch_tmdb(settings, day=day.date() if day else None)
    except OSError as error:
        if not is_disk_full(error):
            raise
        _fail(EXIT_DISK_FULL, f"ingest-host fetch-tmdb: disk full: {error}. Free space where the lake lives.")
    click.echo(
        f"{report.key}: {report.written}/{report.shows} shows ({report.coverage:.1%}); "
        f"this run fetched {len(report.fetched)} ({report.coverage_now:.1%}), {len(report.not_found)} not "
        f"found, {len(report.failed)} failed, {len(report.skipped)} skipped; {report.describe_outcome()}"
    )
    if report.coverage < settings.tmdb_min_coverage:
        _fail(
            EXIT_FAILED,
            f"ingest-host fetch-tmdb: coverage {report.coverage:.1%} is below "
            f"{settings.tmdb_min_coverage:.0%} (TRENDING_TV_TMDB_MIN_COVERAGE)",
        )


@main.command("refresh-shows")
@click.option("--top", type=int, default=None, help="How many popular shows (TRENDING_TV_POPULAR_TOP_N).")
@click.option("--dry-run", is_flag=True, help="Print the list instead of writing it.")
@click.pass_context
@guarded
def refresh_shows_command(ctx: click.Context, top: int | None, dry_run: bool) -> None:
    """Rebuild the tracked-show list from TMDB popular TV plus the checked-in overrides."""
    from ingest_host.shows import refresh_shows

    settings = _settings(ctx, popular_top_n=top)
    settings.require("tmdb_api_key")
    text, merged = refresh_shows(settings, dry_run=dry_run)
    if dry_run:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {len(merged.shows)} shows to {settings.tracked_shows_url}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--speed",
    type=float,
    default=0.0,
    show_default=True,
    help="Replay rate relative to the posts' own clock (0: as fast as possible).",
)
@click.pass_context
@guarded
def replay(ctx: click.Context, files: tuple[str, ...], speed: float) -> None:
    """Feed the buffer from JSON Lines files of stream messages (optionally .gz), as `stream` would
    (Buffer.accept). The project's sample stream: `trending-tv-sample-lake replay`."""
    from ingest_host.replay import iter_file_lines, replay_into_buffer

    if speed < 0:
        raise click.BadParameter("must be 0 (as fast as possible) or more", param_hint="--speed")
    settings = _settings(ctx)
    stop = threading.Event()
    _install_stop_handlers(stop)
    report = replay_into_buffer(settings, [iter_file_lines(path) for path in files], speed=speed, stop=stop)
    click.echo("replayed: " + json.dumps(report.by_kind, sort_keys=True))


@main.command("fetch-counts")
@click.option(
    "--date",
    "days",
    type=click.DateTime(["%Y-%m-%d"]),
    multiple=True,
    help="UTC day to fetch (repeatable; default yesterday). Only the last 7 days can be fetched.",
)
@click.option("--catch-up", is_flag=True, help="Every finished day of the last 7 not yet complete.")
@click.option("--now", "now_text", default=None, help="Pretend it is this UTC time (ISO-8601).")
@click.option("--lake", default=None, help="Overrides TRENDING_TV_LAKE.")
@click.pass_context
@guarded
def fetch_counts_command(
    ctx: click.Context, days: tuple[datetime, ...], catch_up: bool, now_text: str | None, lake: str | None
) -> None:
    """Exact hourly X post counts per tracked show (hashtags; name and aliases; either) into counts_raw/.

    A day already partly landed is resumed (its lines are kept, only missing pairs are fetched).
    Exits 1 when a day stays below TRENDING_TV_COUNTS_MIN_COVERAGE or the monthly spend limit stops it."""
    from ingest_host.budget import SpendLimitReached
    from ingest_host.counts import DayOutOfRange, fetch_counts, fetchable_days

    if catch_up and days:
        raise click.UsageError("give --date or --catch-up, not both")
    settings = _settings(ctx, lake=lake)
    settings.require("x_bearer_token")
    now_ms_value = _parse_now(now_text)
    now = datetime.fromtimestamp(now_ms_value / 1000, tz=UTC) if now_ms_value is not None else None

    def clock() -> datetime:
        return now if now is not None else datetime.now(UTC)

    # SIGTERM (systemd stop) ends the run through the landing code: requests already paid for land
    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    wanted = fetchable_days(clock()) if catch_up else [d.date() for d in days] or [None]
    failed = []
    for day in wanted:
        try:
            report = fetch_counts(settings, day, clock=clock)
        except DayOutOfRange as error:
            raise click.BadParameter(str(error), param_hint="--date") from error
        except SpendLimitReached as error:
            _fail(EXIT_FAILED, f"ingest-host fetch-counts: {error}")
        click.echo(
            f"{report.key}: {report.pairs_present}/{report.pairs_expected} show queries "
            f"({report.coverage:.1%}; {report.fetched} fetched now, {report.kept} kept); "
            f"{len(report.missing_shows)} show(s) missing; {report.billed} request(s), ${report.cost_usd:.3f}"
        )
        if report.stopped:
            click.echo(f"stopped: {report.stopped}", err=True)
        if report.stopped or report.coverage < settings.counts_min_coverage:
            failed.append(report)
    if failed:
        first = failed[0]
        _fail(
            EXIT_FAILED,
            f"ingest-host fetch-counts: {len(failed)} day(s) incomplete ({first.day}: coverage "
            f"{first.coverage:.1%}, TRENDING_TV_COUNTS_MIN_COVERAGE {settings.counts_min_coverage:.0%}); "
            "run again to resume",
        )


@main.command()
@click.option("--now", "now_text", default=None, help="Pretend it is this UTC time (ISO-8601).")
@click.pass_context
@guarded
def status(ctx: click.Context, now_text: str | None) -> None:
    """Print the settings (secrets as set/unset), the buffer's counters and this month's X spend."""
    from ingest_host.budget import SpendLedger, month_spend
    from ingest_host.buffer import Buffer

    settings = _settings(ctx)
    now_ms_value = _parse_now(now_text)
    now = datetime.now(UTC) if now_ms_value is None else datetime.fromtimestamp(now_ms_value / 1000, tz=UTC)
    out: dict[str, Any] = {"settings": settings.describe()}
    with (
        Buffer(settings.buffer, settings.sqlite_synchronous) as buffer,
        SpendLedger(settings.buffer) as ledger,
    ):
        out["buffer"] = buffer.stats()
        out["spend"] = month_spend(settings, now, buffer, ledger).describe()
        out["spend"].update(_stream_cap(settings, now, buffer, ledger))
    click.echo(json.dumps(out, indent=2, sort_keys=True, default=str))


def _stream_cap(settings: Settings, now: datetime, buffer: Any, ledger: Any) -> dict[str, Any]:
    """The stream's cap for this hour, as the stream would compute it (the counts planned for the
    tracked list set aside), or why it cannot be said."""
    from ingest_host.budget import counts_cost_per_day
    from ingest_host.shows import load_tracked_shows
    from ingest_host.stream import CapGuard
    from ingest_host.tracked_shows import TrackedShowsError

    try:
        shows = len(load_tracked_shows(settings))
    except TrackedShowsError as error:
        return {"stream_cap_this_hour": None, "stream_cap_note": str(error).splitlines()[0]}
    per_day = counts_cost_per_day(settings, shows)
    guard = CapGuard(buffer, settings, ledger, per_day)
    return {
        "stream_cap_this_hour": guard.cap(int(now.timestamp() * 1000)),
        "counts_planned_per_day_usd": round(per_day, 4),
        "tracked_shows": shows,
    }


if __name__ == "__main__":
    main()
