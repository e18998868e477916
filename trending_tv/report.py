"""Charts and markdown of the trending report (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, timedelta

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI
import matplotlib.pyplot as plt  # noqa: E402

TOP_N = 25
WINDOW_DAYS = 9  # the 2020 project's period: a report covers the day and the 8 before it


def window(day: date) -> list[date]:
    """The report's days: `day` and the WINDOW_DAYS - 1 before it, oldest first."""
    return [day - timedelta(days=k) for k in range(WINDOW_DAYS - 1, -1, -1)]


def build_report(day: date, stats: list[dict], names: dict[int, str], trends: list[dict]) -> dict[str, bytes]:
    """The report of `day` as files: charts (PNG) and report.md linking them.

    `stats`: tweet_stat rows of the window; `names`: id -> show name; `trends`: show_trends rows of
    the day."""
    days = window(day)
    span = f"{days[0]} .. {day}"
    files = {
        "top_risers.png": risers_chart_png(trends, f"Top risers on {day}: posts against expected"),
        "top_by_tweet_count.png": bar_chart_png(stats, names, "tweet_count", f"Posts per show, {span}"),
        "top_by_hashtag_count.png": bar_chart_png(
            stats, names, "hashtag_count", f"Posts with the show's hashtag, {span}"
        ),
        "daily_tweet_count.png": heat_map_png(
            stats, names, "tweet_count", days, f"Daily posts of the top shows, {span}"
        ),
    }
    markdown = (
        f"# Trending TV shows, {day}\n\n## Trending (surprise against each show's own level)\n\n"
        + trending_table_md(trends)
        + "\n\n## Popular (volume)\n\n"
        + popular_table_md(trends)
        + "\n"
    )
    for name in files:
        markdown += f"\n![{name}]({name})\n"
    files["report.md"] = markdown.encode()
    return files


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


def _flags(r: dict) -> str:
    flags = []
    if r.get("cold_start"):
        flags.append(f"new: {r['baseline_days']} d of history")
    if r.get("complete") is False:
        flags.append(f"partial day ({r['coverage']:.0%} covered)")
    return f" ({'; '.join(flags)})" if flags else ""


def _popularity(r: dict) -> str:
    if r.get("popularity") is None:
        return "n/a"
    delta = "" if r.get("popularity_change") is None else f" ({r['popularity_change']:+.1f})"
    return f"{r['popularity']:.1f}{delta}"


def trending_table_md(trends: list[dict], limit: int = 10) -> str:
    """The day's trending shows (show_trends rows with a trend_rank), by surprise."""
    lines = [
        "| trend rank | show | posts | expected | x usual | score | TMDB popularity (change) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    ranked = sorted((r for r in trends if r.get("trend_rank") is not None), key=lambda r: r["trend_rank"])
    for r in ranked[:limit]:
        cells = [
            str(r["trend_rank"]),
            f"{r['name']}{_flags(r)}",
            f"{r['posts']:,}",
            f"{r['expected_posts']:,.0f}",
            f"{r['ratio']:.1f}x",
            f"{r['trend_score']:.1f}",
            _popularity(r),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if not ranked:
        lines.append("| | no show above its expected level with enough posts | | | | | |")
    return "\n".join(lines)


def popular_table_md(trends: list[dict], limit: int = 10) -> str:
    """The day's most talked-about shows (show_trends rows), by posts."""
    lines = [
        "| popular rank | show | posts | share | change vs day before |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in sorted(trends, key=lambda r: r["popular_rank"])[:limit]:
        change = "n/a" if r["posts_change"] is None else f"{r['posts_change']:+,}"
        partial = "" if r.get("complete") is not False else " (partial day)"
        lines.append(
            f"| {r['popular_rank']} | {r['name']}{partial} | {r['posts']:,} | {r['share']:.1%} | {change} |"
        )
    return "\n".join(lines)


def risers_chart_png(trends: list[dict], title: str, limit: int = 15) -> bytes:
    """The day's top risers (by trend rank): posts against the posts expected from the show's own
    baseline, labelled with the ratio and the score."""
    ranked = sorted((r for r in trends if r.get("trend_rank") is not None), key=lambda r: r["trend_rank"])
    top = ranked[:limit][::-1]
    fig, ax = plt.subplots(figsize=(10, max(3, 0.5 * len(top) + 1.5)), dpi=100)
    y = list(range(len(top)))
    ax.barh([v + 0.2 for v in y], [r["posts"] for r in top], height=0.4, color="#C44E52", label="posts")
    ax.barh(
        [v - 0.2 for v in y],
        [r["expected_posts"] for r in top],
        height=0.4,
        color="#8C8C8C",
        label="expected",
    )
    ax.set_yticks(y, [f"{r['name']}{' *' if r.get('cold_start') else ''}" for r in top], fontsize=8)
    for v, r in zip(y, top, strict=True):
        ax.text(
            r["posts"], v + 0.2, f" {r['ratio']:.1f}x, score {r['trend_score']:.1f}", va="center", fontsize=7
        )
    ax.set_xscale("symlog", linthresh=10)
    if top:  # room for the labels right of the longest bar (log scale)
        ax.set_xlim(0, 4 * max(max(r["posts"], r["expected_posts"]) for r in top))
    ax.set_xlabel("posts (log scale)")
    ax.set_title(title + ("" if top else " (no show above its expected level)"), loc="left")
    if top:
        ax.legend(loc="lower right", fontsize=8)
    if any(r.get("cold_start") for r in top):
        fig.text(0.01, 0.01, "* short history: expectation mostly from the all-shows prior", fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
