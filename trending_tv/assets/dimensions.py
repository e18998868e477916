"""Dimension snapshots of each day, from that day's TMDB pull and tracked-show list: tvshows, genres,
networks, and the calendar row `date`.

Every table is daily-partitioned (a range is one run, written with one Spark job per table) and
each day's prefix is swapped whole, so reruns and backfills never change another day. Referential
integrity is checked by `@asset_check`s that read both tables' partitions from the lake
(trending_tv.assets.integrity)."""

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
)
from dagster_pyspark import LazyPySparkResource
from pyspark.sql.types import StructType

from ingest_host import layout
from ingest_host.tracked_shows import TrackedShowList, parse_tracked_shows
from trending_tv import checks
from trending_tv.assets.daily import (
    SPARK_TABLE,
    UNIQUE_ID_DATE_CHECK,
    Check,
    daily_asset,
    partition_days,
    publish,
)
from trending_tv.assets.integrity import ids_in_parent_check
from trending_tv.assets.metadata import column_schema, table
from trending_tv.constants import (
    DIMENSIONS_GROUP,
    GENRES_IN_GENRES,
    NAMED_AND_TAGGED,
    NETWORKS_IN_NETWORKS,
    UNIQUE_DATE,
)
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.columns import COLUMN_DESCRIPTIONS
from trending_tv.transforms.dimensions import (
    CATALOG_COUNTS,
    DATE_ARROW_SCHEMA,
    GENRES_SCHEMA,
    NETWORKS_SCHEMA,
    TVSHOWS_COUNTS,
    date_row,
    genres_rows,
    networks_rows,
    tvshows_quality,
)
from trending_tv.transforms.tmdb import TVSHOWS_SCHEMA, parse_tmdb_details, tvshows_rows


def read_tmdb_day(lake: LakeResource, day: date) -> tuple[TrackedShowList, dict[int, dict], Counter]:
    """The day's tracked list, its TMDB records by id, and the count of each kind of TMDB line."""
    tracked = parse_tracked_shows(lake.client.read_text(layout.tracked_shows_day_key(day)))
    details, counts = parse_tmdb_details(lake.client.read_text(layout.tmdb_day_key(day)).splitlines())
    return tracked, details, counts


def add_skipped(total: dict[str, int], counts: Counter) -> None:
    """Add the TMDB lines that were not records (by kind) to `total`."""
    add_counts(total, {kind: n for kind, n in sorted(counts.items()) if kind != "records"})


def add_counts(total: dict[str, int], counts: Counter | dict) -> None:
    for kind, n in counts.items():
        total[kind] = total.get(kind, 0) + n


