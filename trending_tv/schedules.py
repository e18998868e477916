"""The daily safety net: at 07:00 UTC, run yesterday's day selection unless it already materialized."""

from __future__ import annotations

from datetime import UTC, timedelta

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from trending_tv.constants import TRIGGER_TAG
from trending_tv.settings import settings

SCHEDULE_CRON = "0 7 * * *"


def build_daily_schedule(target: AssetSelection, keys: list[AssetKey]) -> ScheduleDefinition:
    """`daily_safety_net`: the previous UTC day, if the sensors have not materialized all of `keys`
    for it (the sensors normally run it at about 01:05 UTC). Stopped by default in a local checkout."""

    @schedule(
        name="daily_safety_net",
        cron_schedule=SCHEDULE_CRON,
        execution_timezone="UTC",
        target=target,
        default_status=(
            DefaultScheduleStatus.RUNNING if settings().deployment == "emr" else DefaultScheduleStatus.STOPPED
        ),
        description="07:00 UTC: run the previous day's assets unless the lake sensors already did",
    )
    def _schedule(context: ScheduleEvaluationContext):
        day = (context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)).date().isoformat()
        missing = [
            key.to_user_string()
            for key in keys
            if not context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
            ).records
        ]
        if not missing:
            return SkipReason(f"{day} is already materialized (the lake sensors ran it)")
        context.log.info(f"{day}: not materialized yet: {', '.join(missing)}; running the day")
        return RunRequest(run_key=f"safety-net:{day}", partition_key=day, tags={TRIGGER_TAG: "schedule"})

    return _schedule
