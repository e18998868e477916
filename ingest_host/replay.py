"""`ingest-host replay`: feed the buffer from JSON Lines files (or the sample generator) as if the
lines came from the stream.

Each line goes through `Buffer.accept`, the one write path `stream` uses, so duplicates, notices
and corrupt lines are handled and counted exactly as live. The replay runs on a simulated clock:
a post is "received" at its own created_at (a non-post line at the time of the post before it),
so counters and coverage land in the replayed hours and `upload` can then write those hours.
`speed` is the replay rate relative to that clock (0 = as fast as possible).
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest_host.buffer import POST, Buffer, classify, now_ms

log = logging.getLogger("ingest_host.replay")


def iter_file_lines(path: str | Path) -> Iterator[bytes]:
    """Lines of a JSON Lines file (plain or .gz), without their line endings; blank lines kept."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        for line in handle:
            yield line.rstrip(b"\r\n")


@dataclass
class ReplayReport:
    lines: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def replay_lines(
    buffer: Buffer,
    lines: Iterable[bytes | tuple[object, bytes]],
    speed: float = 0.0,
    stop: threading.Event | None = None,
) -> ReplayReport:
    """Accept each line into the buffer on the simulated clock. Items may be raw lines or
    `(created_at, raw line)` pairs (the sample generator's shape; only the bytes are used)."""
    report = ReplayReport()
    clock: int | None = None
    started_sim: int | None = None
    started_wall = time.monotonic()
    for item in lines:
        if stop is not None and stop.is_set():
            break
        raw = item[1] if isinstance(item, tuple) else item
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not raw.strip():
            buffer.count_keepalive(clock)
            report.by_kind["keepalive"] = report.by_kind.get("keepalive", 0) + 1
            continue
        c = classify(raw)
        if c.kind == POST and c.created_ms is not None:
            clock = c.created_ms
        received = clock if clock is not None else now_ms()
        if speed > 0:
            if started_sim is None:
                started_sim = received
            due = (received - started_sim) / 1000 / speed
            delay = due - (time.monotonic() - started_wall)
            if delay > 0:
                (stop.wait(delay) if stop is not None else time.sleep(delay))
        accepted = buffer.accept(raw, received)
        buffer.mark_minute(received)
        report.lines += 1
        report.by_kind[accepted.kind] = report.by_kind.get(accepted.kind, 0) + 1
    return report
