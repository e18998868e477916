"""Raw data landed by the ingest host: sealing a day lists it, counts it and writes a manifest.

The blocking `raw_data_landed` checks replace the 2020 project's S3DataQualityOperator: with
nothing landed the run stops here, before any Spark work starts. `raw_tweets` also reads the ingest
host's day coverage file: which hours were collected, partly collected or missed (README, "The
lake": complete, empty and missing)."""

from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from ingest_host import layout
from ingest_host.tracked_shows import TrackedShowsError, parse_tracked_shows
from trending_tv import checks
from trending_tv.assets.daily import Check, daily_asset, partition_days
from trending_tv.assets.metadata import table
from trending_tv.constants import ALL_HOURS_PRESENT, RAW_DATA_LANDED, RAW_GROUP
from trending_tv.freshness import DAILY_FRESHNESS
from trending_tv.raw_manifest import (
    HOURS,
    DayCoverage,
    DayManifest,
    read_day_coverage,
    seal_tmdb_day,
    seal_tweet_day,
    write_manifest,
)
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import COLLECTION_MIN_COVERAGE, DataQualityResource

RAW_FILES = frozenset({"json", "s3"})


def _manifest_table(manifests: list[DayManifest], with_hours: bool):
    columns = {"day": "date", "files": "int", "bytes": "int", "lines": "int"}
    rows = [
        {
            "day": m.day,
            "files": len(m.files),
            "bytes": m.total_bytes,
            "lines": m.total_lines,
            "hours_present": len(m.hours_present),
        }
        for m in manifests
    ]
    return table(rows, columns | ({"hours_present": "int"} if with_hours else {}))


def day_state(manifest: DayManifest, coverage: DayCoverage | None, min_share: float) -> str:
    """complete (24 files, at least `min_share` of the minutes covered), empty (24 files, no post),
    missing (no file), incomplete (anything between), coverage unknown (no coverage file), or
    coverage file unreadable (never complete)."""
    if not manifest.files:
        return "missing"
    if coverage is None:
        return "coverage unknown"
    if coverage.error:
        return "coverage file unreadable"
    if len(manifest.hours_present) < 24 or coverage.share_of_day < min_share:
        return "incomplete"
    posts = [coverage.hour(h).get("posts") for h in HOURS]
    return "empty" if all(p == 0 for p in posts) else "complete"


DAY_COLUMNS = {
    "day": "date",
    "state": "string",
    "share_covered": "float",
    "minutes_covered": "int",
    "hours_with_file": "int",
    "complete_hours": "int",
    "partial_hours": "string",
    "missing_hours": "string",
    "empty_hours": "string",
}
HOUR_COLUMNS = {
    "day": "date",
    "hour": "string",
    "state": "string",
    "minutes_covered": "int",
    "file": "bool",
    "lines": "int",
    "posts": "int",
    "cap": "int",
}


def _day_row(manifest: DayManifest, cov: DayCoverage | None, min_share: float) -> dict:
    row = {
        "day": manifest.day,
        "state": day_state(manifest, cov, min_share),
        "hours_with_file": len(manifest.hours_present),
        "missing_hours": ", ".join(manifest.hours_missing),  # without coverage: hours without a file
    }
    if cov is None:
        return row
    return row | {
        "share_covered": round(cov.share_of_day, 4),
        "minutes_covered": cov.minutes_covered,
        "complete_hours": len(cov.hours_in("complete")),
        "partial_hours": ", ".join(cov.hours_in("partial")),
        "missing_hours": ", ".join(cov.hours_in("missing", "pending", "open", "unknown")),
        "empty_hours": ", ".join(h for h in HOURS if cov.hour(h).get("posts") == 0),
    }


def _hour_rows(manifest: DayManifest, cov: DayCoverage | None) -> list[dict]:
    rows = []
    for hour in HOURS:
        has_file = hour in manifest.hours_present
        row = {"day": manifest.day, "hour": hour, "file": has_file}
        if cov is None:
            rows.append(row | {"state": "coverage unknown"})
            continue
        entry = cov.hour(hour)
        rows.append(
            row
            | {
                "state": cov.state(hour),
                "minutes_covered": cov.minutes(hour),
                "lines": entry.get("lines"),
                "posts": entry.get("posts"),
                "cap": entry.get("cap"),
            }
        )
    return rows


def _coverage_tables(sealed: list[tuple[DayManifest, DayCoverage | None]], min_share: float):
    """Per day and per hour, what the collector covered (from the day coverage files)."""
    per_day = [_day_row(m, c, min_share) for m, c in sealed]
    per_hour = [row for m, c in sealed for row in _hour_rows(m, c)]
    return table(per_day, DAY_COLUMNS), table(per_hour, HOUR_COLUMNS)


