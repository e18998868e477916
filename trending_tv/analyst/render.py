"""Terminal output of the CLI (rich tables, CSV, JSON lines); the popular and trending tables of a
day are also what `make demo` can print."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime

from rich.table import Table


def popular_table(trends: list[dict], limit: int = 10, title: str | None = None) -> Table:
    """A day's show_trends rows by volume (popular rank)."""
    table = Table(title=title, title_justify="left")
    for column in ("popular rank", "show", "posts", "share", "vs day before"):
        table.add_column(column, justify="left" if column == "show" else "right")
    for r in sorted(trends, key=lambda r: r["popular_rank"])[:limit]:
        change = "n/a" if r["posts_change"] is None else f"{r['posts_change']:+,}"
        partial = "" if r["complete"] is not False else " (partial day)"
        table.add_row(
            str(r["popular_rank"]), f"{r['name']}{partial}", f"{r['posts']:,}", f"{r['share']:.1%}", change
        )
    return table


def trending_table(trends: list[dict], limit: int = 10, title: str | None = None) -> Table:
    """A day's show_trends rows by surprise (trend rank; shows without one are not trending)."""
    table = Table(title=title, title_justify="left")
    for column in ("trend rank", "show", "posts", "expected", "x usual", "score", "history"):
        table.add_column(column, justify="left" if column == "show" else "right")
    ranked = sorted((r for r in trends if r["trend_rank"] is not None), key=lambda r: r["trend_rank"])
    for r in ranked[:limit]:
        history = f"{r['baseline_days']} d" + (" (new)" if r["cold_start"] else "")
        table.add_row(
            str(r["trend_rank"]),
            r["name"] or str(r["id"]),
            f"{r['posts']:,}",
            f"{r['expected_posts']:,.0f}",
            f"{r['ratio']:.1f}x",
            f"{r['trend_score']:.1f}",
            history,
        )
    return table


def rows_table(columns: Sequence[str], rows: Sequence[Sequence], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _plain(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def rows_csv(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_plain(v) for v in row] for row in rows])
    return out.getvalue()


def rows_json(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    return "".join(
        json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}, default=str) + "\n"
        for row in rows
    )
