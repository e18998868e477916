"""Dimension snapshots of each day, from that day's TMDB pull and tracked-show list: tvshows, genres,
networks, and the calendar row `date`.

Every table is daily-partitioned (a range is one run, written with one Spark job per table) and
each day's prefix is swapped whole, so reruns and backfills never change another day. Referential
integrity is checked by `@asset_check`s that read both tables' partitions from the lake (an asset
input would make the IO manager load every partition)."""

import re
import shutil
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionKeyRange,
    ResourceParam,
    asset,
    asset_check,
)
from dagster_pyspark import LazyPySparkResource

from ingest_host import layout
from ingest_host.tracked_shows import TrackedShowList, parse_tracked_shows
from trending_tv import checks
from trending_tv.assets.raw import partition_days
from trending_tv.constants import (
    DIMENSIONS_GROUP,
    GENRES_IN_GENRES,
    NAMED_AND_TAGGED,
    NETWORKS_IN_NETWORKS,
    UNIQUE_DATE,
    UNIQUE_ID_DATE,
)
from trending_tv.partitions import daily_partitions
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.dimensions import (
    CATALOG_COUNTS,
    GENRES_SCHEMA,
    NETWORKS_SCHEMA,
    TVSHOWS_COUNTS,
    date_row,
    genres_rows,
    networks_rows,
    tvshows_quality,
)
from trending_tv.transforms.tmdb import TVSHOWS_SCHEMA, parse_tmdb_details, tvshows_rows

_PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/")


def read_tmdb_day(lake: LakeResource, day: date) -> tuple[TrackedShowList, dict[int, dict], Counter]:
    """The day's tracked list, its TMDB records by id, and the count of each kind of TMDB line."""
    tracked = parse_tracked_shows(lake.client.read_text(layout.tracked_shows_day_key(day)))
    details, counts = parse_tmdb_details(lake.client.read_text(layout.tmdb_day_key(day)).splitlines())
    return tracked, details, counts


def _skipped(counts: Counter) -> dict[str, int]:
    return {kind: n for kind, n in sorted(counts.items()) if kind != "records"}


def _add(total: dict[str, int], counts: Counter | dict) -> None:
    for kind, n in counts.items():
        total[kind] = total.get(kind, 0) + n


def _files(written: dict[date, list[str]]) -> MetadataValue:
    return MetadataValue.json({d.isoformat(): keys for d, keys in written.items()})


def _preview(rows: list[dict], columns: list[str], limit: int = 10) -> MetadataValue:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows[:limit]]
    return MetadataValue.md("\n".join(lines))


@asset(
    key="tvshows",
    group_name=DIMENSIONS_GROUP,
    kinds={"spark", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["raw_tmdb"],
    check_specs=[
        AssetCheckSpec(UNIQUE_ID_DATE, asset="tvshows", blocking=True, description="(id, date) is unique"),
        AssetCheckSpec(
            NAMED_AND_TAGGED,
            asset="tvshows",
            blocking=True,
            description="Every show has a name and at least one hashtag (what posts are matched on)",
        ),
    ],
)
def tvshows(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> MaterializeResult:
    """The tracked TV shows of each day: TMDB names, genres and networks, plus the hashtags and
    aliases that posts are matched against."""
    rows = []
    skipped: dict[str, int] = {}
    missing: dict[str, list[int]] = {}
    quality: Counter = Counter({k: 0 for k in TVSHOWS_COUNTS})
    for day in partition_days(context):
        tracked, details, counts = read_tmdb_day(lake, day)
        _add(skipped, _skipped(counts))
        absent = [s.id for s in tracked if s.id not in details]
        if absent:
            missing[day.isoformat()] = absent
        day_rows = tvshows_rows(tracked, details, day)
        quality.update(tvshows_quality(day_rows, details))
        rows.extend(day_rows)
    df = pyspark.spark_session.createDataFrame(rows, TVSHOWS_SCHEMA)
    written = lake.write_daily_table(df, "tvshows", partition_days(context))
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "shows_without_tmdb_record": MetadataValue.json(missing),
            "tmdb_lines_skipped": MetadataValue.json(skipped),
            "quality": MetadataValue.json(dict(quality)),
            "non_latin_names": quality["non_latin_names"],
            "preview": _preview(rows, ["id", "name", "genres_id", "networks_id", "hashtags"]),
            "files": _files(written),
            "path": MetadataValue.path(lake.client.uri(layout.table_prefix("tvshows"))),
        },
        check_results=[checks.unique_id_date(rows), checks.named_and_tagged(rows)],
    )