@daily_asset(
    group_name=RAW_GROUP,
    kinds=RAW_FILES,
    freshness_policy=DAILY_FRESHNESS,
    checks=[
        Check(RAW_DATA_LANDED, "At least one hourly post file landed for every day of the run"),
        Check(ALL_HOURS_PRESENT, "All 24 hourly files of each day are present", blocking=False),
        Check(
            checks.COLLECTION_COVERAGE,
            "WARN below a share of the day's minutes covered by the collector "
            f"({COLLECTION_MIN_COVERAGE}, default 95%), naming the missing and partial hours; "
            "WARN 'coverage unknown' for a day without the ingest host's coverage file",
            blocking=False,
        ),
    ],
)
def raw_tweets(
    context: AssetExecutionContext, lake: LakeResource, data_quality: DataQualityResource
) -> MaterializeResult:
    """Posts streamed from X, one JSON Lines file per UTC hour, sealed per day with a manifest, and
    the collector's coverage of each hour (complete, partial, missing)."""
    lake.client.ensure_exists()
    min_share = data_quality.collection_min_coverage
    sealed: list[tuple[DayManifest, DayCoverage | None]] = []
    for day in partition_days(context):
        coverage = read_day_coverage(lake.client, day)
        manifest = seal_tweet_day(lake.client, day, coverage)
        if manifest.files:
            write_manifest(lake.client, manifest)
        sealed.append((manifest, coverage))
        context.log.info(
            f"{day}: {len(manifest.files)} files, {manifest.total_lines:,} lines "
            f"({manifest.lines_from['coverage']} files counted by the uploader, "
            f"{manifest.lines_from['read']} read), {len(manifest.hours_present)}/24 hours, "
            + ("coverage unknown" if coverage is None else f"{coverage.share_of_day:.1%} of minutes covered")
        )
    manifests = [m for m, _ in sealed]
    empty_days = [m.day for m in manifests if not m.files]
    incomplete = {m.day: m.hours_missing for m in manifests if m.files and m.hours_missing}
    coverage_by_day, coverage_by_hour = _coverage_tables(sealed, min_share)
    return MaterializeResult(
        metadata={
            "files": sum(len(m.files) for m in manifests),
            "bytes": sum(m.total_bytes for m in manifests),
            "lines": sum(m.total_lines for m in manifests),
            "lines_counted_by_uploader": sum(m.lines_from["coverage"] for m in manifests),
            "hours_present": sum(len(m.hours_present) for m in manifests),
            "days": _manifest_table(manifests, with_hours=True),
            "coverage_by_day": coverage_by_day,
            "coverage_by_hour": coverage_by_hour,
            "lake": MetadataValue.path(lake.client.uri(layout.TWEET_RAW + "/")),
        },
        check_results=[
            AssetCheckResult(
                check_name=RAW_DATA_LANDED,
                passed=not empty_days,
                severity=AssetCheckSeverity.ERROR,
                metadata={"days_without_data": MetadataValue.json(empty_days)},
                description=f"No post files for {', '.join(empty_days)}" if empty_days else None,
            ),
            AssetCheckResult(
                check_name=ALL_HOURS_PRESENT,
                passed=not incomplete and not empty_days,
                severity=AssetCheckSeverity.WARN,
                metadata={"missing_hours": MetadataValue.json(incomplete)},
            ),
            checks.collection_coverage(
                {date.fromisoformat(m.day): c for m, c in sealed if m.files}, min_share
            ),
        ],
    )


@daily_asset(
    group_name=RAW_GROUP,
    kinds=RAW_FILES,
    freshness_policy=DAILY_FRESHNESS,
    checks=[
        Check(RAW_DATA_LANDED, "Each day of the run has its TMDB details file and a valid tracked-show list")
    ],
)
def raw_tmdb(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """TMDB TV details pulled once a day for the tracked shows, with that day's tracked-show list."""
    lake.client.ensure_exists()
    manifests = []
    problems: dict[str, list[str]] = {}
    repairs = 0
    for day in partition_days(context):
        manifest = seal_tmdb_day(lake.client, day)
        keys = {f.key for f in manifest.files}
        if layout.tmdb_day_key(day) not in keys:
            problems.setdefault(day.isoformat(), []).append(f"missing {layout.tmdb_day_key(day)}")
        if layout.tracked_shows_day_key(day) not in keys:
            problems.setdefault(day.isoformat(), []).append(f"missing {layout.tracked_shows_day_key(day)}")
        else:
            try:
                repairs += len(
                    parse_tracked_shows(lake.client.read_text(layout.tracked_shows_day_key(day))).repairs
                )
            except TrackedShowsError as error:
                problems.setdefault(day.isoformat(), []).append(str(error))
        if manifest.files:
            write_manifest(lake.client, manifest)
        manifests.append(manifest)
    return MaterializeResult(
        metadata={
            "files": sum(len(m.files) for m in manifests),
            "bytes": sum(m.total_bytes for m in manifests),
            "lines": sum(m.total_lines for m in manifests),
            "tracked_list_repairs": repairs,
            "days": _manifest_table(manifests, with_hours=False),
            "lake": MetadataValue.path(lake.client.uri(layout.TMDB_RAW + "/")),
        },
        check_results=[
            AssetCheckResult(
                check_name=RAW_DATA_LANDED,
                passed=not problems,
                severity=AssetCheckSeverity.ERROR,
                metadata={"problems": MetadataValue.json(problems)},
                description="; ".join(f"{d}: {', '.join(p)}" for d, p in problems.items()) or None,
            )
        ],
    )
