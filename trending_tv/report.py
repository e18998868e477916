"""Charts and markdown of the trending report (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI
import matplotlib.pyplot as plt  # noqa: E402

TOP_N = 25


def totals_by_show(rows: list[dict], column: str) -> list[tuple[int, int]]:
    totals: dict[int, int] = defaultdict(int)
    for r in rows:
        totals[int(r["id"])] += int(r[column])
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def bar_chart_png(rows: list[dict], names: dict[int, str], column: str, title: str) -> bytes:
    """Horizontal bars of the top shows by the window's total of `column`."""
    top = totals_by_show(rows, column)[:TOP_N]
    fig, ax = plt.subplots(figsize=(10, 9), dpi=100)
    labels = [names.get(i, str(i)) for i, _ in top][::-1]
    values = [v for _, v in top][::-1]
    ax.barh(labels, values, color="#4C72B0")
    ax.set_title(title, loc="left")
    ax.set_xlabel(column)
    ax.grid(axis="x", alpha=0.3)
    for y, value in enumerate(values):
        ax.text(value, y, f" {value:,}", va="center", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def heat_map_png(rows: list[dict], names: dict[int, str], column: str, days: list[date], title: str) -> bytes:
    """Daily `column` of the top shows of the window (rows: shows by total, columns: days)."""
    top = [i for i, _ in totals_by_show(rows, column)[:TOP_N]]
    cell = {(int(r["id"]), r["date"]): int(r[column]) for r in rows}
    grid = [[cell.get((i, d), 0) for d in days] for i in top]
    fig, ax = plt.subplots(figsize=(11, 9), dpi=100)
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(top)), [names.get(i, str(i)) for i in top], fontsize=8)
    ax.set_xticks(range(len(days)), [d.strftime("%m-%d") for d in days], fontsize=8)
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            ax.text(x, y, str(value), ha="center", va="center", fontsize=6, color="white")
    ax.set_title(title, loc="left")
    fig.colorbar(image, ax=ax, label=column)
    fig.tight_layout()
    return _png(fig)


def trending_table_md(trends: list[dict], limit: int = 10) -> str:
    lines = [
        "| rank | show | posts | share | change vs day before | z-score | TMDB popularity (change) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(trends, key=lambda r: r["rank"])[:limit]:
        z = "n/a" if r["zscore"] is None else f"{r['zscore']:.1f}"
        change = "n/a" if r["tweet_count_change"] is None else f"{r['tweet_count_change']:+,}"
        popularity = "n/a"
        if r["popularity"] is not None:
            delta = "" if r["popularity_change"] is None else f" ({r['popularity_change']:+.1f})"
            popularity = f"{r['popularity']:.1f}{delta}"
        cells = [
            str(r["rank"]),
            r["name"],
            f"{r['tweet_count']:,}",
            f"{r['share']:.1%}",
            change,
            z,
            popularity,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
