"""The code location's one entry point: `dagster dev`, `dagster asset materialize -m
trending_tv.definitions` and the EMR step all load `defs` from here.

Each domain module holds its own assets (and their in-asset checks); add new modules to the list."""

from dagster import Definitions, in_process_executor, load_asset_checks_from_modules, load_assets_from_modules

from trending_tv.assets import dimensions, facts, raw, tmdb_facts, trends
from trending_tv.automation import automation
from trending_tv.deployment import resources_for

assets = load_assets_from_modules([raw, dimensions, facts, tmdb_facts, trends])

defs = Definitions(
    assets=assets,
    asset_checks=load_asset_checks_from_modules([dimensions, tmdb_facts]),
    resources=resources_for(),
    # One process per run: a day's run (or a backfill range) shares one Spark session across its assets
    # instead of starting a JVM per step, which on a 2-core box takes minutes.
    executor=in_process_executor,
    **automation(assets),  # lake sensors, the 07:00 UTC safety net, the run-failure alert
)
