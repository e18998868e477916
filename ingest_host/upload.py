"""`ingest-host upload`: every finished UTC hour not yet uploaded -> one JSON Lines file in the lake.

An hour is finished once `now >= hour end + grace`. Each hour's file holds every buffered line
filed under it (posts by their own created_at, other lines by their receipt time), exactly as
received, in arrival order; an hour with nothing still gets its (empty) file. An hour is marked
uploaded only after the lake confirms the object's size (and, on S3, its MD5 ETag). A line that
arrives later for an uploaded hour makes the whole hour upload again (merged with the lake's copy
when older lines of that hour were already pruned from the buffer). Beside each raw file goes a
small JSON object with that hour's collection stats (minutes covered, cap, counts by kind).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import Retrying, before_sleep_log, retry_if_exception_type, stop_after_attempt, wait_exponential

from ingest_host.buffer import HOUR_MS, Buffer, Line, classify, hour_dt, hour_of, now_ms
from ingest_host.config import Settings
from ingest_host.lake import Lake
from ingest_host.layout import tweet_hour_key, tweet_hour_stats_key

log = logging.getLogger("ingest_host.upload")


class UploadNotConfirmed(RuntimeError):
    """The object in the lake does not match what was written."""


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left: int = 0  # hours still to upload after this run
    pruned_lines: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and self.left == 0


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
    """Finished hours that need an upload: never uploaded (including empty hours inside the span
    the buffer has heard of), or holding lines that arrived after the hour's last upload."""
    cutoff = hour_of(now - grace_minutes * 60_000) - HOUR_MS  # last finished hour
    span = buffer.known_span()
    if span is None:
        return []
    first, last = span
    due = {h for h in buffer.pending_hours(cutoff + HOUR_MS)}
    uploaded = buffer.uploaded_hours()
    hour = first
    while hour <= min(last, cutoff):
        if hour not in uploaded:
            due.add(hour)
        hour += HOUR_MS
    return sorted(due)


def upload_hour(buffer: Buffer, lake: Lake, hour: int, gzipped: bool) -> tuple[str, int]:
    """Write one hour's file and its stats, confirm, then mark the hour uploaded."""
    lines, top = buffer.hour_lines(hour)
    uploaded = buffer.uploaded_hours()
    key = tweet_hour_key(hour_dt(hour), gzip=gzipped)
    other_key = tweet_hour_key(hour_dt(hour), gzip=not gzipped)
    previous = uploaded.get(hour)
    if previous and previous[1]:  # lines of this hour were pruned: keep what the lake already has
        source = previous[0] if lake.exists(previous[0]) else key
        raw_lines = _merge_with_lake(lake, source, lines)
    else:
        raw_lines = [line.raw for line in lines]
    body = _encode(raw_lines, gzipped)
    lake.write_bytes(key, body)
    verify_object(lake, key, body)
    if lake.exists(other_key):  # the gzip setting changed: never leave two files for one hour
        lake.delete([other_key])
    posts = sum(1 for line in lines if line.post_id)
    kinds: dict[str, int] = {}
    for line in lines:
        kinds[line.kind] = kinds.get(line.kind, 0) + 1
    minutes, cap, cap_reached = buffer.coverage(hour)
    stats = {
        "hour": hour_dt(hour).strftime("%Y-%m-%dT%H:00:00Z"),
        "key": key,
        "bytes": len(body),
        "lines": len(raw_lines),
        "lines_by_kind_in_file": kinds,
        "received_in_hour": buffer.counts(hour),
        "minutes_covered": bin(minutes).count("1"),
        "minutes_covered_mask": f"{minutes:060b}"[::-1],
        "cap": cap,
        "cap_reached_at": hour_dt(cap_reached).isoformat() if cap_reached else None,
        "uploaded_at": hour_dt(now_ms()).isoformat(),
    }
    stats_key = tweet_hour_stats_key(hour_dt(hour))
    lake.write_bytes(stats_key, (json.dumps(stats, sort_keys=True) + "\n").encode())
    buffer.mark_uploaded(hour, top, key, len(body), hashlib.md5(body).hexdigest(), len(raw_lines), posts)
    return key, len(raw_lines)


def run_upload(
    settings: Settings,
    now: int | None = None,
    lake: Lake | None = None,
    progress: Callable[[str], None] | None = None,
) -> UploadReport:
    """Upload every due hour (oldest first) with retries; stop at the first hour that still fails
    (the store is probably down: the next run catches up). Then prune per retention. `progress`
    is called with each key uploaded."""
    now = now_ms() if now is None else now
    lake = lake or Lake.from_url(settings.lake)
    report = UploadReport()
    with Buffer(settings.buffer, settings.sqlite_synchronous) as buffer:
        due = hours_due(buffer, now, settings.upload_grace_minutes)
        log.info("%d hour(s) due for upload", len(due))
        retrying = Retrying(
            stop=stop_after_attempt(settings.retry_attempts),
            wait=wait_exponential(multiplier=settings.retry_wait, max=settings.retry_wait_max),
            retry=retry_if_exception_type(Exception),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        for index, hour in enumerate(due):
            label = hour_dt(hour).strftime("%Y-%m-%dT%H")
            try:
                key, count = retrying(upload_hour, buffer, lake, hour, settings.upload_gzip)
            except Exception as error:
                log.error("hour %s not uploaded: %s: %s", label, type(error).__name__, error)
                report.failed.append(label)
                report.left = len(due) - index
                break
            log.info("uploaded %s (%d lines)", key, count)
            report.uploaded.append(key)
            if progress is not None:
                progress(key)
        report.pruned_lines = buffer.prune(now - settings.retention_days * 86_400_000)
        if report.pruned_lines:
            log.info(
                "pruned %d line(s) uploaded over %d day(s) ago", report.pruned_lines, settings.retention_days
            )
    return report
