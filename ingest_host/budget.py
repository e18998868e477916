"""What the ingest host spends on X, and the one monthly limit the stream and fetch-counts share.

Post reads are the stream's posts received (stored or redelivered: each delivery is counted, an
upper bound since X bills a post once per UTC day), read from the buffer's counters. Counts
requests are recorded here, one row per HTTP attempt, in a `spend_requests` table of the same
SQLite file (the ingest host's one state file): only answered requests (HTTP 2xx) are billed.

    spend this month = reads x TRENDING_TV_PRICE_PER_POST_READ + billed counts requests x
                       TRENDING_TV_PRICE_PER_COUNTS_REQUEST   <=   TRENDING_TV_MONTHLY_SPEND_LIMIT_USD

Months are UTC calendar months (X's billing month may start on another day: the limit is then a
little conservative or generous by the part of a month in between).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from ingest_host.buffer import Buffer
from ingest_host.config import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS spend_requests (
    at_ms INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    day TEXT,
    show_id INTEGER,
    query_kind TEXT,
    status INTEGER,
    billed INTEGER NOT NULL,
    cost_usd REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_requests_at ON spend_requests(at_ms);
"""

COUNTS_ENDPOINT = "counts/recent"


class SpendLimitReached(RuntimeError):
    """A request would take the month past TRENDING_TV_MONTHLY_SPEND_LIMIT_USD."""


def month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """[first instant of the UTC month, first instant of the next)."""
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class SpendLedger:
    """Counts requests made (and billed) by time, in the ingest host's SQLite state file."""

    def __init__(self, path: str | Path, timeout: float = 30.0):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SpendLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(
        self,
        at: datetime,
        *,
        status: int | None,
        billed: bool,
        cost_usd: float,
        day: date | None = None,
        show_id: int | None = None,
        query_kind: str | None = None,
        endpoint: str = COUNTS_ENDPOINT,
    ) -> None:
        self.db.execute(
            "INSERT INTO spend_requests(at_ms, endpoint, day, show_id, query_kind, status, billed, cost_usd) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _ms(at),
                endpoint,
                day.isoformat() if day else None,
                show_id,
                query_kind,
                status,
                int(billed),
                cost_usd if billed else 0.0,
            ),
        )

    def totals(
        self, start: datetime, end: datetime, endpoint: str = COUNTS_ENDPOINT
    ) -> tuple[int, int, float]:
        """(attempts, billed requests, cost) in [start, end)."""
        attempts, billed, cost = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(billed), 0), COALESCE(SUM(cost_usd), 0) FROM spend_requests "
            "WHERE endpoint = ? AND at_ms >= ? AND at_ms < ?",
            (endpoint, _ms(start), _ms(end)),
        ).fetchone()
        return int(attempts), int(billed), float(cost)


@dataclass(frozen=True)
class MonthSpend:
    month: str  # YYYY-MM
    post_reads: int
    post_reads_usd: float
    counts_attempts: int
    counts_requests: int  # billed
    counts_usd: float
    limit_usd: float
    stream_budget_usd: float
    stream_reads_per_month: int

    @property
    def total_usd(self) -> float:
        return self.post_reads_usd + self.counts_usd

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.limit_usd - self.total_usd)

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = asdict(self)
        out["total_usd"] = round(self.total_usd, 4)
        out["remaining_usd"] = round(self.remaining_usd, 4)
        out["post_reads_usd"] = round(self.post_reads_usd, 4)
        out["counts_usd"] = round(self.counts_usd, 4)
        return out


def month_spend(
    settings: Settings,
    now: datetime,
    buffer: Buffer,
    ledger: SpendLedger | None,
    reads_until: datetime | None = None,
) -> MonthSpend:
    """The month's reads, counts requests and spend so far (the month of `now`; reads received
    before `reads_until` when given)."""
    start, end = month_bounds(now)
    reads = buffer.received_posts(_ms(start), _ms(reads_until or end))
    attempts, billed, counts_usd = ledger.totals(start, end) if ledger else (0, 0, 0.0)
    return MonthSpend(
        month=f"{start:%Y-%m}",
        post_reads=reads,
        post_reads_usd=reads * settings.price_per_post_read,
        counts_attempts=attempts,
        counts_requests=billed,
        counts_usd=counts_usd,
        limit_usd=settings.monthly_spend_limit_usd,
        stream_budget_usd=settings.stream_budget_usd,
        stream_reads_per_month=settings.stream_reads_per_month,
    )


def counts_cost_per_day(settings: Settings, shows: int) -> float:
    """Planned fetch-counts spend for one day: three queries a show, one request each."""
    return 3 * shows * settings.price_per_counts_request


def stream_reads_left(settings: Settings, spend: MonthSpend, now: datetime, counts_per_day_usd: float) -> int:
    """Post reads the stream may still take this month: what is left of its own budget, and of the
    shared limit once the counts planned for the rest of the month are set aside (the exact volumes
    come first; the stream is a sample)."""
    start, end = month_bounds(now)
    days_left = (end.date() - now.astimezone(UTC).date()).days  # today included
    by_budget = min(settings.stream_reads_per_month, settings.monthly_read_cap) - spend.post_reads
    reserve = counts_per_day_usd * days_left
    by_limit = int((spend.limit_usd - spend.total_usd - reserve) / settings.price_per_post_read + 1e-9)
    return max(0, min(by_budget, by_limit))