@daily_asset(
    group_name=DIMENSIONS_GROUP,
    kinds=SPARK_TABLE,
    deps=["raw_tmdb"],
    metadata={"dagster/column_schema": column_schema(TVSHOWS_SCHEMA, COLUMN_DESCRIPTIONS["tvshows"])},
    checks=[
        UNIQUE_ID_DATE_CHECK,
        Check(NAMED_AND_TAGGED, "Every show has a name and at least one hashtag (what posts are matched on)"),
    ],
)
def tvshows(
    context: AssetExecutionContext,
    lake: LakeResource,
    pyspark: LazyPySparkResource,
    pyspark_step_launcher: ResourceParam[Any],
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """The tracked TV shows of each day: TMDB names, genres and networks, plus the hashtags and
    aliases that posts are matched against."""
    rows = []
    skipped: dict[str, int] = {}
    missing: dict[str, list[int]] = {}
    quality: Counter = Counter({k: 0 for k in TVSHOWS_COUNTS})
    for day in partition_days(context):
        tracked, details, counts = read_tmdb_day(lake, day)
        add_skipped(skipped, counts)
        absent = [s.id for s in tracked if s.id not in details]
        if absent:
            missing[day.isoformat()] = absent
        day_rows = tvshows_rows(tracked, details, day)
        quality.update(tvshows_quality(day_rows, details))
        rows.extend(day_rows)
    df = pyspark.spark_session.createDataFrame(rows, TVSHOWS_SCHEMA)
    preview = {
        "id": "int",
        "name": "string",
        "genres_id": "string",
        "networks_id": "string",
        "hashtags": "string",
    }
    with lake.stage_daily_table(df, "tvshows", partition_days(context)) as staged:
        staged_rows = staged.rows()
        materialized = MaterializeResult(
            metadata={
                "dagster/row_count": len(staged_rows),
                "shows_without_tmdb_record": MetadataValue.json(missing),
                "tmdb_lines_skipped": MetadataValue.json(skipped),
                "quality": MetadataValue.json(dict(quality)),
                "non_latin_names": quality["non_latin_names"],
                "preview": table(rows, preview, limit=10),
            },
            check_results=[checks.unique_id_date(staged_rows), checks.named_and_tagged(staged_rows)],
        )
        yield from publish(context, staged, materialized)


def catalog_asset(name: str, build, schema: StructType, description: str) -> AssetsDefinition:
    """A small catalog of the day's tracked shows (genres, networks): the TMDB items they reference,
    one row per (id, date)."""

    @daily_asset(
        key=name,
        group_name=DIMENSIONS_GROUP,
        kinds=SPARK_TABLE,
        deps=["raw_tmdb"],
        checks=[UNIQUE_ID_DATE_CHECK],
        description=description,
        metadata={"dagster/column_schema": column_schema(schema, COLUMN_DESCRIPTIONS[name])},
    )
    def _catalog(
        context: AssetExecutionContext,
        lake: LakeResource,
        pyspark: LazyPySparkResource,
        pyspark_step_launcher: ResourceParam[Any],
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        rows: list[dict] = []
        problems: dict[str, int] = {k: 0 for k in CATALOG_COUNTS}
        skipped: dict[str, int] = {}
        per_day = {}
        for day in partition_days(context):
            tracked, details, counts = read_tmdb_day(lake, day)
            add_skipped(skipped, counts)
            result = build(tracked, details, day)
            add_counts(problems, result.counts)
            per_day[day.isoformat()] = len(result.rows)
            rows.extend(result.rows)
        df = pyspark.spark_session.createDataFrame(rows, schema)
        preview = {f.name: "int" if f.name == "id" else "string" for f in schema.fields if f.name != "date"}
        latest = [r for r in rows if r["date"] == max(partition_days(context))]
        with lake.stage_daily_table(df, name, partition_days(context)) as staged:
            staged_rows = staged.rows()
            materialized = MaterializeResult(
                metadata={
                    "dagster/row_count": len(staged_rows),
                    "rows_by_day": MetadataValue.json(per_day),
                    "tmdb_problems": MetadataValue.json(problems),
                    "tmdb_lines_skipped": MetadataValue.json(skipped),
                    "preview": table(latest, preview, limit=20),
                },
                check_results=[checks.unique_id_date(staged_rows)],
            )
            yield from publish(context, staged, materialized)

    return _catalog


genres = catalog_asset(
    "genres",
    genres_rows,
    GENRES_SCHEMA,
    "The TV genres (id, name) of the day's tracked shows, as TMDB names them.",
)
networks = catalog_asset(
    "networks",
    networks_rows,
    NETWORKS_SCHEMA,
    "The TV networks (id, name, origin country) that air the day's tracked shows, from TMDB.",
)


@daily_asset(
    key="date",  # the function is not named `date`: that would hide datetime.date in this module
    group_name=DIMENSIONS_GROUP,
    kinds={"python", "parquet"},
    checks=[Check(UNIQUE_DATE, "date is unique")],
    metadata={"dagster/column_schema": column_schema(DATE_ARROW_SCHEMA, COLUMN_DESCRIPTIONS["date"])},
)
def date_dimension(
    context: AssetExecutionContext, lake: LakeResource
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """The calendar row of each day: date and ISO weekday (1 = Monday) in the file; day, month and
    year are its partition folders (year=/month=/day=), which catalogs and DuckDB read as columns."""
    # One row a day needs no Spark: pyarrow writes it.
    lake.client.ensure_exists()
    rows = [date_row(day) for day in partition_days(context)]
    tables = {
        row["date"]: pa.Table.from_pylist(
            [{name: row[name] for name in DATE_ARROW_SCHEMA.names}], schema=DATE_ARROW_SCHEMA
        )
        for row in rows
    }
    columns = {"date": "date", "weekday": "int", "day": "int", "month": "int", "year": "int"}
    with lake.stage_daily_arrow(tables, "date") as staged:
        staged_rows = staged.rows()
        materialized = MaterializeResult(
            metadata={"dagster/row_count": len(staged_rows), "preview": table(rows, columns, limit=10)},
            check_results=[checks.unique_key(staged_rows, ["date"], UNIQUE_DATE)],
        )
        yield from publish(context, staged, materialized)


# The ids in tvshows' list columns are genres and networks of the same day (not blocking).
tvshows_genres_in_genres = ids_in_parent_check(
    "tvshows", "genres_id", "genres", GENRES_IN_GENRES, blocking=False
)
tvshows_networks_in_networks = ids_in_parent_check(
    "tvshows", "networks_id", "networks", NETWORKS_IN_NETWORKS, blocking=False
)
