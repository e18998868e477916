"""The code location's one entry point: `dagster dev`, `dagster asset materialize -m
trending_tv.definitions` and the EMR step all load `defs` from here.

Each domain module holds its own assets (and their in-asset checks); add new modules to the list."""

from dagster import Definitions, load_assets_from_modules

from trending_tv.assets import dimensions, facts, raw, trends
from trending_tv.deployment import resources_for

defs = Definitions(
    assets=load_assets_from_modules([raw, dimensions, facts, trends]),
    resources=resources_for(),
)
