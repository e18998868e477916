"""The one partitions definition: every asset is daily, UTC, from the first day of the 2020 data."""

from dagster import DailyPartitionsDefinition

FIRST_DAY = "2020-11-23"

daily_partitions = DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC")
