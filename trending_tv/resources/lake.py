"""The data lake as a Dagster resource: a local folder or s3://bucket/prefix (TRENDING_TV_LAKE)."""

from __future__ import annotations

import io
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableResource
from pydantic import Field
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ingest_host import layout
from ingest_host.lake import Lake, LocalLake, S3Lake

# Object names Spark writes that are data (EMRFS and S3A also write `_SUCCESS`, `*_$folder$` markers).
SPARK_PART = "part-"


class LakeResource(ConfigurableResource):
    """Where raw data lands and analytics tables are written (docs/design.md, "The lake")."""

    url: str = Field(description="Lake root: a folder path or s3://bucket/prefix")
    spark_io: Literal["staged", "direct"] = Field(
        default="staged",
        description=(
            "How Spark reaches an S3 lake. staged (local runs): inputs are downloaded to a temporary "
            "folder and outputs written there, then uploaded. direct (EMR): Spark reads s3:// URIs and "
            "writes to an S3 staging prefix; each day is then swapped in with S3 copies. A folder lake "
            "behaves the same in both modes."
        ),
    )
    spark_s3_scheme: str = Field(
        default="s3", description="URI scheme Spark uses for S3 in direct mode: s3 (EMRFS) or s3a"
    )

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
        if self.spark_io == "direct":
            yield [self.spark_uri(k) for k in keys]
            return
        with tempfile.TemporaryDirectory(prefix="trending-tv-stage-") as tmp:
            paths = []
            for key in keys:
                path = Path(tmp) / key
                self.client.download_file(key, path)
                paths.append(str(path))
            yield paths

    def spark_uri(self, key: str) -> str:
        """The URI Spark uses for a key in direct mode (s3://bucket/key on EMRFS)."""
        uri = self.client.uri(key)
        return self.spark_s3_scheme + uri[len("s3") :] if uri.startswith("s3://") else uri

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
        backfills never leave duplicate part files.
        """
        if self.spark_io == "direct" and isinstance(self.client, S3Lake):
            return self._write_daily_table_direct(df, table, days)
        staging = Path(tempfile.mkdtemp(prefix=f"trending-tv-{table}-"))
        try:
            out = staging / "out"
            _write_partitioned(df, str(out))
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

    def _write_daily_table_direct(
        self, df: DataFrame, table: str, days: Sequence[date]
    ) -> dict[date, list[str]]:
        """Direct mode on S3: Spark writes every day to a staging prefix of the lake in one job; each
        day's prefix is then replaced from it with server-side copies and stable names."""
        staging = f"_staging/{table}/{uuid.uuid4().hex}/"
        try:
            _write_partitioned(df, self.spark_uri(staging))
            return self.swap_in_days(staging, table, days)
        finally:
            self.client.delete_prefix(staging.rstrip("/"))  # with EMRFS "<prefix>_$folder$" markers

    def swap_in_days(self, staging: str, table: str, days: Sequence[date]) -> dict[date, list[str]]:
        """Replace each day's partition of `table` with the part files Spark wrote under the staging
        prefix: copies named part-00000.snappy.parquet... first, then the old objects removed (a reader
        never sees the partition empty; reruns never leave duplicates)."""
        written: dict[date, list[str]] = {}
        for day in days:
            source = f"{staging}year={day:%Y}/month={day:%m}/day={day:%d}/"
            parts = sorted(
                o.key
                for o in self.client.list(source)
                if o.key.rsplit("/", 1)[-1].startswith(SPARK_PART) and o.key.endswith(".parquet")
            )
            written[day] = self.client.replace_prefix_from_keys(
                parts,
                layout.table_partition_prefix(table, day),
                names=[f"part-{index:05d}.snappy.parquet" for index in range(len(parts))],
            )
        return written


def _write_partitioned(df: DataFrame, target: str) -> None:
    (
        df.withColumn("year", F.date_format("date", "yyyy"))
        .withColumn("month", F.date_format("date", "MM"))
        .withColumn("day", F.date_format("date", "dd"))
        .repartition("year", "month", "day")
        .sortWithinPartitions("id")
        .write.partitionBy("year", "month", "day")
        .mode("overwrite")
        .parquet(target)
    )
