"""`ingest-host upload`: every finished UTC hour the collector covered -> one JSON Lines file in the lake.

An hour is finished once `now >= hour end + grace`. An hour gets a file when the collector covered
at least one of its minutes (connected, or paused by the cap: a deliberate sample, not an outage),
or when lines were filed under it (posts by their own created_at, other lines by their receipt
time). The file holds every buffered line of the hour, exactly as received, in arrival order; a
covered hour with nothing gets an empty file ("collected, nothing matched"). An hour never covered
and without lines gets no file: it is missing, never "zero posts". Finding the due hours asks the
buffer for covered or pending hours only, so posts years apart (a replayed archive, a skewed clock)
cost one file each, never one per hour between.

An hour is marked uploaded only after the lake confirms the object's size (and, on S3, its MD5
ETag) and, on a folder lake, after the file and its directory are fsynced. A line that arrives
later for an uploaded hour makes the whole hour upload again (merged with the lake's copy when
older lines of that hour were already pruned from the buffer). Beside each raw file goes a small
JSON object with that hour's collection stats, and each day touched gets a coverage file naming
every hour's state (layout.tweet_day_coverage_key).

One upload at a time: the run holds an exclusive lock on `<buffer>.upload.lock`; a second run
exits with UploadBusy (or waits up to `wait` seconds).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_attempt, wait_exponential

from ingest_host.buffer import (
    DAY_MS,
    HOUR_MS,
    Buffer,
    DiskFullError,
    Line,
    classify,
    hour_dt,
    hour_of,
    is_disk_full,
    now_ms,
)
from ingest_host.config import Settings
from ingest_host.lake import Lake, LocalLake
from ingest_host.layout import tweet_day_coverage_key, tweet_hour_key, tweet_hour_stats_key

log = logging.getLogger("ingest_host.upload")

# exit code when another upload holds the lock (0-3 in cli.py, 4 = disk full in buffer.py)
EXIT_BUSY = 5
MINUTES_PER_HOUR = 60


class UploadNotConfirmed(RuntimeError):
    """The object in the lake does not match what was written."""


class UploadBusy(RuntimeError):
    """Another `ingest-host upload` holds the buffer's upload lock."""


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left: int = 0  # hours still to upload after this run
    pruned_lines: int = 0
    coverage_days: list[str] = field(default_factory=list)  # days whose coverage file was written

    @property
    def ok(self) -> bool:
        return not self.failed and self.left == 0


def lock_path(buffer_path: str | os.PathLike[str]) -> Path:
    return Path(os.fspath(buffer_path) + ".upload.lock")


