"""The data lake as a Dagster resource: a local folder or s3://bucket/prefix (TRENDING_TV_LAKE).

Tables are written by write-audit-publish (docs/design.md, "Analytics tables and the partition
swap"): `stage_daily_table` (Spark) or `stage_daily_arrow` (pyarrow) writes a table's days where no
reader looks and returns a `StagedTable`; the caller audits its rows, then `publish()` swaps each day
in, or `quarantine(run_id)` keeps the staged files under `_quarantine/<run_id>/<table>/` and leaves
the published partitions untouched. Assets do this through `trending_tv.assets.daily.publish`."""

from __future__ import annotations

import io
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
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
from trending_tv.analyst.tables import PARTITION_KEYS

# Object names Spark writes that are data (EMRFS and S3A also write `_SUCCESS`, `*_$folder$` markers).
SPARK_PART = "part-"


def part_name(index: int) -> str:
    return f"part-{index:05d}.snappy.parquet"


def quarantine_prefix(run_id: str, table: str) -> str:
    """_quarantine/<run_id>/<table>/: where a run's staged output of `table` goes when its blocking
    checks fail (then year=YYYY/month=MM/day=DD/part-NNNNN.snappy.parquet, as in analytics/)."""
    return f"{layout.QUARANTINE}/{layout.check_key(run_id)}/{layout.check_key(table)}/"


def _day_suffix(day: date) -> str:
    return f"year={day:%Y}/month={day:%m}/day={day:%d}/"