def _catalog_asset(context, lake, pyspark, table: str, build, schema) -> MaterializeResult:
    rows: list[dict] = []
    problems: dict[str, int] = {k: 0 for k in CATALOG_COUNTS}
    skipped: dict[str, int] = {}
    per_day = {}
    for day in partition_days(context):
        tracked, details, counts = read_tmdb_day(lake, day)
        _add(skipped, _skipped(counts))
        result = build(tracked, details, day)
        _add(problems, result.counts)
        per_day[day.isoformat()] = len(result.rows)
        rows.extend(result.rows)
    df = pyspark.spark_session.createDataFrame(rows, schema)
    written = lake.write_daily_table(df, table, partition_days(context))
    columns = [f.name for f in schema.fields if f.name != "date"]
    latest = [r for r in rows if r["date"] == max(partition_days(context))]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "rows_by_day": MetadataValue.json(per_day),
            "tmdb_problems": MetadataValue.json(problems),
            "tmdb_lines_skipped": MetadataValue.json(skipped),
            "preview": _preview(latest, columns, limit=20),
            "files": _files(written),
            "path": MetadataValue.path(lake.client.uri(layout.table_prefix(table))),
        },
        check_results=[checks.unique_id_date(rows)],
    )


@asset(
    key="genres",
    group_name=DIMENSIONS_GROUP,
    kinds={"spark", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["raw_tmdb"],
    check_specs=[
        AssetCheckSpec(UNIQUE_ID_DATE, asset="genres", blocking=True, description="(id, date) is unique")
    ],
)
def genres(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> MaterializeResult:
    """The TV genres (id, name) of the day's tracked shows, as TMDB names them."""
    return _catalog_asset(context, lake, pyspark, "genres", genres_rows, GENRES_SCHEMA)


@asset(
    key="networks",
    group_name=DIMENSIONS_GROUP,
    kinds={"spark", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["raw_tmdb"],
    check_specs=[
        AssetCheckSpec(UNIQUE_ID_DATE, asset="networks", blocking=True, description="(id, date) is unique")
    ],
)
def networks(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> MaterializeResult:
    """The TV networks (id, name, origin country) that air the day's tracked shows, from TMDB."""
    return _catalog_asset(context, lake, pyspark, "networks", networks_rows, NETWORKS_SCHEMA)


DATE_ARROW_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32()),
        pa.field("weekday", pa.int32()),
        pa.field("day", pa.int32()),
        pa.field("month", pa.int32()),
        pa.field("year", pa.int32()),
    ]
)


@asset(
    key="date",
    group_name=DIMENSIONS_GROUP,
    kinds={"python", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[AssetCheckSpec(UNIQUE_DATE, asset="date", blocking=True, description="date is unique")],
)
def date_dimension(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """The calendar row of each day: ISO weekday (1 = Monday), day, month and year."""
    # One row a day needs no Spark; pyarrow writes it, and the day's prefix is swapped whole as
    # write_daily_table does. (write_daily_table adds year/month/day partition columns, which
    # would overwrite this table's own day, month and year columns.)
    lake.client.ensure_exists()
    rows = [date_row(day) for day in partition_days(context)]
    written: dict[date, list[str]] = {}
    staging = Path(tempfile.mkdtemp(prefix="trending-tv-date-"))
    try:
        for row in rows:
            folder = staging / row["date"].isoformat()
            folder.mkdir()
            table = pa.Table.from_pylist([row], schema=DATE_ARROW_SCHEMA)
            pq.write_table(table, folder / "part-00000.snappy.parquet", compression="snappy")
            written[row["date"]] = lake.client.replace_prefix_from_folder(
                folder, layout.table_partition_prefix("date", row["date"])
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "preview": _preview(rows, list(DATE_ARROW_SCHEMA.names)),
            "files": _files(written),
            "path": MetadataValue.path(lake.client.uri(layout.table_prefix("date"))),
        },
        check_results=[checks.unique_key(rows, ["date"], UNIQUE_DATE)],
    )


# --- Referential integrity, read from the lake ---


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
    try:
        values = lake.read_table_partition(table, day).column(column).to_pylist()
    except FileNotFoundError:
        return None
    flat: list[int] = []
    for value in values:
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


@asset_check(
    asset="tvshows",
    name=GENRES_IN_GENRES,
    additional_deps=["genres"],
    description="Every id in tvshows.genres_id is a genres.id of the same day (read from the lake)",
)
def tvshows_genres_in_genres(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    days = check_days(context, lake, "tvshows")
    return ids_in_parent(lake, days, "tvshows", "genres_id", "genres", GENRES_IN_GENRES)


@asset_check(
    asset="tvshows",
    name=NETWORKS_IN_NETWORKS,
    additional_deps=["networks"],
    description="Every id in tvshows.networks_id is a networks.id of the same day (read from the lake)",
)
def tvshows_networks_in_networks(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    days = check_days(context, lake, "tvshows")
    return ids_in_parent(lake, days, "tvshows", "networks_id", "networks", NETWORKS_IN_NETWORKS)
