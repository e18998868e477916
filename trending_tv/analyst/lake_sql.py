"""DuckDB over the lake, read-only: a view per analytics table and a `<dimension>_latest` view.

The CLI opens each table's Parquet files itself (pyarrow: a local folder, or S3 through the AWS SDK's
standard credential chain, with AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for a local S3 server) and
registers them in an in-memory DuckDB. Then the connection is locked with DuckDB's own settings:
`enable_external_access = false` (no file, URL, ATTACH, COPY or extension from SQL: a path inside
or outside the lake is refused alike) and `lock_configuration = true` (SQL cannot undo it).
Statements other than queries are refused by DuckDB's parser before they run.

DuckDB's httpfs extension is not used: it is downloaded from DuckDB's extension repository at run
time, which offline machines and CI cannot reach; pyarrow's S3 filesystem ships in its wheel.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from pyspark.sql.pandas.types import to_arrow_schema

from ingest_host import layout
from trending_tv.analyst.tables import PARTITION_SCHEMA, TABLES

_PARTITION_FILE = re.compile(r"year=\d{4}/month=\d{2}/day=\d{2}/[^/._][^/]*\.parquet$")
# What `sql` runs: queries only (SELECT, WITH ... SELECT, VALUES, DESCRIBE, SUMMARIZE, SHOW parse as
# SELECT). EXPLAIN is left out: EXPLAIN ANALYZE executes the statement it explains.
ALLOWED_STATEMENTS = {duckdb.StatementType.SELECT}


class ReadOnlyError(ValueError):
    """A statement that is not a query."""


@dataclass(frozen=True)
class LakeLocation:
    filesystem: pafs.FileSystem
    root: str  # the lake root as the filesystem names it (a folder path, or bucket/prefix)
    url: str

    def table_root(self, table: str) -> str:
        return f"{self.root}/{layout.table_prefix(table)}".replace("//", "/").rstrip("/")


def lake_location(url: str) -> LakeLocation:
    """The filesystem of a lake URL: a folder path, or s3://bucket/prefix."""
    if url.startswith("s3://"):
        parsed = urlparse(url)
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region is None and endpoint is None:
            region = pafs.resolve_s3_region(parsed.netloc)  # a bucket outside the SDK's default region
        filesystem = pafs.S3FileSystem(endpoint_override=endpoint, region=region)
        return LakeLocation(filesystem, f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/"), url)
    root = os.path.abspath(url)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no lake folder at {root}")
    return LakeLocation(pafs.LocalFileSystem(), root, url)


def table_files(lake: LakeLocation, table: str) -> list[str]:
    """The table's Parquet files under year=/month=/day= folders, oldest day first."""
    base = lake.table_root(table)
    if lake.filesystem.get_file_info(base).type != pafs.FileType.Directory:
        return []
    infos = lake.filesystem.get_file_info(pafs.FileSelector(base, recursive=True))
    return sorted(
        i.path
        for i in infos
        if i.type == pafs.FileType.File and _PARTITION_FILE.search(i.path[len(base) + 1 :])
    )


def table_dataset(lake: LakeLocation, table: str) -> ds.Dataset | pa.Table:
    """The table's rows. Schemas may grow over time: the newest day's schema is used, and older files
    give nulls for columns they lack. A table with no files is empty, with its declared columns."""
    spec = TABLES[table]
    files = table_files(lake, table)
    if not files:
        schema = to_arrow_schema(spec.schema)
        if spec.partition_columns:
            schema = pa.unify_schemas([schema, PARTITION_SCHEMA])
        return schema.empty_table()
    # The date table's day, month and year come from its year=/month=/day= folders (a file that also
    # holds them, written before they were left out, gives the same values).
    options = (
        {
            "partitioning": ds.partitioning(PARTITION_SCHEMA, flavor="hive"),
            "partition_base_dir": lake.table_root(table),
        }
        if spec.partition_columns
        else {}
    )
    newest = ds.dataset(files[-1:], filesystem=lake.filesystem, format="parquet", **options).schema
    return ds.dataset(files, filesystem=lake.filesystem, format="parquet", schema=newest, **options)


def connect(url: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per table of the lake at `url`, locked read-only."""
    lake = lake_location(url)
    con = duckdb.connect(
        ":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    for name, table in TABLES.items():
        con.register(name, table_dataset(lake, name))
        if table.dimension:
            con.execute(
                f'CREATE VIEW "{name}_latest" AS SELECT * FROM "{name}" '
                f'WHERE date = (SELECT max(date) FROM "{name}")'
            )
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> Result:
    """Run one read-only statement: refused (ReadOnlyError) unless DuckDB parses it as a query."""
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise ReadOnlyError(f"one statement at a time ({len(statements)} given)")
    kind = statements[0].type
    if kind not in ALLOWED_STATEMENTS:
        raise ReadOnlyError(f"read-only: {kind.name} statements are refused; only queries run")
    cursor = con.execute(sql, params or [])
    return Result([d[0] for d in cursor.description], cursor.fetchall())