class StagedTable:
    """Days of one table written to staging, invisible to readers until `publish()`.

    `parts[day]` lists the day's part files, named part-00000.snappy.parquet... in order: local paths
    when staged in a temporary folder, lake keys when Spark wrote to `_staging/` on S3 (direct mode).
    A context manager: leaving it removes the staging output (published or not)."""

    def __init__(
        self,
        lake: Lake,
        table: str,
        days: Sequence[date],
        parts: Mapping[date, Sequence[str]],
        *,
        folder: Path | None = None,
        staging_prefix: str | None = None,
    ):
        self.lake = lake
        self.table = table
        self.days = list(days)
        self.parts = {day: list(parts.get(day, [])) for day in self.days}
        self._folder = folder
        self._staging_prefix = staging_prefix

    def __enter__(self) -> StagedTable:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    @property
    def local(self) -> bool:
        return self._folder is not None

    def read(self) -> pa.Table | None:
        """Every staged row (all days), as pyarrow reads the files that would be published; None when
        nothing was staged."""
        tables = [pq.read_table(self._open(part)) for day in self.days for part in self.parts[day]]
        return pa.concat_tables(tables, promote_options="default") if tables else None

    def rows(self) -> list[dict]:
        """The staged rows as Python dicts (dates as datetime.date, lists as lists): what the checks
        audit."""
        arrow = self.read()
        return arrow.to_pylist() if arrow is not None else []

    def publish(self) -> dict[date, list[str]]:
        """Swap each staged day into `analytics/<table>/year=/month=/day=/`: the new objects first,
        then the day's other objects removed (a reader never sees the day empty; nothing else of
        the table changes). Returns the keys written per day."""
        return {day: self._copy_day(day, layout.table_partition_prefix(self.table, day)) for day in self.days}

    def quarantine(self, run_id: str) -> str:
        """Copy the staged days under `_quarantine/<run_id>/<table>/` (the published partitions are not
        touched); returns that prefix."""
        prefix = quarantine_prefix(run_id, self.table)
        for day in self.days:
            self._copy_day(day, prefix + _day_suffix(day))
        return prefix

    def discard(self) -> None:
        """Remove the staging output (a temporary folder, or the `_staging/` prefix on S3)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        if self._staging_prefix is not None:
            self.lake.delete_prefix(self._staging_prefix.rstrip("/"))  # with EMRFS "_$folder$" markers
            self._staging_prefix = None

    def _open(self, part: str):
        return part if self.local else io.BytesIO(self.lake.read_bytes(part))

    def _copy_day(self, day: date, prefix: str) -> list[str]:
        if self._folder is not None:
            return self.lake.replace_prefix_from_folder(self._folder / "days" / day.isoformat(), prefix)
        parts = self.parts[day]
        names = [part_name(i) for i in range(len(parts))]
        return self.lake.replace_prefix_from_keys(parts, prefix, names=names)


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
                path = Path(tmp) / layout.check_key(key)
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

    def table_rows(self, table: str, day: date, columns: Sequence[str] | None = None) -> list[dict] | None:
        """The rows of one day of `table` (only `columns` when given); None when the day has no
        partition (not materialized yet)."""
        try:
            rows = self.read_table_partition(table, day)
        except FileNotFoundError:
            return None
        return (rows.select(list(columns)) if columns is not None else rows).to_pylist()

    def stage_daily_table(self, df: DataFrame, table: str, days: Sequence[date]) -> StagedTable:
        """Write the rows of `df` (which has a `date` column) for `days` to staging, in one Spark job:
        a temporary local folder, or `_staging/<table>/<uuid>/` of the lake in direct mode on S3.
        Nothing a reader sees changes until `publish()`."""
        if self.spark_io == "direct" and isinstance(self.client, S3Lake):
            prefix = f"{layout.STAGING}/{table}/{uuid.uuid4().hex}/"
            try:
                _write_partitioned(df, self.spark_uri(prefix))
                parts = {day: self._staged_keys(prefix + _day_suffix(day)) for day in days}
            except BaseException:
                self.client.delete_prefix(prefix.rstrip("/"))
                raise
            return StagedTable(self.client, table, days, parts, staging_prefix=prefix)
        folder = Path(tempfile.mkdtemp(prefix=f"trending-tv-{table}-"))
        try:
            out = folder / "spark"
            _write_partitioned(df, str(out))
            parts = {}
            for day in days:
                written = out / _day_suffix(day)
                found = sorted(written.glob("part-*.parquet")) if written.is_dir() else []
                target = folder / "days" / day.isoformat()
                target.mkdir(parents=True)
                for index, part in enumerate(found):
                    shutil.move(part, target / part_name(index))
                parts[day] = [str(target / part_name(i)) for i in range(len(found))]
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return StagedTable(self.client, table, days, parts, folder=folder)

    def stage_daily_arrow(self, tables: Mapping[date, pa.Table], table: str) -> StagedTable:
        """Stage one pyarrow table per day (small tables that need no Spark), one part file each.
        Columns named like the partition folders (year, month, day) are refused: catalogs that add
        partition columns (Athena, DuckDB's hive_partitioning) would see them twice."""
        folder = Path(tempfile.mkdtemp(prefix=f"trending-tv-{table}-"))
        parts = {}
        try:
            for day, rows in tables.items():
                clash = sorted(set(rows.column_names) & set(PARTITION_KEYS))
                if clash:
                    raise ValueError(f"{table}: columns {clash} are partition folders; leave them out")
                target = folder / "days" / day.isoformat()
                target.mkdir(parents=True)
                pq.write_table(rows, target / part_name(0), compression="snappy")
                parts[day] = [str(target / part_name(0))]
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return StagedTable(self.client, table, list(tables), parts, folder=folder)

    def write_daily_table(self, df: DataFrame, table: str, days: Sequence[date]) -> dict[date, list[str]]:
        """Replace exactly the given days of `table` with the rows of `df`, without an audit (assets
        stage, check and publish instead: trending_tv.assets.daily.publish). Reruns and backfills
        never leave duplicate part files."""
        with self.stage_daily_table(df, table, days) as staged:
            return staged.publish()

    def _staged_keys(self, prefix: str) -> list[str]:
        return sorted(
            o.key
            for o in self.client.list(prefix)
            if o.key.rsplit("/", 1)[-1].startswith(SPARK_PART) and o.key.endswith(".parquet")
        )


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
