"""What every asset of the code location shares: the daily partitions, one run per partition range,
a key equal to the function's name, and in-asset checks declared once and reused.

`@daily_asset(group_name=..., kinds=..., deps=..., checks=[...])` is `@asset` with those arguments
filled in; `Check` declares an in-asset check without repeating the asset's key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from dagster import AssetCheckSpec, AssetExecutionContext, AssetsDefinition, BackfillPolicy, asset

from trending_tv.constants import UNIQUE_ID_DATE
from trending_tv.partitions import daily_partitions

SPARK_TABLE = frozenset({"spark", "parquet"})  # kinds of the tables Spark writes


@dataclass(frozen=True)
class Check:
    """An in-asset check; ERROR results of a blocking check stop the assets downstream."""

    name: str
    description: str
    blocking: bool = True

    def spec(self, asset_key: str) -> AssetCheckSpec:
        return AssetCheckSpec(
            self.name, asset=asset_key, blocking=self.blocking, description=self.description
        )


UNIQUE_ID_DATE_CHECK = Check(UNIQUE_ID_DATE, "(id, date) is unique")


def daily_asset(
    *,
    group_name: str,
    kinds: set[str] | frozenset[str],
    deps: Sequence[str] = (),
    checks: Sequence[Check] = (),
    key: str | None = None,
    **asset_kwargs: Any,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """`@asset` on the daily partitions, keyed by the function's name (or `key`), whose backfills
    run as one run per range: the asset bodies read and write every day of `partition_days` in one
    Spark job, which is what makes a backfill of months affordable. (`BackfillPolicy.single_run` is
    beta in Dagster 1.13; trending_tv/__init__.py silences that one warning.)"""

    def decorator(fn: Callable[..., Any]) -> AssetsDefinition:
        asset_key = key or fn.__name__
        return asset(
            key=asset_key,
            group_name=group_name,
            kinds=set(kinds),
            partitions_def=daily_partitions,
            backfill_policy=BackfillPolicy.single_run(),
            deps=list(deps) or None,
            check_specs=[check.spec(asset_key) for check in checks] or None,
            **asset_kwargs,
        )(fn)

    return decorator


def partition_days(context: AssetExecutionContext) -> list[date]:
    """The days of this run: one partition, or a whole range in a single-run backfill."""
    return [date.fromisoformat(k) for k in context.partition_keys]
