"""Sealing a raw day: list what landed, count it, and write a manifest beside the lake's raw data."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from datetime import date

from ingest_host import layout
from ingest_host.lake import Lake

HOURS = [f"{h:02d}" for h in range(24)]


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


def seal_tweet_day(lake: Lake, day: date) -> DayManifest:
    """List the day's hourly post files and count them."""
    manifest = DayManifest(layout.TWEET_RAW, day.isoformat())
    prefix = layout.tweet_day_prefix(day)
    for obj in lake.list(prefix):
        parts = obj.key[len(prefix) :].split("/")
        if len(parts) != 2 or parts[0] not in HOURS or not parts[1].endswith((".json", ".json.gz")):
            continue  # not an hourly file (stray objects are ignored, not counted)
        manifest.files.append(RawFile(obj.key, obj.size, count_lines(lake, obj.key) if obj.size else 0))
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
