"""What every asset of the code location shares: the daily partitions, one run per partition range,
a key equal to the function's name, in-asset checks declared once and reused, and write-audit-publish.

`@daily_asset(group_name=..., kinds=..., deps=..., checks=[...])` is `@asset` with those arguments
filled in; `Check` declares an in-asset check without repeating the asset's key.

Every table asset writes through `publish` (docs/design.md, "Analytics tables and the partition
swap"), a generator:

    @daily_asset(group_name=..., kinds=SPARK_TABLE, checks=[UNIQUE_ID_DATE_CHECK])
    def my_table(context, lake: LakeResource, ...) -> Iterator[MaterializeResult | AssetCheckResult]:
        days = partition_days(context)
        with lake.stage_daily_table(df, "my_table", days) as staged:  # nothing published yet
            rows = staged.rows()                                      # the rows as they will be read
            result = MaterializeResult(metadata={...}, check_results=[checks.unique_id_date(rows)])
            yield from publish(context, staged, result)

A table written with pyarrow instead of Spark stages one table per day with
`lake.stage_daily_arrow({day: arrow_table, ...}, "my_table")` (no year/month/day columns: those are
the partition folders).

The checks are computed on the staged rows. If none of the asset's blocking checks failed with ERROR
severity, the staged days are swapped in and the result is yielded with the files written. Otherwise
nothing is published (each day's previous files stay as they were), the staged files are kept under
`_quarantine/<run_id>/<table>/year=YYYY/month=MM/day=DD/`, the check results are recorded (the UI
shows them failed, with the quarantine path) and the step fails with `dagster.Failure` naming the
checks (also when the quarantine copy itself fails: the error is then in the checks' metadata)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from trending_tv.assets.metadata import written
from trending_tv.constants import UNIQUE_ID_DATE
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import StagedTable

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


def publish(
    context: AssetExecutionContext, staged: StagedTable, result: MaterializeResult
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Write-audit-publish of one staged table (module docstring): swap the staged days in when no
    blocking check of this asset failed with ERROR, else quarantine them and fail the step."""
    blocking = {spec.name for spec in context.assets_def.check_specs if spec.blocking}
    failed = [
        r.check_name
        for r in result.check_results
        if r.check_name in blocking and not r.passed and r.severity == AssetCheckSeverity.ERROR
    ]
    if not failed:
        files = staged.publish()
        yield MaterializeResult(
            metadata={**(result.metadata or {}), **written(staged.lake, staged.table, files)},
            check_results=result.check_results,
        )
        return
    kept: dict[str, MetadataValue] = {}
    try:
        where = staged.lake.uri(staged.quarantine(context.run.run_id))
        kept["quarantine"] = MetadataValue.path(where)
        outcome = f"the staged output is kept at {where}"
    except Exception as error:  # e.g. no write grant on _quarantine/: the checks must still be named
        context.log.error(f"Quarantining {staged.table} failed: {type(error).__name__}: {error}")
        kept["quarantine_error"] = MetadataValue.text(f"{type(error).__name__}: {error}")
        outcome = f"the staged output could not be kept ({type(error).__name__}: {error})"
    for check in result.check_results:
        yield check.with_metadata({**check.metadata, **kept})
    days = ", ".join(d.isoformat() for d in staged.days)
    raise Failure(
        description=(
            f"{staged.table} not published for {days}: blocking check(s) failed: {', '.join(failed)}. "
            f"The published partitions are unchanged; {outcome}"
        ),
        metadata={"failed_checks": MetadataValue.json(failed), **kept},
        allow_retries=False,
    )
