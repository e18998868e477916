"""The analytics tables an analyst can query: names, columns and which are daily dimension snapshots.

The column lists come from the transforms' own schemas, so the DuckDB views and the Athena DDL
follow the tables the pipeline writes."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from trending_tv.transforms.dimensions import GENRES_SCHEMA, NETWORKS_SCHEMA
from trending_tv.transforms.tmdb import TMDB_STAT_SCHEMA, TVSHOWS_SCHEMA
from trending_tv.transforms.trends import SHOW_TRENDS_SCHEMA
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

PARTITION_KEYS = ("year", "month", "day")  # analytics/<table>/year=YYYY/month=MM/day=DD/

DATE_SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("weekday", T.IntegerType()),
        T.StructField("day", T.IntegerType()),
        T.StructField("month", T.IntegerType()),
        T.StructField("year", T.IntegerType()),
    ]
)
# Exact X volumes per show and day (the counts endpoint): the daily columns the trend score reads.
SHOW_VOLUME_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("hashtag_posts", T.LongType()),
        T.StructField("text_posts", T.LongType()),
        T.StructField("posts", T.LongType()),
    ]
)


@dataclass(frozen=True)
class Table:
    name: str
    schema: T.StructType
    description: str
    dimension: bool = False  # a daily snapshot: gets a `<name>_latest` view

    @property
    def file_columns(self) -> list[T.StructField]:
        """Columns stored in the Parquet files. The date table's day, month and year are also its
        partition folders, so catalogs that expose partitions as columns (Athena) take them from
        there."""
        if self.name == "date":
            return [f for f in self.schema.fields if f.name not in PARTITION_KEYS]
        return list(self.schema.fields)


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table("tweet_stat", TWEET_STAT_SCHEMA, "posts per tracked show and day from the stream's sample"),
        Table("tmdb_stat", TMDB_STAT_SCHEMA, "TMDB figures per show and day"),
        Table("show_volume", SHOW_VOLUME_SCHEMA, "exact X post volumes per show and day"),
        Table("show_trends", SHOW_TRENDS_SCHEMA, "popular and trending scores per show and day"),
        Table("tvshows", TVSHOWS_SCHEMA, "the tracked shows, one snapshot a day", dimension=True),
        Table("genres", GENRES_SCHEMA, "TMDB genres, one snapshot a day", dimension=True),
        Table("networks", NETWORKS_SCHEMA, "TV networks, one snapshot a day", dimension=True),
        Table("date", DATE_SCHEMA, "the calendar: one row a day"),
    ]
}


def hive_type(data_type: T.DataType) -> str:
    """The Hive/Athena type of a Spark type (bigint, int, string, double, date, boolean, array<...>)."""
    if isinstance(data_type, T.ArrayType):
        return f"array<{hive_type(data_type.elementType)}>"
    return data_type.simpleString()
