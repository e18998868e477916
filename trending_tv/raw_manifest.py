"""Sealing a raw day: list what landed, count it, and write a manifest beside the lake's raw data.

Post hours take their line counts from the ingest host's day coverage file when it vouches for the
file (ingest_host/README.md, "Coverage: complete, empty and missing"), so sealing a day reads one
small object instead of every raw byte again; other files are read and counted."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from ingest_host import layout
from ingest_host.lake import Lake, LakeObject

HOURS = [f"{h:02d}" for h in range(24)]
MINUTES_PER_DAY = 24 * 60
# Hour states of the coverage file that count as collected for the day (a file, some minutes covered)
COVERED_STATES = ("complete", "partial")


@dataclass
class RawFile:
    key: str
    bytes: int
    lines: int


@dataclass
class DayManifest:
    source: str  # "tweet_raw" or "tmdb_raw"
    day: str
    files: list[RawFile] = field(default_factory=list)
    hours_present: list[str] = field(default_factory=list)  # tweet_raw only
    # How the files' lines were known: "coverage" (the ingest host's day coverage file) or "read"
    lines_from: dict[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def total_lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def hours_missing(self) -> list[str]:
        return [h for h in HOURS if h not in self.hours_present]

    def to_json(self) -> str:
        body = asdict(self) | {"bytes": self.total_bytes, "lines": self.total_lines}
        return json.dumps(body, indent=2, sort_keys=True)


def count_lines(lake: Lake, key: str) -> int:
    """Lines in a raw file (gzip-aware, streamed; a last line without a newline counts)."""
    lines = 0
    last = b"\n"
    with lake.open_read(key) as raw:
        stream = gzip.GzipFile(fileobj=raw) if key.endswith(".gz") else raw
        while chunk := stream.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (0 if last == b"\n" else 1)


@dataclass(frozen=True)
class DayCoverage:
    """The ingest host's coverage file of one UTC day (layout.tweet_day_coverage_key), as read."""

    day: date
    document: dict
    written: datetime  # when the lake last wrote the coverage object
    # why the file could not be read; its document is then empty and vouches for nothing
    error: str | None = None

    def hour(self, label: str) -> dict:
        hours = self.document.get("hours")
        entry = hours.get(label) if isinstance(hours, dict) else None
        return entry if isinstance(entry, dict) else {}

    def state(self, label: str) -> str:
        return str(self.hour(label).get("state") or "unknown")

    def minutes(self, label: str) -> int:
        value = self.hour(label).get("minutes_covered")
        return value if isinstance(value, int) and 0 <= value <= 60 else 0

    @property
    def minutes_covered(self) -> int:
        return sum(self.minutes(h) for h in HOURS)

    @property
    def share_of_day(self) -> float:
        """Minutes covered over the day's 1,440 (hours not finished when the file was written count
        as not covered)."""
        return self.minutes_covered / MINUTES_PER_DAY

    @property
    def final(self) -> bool:
        return self.document.get("final") is True

    def hours_in(self, *states: str) -> list[str]:
        return [h for h in HOURS if self.state(h) in states]

    def vouched_lines(self, obj: LakeObject) -> int | None:
        """The lines of the hourly file `obj` as the uploader recorded them, when the coverage file
        names that very key, was written after the object and, when it records the file's `bytes`,
        the object has that size (else None: count the file). The size catches a file replaced within
        the timestamps' resolution or by a writer whose clock lags."""
        label = obj.key.split("/")[-2]
        entry = self.hour(label)
        lines = entry.get("lines")
        if entry.get("key") != obj.key or not isinstance(lines, int) or lines < 0:
            return None
        if "bytes" in entry and entry["bytes"] != obj.size:
            return None
        if obj.last_modified > self.written:  # replaced after the coverage was written
            return None
        return lines


def read_day_coverage(lake: Lake, day: date) -> DayCoverage | None:
    """The day's coverage file, or None when there is none (uploaded before coverage was recorded, or
    a lake filled another way: "coverage unknown").

    A file that is not a JSON object (corrupt, truncated) is no coverage record: it is read as an
    empty document, which vouches for nothing (no minute covered, not final, no file's lines), with
    `error` saying why, so a bad file never passes for a complete day nor for a day without a file."""
    key = layout.tweet_day_coverage_key(day)
    head = lake.head(key)
    if head is None:
        return None
    try:
        document = json.loads(lake.read_bytes(key))
    except ValueError as error:  # UnicodeDecodeError included
        return DayCoverage(day, {}, head.last_modified, error=f"not JSON ({error})")
    if not isinstance(document, dict):
        return DayCoverage(
            day, {}, head.last_modified, error=f"not a JSON object (a {type(document).__name__})"
        )
    return DayCoverage(day, document, head.last_modified)


def seal_tweet_day(lake: Lake, day: date, coverage: DayCoverage | None = None) -> DayManifest:
    """List the day's hourly post files and count their lines: from `coverage` where it vouches for a
    file (DayCoverage.vouched_lines), else by reading the file."""
    manifest = DayManifest(layout.TWEET_RAW, day.isoformat(), lines_from={"coverage": 0, "read": 0})
    prefix = layout.tweet_day_prefix(day)
    for obj in lake.list(prefix):
        parts = obj.key[len(prefix) :].split("/")
        if len(parts) != 2 or parts[0] not in HOURS or not parts[1].endswith((".json", ".json.gz")):
            continue  # not an hourly file (stray objects are ignored, not counted)
        lines = coverage.vouched_lines(obj) if coverage is not None else None
        if lines is None:
            lines = count_lines(lake, obj.key) if obj.size else 0
            manifest.lines_from["read"] += 1
        else:
            manifest.lines_from["coverage"] += 1
        manifest.files.append(RawFile(obj.key, obj.size, lines))
        if parts[0] not in manifest.hours_present:
            manifest.hours_present.append(parts[0])
    return manifest


def seal_tmdb_day(lake: Lake, day: date) -> DayManifest:
    """The day's TMDB details file and tracked-show list."""
    manifest = DayManifest(layout.TMDB_RAW, day.isoformat())
    for key in (layout.tmdb_day_key(day), layout.tracked_shows_day_key(day)):
        head = lake.head(key)
        if head is not None:
            manifest.files.append(RawFile(key, head.size, count_lines(lake, key) if head.size else 0))
    return manifest


def write_manifest(lake: Lake, manifest: DayManifest) -> str:
    key = layout.manifest_key(manifest.source, date.fromisoformat(manifest.day))
    lake.write_text(key, manifest.to_json())
    return key
