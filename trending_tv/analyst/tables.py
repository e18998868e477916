"""The analytics tables an analyst can query: names, columns and which are daily dimension snapshots.

Each table's columns and their descriptions are the ones its writer uses (a transform's Spark schema,
or the Arrow schema of a table pyarrow writes), so a column added to a table shows in the DuckDB
views and the Athena DDL with no second edit."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_schema

from trending_tv.transforms import show_volume, trends
from trending_tv.transforms.columns import COLUMN_DESCRIPTIONS
from trending_tv.transforms.dimensions import DATE_ARROW_SCHEMA, GENRES_SCHEMA, NETWORKS_SCHEMA
from trending_tv.transforms.tmdb import TMDB_STAT_SCHEMA, TVSHOWS_SCHEMA
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

# analytics/<table>/year=YYYY/month=MM/day=DD/ (the lake resource writes them; kept here, where the
# analysts' command line can read them without loading Dagster)
PARTITION_KEYS = ("year", "month", "day")
PARTITION_SCHEMA = pa.schema([(key, pa.int32()) for key in reversed(PARTITION_KEYS)])  # day, month, year


@dataclass(frozen=True)
class Table:
    name: str
    schema: T.StructType  # the columns in the table's Parquet files
    description: str
    comments: dict[str, str] = field(default_factory=dict)  # column descriptions
    dimension: bool = False  # a daily snapshot: gets a `<name>_latest` view
    # The date table's day, month and year are its partition folders, not file columns: its view
    # reads them from the folders (as Athena does from the partition keys).
    partition_columns: bool = False

    @property
    def file_columns(self) -> list[T.StructField]:
        """Columns stored in the Parquet files, without the partition keys: a catalog that exposes
        partitions as columns (Athena) refuses a column declared twice."""
        return [f for f in self.schema.fields if f.name not in PARTITION_KEYS]


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "tweet_stat",
            TWEET_STAT_SCHEMA,
            "posts per tracked show and day from the stream's sample",
            COLUMN_DESCRIPTIONS["tweet_stat"],
        ),
        Table(
            "tmdb_stat", TMDB_STAT_SCHEMA, "TMDB figures per show and day", COLUMN_DESCRIPTIONS["tmdb_stat"]
        ),
        Table(
            "show_volume",
            from_arrow_schema(show_volume.ARROW_SCHEMA),
            "exact X post volumes per show and day",
            show_volume.COLUMN_DESCRIPTIONS,
        ),
        Table(
            "show_trends",
            trends.SHOW_TRENDS_SCHEMA,
            "popular and trending scores per show and day",
            trends.COLUMN_DESCRIPTIONS,
        ),
        Table(
            "tvshows",
            TVSHOWS_SCHEMA,
            "the tracked shows, one snapshot a day",
            COLUMN_DESCRIPTIONS["tvshows"],
            dimension=True,
        ),
        Table(
            "genres",
            GENRES_SCHEMA,
            "TMDB genres, one snapshot a day",
            COLUMN_DESCRIPTIONS["genres"],
            dimension=True,
        ),
        Table(
            "networks",
            NETWORKS_SCHEMA,
            "TV networks, one snapshot a day",
            COLUMN_DESCRIPTIONS["networks"],
            dimension=True,
        ),
        Table(
            "date",
            from_arrow_schema(DATE_ARROW_SCHEMA),
            "the calendar: one row a day",
            COLUMN_DESCRIPTIONS["date"],
            partition_columns=True,
        ),
    ]
}


def hive_type(data_type: T.DataType) -> str:
    """The Hive/Athena type of a Spark type (bigint, int, string, double, date, boolean, array<...>)."""
    if isinstance(data_type, T.ArrayType):
        return f"array<{hive_type(data_type.elementType)}>"
    return data_type.simpleString()
