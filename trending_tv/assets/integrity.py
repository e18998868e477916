"""Referential integrity between the daily tables, read from the lake: `@asset_check`s that run after
both tables of a day are written. (An asset input would make the IO manager load every partition.)"""

import re
from datetime import date

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    PartitionKeyRange,
    asset_check,
)

from ingest_host import layout
from trending_tv import checks
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import LakeResource

_PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/")


def check_days(context: AssetCheckExecutionContext, lake: LakeResource, table: str) -> list[date]:
    """The days a check covers: the run's partition or range; run on its own (no partition), every
    day of `table` present in the lake."""
    tags = context.run.tags
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        keys = daily_partitions.get_partition_keys_in_range(PartitionKeyRange(start, end))
        return [date.fromisoformat(k) for k in keys]
    if tags.get("dagster/partition"):
        return [date.fromisoformat(tags["dagster/partition"])]
    found = {_PARTITION.search(o.key) for o in lake.client.list(layout.table_prefix(table))}
    return sorted(date(int(m[1]), int(m[2]), int(m[3])) for m in found if m)


def lake_ids(lake: LakeResource, table: str, column: str, day: date) -> list[int] | None:
    """The ids in one column of a table's day (list columns flattened); None when the day is absent."""
    rows = lake.table_rows(table, day, [column])
    if rows is None:
        return None
    flat: list[int] = []
    for value in (row[column] for row in rows):
        if isinstance(value, list):
            flat.extend(v for v in value if v is not None)
        elif value is not None:
            flat.append(value)
    return flat


def ids_in_parent(
    lake: LakeResource, days: list[date], child: str, column: str, parent: str, check_name: str
) -> AssetCheckResult:
    """`child.column` within `parent.id` on every day, both read from the lake."""
    parent_ids = {day: lake_ids(lake, parent, "id", day) for day in days}
    return checks.ids_within(
        {day: lake_ids(lake, child, column, day) for day in days},
        {day: (set(ids) if ids is not None else None) for day, ids in parent_ids.items()},
        check_name,
        f"{child}.{column}",
        parent,
    )


def ids_in_parent_check(
    table: str, column: str, parent: str, check_name: str, *, blocking: bool
) -> AssetChecksDefinition:
    """The check on `table` that every id in `table.column` is a `parent.id` of the same day."""
    subject = f"{table}.id" if column == "id" else f"id in {table}.{column}"

    @asset_check(
        asset=table,
        name=check_name,
        blocking=blocking,
        additional_deps=[parent],
        description=f"Every {subject} is a {parent}.id of the same day (read from the lake)",
    )
    def _check(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
        return ids_in_parent(lake, check_days(context, lake, table), table, column, parent, check_name)

    return _check
