"""Metadata shared by the assets: tables the UI renders with typed, sortable columns, where a table's
files went, and each table's columns for the catalog (`dagster/column_schema`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import pyarrow as pa
from dagster import MetadataValue, TableColumn, TableMetadataValue, TableRecord, TableSchema
from pyspark.sql.pandas.types import from_arrow_type
from pyspark.sql.types import StructType

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.resources.lake import LakeResource


def _cell(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def table(
    rows: Iterable[Mapping], columns: Mapping[str, str], limit: int | None = None
) -> TableMetadataValue:
    """`rows` as a table: `columns` maps each column to its type (string, int, float, bool, date);
    dates are shown as ISO days and lists joined with commas."""
    rows = list(rows)[:limit] if limit is not None else list(rows)
    return MetadataValue.table(
        records=[TableRecord({name: _cell(row.get(name)) for name in columns}) for row in rows],
        schema=TableSchema(columns=[TableColumn(name, kind) for name, kind in columns.items()]),
    )


def written(
    lake: Lake | LakeResource, table_name: str, files: Mapping[date, list[str]]
) -> dict[str, MetadataValue]:
    """The files a run published per day, and the table's folder in the lake."""
    client = lake.client if isinstance(lake, LakeResource) else lake
    return {
        "files": MetadataValue.json({d.isoformat(): keys for d, keys in files.items()}),
        "path": MetadataValue.path(client.uri(layout.table_prefix(table_name))),
    }


def column_schema(schema: StructType | pa.Schema, descriptions: Mapping[str, str]) -> TableSchema:
    """The catalog's columns of a table (the `dagster/column_schema` asset metadata) from the Spark or
    Arrow schema it is written with, types as Spark SQL names them; every column needs a description."""
    fields = (
        [(f.name, from_arrow_type(f.type)) for f in schema]
        if isinstance(schema, pa.Schema)
        else [(f.name, f.dataType) for f in schema.fields]
    )
    undescribed = [name for name, _ in fields if name not in descriptions]
    if undescribed:
        raise ValueError(f"columns without a description: {undescribed}")
    return TableSchema(
        columns=[
            TableColumn(name, data_type.simpleString(), description=descriptions[name])
            for name, data_type in fields
        ]
    )
