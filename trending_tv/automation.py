"""Sensors and schedules of the code location, built from its assets (definitions.py adds them)."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetSelection

from trending_tv.alerts import retry_dropped_alert, run_failure_alert
from trending_tv.schedules import build_daily_schedule
from trending_tv.sensors import counts_keys, day_keys, lake_sensors


def automation(assets: Sequence[object]) -> dict:
    """`sensors` and `schedules` for Definitions: the posts and TMDB lake sensors and the safety-net
    schedule target the day selection (every daily asset but raw_counts and show_volume), the counts
    sensor those two and their downstream assets; plus the run-failure alert and
    its follow-up for a promised retry that never came."""
    keys = day_keys(assets)
    target = AssetSelection.assets(*keys)
    return {
        "sensors": [
            *lake_sensors(target, AssetSelection.assets(*counts_keys(assets))),
            run_failure_alert,
            retry_dropped_alert,
        ],
        "schedules": [build_daily_schedule(target, keys)],
    }
