"""Athena (Glue catalog) DDL for every analytics table, with partition projection on year/month/day:
no crawler and no MSCK REPAIR, the partitions are computed from the query's filters.

Partition keys are `int` (projection type integer, two digits for month and day, as the folders are
zero-padded), so `WHERE year = 2020 AND month = 11` prunes folders. The date table's day, month and
year are its partition folders; a Hive table may not declare a column twice, so its DDL declares
only `date` and `weekday` as columns (files written before they were left out of the file hold the
same values: both come from the row's date)."""

from __future__ import annotations

from trending_tv.analyst.tables import PARTITION_KEYS, TABLES, Table, hive_type

FIRST_YEAR, LAST_YEAR = 2020, 2099


def table_location(lake_url: str, table: str) -> str:
    if not lake_url.startswith("s3://"):
        raise ValueError(f"Athena reads S3: the lake must be s3://bucket/prefix, not {lake_url!r}")
    return f"{lake_url.rstrip('/')}/analytics/{table}/"


def _text(text: str) -> str:
    """A DDL string literal (a typographic apostrophe keeps quoting simple in every dialect)."""
    return "'" + text.replace("'", "\u2019") + "'"


def create_table(table: Table, lake_url: str, database: str) -> str:
    location = table_location(lake_url, table.name)
    columns = ",\n".join(
        f"  `{f.name}` {hive_type(f.dataType)}"
        + (f" COMMENT {_text(table.comments[f.name])}" if f.name in table.comments else "")
        for f in table.file_columns
    )
    partitions = ", ".join(f"`{key}` int" for key in PARTITION_KEYS)
    properties = {
        "projection.enabled": "true",
        "projection.year.type": "integer",
        "projection.year.range": f"{FIRST_YEAR},{LAST_YEAR}",
        "projection.month.type": "integer",
        "projection.month.range": "1,12",
        "projection.month.digits": "2",
        "projection.day.type": "integer",
        "projection.day.range": "1,31",
        "projection.day.digits": "2",
        "storage.location.template": location + "year=${year}/month=${month}/day=${day}/",
    }
    props = ",\n".join(f"  {_text(k)}={_text(v)}" for k, v in properties.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table.name}` (\n{columns})\n"
        f"COMMENT {_text(table.description)}\n"
        f"PARTITIONED BY ({partitions})\n"
        "STORED AS PARQUET\n"
        f"LOCATION '{location}'\n"
        f"TBLPROPERTIES (\n{props});"
    )


def athena_ddl(lake_url: str, database: str = "trending_tv") -> str:
    """CREATE DATABASE and one CREATE EXTERNAL TABLE per analytics table, `;`-separated."""
    statements = [f"CREATE DATABASE IF NOT EXISTS `{database}`;"]
    statements += [create_table(t, lake_url, database) for t in TABLES.values()]
    return "\n\n".join(statements) + "\n"
