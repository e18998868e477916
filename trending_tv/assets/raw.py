"""Raw data landed by the ingest host: sealing a day lists it, counts it and writes a manifest.

The blocking `raw_data_landed` checks replace the 2020 project's S3DataQualityOperator: with
nothing landed the run stops here, before any Spark work starts."""

from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ingest_host import layout
from ingest_host.tracked_shows import TrackedShowsError, parse_tracked_shows
from trending_tv.constants import ALL_HOURS_PRESENT, RAW_DATA_LANDED, RAW_GROUP
from trending_tv.freshness import DAILY_FRESHNESS
from trending_tv.partitions import daily_partitions
from trending_tv.raw_manifest import DayManifest, seal_tmdb_day, seal_tweet_day, write_manifest
from trending_tv.resources.lake import LakeResource


def partition_days(context: AssetExecutionContext) -> list[date]:
    """The days of this run: one partition, or a whole range in a single-run backfill."""
    return [date.fromisoformat(k) for k in context.partition_keys]


def _manifest_table(manifests: list[DayManifest], with_hours: bool) -> str:
    header = "| day | files | bytes | lines |" + (" hours present |" if with_hours else "")
    rule = "|---|---:|---:|---:|" + ("---:|" if with_hours else "")
    rows = [
        f"| {m.day} | {len(m.files)} | {m.total_bytes:,} | {m.total_lines:,} |"
        + (f" {len(m.hours_present)} |" if with_hours else "")
        for m in manifests
    ]
    return "\n".join([header, rule, *rows])


@asset(
    key="raw_tweets",
    group_name=RAW_GROUP,
    freshness_policy=DAILY_FRESHNESS,
    kinds={"json", "s3"},
    partitions_def=daily_partitions,
    # single_run is beta in 1.13; the design needs one run per backfill range (see pyproject filter)
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            RAW_DATA_LANDED,
            asset="raw_tweets",
            blocking=True,
            description="At least one hourly post file landed for every day of the run",
        ),
        AssetCheckSpec(
            ALL_HOURS_PRESENT, asset="raw_tweets", description="All 24 hourly files of each day are present"
        ),
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
            "days": MetadataValue.md(_manifest_table(manifests, with_hours=True)),
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


@asset(
    key="raw_tmdb",
    group_name=RAW_GROUP,
    freshness_policy=DAILY_FRESHNESS,
    kinds={"json", "s3"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            RAW_DATA_LANDED,
            asset="raw_tmdb",
            blocking=True,
            description="Each day of the run has its TMDB details file and a valid tracked-show list",
        )
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
            "days": MetadataValue.md(_manifest_table(manifests, with_hours=False)),
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
