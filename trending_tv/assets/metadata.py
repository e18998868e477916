"""Materialization metadata shared by the assets: tables the UI renders with typed, sortable columns,
and where a table's files went."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from dagster import MetadataValue, TableColumn, TableMetadataValue, TableRecord, TableSchema

from ingest_host import layout
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


def written(lake: LakeResource, table_name: str, files: Mapping[date, list[str]]) -> dict[str, MetadataValue]:
    """The files a run wrote per day, and the table's folder in the lake."""
    return {
        "files": MetadataValue.json({d.isoformat(): keys for d, keys in files.items()}),
        "path": MetadataValue.path(lake.client.uri(layout.table_prefix(table_name))),
    }
