"""raw_counts: the X post counts `ingest-host fetch-counts` lands per UTC day
(`counts_raw/YYYY/MM/DD/YYYY-MM-DD.json`), sealed like the other raw sources: a manifest, and a
blocking check that the day's file is there and covers enough of the tracked (show, query) pairs."""

import json
from dataclasses import dataclass
from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from ingest_host import layout
from ingest_host.lake import Lake
from ingest_host.tracked_shows import TrackedShowsError, parse_tracked_shows
from trending_tv.assets.daily import Check, daily_asset, partition_days
from trending_tv.assets.metadata import table
from trending_tv.constants import RAW_DATA_LANDED, RAW_GROUP
from trending_tv.raw_manifest import DayManifest, RawFile, write_manifest
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import DataQualityResource
from trending_tv.transforms.show_volume import coverage, parse_counts_day

RAW_FILES = frozenset({"json", "s3"})


@dataclass
class TrackedIds:
    ids: list[int]
    source: str  # where they came from: the key read, or "" when nothing says what was tracked


def tracked_ids(lake: Lake, day: date) -> TrackedIds:
    """The shows the day's counts were fetched for: ingest_meta's `tracked_show_ids` (what
    fetch-counts asked X about), else the tracked-show list in force that day (a lake filled
    another way, e.g. the sample)."""
    stats_key = layout.counts_day_stats_key(day)
    if lake.exists(stats_key):
        try:
            ids = json.loads(lake.read_bytes(stats_key)).get("tracked_show_ids")
            if isinstance(ids, list) and ids:
                return TrackedIds([int(i) for i in ids], stats_key)
        except (ValueError, TypeError, AttributeError):
            pass  # unreadable stats: fall back to the day's list
    list_key = layout.tracked_shows_day_key(day)
    if lake.exists(list_key):
        try:
            return TrackedIds([s.id for s in parse_tracked_shows(lake.read_text(list_key))], list_key)
        except TrackedShowsError:
            pass
    return TrackedIds([], "")


def counts_lines(lake: Lake, day: date) -> list[bytes]:
    """The day's counts_raw lines ([] when the file is absent)."""
    key = layout.counts_day_key(day)
    return _nonblank_lines(lake.read_bytes(key)) if lake.exists(key) else []


def _nonblank_lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


@dataclass
class CountsDay:
    day: date
    manifest: DayManifest
    tracked: TrackedIds
    coverage: dict
    problems: list[str]

    @property
    def landed(self) -> bool:
        return bool(self.manifest.files)

    @property
    def pair_coverage(self) -> float:
        return float(self.coverage["pair_coverage"])


def seal_counts_day(lake: Lake, day: date) -> CountsDay:
    key = layout.counts_day_key(day)
    manifest = DayManifest(layout.COUNTS_RAW, day.isoformat())
    head = lake.head(key)
    # the file is read once: its line count (as raw_manifest.count_lines counts) and its lines
    data = lake.read_bytes(key) if head is not None and head.size else b""
    if head is not None:
        lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        manifest.files.append(RawFile(key, head.size, lines))
    tracked = tracked_ids(lake, day)
    series, problems = parse_counts_day(_nonblank_lines(data), day)
    return CountsDay(day, manifest, tracked, coverage(series, tracked.ids), problems)


def landed_result(days: list[CountsDay], min_coverage: float) -> AssetCheckResult:
    """ERROR when a day has no counts file, no tracked list to measure it against, or fewer than
    `min_coverage` of its (tracked show, query) pairs."""
    problems: dict[str, str] = {}
    for d in days:
        if not d.landed:
            problems[d.day.isoformat()] = f"no {layout.counts_day_key(d.day)}"
        elif not d.tracked.ids:
            problems[d.day.isoformat()] = "no tracked-show list for the day to measure coverage against"
        elif d.pair_coverage < min_coverage:
            problems[d.day.isoformat()] = (
                f"coverage {d.pair_coverage:.1%} of (show, query) pairs is below {min_coverage:.0%} "
                f"({len(d.coverage['missing_shows'])} show(s) incomplete)"
            )
    return AssetCheckResult(
        check_name=RAW_DATA_LANDED,
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "problems": MetadataValue.json(problems),
            "min_coverage": min_coverage,
            "coverage": MetadataValue.json({d.day.isoformat(): round(d.pair_coverage, 4) for d in days}),
        },
        description="; ".join(f"{day}: {why}" for day, why in problems.items()) or None,
    )


@daily_asset(
    group_name=RAW_GROUP,
    kinds=RAW_FILES,
    checks=[
        Check(
            RAW_DATA_LANDED,
            "Each day of the run has its counts file, covering at least TRENDING_TV_COUNTS_MIN_COVERAGE "
            "of the tracked (show, query) pairs",
        )
    ],
)
def raw_counts(
    context: AssetExecutionContext, lake: LakeResource, data_quality: DataQualityResource
) -> MaterializeResult:
    """Exact hourly X post counts per tracked show (hashtags; name and aliases; either), one JSON
    Lines file per UTC day as fetch-counts landed it, sealed per day with a manifest."""
    lake.client.ensure_exists()
    days = [seal_counts_day(lake.client, day) for day in partition_days(context)]
    for d in days:
        if d.landed:
            write_manifest(lake.client, d.manifest)
        context.log.info(
            f"{d.day}: {d.manifest.total_lines} lines, coverage {d.pair_coverage:.1%} of "
            f"{d.coverage['pairs_expected']} pairs"
        )
    rows = [
        {
            "day": d.day,
            "lines": d.manifest.total_lines,
            "bytes": d.manifest.total_bytes,
            "pair_coverage": round(d.pair_coverage, 4),
            "missing_shows": d.coverage["missing_shows"],
            "tracked_from": d.tracked.source,
        }
        for d in days
    ]
    return MaterializeResult(
        metadata={
            "files": sum(len(d.manifest.files) for d in days),
            "bytes": sum(d.manifest.total_bytes for d in days),
            "lines": sum(d.manifest.total_lines for d in days),
            "unreadable_lines": MetadataValue.json(
                {d.day.isoformat(): d.problems[:20] for d in days if d.problems}
            ),
            "days": table(
                rows,
                {
                    "day": "date",
                    "lines": "int",
                    "bytes": "int",
                    "pair_coverage": "float",
                    "missing_shows": "string",
                    "tracked_from": "string",
                },
            ),
            "lake": MetadataValue.path(lake.client.uri(layout.COUNTS_RAW + "/")),
        },
        check_results=[landed_result(days, data_quality.counts_min_coverage)],
    )
