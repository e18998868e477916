"""`ingest-host fetch-tmdb`: one UTC day's TMDB `/tv/{id}` snapshot of every tracked show.

Writes `tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json` (JSON Lines, each line one response body as received)
and, beside it, that day's `tracked_shows.csv` (a byte copy of TRENDING_TV_TRACKED_SHOWS). The
day's coverage (fetched / not found / failed, per show id) goes to
`ingest_meta/tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json`. A 404 or an error body is never written as a
show; a body nested too deeply is skipped and counted. The command fails (non-zero) when coverage
is below TRENDING_TV_TMDB_MIN_COVERAGE, and at once on a 401 (nothing is written then).

A rerun never makes a day worse: when the day's file already exists, the new file is merged with it
by show id (this run's bodies win; a show that failed or went missing now keeps its earlier body of
the same day), so a rerun during a TMDB outage cannot replace a complete day with a poorer one. The
outcome (new, replaced, merged or kept) is in the report, the command's output and the stats.

The snapshot is labelled with the UTC date on which it is taken; run it late in the day
(deploy/ schedules 23:30 UTC) so that it describes that day, unlike the 2020 project's 01:00 pull.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ingest_host.config import Settings, scrub
from ingest_host.lake import Lake
from ingest_host.layout import tmdb_day_key, tmdb_day_stats_key, tracked_shows_day_key
from ingest_host.shows import read_tracked_bytes
from ingest_host.tmdb_client import (
    MAX_JSON_DEPTH,
    TmdbClient,
    TmdbMalformed,
    TmdbNotFound,
    json_depth,
    one_line,
)
from ingest_host.tracked_shows import parse_tracked_shows
from ingest_host.upload import durable_write, verify_object

log = logging.getLogger("ingest_host.tmdb_fetch")


@dataclass
class FetchReport:
    day: date
    shows: int = 0
    fetched: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)  # bodies refused (e.g. nested too deeply)
    kept_from_previous: list[int] = field(default_factory=list)  # earlier bodies kept for shows failing now
    previous_shows: int | None = None  # tracked shows with a body in the day's earlier file
    outcome: str = "new"  # new | replaced | merged | kept (see describe_outcome)
    key: str = ""

    @property
    def written(self) -> int:
        """Shows with a body in the day's file: fetched now, or kept from the earlier file."""
        return len(self.fetched) + len(self.kept_from_previous)

    @property
    def coverage(self) -> float:
        """Share of tracked shows with a body in the day's file (after the merge)."""
        return self.written / self.shows if self.shows else 0.0

    @property
    def coverage_now(self) -> float:
        """Share of tracked shows this run fetched."""
        return len(self.fetched) / self.shows if self.shows else 0.0

    def describe_outcome(self) -> str:
        if self.outcome == "new":
            return "new day file"
        if self.outcome == "replaced":
            return f"replaced the day's earlier file ({self.previous_shows} shows): every one fetched again"
        if self.outcome == "kept":
            return f"kept the day's earlier file ({self.previous_shows} shows): this run fetched nothing"
        return (
            f"merged with the day's earlier file ({self.previous_shows} shows): kept "
            f"{len(self.kept_from_previous)} earlier body(ies) for shows that failed now"
        )


def _previous_bodies(lake: Lake, key: str) -> dict[int, bytes] | None:
    """Show id -> line of the day's file already in the lake (None: no file). Lines that are not a
    show body are dropped."""
    if not lake.exists(key):
        return None
    bodies: dict[int, bytes] = {}
    for line in lake.read_bytes(key).split(b"\n"):
        try:
            payload = json.loads(line) if line.strip() else None
        except (ValueError, RecursionError):
            continue
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("id"), int)
            and json_depth(payload) <= MAX_JSON_DEPTH
        ):
            bodies.setdefault(payload["id"], line)
    return bodies


def fetch_tmdb(settings: Settings, day: date | None = None, lake: Lake | None = None) -> FetchReport:
    """Fetch, write and report one day. Raises TmdbAuthError on a 401 before writing anything."""
    day = day or datetime.now(UTC).date()
    lake = lake or Lake.from_url(settings.lake)
    tracked_bytes = read_tracked_bytes(settings)
    shows = parse_tracked_shows(tracked_bytes.decode("utf-8"))
    client = TmdbClient(settings)
    report = FetchReport(day, shows=len(shows))
    fresh: dict[int, bytes] = {}
    for show in shows:
        try:
            _, raw = client.tv_details(show.id)
        except TmdbNotFound as error:
            log.warning("show %s (%s): not found on TMDB (%s)", show.id, show.name, error)
            report.not_found.append(show.id)
            continue
        except TmdbMalformed as error:
            log.warning("show %s (%s): body skipped: %s", show.id, show.name, error)
            report.skipped[show.id] = scrub(str(error))
            continue
        except Exception as error:
            if type(error).__name__ == "TmdbAuthError":
                raise
            log.error("show %s (%s): %s: %s", show.id, show.name, type(error).__name__, error)
            report.failed[show.id] = scrub(f"{type(error).__name__}: {error}")
            continue
        fresh[show.id] = one_line(raw)
        report.fetched.append(show.id)
    report.key = tmdb_day_key(day)
    previous = _previous_bodies(lake, report.key)
    lines: list[bytes] = []
    for show in shows:
        if show.id in fresh:
            lines.append(fresh[show.id])
        elif previous and show.id in previous:
            lines.append(previous[show.id])
            report.kept_from_previous.append(show.id)
    if previous is not None:
        report.previous_shows = sum(1 for show in shows if show.id in previous)
        report.outcome = "kept" if not fresh else "merged" if report.kept_from_previous else "replaced"
    log.info("%s: %s", report.key, report.describe_outcome())
    body = b"".join(line + b"\n" for line in lines)
    if report.outcome != "kept":
        durable_write(lake, report.key, body)
        verify_object(lake, report.key, body)
    shows_key = tracked_shows_day_key(day)
    durable_write(lake, shows_key, tracked_bytes)
    verify_object(lake, shows_key, tracked_bytes)
    stats = {
        "date": day.isoformat(),
        "fetched_at": datetime.now(UTC).isoformat(),
        "key": report.key,
        "shows": report.shows,
        "fetched": len(report.fetched),
        "in_file": report.written,
        "coverage": round(report.coverage, 4),
        "coverage_this_run": round(report.coverage_now, 4),
        "outcome": report.outcome,
        "previous_shows": report.previous_shows,
        "kept_from_previous": report.kept_from_previous,
        "not_found": report.not_found,
        "failed": {str(k): v for k, v in report.failed.items()},
        "skipped": {str(k): v for k, v in report.skipped.items()},
        "min_coverage": settings.tmdb_min_coverage,
    }
    durable_write(lake, tmdb_day_stats_key(day), (json.dumps(stats, sort_keys=True) + "\n").encode())
    return report
