"""`ingest-host fetch-tmdb`: one UTC day's TMDB `/tv/{id}` snapshot of every tracked show.

Writes `tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json` (JSON Lines, each line one response body as received)
and, beside it, that day's `tracked_shows.csv` (a byte copy of TRENDING_TV_TRACKED_SHOWS). The
day's coverage (fetched / not found / failed, per show id) goes to
`ingest_meta/tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json`. A 404 or an error body is never written as a
show. The command fails (non-zero) when coverage is below TRENDING_TV_TMDB_MIN_COVERAGE, and at
once on a 401 (nothing is written then).

The snapshot is labelled with the UTC date on which it is taken; run it late in the day
(deploy/ schedules 23:30 UTC) so that it describes that day, unlike the 2020 project's 01:00 pull.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ingest_host.config import Settings
from ingest_host.lake import Lake
from ingest_host.layout import tmdb_day_key, tmdb_day_stats_key, tracked_shows_day_key
from ingest_host.shows import read_tracked_bytes
from ingest_host.tmdb_client import TmdbClient, TmdbNotFound, one_line
from ingest_host.tracked_shows import parse_tracked_shows
from ingest_host.upload import verify_object

log = logging.getLogger("ingest_host.tmdb_fetch")


@dataclass
class FetchReport:
    day: date
    shows: int = 0
    fetched: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    key: str = ""

    @property
    def coverage(self) -> float:
        return len(self.fetched) / self.shows if self.shows else 0.0


def fetch_tmdb(settings: Settings, day: date | None = None, lake: Lake | None = None) -> FetchReport:
    """Fetch, write and report one day. Raises TmdbAuthError on a 401 before writing anything."""
    day = day or datetime.now(UTC).date()
    lake = lake or Lake.from_url(settings.lake)
    tracked_bytes = read_tracked_bytes(settings)
    shows = parse_tracked_shows(tracked_bytes.decode("utf-8"))
    client = TmdbClient(settings)
    report = FetchReport(day, shows=len(shows))
    lines: list[bytes] = []
    for show in shows:
        try:
            _, raw = client.tv_details(show.id)
        except TmdbNotFound as error:
            log.warning("show %s (%s): not found on TMDB (%s)", show.id, show.name, error)
            report.not_found.append(show.id)
            continue
        except Exception as error:
            if type(error).__name__ == "TmdbAuthError":
                raise
            log.error("show %s (%s): %s: %s", show.id, show.name, type(error).__name__, error)
            report.failed[show.id] = f"{type(error).__name__}: {error}"
            continue
        lines.append(one_line(raw))
        report.fetched.append(show.id)
    body = b"".join(line + b"\n" for line in lines)
    report.key = tmdb_day_key(day)
    lake.write_bytes(report.key, body)
    verify_object(lake, report.key, body)
    shows_key = tracked_shows_day_key(day)
    lake.write_bytes(shows_key, tracked_bytes)
    verify_object(lake, shows_key, tracked_bytes)
    stats = {
        "date": day.isoformat(),
        "fetched_at": datetime.now(UTC).isoformat(),
        "key": report.key,
        "shows": report.shows,
        "fetched": len(report.fetched),
        "coverage": round(report.coverage, 4),
        "not_found": report.not_found,
        "failed": {str(k): v for k, v in report.failed.items()},
        "min_coverage": settings.tmdb_min_coverage,
    }
    lake.write_bytes(tmdb_day_stats_key(day), (json.dumps(stats, sort_keys=True) + "\n").encode())
    return report
