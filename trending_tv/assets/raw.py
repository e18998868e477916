"""Raw data landed by the ingest host: sealing a day lists it, counts it and writes a manifest.

The blocking `raw_data_landed` checks replace the 2020 project's S3DataQualityOperator: with
nothing landed the run stops here, before any Spark work starts."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from ingest_host import layout
from ingest_host.tracked_shows import TrackedShowsError, parse_tracked_shows
from trending_tv.assets.daily import Check, daily_asset, partition_days
from trending_tv.assets.metadata import table
from trending_tv.constants import ALL_HOURS_PRESENT, RAW_DATA_LANDED, RAW_GROUP
from trending_tv.freshness import DAILY_FRESHNESS
from trending_tv.raw_manifest import DayManifest, seal_tmdb_day, seal_tweet_day, write_manifest
from trending_tv.resources.lake import LakeResource

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


@daily_asset(
    group_name=RAW_GROUP,
    kinds=RAW_FILES,
    freshness_policy=DAILY_FRESHNESS,
    checks=[
        Check(RAW_DATA_LANDED, "At least one hourly post file landed for every day of the run"),
        Check(ALL_HOURS_PRESENT, "All 24 hourly files of each day are present", blocking=False),
    ],
)
def raw_tweets(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """Posts streamed from X, one JSON Lines file per UTC hour, sealed per day with a manifest."""
    lake.client.ensure_exists()
    manifests = []
    for day in partition_days(context):
        manifest = seal_tweet_day(lake.client, day)
        if manifest.files:
            write_manifest(lake.client, manifest)
        manifests.append(manifest)
        context.log.info(
            f"{day}: {len(manifest.files)} files, {manifest.total_lines:,} lines, "
            f"{len(manifest.hours_present)}/24 hours"
        )
    empty_days = [m.day for m in manifests if not m.files]
    incomplete = {m.day: m.hours_missing for m in manifests if m.files and m.hours_missing}
    return MaterializeResult(
        metadata={
            "files": sum(len(m.files) for m in manifests),
            "bytes": sum(m.total_bytes for m in manifests),
            "lines": sum(m.total_lines for m in manifests),
            "hours_present": sum(len(m.hours_present) for m in manifests),
            "days": _manifest_table(manifests, with_hours=True),
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
