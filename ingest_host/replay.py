"""`ingest-host replay`: feed the buffer with stream messages (from JSON Lines files, or from any
iterable of messages) as if they came from the stream.

Each line goes through `Buffer.accept`, the one write path `stream` uses, so duplicates, notices
and corrupt lines are handled and counted exactly as live. The replay runs on a simulated clock:
a bare line is "received" at the created_at of its post (a non-post line at the time of the post
before it); a `(received_at, line)` message carries its own receipt time (the project's sample
stream, `trending-tv-sample-lake replay`, has that shape). Every line and keep-alive marks its
minute as covered, as the live stream does while connected, so counters and coverage land in the
replayed hours and `upload` can then write those hours (with `--now` after them). `speed` is the
replay rate relative to that clock (0 = as fast as possible).
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_host.buffer import KEEPALIVE, POST, Buffer, classify, now_ms
from ingest_host.config import Settings

log = logging.getLogger("ingest_host.replay")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iter_file_lines(path: str | Path) -> Iterator[bytes]:
    """Lines of a JSON Lines file (plain or .gz), without their line endings; blank lines kept."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        for line in handle:
            yield line.rstrip(b"\r\n")


# What a replay takes: a raw line, or a `(received_at, raw line)` pair (b"" is a keep-alive).
Message = bytes | str | tuple[object, bytes | str]


@dataclass
class ReplayReport:
    lines: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, other: ReplayReport) -> None:
        self.lines += other.lines
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n


def replay_lines(
    buffer: Buffer,
    lines: Iterable[Message],
    speed: float = 0.0,
    stop: threading.Event | None = None,
) -> ReplayReport:
    """Accept each message into the buffer on the simulated clock. Items may be raw lines or
    `(received_at, raw line)` pairs: a timezone-aware datetime there is the line's receipt time;
    anything else in that place is ignored."""
    report = ReplayReport()
    clock: int | None = None
    started_sim: int | None = None
    started_wall = time.monotonic()
    for item in lines:
        if stop is not None and stop.is_set():
            break
        stamp: int | None = None
        if isinstance(item, tuple):
            if isinstance(item[0], datetime) and item[0].tzinfo is not None:
                stamp = (item[0] - _EPOCH) // timedelta(milliseconds=1)
            raw = item[1]
        else:
            raw = item
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if stamp is not None:
            clock = stamp
        keepalive = not raw.strip()
        if stamp is None and not keepalive:
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
        if keepalive:
            buffer.count_keepalive(received)
            kind = KEEPALIVE
        else:
            kind = buffer.accept(raw, received).kind
            report.lines += 1
        # The minute was covered, as the live stream records it for every line and keep-alive it
        # receives: a connected stream gets a keep-alive every 20 s of silence, so a replayed stream
        # that carries them covers every minute it was connected.
        buffer.mark_minute(received)
        report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
    return report


def replay_into_buffer(
    settings: Settings,
    sources: Iterable[Iterable[Message]],
    speed: float = 0.0,
    stop: threading.Event | None = None,
) -> ReplayReport:
    """Replay each source in turn (each on its own clock) into the settings' buffer; one report."""
    total = ReplayReport()
    with Buffer(settings.buffer, settings.sqlite_synchronous) as buffer:
        for messages in sources:
            if stop is not None and stop.is_set():
                break
            total.add(replay_lines(buffer, messages, speed=speed, stop=stop))
    return total