@contextlib.contextmanager
def upload_lock(buffer_path: str | os.PathLike[str], wait: float = 0.0) -> Iterator[Path]:
    """Hold the exclusive upload lock of a buffer (fcntl: released by the kernel if the process dies).
    Raises UploadBusy when another process holds it for longer than `wait` seconds."""
    path = lock_path(buffer_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                    raise UploadBusy(
                        f"another `ingest-host upload` is running (pid {holder}, lock {path}); it uploads "
                        "every due hour, so this one exits (use --wait SECONDS to wait for it)"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _encode(lines: list[bytes], gzipped: bool) -> bytes:
    body = b"".join(line + b"\n" for line in lines)
    if gzipped:
        return gzip.compress(body, compresslevel=6, mtime=0)
    return body


def verify_object(lake: Lake, key: str, body: bytes) -> None:
    """Confirm the object: same size, and the same MD5 where the store reports one."""
    head = lake.head(key)
    if head is None:
        raise UploadNotConfirmed(f"{key}: not found after upload")
    if head.size != len(body):
        raise UploadNotConfirmed(f"{key}: {head.size} bytes in the lake, {len(body)} written")
    md5 = hashlib.md5(body).hexdigest()
    etag = (head.etag or "").strip('"')
    if etag and "-" not in etag:
        if etag != md5:
            raise UploadNotConfirmed(f"{key}: ETag {etag} != MD5 {md5}")
    elif not etag and hashlib.md5(lake.read_bytes(key)).hexdigest() != md5:  # local folder
        raise UploadNotConfirmed(f"{key}: content differs from what was written")


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_write(lake: Lake, key: str, body: bytes) -> None:
    """Write an object; on a folder lake also fsync the parent of every folder the write created
    (LocalLake.write_bytes fsyncs the file and its own folder), so a power loss after this returns
    cannot lose it (S3 confirms a PUT only once it is durable)."""
    if not isinstance(lake, LocalLake):
        lake.write_bytes(key, body)
        return
    created: list[Path] = []
    folder = lake.path(key).parent
    while folder != lake.root and not folder.exists():
        created.append(folder)
        folder = folder.parent
    lake.write_bytes(key, body)
    for folder in {c.parent for c in created}:
        _fsync_folder(folder)


def _merge_with_lake(lake: Lake, key: str, lines: list[Line]) -> list[bytes]:
    """Rebuild a pruned hour: the lake's lines first, then buffered lines not already there."""
    existing = lake.read_bytes(key) if lake.exists(key) else b""
    if key.endswith(".gz") and existing:
        existing = gzip.decompress(existing)
    old = [line for line in existing.split(b"\n") if line]
    seen_posts = {c.post_id for c in map(classify, old) if c.post_id}
    seen_raw = set(old)
    merged = list(old)
    for line in lines:
        if (line.post_id and line.post_id in seen_posts) or (not line.post_id and line.raw in seen_raw):
            continue
        merged.append(line.raw)
    return merged


def hours_due(buffer: Buffer, now: int, grace_minutes: int) -> list[int]:
    """Finished hours that need an upload: covered by the collector (at least one minute connected)
    and never uploaded, or holding lines that arrived after the hour's last upload. Two indexed
    queries: the cost follows the hours the buffer knows, never the time between them."""
    finished_before = hour_of(now - grace_minutes * 60_000)
    due = buffer.pending_hours(finished_before) | buffer.covered_hours_not_uploaded(finished_before)
    return sorted(due)


def upload_hour(buffer: Buffer, lake: Lake, hour: int, gzipped: bool) -> tuple[str, int]:
    """Write one hour's file and its stats, confirm, then mark the hour uploaded."""
    buffer.mark_coverage_day_due(hour - hour % DAY_MS)  # first: a crash later still rewrites the day
    lines, top = buffer.hour_lines(hour)
    key = tweet_hour_key(hour_dt(hour), gzip=gzipped)
    other_key = tweet_hour_key(hour_dt(hour), gzip=not gzipped)
    previous = buffer.upload_of(hour)
    merged = bool(previous and previous[1])
    if previous and merged:  # lines of this hour were pruned: keep what the lake already has
        source = previous[0] if lake.exists(previous[0]) else key
        raw_lines = _merge_with_lake(lake, source, lines)
    else:
        raw_lines = [line.raw for line in lines]
    body = _encode(raw_lines, gzipped)
    durable_write(lake, key, body)
    verify_object(lake, key, body)
    if lake.exists(other_key):  # the gzip setting changed: never leave two files for one hour
        lake.delete([other_key])
    if merged:
        posts = sum(1 for raw in raw_lines if classify(raw).post_id)
    else:
        posts = sum(1 for line in lines if line.post_id)
    kinds: dict[str, int] = {}
    for line in lines:
        kinds[line.kind] = kinds.get(line.kind, 0) + 1
    connected, cap, cap_reached = buffer.coverage(hour)
    paused = buffer.paused(hour)
    stats = {
        "hour": hour_dt(hour).strftime("%Y-%m-%dT%H:00:00Z"),
        "key": key,
        "bytes": len(body),
        "lines": len(raw_lines),
        "posts": posts,
        "lines_by_kind_in_file": kinds,
        "received_in_hour": buffer.counts(hour),
        "minutes_covered": _count(connected | paused),
        "minutes_covered_mask": _mask_text(connected | paused),
        "minutes_connected": _count(connected),
        "minutes_paused_by_cap": _count(paused & ~connected),
        "cap": cap,
        "cap_reached_at": hour_dt(cap_reached).isoformat() if cap_reached else None,
        "uploaded_at": hour_dt(now_ms()).isoformat(),
    }
    durable_write(
        lake, tweet_hour_stats_key(hour_dt(hour)), (json.dumps(stats, sort_keys=True) + "\n").encode()
    )
    buffer.mark_uploaded(hour, top, key, len(body), hashlib.md5(body).hexdigest(), len(raw_lines), posts)
    return key, len(raw_lines)


def _count(mask: int) -> int:
    return bin(mask).count("1")


def _mask_text(minutes: int) -> str:
    """60 characters, one per minute of the hour: '1' connected, '0' not."""
    return f"{minutes:060b}"[::-1]


def _mask_value(text: object) -> int:
    if not isinstance(text, str) or len(text) != MINUTES_PER_HOUR or set(text) - {"0", "1"}:
        return 0
    return int(text[::-1], 2)


def hour_state(has_file: bool, minutes: int, finished: bool, unsent_lines: bool = False) -> str:
    """`minutes` covered: connected, or deliberately paused by the cap (a sample, not an outage).
    complete: file, every minute covered; partial: file, some minutes; uncovered: a file only
    because posts were filed under the hour from outside the collection window (late, replayed,
    skewed clock); missing: finished, no file, never covered; pending: covered or holding lines,
    not uploaded yet (a failed run); open: not finished when written."""
    if has_file:
        return "complete" if minutes == MINUTES_PER_HOUR else "partial" if minutes else "uncovered"
    if not finished:
        return "open"
    return "pending" if minutes or unsent_lines else "missing"


def day_coverage(
    buffer: Buffer,
    day: int,
    finished_before: int,
    previous: dict | None = None,
    written_at: int | None = None,
) -> dict:
    """The coverage document of one UTC day (epoch ms) from the buffer, merged with the `previous`
    document from the lake (minutes OR'ed, files kept) so a rebuilt buffer never erases coverage."""
    coverage = buffer.coverage_between(day, day + DAY_MS)
    uploads = buffer.uploads_between(day, day + DAY_MS)
    unsent = buffer.pending_hours_between(day, day + DAY_MS)
    old_hours = (previous or {}).get("hours") or {}
    hours: dict[str, dict] = {}
    for index in range(24):
        hour = day + index * HOUR_MS
        label = f"{index:02d}"
        old = old_hours.get(label) if isinstance(old_hours.get(label), dict) else {}
        connected, paused, cap, cap_reached = coverage.get(hour, (0, 0, None, None))
        connected |= _mask_value(old.get("minutes_connected_mask"))
        minutes = connected | paused | _mask_value(old.get("minutes_covered_mask"))
        key, lines, posts, size = uploads.get(hour) or (
            old.get("key"),
            old.get("lines"),
            old.get("posts"),
            old.get("bytes"),
        )
        finished = hour + HOUR_MS <= finished_before
        count = _count(minutes)
        hours[label] = {
            "state": hour_state(bool(key), count, finished, hour in unsent),
            "minutes_covered": count,
            "minutes_covered_mask": _mask_text(minutes),
            "minutes_connected": _count(connected),
            "minutes_connected_mask": _mask_text(connected),
            "minutes_paused_by_cap": count - _count(connected),
            "key": key,
            "lines": lines,
            "posts": posts,
            "cap": cap if cap is not None else old.get("cap"),
            "cap_reached_at": hour_dt(cap_reached).isoformat() if cap_reached else old.get("cap_reached_at"),
        }
        if key and isinstance(size, int):  # the file's size as uploaded: sealing trusts `lines` at it only
            hours[label]["bytes"] = size
    finished_hours = [h for h, v in hours.items() if v["state"] != "open"]
    covered = sum(v["minutes_covered"] for v in hours.values())
    finished_minutes = len(finished_hours) * MINUTES_PER_HOUR
    by_state: dict[str, list[str]] = {}
    for label, info in hours.items():
        by_state.setdefault(info["state"], []).append(label)
    return {
        "format": 1,
        "date": hour_dt(day).date().isoformat(),
        "written_at": hour_dt(now_ms() if written_at is None else written_at).isoformat(),
        "final": len(finished_hours) == 24,
        "minutes_covered": covered,
        "minutes_connected": sum(v["minutes_connected"] for v in hours.values()),
        "minutes_paused_by_cap": sum(v["minutes_paused_by_cap"] for v in hours.values()),
        "minutes_finished": finished_minutes,
        "share_covered": round(covered / finished_minutes, 4) if finished_minutes else 0.0,
        "hours_with_file": sorted(h for h, v in hours.items() if v["key"]),
        "empty_hours": sorted(h for h, v in hours.items() if v["key"] and v["posts"] == 0),
        "missing_hours": by_state.get("missing", []),
        "partial_hours": by_state.get("partial", []),
        "capped_hours": sorted(
            h for h, v in hours.items() if v["minutes_paused_by_cap"] or v["cap_reached_at"]
        ),
        "uncovered_hours": by_state.get("uncovered", []),
        "pending_hours": by_state.get("pending", []),
        "open_hours": by_state.get("open", []),
        "hours": hours,
    }


def write_day_coverage(buffer: Buffer, lake: Lake, day: int, finished_before: int) -> dict:
    """(Re)write one day's coverage file, merged with the one already in the lake."""
    key = tweet_day_coverage_key(hour_dt(day).date())
    previous = None
    if lake.exists(key):
        try:
            previous = json.loads(lake.read_bytes(key))
        except ValueError:
            log.warning("%s: unreadable coverage file replaced", key)
    document = day_coverage(buffer, day, finished_before, previous if isinstance(previous, dict) else None)
    body = (json.dumps(document, sort_keys=True) + "\n").encode()
    durable_write(lake, key, body)
    verify_object(lake, key, body)
    buffer.mark_coverage_day_written(day, document["final"])
    return document


def run_upload(
    settings: Settings,
    now: int | None = None,
    lake: Lake | None = None,
    progress: Callable[[str], None] | None = None,
    wait: float = 0.0,
) -> UploadReport:
    """Upload every due hour (oldest first) with retries under the buffer's upload lock; stop at the
    first hour that still fails (the store is probably down: the next run catches up). Then write
    the coverage file of every day touched and prune per retention. `progress` is called with each
    key uploaded. Raises UploadBusy (another upload runs) or DiskFullError (retrying cannot help)."""
    now = now_ms() if now is None else now
    lake = lake or Lake.from_url(settings.lake)
    try:
        with (
            upload_lock(settings.buffer, wait),
            Buffer(settings.buffer, settings.sqlite_synchronous) as buffer,
        ):
            return _run_locked(settings, buffer, lake, now, progress)
    except (UploadBusy, DiskFullError):
        raise
    except Exception as error:
        if is_disk_full(error):
            raise DiskFullError(
                f"disk full: {error}. Free space where the buffer ({settings.buffer}) or the lake "
                f"({lake.url}) lives; nothing was marked uploaded that the lake does not hold"
            ) from error
        raise


def _run_locked(
    settings: Settings, buffer: Buffer, lake: Lake, now: int, progress: Callable[[str], None] | None
) -> UploadReport:
    report = UploadReport()
    due = hours_due(buffer, now, settings.upload_grace_minutes)
    log.info("%d hour(s) due for upload", len(due))
    retrying = Retrying(
        stop=stop_after_attempt(settings.retry_attempts),
        wait=wait_exponential(multiplier=settings.retry_wait, max=settings.retry_wait_max),
        retry=retry_if_exception(lambda error: not is_disk_full(error)),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    for index, hour in enumerate(due):
        label = hour_dt(hour).strftime("%Y-%m-%dT%H")
        try:
            key, count = retrying(upload_hour, buffer, lake, hour, settings.upload_gzip)
        except Exception as error:
            if is_disk_full(error):
                raise
            log.error("hour %s not uploaded: %s: %s", label, type(error).__name__, error)
            report.failed.append(label)
            report.left = len(due) - index
            break
        log.info("uploaded %s (%d lines)", key, count)
        report.uploaded.append(key)
        if progress is not None:
            progress(key)
    finished_before = hour_of(now - settings.upload_grace_minutes * 60_000)
    for day in buffer.coverage_days_due():
        label = hour_dt(day).date().isoformat()
        try:
            document = retrying(write_day_coverage, buffer, lake, day, finished_before)
        except Exception as error:
            if is_disk_full(error):
                raise
            log.error("coverage of %s not written: %s: %s", label, type(error).__name__, error)
            report.failed.append(f"coverage {label}")
            break
        report.coverage_days.append(label)
        if document["missing_hours"]:
            log.warning(
                "%s: %d hour(s) never covered by the collector (no file): %s",
                label,
                len(document["missing_hours"]),
                ", ".join(document["missing_hours"]),
            )
    report.pruned_lines = buffer.prune(now - settings.retention_days * 86_400_000)
    if report.pruned_lines:
        log.info(
            "pruned %d line(s) uploaded over %d day(s) ago", report.pruned_lines, settings.retention_days
        )
    return report
