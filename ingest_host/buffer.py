"""The durable local buffer: one SQLite file in WAL mode, written by `stream`/`replay`, read by `upload`.

Every stream message is committed, as the exact bytes received, before anything else looks at it
(one transaction per message: a crash loses at most the message in flight). Where each line goes:

- a **post** (a v2 message with `data`, or a v1.1 status) with a usable id and `created_at` is
  stored once per post id (a redelivery is counted as `duplicate`, not stored) and filed under the
  UTC hour of its own `created_at` (half-open `[HH:00, HH+1:00)`);
- every **other line** (v2 `errors`-only notices, v1.1 `limit`/`delete`/... notices, other JSON,
  lines that are not JSON at all, posts without a usable id or `created_at`) is stored too, counted
  by kind, and filed under the UTC hour in which it was received. It lands in that hour's raw file,
  exactly as received, where the counting rules skip and count it by kind (docs/design.md, counting rule 2);
- blank keep-alives are only counted (per received hour).

Counters (`counts`) are kept per received hour and kind; they drive the hourly cap and the monthly
budget, and the per-hour collection stats uploaded beside each raw file.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# kinds of stored lines
POST = "post"
DUPLICATE = "duplicate"  # counted only
KEEPALIVE = "keepalive"  # counted only
CORRUPT = "corrupt"
UNUSABLE = "unusable_post"
ERRORS = "errors"
LIMIT = "limit"
DELETE = "delete"
OTHER = "other"
_V1_NOTICES = ("limit", "delete", "warning", "disconnect", "scrub_geo", "status_withheld", "user_withheld")

SCHEMA = """
CREATE TABLE IF NOT EXISTS lines (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id      TEXT UNIQUE,          -- NULL for lines that are not posts
    kind         TEXT NOT NULL,
    hour         INTEGER NOT NULL,     -- epoch ms of the UTC hour the line is filed under
    created_ms   INTEGER,              -- the post's own created_at
    received_ms  INTEGER NOT NULL,
    raw          BLOB NOT NULL,        -- the line exactly as received (without its line ending)
    uploaded_at  INTEGER               -- epoch ms when its hour's upload was confirmed
);
CREATE INDEX IF NOT EXISTS lines_hour ON lines(hour, seq);
CREATE INDEX IF NOT EXISTS lines_pending ON lines(hour) WHERE uploaded_at IS NULL;
CREATE INDEX IF NOT EXISTS lines_uploaded ON lines(uploaded_at) WHERE uploaded_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS counts (
    hour  INTEGER NOT NULL,            -- epoch ms of the UTC hour of receipt
    kind  TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (hour, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coverage (
    hour     INTEGER PRIMARY KEY,      -- epoch ms of the UTC hour
    minutes  INTEGER NOT NULL,         -- bit m set: the stream was connected during minute m
    cap      INTEGER,                  -- the effective cap in force that hour
    cap_reached_ms INTEGER,            -- when the hour's cap was reached (NULL: never)
    paused   INTEGER NOT NULL DEFAULT 0 -- bit m set: the stream was paused by the cap during minute m
);
CREATE TABLE IF NOT EXISTS uploads (
    hour        INTEGER PRIMARY KEY,
    key         TEXT NOT NULL,
    size        INTEGER NOT NULL,
    md5         TEXT NOT NULL,
    lines       INTEGER NOT NULL,
    posts       INTEGER NOT NULL,
    uploaded_at INTEGER NOT NULL,
    pruned      INTEGER NOT NULL DEFAULT 0  -- 1: some of its lines were pruned from the buffer
);
CREATE TABLE IF NOT EXISTS coverage_days (
    day    INTEGER PRIMARY KEY,        -- epoch ms of the UTC day whose coverage file is due
    final  INTEGER NOT NULL DEFAULT 0  -- 1: written after the whole day had finished
);
"""


# exit code of a command stopped by a full disk (0-3 are in cli.py)
EXIT_DISK_FULL = 4


class DiskFullError(OSError):
    """The disk holding the buffer or a folder lake is full: retrying cannot help until space is freed."""


def is_disk_full(error: BaseException | None) -> bool:
    """True when `error` (or an exception it was raised from) is a full disk or an exceeded quota:
    ENOSPC/EDQUOT from the OS, or SQLite's SQLITE_FULL ("database or disk is full")."""
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, DiskFullError):
            return True
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(error, sqlite3.Error) and (
            getattr(error, "sqlite_errorcode", None) == 13 or "disk is full" in str(error)
        ):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def hour_of(ms: int) -> int:
    return ms - ms % HOUR_MS


def hour_dt(hour_ms: int) -> datetime:
    return datetime.fromtimestamp(hour_ms / 1000, tz=UTC)


def parse_created_at(value: object) -> int | None:
    """Epoch ms of a post's created_at: v2 ISO-8601 with or without milliseconds (`Z` or an
    offset), or v1.1 `Wed Oct 10 20:19:24 +0000 2018`. None when unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True)
class Classified:
    kind: str
    post_id: str | None = None
    created_ms: int | None = None


def _post_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def classify(raw: bytes) -> Classified:
    """What a stream line is. Never raises."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return Classified(CORRUPT)
    if not isinstance(obj, dict):
        return Classified(OTHER)
    data = obj.get("data")
    if isinstance(data, dict):  # X API v2: a line with `data` is a post even if it also has `errors`
        post_id = _post_id(data.get("id"))
        created = parse_created_at(data.get("created_at"))
        if post_id is None or created is None:
            return Classified(UNUSABLE)
        return Classified(POST, post_id, created)
    if "created_at" in obj and ("id_str" in obj or "id" in obj) and "limit" not in obj:  # v1.1 status
        post_id = _post_id(obj.get("id_str")) or _post_id(obj.get("id"))
        created = parse_created_at(obj.get("created_at"))
        if post_id is None or created is None:
            return Classified(UNUSABLE)
        return Classified(POST, post_id, created)
    if "data" in obj:
        return Classified(UNUSABLE)
    if "errors" in obj:
        return Classified(ERRORS)
    for notice in _V1_NOTICES:
        if notice in obj:
            return Classified(LIMIT if notice == "limit" else DELETE if notice == "delete" else OTHER)
    return Classified(OTHER)


@dataclass(frozen=True)
class Accepted:
    kind: str  # POST, DUPLICATE or the kind of a stored non-post line
    hour: int  # the hour the line was filed under (received hour for duplicates)
    stored: bool


@dataclass(frozen=True)
class Line:
    seq: int
    post_id: str | None
    kind: str
    raw: bytes


class Buffer:
    """The SQLite buffer. One instance per process (thread-safe through a lock)."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", timeout: float = 30.0):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'NORMAL' if synchronous == 'NORMAL' else 'FULL'}")
        self.db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        self.db.executescript(SCHEMA)
        self._add_column("coverage", "paused", "INTEGER NOT NULL DEFAULT 0")  # buffers made before it
        self._marked_minute: int | None = None

    def _add_column(self, table: str, column: str, declaration: str) -> None:
        names = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
        if column in names:
            return
        try:
            self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        except sqlite3.OperationalError as error:  # another process added it first
            if "duplicate column" not in str(error):
                raise

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Buffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing (stream / replay)
    def _count(self, hour: int, kind: str, n: int = 1) -> None:
        self.db.execute(
            "INSERT INTO counts(hour, kind, n) VALUES (?, ?, ?) "
            "ON CONFLICT(hour, kind) DO UPDATE SET n = n + excluded.n",
            (hour, kind, n),
        )

    def accept(self, raw: bytes, received_ms: int | None = None) -> Accepted:
        """Commit one stream line (its exact bytes) and count it. The only write path for lines."""
        received = now_ms() if received_ms is None else received_ms
        received_hour = hour_of(received)
        try:
            c = classify(raw)
        except Exception:  # classify never raises; belt and braces: keep the bytes whatever happens
            c = Classified(OTHER)
        raw = bytes(raw)
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if c.kind == POST:
                    assert c.created_ms is not None
                    hour = hour_of(c.created_ms)
                    cur = self.db.execute(
                        "INSERT OR IGNORE INTO lines(post_id, kind, hour, created_ms, received_ms, raw) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (c.post_id, POST, hour, c.created_ms, received, raw),
                    )
                    stored = cur.rowcount == 1
                    kind = POST if stored else DUPLICATE
                    self._count(received_hour, kind)
                    if not stored:
                        hour = received_hour
                else:
                    hour = received_hour
                    self.db.execute(
                        "INSERT INTO lines(post_id, kind, hour, created_ms, received_ms, raw) "
                        "VALUES (NULL, ?, ?, NULL, ?, ?)",
                        (c.kind, hour, received, raw),
                    )
                    stored, kind = True, c.kind
                    self._count(received_hour, kind)
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # a failed COMMIT may have ended it: keep the original error
                    self.db.execute("ROLLBACK")
                raise
        return Accepted(kind, hour, stored)

    def count_keepalive(self, received_ms: int | None = None) -> None:
        received = now_ms() if received_ms is None else received_ms
        with self._lock:
            self._count(hour_of(received), KEEPALIVE)

    def mark_minute(self, at_ms: int | None = None, cap: int | None = None) -> None:
        """Record that the stream was connected during this UTC minute (once per minute)."""
        at = now_ms() if at_ms is None else at_ms
        minute_index = at // 60_000
        if minute_index == self._marked_minute:
            return
        hour = hour_of(at)
        bit = 1 << ((at - hour) // 60_000)
        with self._lock:
            self.db.execute(
                "INSERT INTO coverage(hour, minutes, cap) VALUES (?, ?, ?) "
                "ON CONFLICT(hour) DO UPDATE SET minutes = minutes | excluded.minutes, "
                "cap = COALESCE(excluded.cap, cap)",
                (hour, bit, cap),
            )
        self._marked_minute = minute_index

    def mark_cap_reached(self, hour: int, at_ms: int, cap: int) -> None:
        """The hour's cap was reached at `at_ms`: the stream stays paused to the end of the hour
        (those minutes are recorded as paused by the cap, not as an outage)."""
        with self._lock:
            self.db.execute(
                "INSERT INTO coverage(hour, minutes, cap, cap_reached_ms) VALUES (?, 0, ?, ?) "
                "ON CONFLICT(hour) DO UPDATE SET cap = excluded.cap, "
                "cap_reached_ms = COALESCE(cap_reached_ms, excluded.cap_reached_ms)",
                (hour, cap, at_ms),
            )
        self.mark_paused(at_ms, hour + HOUR_MS)

    def mark_paused(self, start_ms: int, end_ms: int) -> None:
        """Record that the stream is deliberately disconnected by the cap (a slice's or the hour's
        share used) during the minutes that overlap [start_ms, end_ms): collected as designed, a
        sample, not an outage."""
        if end_ms <= start_ms:
            return
        with self._lock:
            hour = hour_of(start_ms)
            while hour < end_ms:
                first = max(0, (start_ms - hour) // 60_000)
                last = min(59, (min(end_ms, hour + HOUR_MS) - 1 - hour) // 60_000)
                bits = ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)
                self.db.execute(
                    "INSERT INTO coverage(hour, minutes, paused) VALUES (?, 0, ?) "
                    "ON CONFLICT(hour) DO UPDATE SET paused = paused | excluded.paused",
                    (hour, bits),
                )
                hour += HOUR_MS

    # -- reading counters
    def received_posts(self, start_ms: int, end_ms: int) -> int:
        """Post messages received (stored or duplicate: each one is paid for) in [start, end)."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(n), 0) FROM counts WHERE hour >= ? AND hour < ? AND kind IN (?, ?)",
            (hour_of(start_ms), end_ms, POST, DUPLICATE),
        ).fetchone()
        return int(row[0])

    def counts(self, hour: int | None = None) -> dict[str, int]:
        if hour is None:
            rows = self.db.execute("SELECT kind, SUM(n) FROM counts GROUP BY kind").fetchall()
        else:
            rows = self.db.execute("SELECT kind, n FROM counts WHERE hour = ?", (hour,)).fetchall()
        return {kind: int(n) for kind, n in rows}

    def coverage(self, hour: int) -> tuple[int, int | None, int | None]:
        row = self.db.execute(
            "SELECT minutes, cap, cap_reached_ms FROM coverage WHERE hour = ?", (hour,)
        ).fetchone()
        return (int(row[0]), row[1], row[2]) if row else (0, None, None)

    # -- upload support
    def pending_hours(self, before_hour: int) -> set[int]:
        rows = self.db.execute(
            "SELECT DISTINCT hour FROM lines WHERE uploaded_at IS NULL AND hour < ?", (before_hour,)
        ).fetchall()
        return {int(r[0]) for r in rows}

    def pending_hours_between(self, start: int, end: int) -> set[int]:
        rows = self.db.execute(
            "SELECT DISTINCT hour FROM lines WHERE uploaded_at IS NULL AND hour >= ? AND hour < ?",
            (start, end),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def covered_hours_not_uploaded(self, before_hour: int) -> set[int]:
        """Hours before `before_hour` in which the collector was on duty (connected, or paused by the
        cap) for at least a minute and that were never uploaded (an hour with lines is found by
        `pending_hours`)."""
        rows = self.db.execute(
            "SELECT hour FROM coverage WHERE (minutes != 0 OR paused != 0) AND hour < ? "
            "AND hour NOT IN (SELECT hour FROM uploads)",
            (before_hour,),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def paused(self, hour: int) -> int:
        """Mask of the hour's minutes during which the cap kept the stream paused."""
        row = self.db.execute("SELECT paused FROM coverage WHERE hour = ?", (hour,)).fetchone()
        return int(row[0]) if row else 0

    def coverage_between(self, start: int, end: int) -> dict[int, tuple[int, int, int | None, int | None]]:
        """Connected mask, paused-by-cap mask, cap and cap-reached time of each hour in [start, end)
        the buffer knows."""
        rows = self.db.execute(
            "SELECT hour, minutes, paused, cap, cap_reached_ms FROM coverage WHERE hour >= ? AND hour < ?",
            (start, end),
        ).fetchall()
        return {int(h): (int(m), int(p), c, r) for h, m, p, c, r in rows}

    def uploads_between(self, start: int, end: int) -> dict[int, tuple[str, int, int, int]]:
        """Key, lines, posts and bytes of each hour in [start, end) whose upload was confirmed."""
        rows = self.db.execute(
            "SELECT hour, key, lines, posts, size FROM uploads WHERE hour >= ? AND hour < ?", (start, end)
        ).fetchall()
        return {int(h): (k, int(n), int(p), int(b)) for h, k, n, p, b in rows}

    def mark_coverage_day_due(self, day: int) -> None:
        """The day's coverage file must be (re)written: one of its hours was just uploaded."""
        with self._lock:
            self.db.execute(
                "INSERT INTO coverage_days(day, final) VALUES (?, 0) "
                "ON CONFLICT(day) DO UPDATE SET final = 0",
                (day,),
            )

    def coverage_days_due(self) -> list[int]:
        """Days whose coverage file is out of date or was written before the day had finished."""
        rows = self.db.execute("SELECT day FROM coverage_days WHERE final = 0 ORDER BY day").fetchall()
        return [int(r[0]) for r in rows]

    def mark_coverage_day_written(self, day: int, final: bool) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO coverage_days(day, final) VALUES (?, ?) "
                "ON CONFLICT(day) DO UPDATE SET final = excluded.final",
                (day, int(final)),
            )

    def upload_of(self, hour: int) -> tuple[str, int] | None:
        """Key and pruned flag of the hour's last confirmed upload (None: never uploaded)."""
        row = self.db.execute("SELECT key, pruned FROM uploads WHERE hour = ?", (hour,)).fetchone()
        return (row[0], int(row[1])) if row else None

    def hour_lines(self, hour: int) -> tuple[list[Line], int]:
        """All buffered lines of one hour (uploaded or not) in arrival order, and the highest seq
        seen (the snapshot the upload will mark)."""
        with self._lock:
            self.db.execute("BEGIN")
            try:
                rows = self.db.execute(
                    "SELECT seq, post_id, kind, raw FROM lines WHERE hour = ? ORDER BY seq", (hour,)
                ).fetchall()
                top = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM lines").fetchone()[0]
            finally:
                self.db.execute("COMMIT")
        return [Line(int(s), p, k, bytes(r)) for s, p, k, r in rows], int(top)

    def mark_uploaded(
        self, hour: int, up_to_seq: int, key: str, size: int, md5: str, lines: int, posts: int
    ) -> None:
        stamp = now_ms()
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "UPDATE lines SET uploaded_at = ? WHERE hour = ? AND seq <= ? AND uploaded_at IS NULL",
                    (stamp, hour, up_to_seq),
                )
                self.db.execute(
                    "INSERT INTO uploads(hour, key, size, md5, lines, posts, uploaded_at, pruned) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE((SELECT pruned FROM uploads WHERE hour = ?), 0)) "
                    "ON CONFLICT(hour) DO UPDATE SET key = excluded.key, size = excluded.size, "
                    "md5 = excluded.md5, lines = excluded.lines, posts = excluded.posts, "
                    "uploaded_at = excluded.uploaded_at",
                    (hour, key, size, md5, lines, posts, stamp, hour),
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def prune(self, older_than_ms: int) -> int:
        """Delete lines whose hour upload was confirmed before `older_than_ms` (by upload time,
        never by post date). Their hours are flagged so a late post merges with the lake's file."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "UPDATE uploads SET pruned = 1 WHERE hour IN (SELECT DISTINCT hour FROM lines "
                    "WHERE uploaded_at IS NOT NULL AND uploaded_at < ?)",
                    (older_than_ms,),
                )
                cur = self.db.execute(
                    "DELETE FROM lines WHERE uploaded_at IS NOT NULL AND uploaded_at < ?", (older_than_ms,)
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return cur.rowcount

    def stats(self) -> dict[str, object]:
        total, pending = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(uploaded_at IS NULL), 0) FROM lines"
        ).fetchone()
        return {"lines": int(total), "pending_lines": int(pending), "counts": self.counts()}
