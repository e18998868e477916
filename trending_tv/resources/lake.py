"""The data lake as a Dagster resource: a local folder or s3://bucket/prefix (TRENDING_TV_LAKE)."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableResource
from pydantic import Field
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ingest_host import layout
from ingest_host.lake import Lake, LocalLake


class LakeResource(ConfigurableResource):
    """Where raw data lands and analytics tables are written (DESIGN, "The lake")."""

    url: str = Field(description="Lake root: a folder path or s3://bucket/prefix")

    @cached_property
    def client(self) -> Lake:
        return Lake.from_url(self.url)

    @contextmanager
    def local_paths(self, keys: Sequence[str]) -> Iterator[list[str]]:
        """Paths local Spark can read: the files themselves for a folder lake; for S3, copies in a
        temporary folder that keeps the key layout (so file order stays key order)."""
        if isinstance(self.client, LocalLake):
            yield [self.client.uri(k) for k in keys]
            return
        with tempfile.TemporaryDirectory(prefix="trending-tv-stage-") as tmp:
            paths = []
            for key in keys:
                path = Path(tmp) / key
                self.client.download_file(key, path)
                paths.append(str(path))
            yield paths

    def read_table_partition(self, table: str, day: date) -> pa.Table:
        """Read one day of an analytics table with pyarrow (for small tables: dimensions)."""
        prefix = layout.table_partition_prefix(table, day)
        keys = [o.key for o in self.client.list(prefix) if o.key.endswith(".parquet")]
        if not keys:
            raise FileNotFoundError(
                f"{table} has no partition for {day} under {self.client.uri(prefix)}: materialize it first"
            )
        return pa.concat_tables(pq.read_table(io.BytesIO(self.client.read_bytes(k))) for k in keys)

    def write_daily_table(self, df: DataFrame, table: str, days: Sequence[date]) -> dict[date, list[str]]:
        """Replace exactly the given days of `table` with the rows of `df` (which has a `date` column).

        Spark writes every day in one job to a staging folder; each day's prefix is then swapped in
        (new files written first, old ones removed after) with stable file names, so reruns and
        backfills never leave duplicate part files (seed weakness 17).
        """
        staging = Path(tempfile.mkdtemp(prefix=f"trending-tv-{table}-"))
        try:
            out = staging / "out"
            (
                df.withColumn("year", F.date_format("date", "yyyy"))
                .withColumn("month", F.date_format("date", "MM"))
                .withColumn("day", F.date_format("date", "dd"))
                .repartition("year", "month", "day")
                .sortWithinPartitions("id")
                .write.partitionBy("year", "month", "day")
                .mode("overwrite")
                .parquet(str(out))
            )
            written: dict[date, list[str]] = {}
            for day in days:
                folder = out / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"
                final = staging / "final" / day.isoformat()
                final.mkdir(parents=True)
                parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
                for index, part in enumerate(parts):
                    shutil.move(part, final / f"part-{index:05d}.snappy.parquet")
                written[day] = self.client.replace_prefix_from_folder(
                    final, layout.table_partition_prefix(table, day)
                )
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)
