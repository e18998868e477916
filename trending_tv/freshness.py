"""Freshness of the daily assets (the modern FreshnessPolicy, evaluated by the daemon's freshness loop).

A day D is complete at about 01:05 UTC on D+1 (hour 00 of D+1 has landed) or at 03:00 UTC at the
latest (the sensors' grace); the 07:00 UTC schedule is the safety net. So every daily asset must have
been materialized between 00:00 and 09:00 UTC each day, or it is overdue (FAIL in the UI)."""

from datetime import timedelta

from dagster import FreshnessPolicy

DAILY_DEADLINE_CRON = "0 9 * * *"

DAILY_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron=DAILY_DEADLINE_CRON, lower_bound_delta=timedelta(hours=9), timezone="UTC"
)
