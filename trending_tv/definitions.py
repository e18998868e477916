"""The code location's one entry point: `dagster dev`, `dagster asset materialize -m
trending_tv.definitions` and the EMR step all load `defs` from here.

Every asset and asset check of the `trending_tv.assets` package is loaded: a new module there needs
no change here."""

from dagster import (
    Definitions,
    in_process_executor,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

from trending_tv import assets as assets_package
from trending_tv.automation import automation
from trending_tv.deployment import resources_for

assets = load_assets_from_package_module(assets_package)

defs = Definitions(
    assets=assets,
    asset_checks=load_asset_checks_from_package_module(assets_package),
    resources=resources_for(),
    # One process per run: a day's run (or a backfill range) shares one Spark session across its assets
    # instead of starting a JVM per step, which on a 2-core box takes minutes.
    executor=in_process_executor,
    **automation(assets),  # lake sensors, the 07:00 UTC safety net, the run-failure alert
)
