"""Sensors on the lake's raw prefixes (one per source) and the day selections they run.

Each tick lists narrow per-day prefixes through the lake resource (a folder or S3, one client),
records every newly landed object as a run-less AssetObservation on raw_tweets / raw_tmdb /
raw_counts, and requests a run once the day is ready: the posts and TMDB sensors run the whole day
(every daily asset but the counts ones), the counts sensor runs raw_counts, show_volume and what
depends on them (show_trends, trending_report) once the day's tracked shows are in the lake. A day
without counts therefore never fails or holds up the day's run: show_trends ranks it on the sample.
The logic lives in `trending_tv.lake_watch`; README "Automation and the UI" explains the decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetKey,
    AssetObservation,
    AssetsDefinition,
    AssetSelection,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.errors import DagsterInvariantViolationError

from ingest_host.lake import LakeNotFoundError, LakeObject
from trending_tv.constants import TRIGGER_TAG
from trending_tv.lake_watch import COUNTS, TMDB, TWEETS, RawSource, WatchSettings, evaluate
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import LakeWatchResource, settings

FINGERPRINT_TAG = "trending_tv/raw_fingerprint"
# Run by the counts sensor (with what depends on them), never by the day selection.
COUNTS_ASSETS = (AssetKey("raw_counts"), AssetKey("show_volume"))


def default_sensor_status() -> DefaultSensorStatus:
    """Off in a local checkout (turn them on in the UI); on in the EMR deployment."""
    return DefaultSensorStatus.RUNNING if settings().deployment == "emr" else DefaultSensorStatus.STOPPED


def day_keys(assets: Sequence[object]) -> list[AssetKey]:
    """Every materializable asset on the daily partitions but the counts ones: what one day's run
    materializes. New daily assets added to the definitions are picked up without touching the
    sensors or the schedule."""
    return [
        key
        for a in assets
        if isinstance(a, AssetsDefinition) and a.is_materializable and a.partitions_def == daily_partitions
        for key in a.keys
        if key not in COUNTS_ASSETS
    ]


def counts_keys(assets: Sequence[object]) -> list[AssetKey]:
    """What the counts run materializes: raw_counts, show_volume and every daily asset downstream of
    them (show_trends, trending_report), listed by key so the selection shows in the UI as such."""
    daily = [a for a in assets if isinstance(a, AssetsDefinition) and a.partitions_def == daily_partitions]
    # resolved among the daily assets only: the counts run is one partition of the daily partitions
    keys = AssetSelection.assets(*COUNTS_ASSETS).downstream().resolve(daily)
    return sorted(keys, key=AssetKey.to_user_string)


def _arrival_metadata(objects: list[LakeObject], lake: LakeResource) -> dict:
    newest = max(o.last_modified for o in objects)
    rows = [
        {"key": o.key, "size": o.size, "last_modified": o.last_modified.astimezone(UTC).isoformat()}
        for o in sorted(objects, key=lambda o: o.key)
    ]
    meta: dict = {
        "objects": len(objects),
        "bytes": sum(o.size for o in objects),
        "newest_last_modified": MetadataValue.timestamp(newest),
        "arrivals": MetadataValue.json(rows),
    }
    if len(objects) == 1:
        meta["key"] = MetadataValue.path(lake.client.uri(objects[0].key))
        meta["size"] = objects[0].size
    return meta


def _already_requested(context: SensorEvaluationContext):
    """Cross-sensor dedup: the other raw sensor may already have run this exact day fingerprint."""
    try:
        instance = context.instance
    except DagsterInvariantViolationError:
        return None

    def check(run_key: str) -> bool:
        return bool(instance.get_run_records(RunsFilter(tags={FINGERPRINT_TAG: run_key}), limit=1))

    return check


def build_lake_sensor(
    source: RawSource,
    target: AssetSelection,
    *,
    watch: WatchSettings | None = None,
    minimum_interval_seconds: int | None = None,
    default_status: DefaultSensorStatus | None = None,
) -> SensorDefinition:
    """The sensor for one raw source (`raw_tweets_sensor`, `raw_tmdb_sensor`, `raw_counts_sensor`). Its
    timing comes from the `lake_watch` resource unless `watch` is given (tests)."""

    @sensor(
        name=f"{source.asset_key}_sensor",
        target=target,
        minimum_interval_seconds=minimum_interval_seconds or settings().sensor_interval_seconds,
        default_status=default_status or default_sensor_status(),
        description=(
            f"Watches {source.root}/ in the lake (narrow per-day prefixes), records each new object on "
            f"{source.asset_key} and runs "
            + (
                "raw_counts, show_volume and their downstream assets once the day's counts and tracked "
                "shows are in the lake."
                if source is COUNTS
                else "a day's assets once the day is complete."
            )
        ),
    )
    def _sensor(context: SensorEvaluationContext, lake: LakeResource, lake_watch: LakeWatchResource):
        now = datetime.now(UTC)
        try:
            result = evaluate(
                lake.client,
                source,
                context.cursor,
                now,
                watch or lake_watch.watch_settings(),
                already_requested=_already_requested(context),
                last_partition=_last_partition(now),
            )
        except LakeNotFoundError as error:
            return SkipReason(str(error))
        observations = [
            AssetObservation(
                asset_key=source.asset_key,
                partition=day.isoformat(),
                metadata=_arrival_metadata(objects, lake),
            )
            for day, objects in sorted(result.arrivals.items())
        ]
        runs = [
            RunRequest(
                run_key=run.run_key,
                partition_key=run.day.isoformat(),
                tags={FINGERPRINT_TAG: run.run_key, TRIGGER_TAG: f"{source.asset_key}_sensor"},
            )
            for run in result.runs
        ]
        for run in result.runs:
            context.log.info(
                f"{source.name}: requesting {run.day} ({run.status.reason}), run key {run.run_key}"
            )
        arrived = sum(len(v) for v in result.arrivals.values())
        waiting = "; ".join(f"{d}: {why}" for d, why in sorted(result.waiting.items())[:5])
        summary = (
            f"{source.name}: {arrived} new object(s) on {len(result.arrivals)} day(s), "
            f"{len(runs)} run(s), {len(result.prefixes)} prefixes listed"
            + (
                f"; history adopted without runs: {len(result.baseline_days)} day(s)"
                if result.baseline_days
                else ""
            )
            + (f"; waiting: {waiting}" if waiting else "")
        )
        context.log.info(summary)
        return SensorResult(
            run_requests=runs,
            asset_events=observations,
            cursor=result.cursor,
            skip_reason=None if runs else summary,
        )

    return _sensor


def _last_partition(now: datetime) -> date:
    """The last daily partition: yesterday (UTC, `end_offset=0`: today is not a partition yet)."""
    return now.astimezone(UTC).date() - timedelta(days=1)


def lake_sensors(
    day_target: AssetSelection, counts_target: AssetSelection, **kwargs
) -> list[SensorDefinition]:
    return [
        *(build_lake_sensor(source, day_target, **kwargs) for source in (TWEETS, TMDB)),
        build_lake_sensor(COUNTS, counts_target, **kwargs),
    ]
