"""`trending-tv`: the analysts' command line over the lake (a folder or s3://bucket/prefix).

trending-tv top --from 2020-11-23 --to 2020-12-01 --by trend --limit 10
trending-tv trends --date 2020-12-01
trending-tv sql "SELECT name, posts FROM show_trends WHERE date = DATE '2020-12-01'"
TRENDING_TV_LAKE=s3://bucket/lake trending-tv athena-ddl
trending-tv report --date 2020-12-01 --out ./report
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console

from ingest_host.config import Settings as IngestHostSettings
from trending_tv import report
from trending_tv.analyst import lake_sql, render
from trending_tv.analyst.athena import athena_ddl
from trending_tv.analyst.tables import TABLES

FORMATS = click.Choice(["table", "csv", "json"])
ISO_DAY = click.DateTime(["%Y-%m-%d"])

# The name a show had on its latest snapshot up to a day (names can change between snapshots).
_NAMES = "SELECT id, arg_max(name, date) AS name FROM tvshows WHERE date <= $last GROUP BY id"
_TOTALS = {"posts": "sum(s.tweet_count)", "hashtag_posts": "sum(s.hashtag_count)"}


def _top_by_total(column: str) -> str:
    """The shows with the largest total of `column` (a key of _TOTALS) over the range, that column first."""
    totals = ", ".join(f"{_TOTALS[c]} AS {c}" for c in sorted(_TOTALS, key=lambda c: c != column))
    return f"""
        WITH names AS ({_NAMES})
        SELECT s.id, n.name, {totals}, count(*) AS days
        FROM tweet_stat s LEFT JOIN names n USING (id)
        WHERE s.date BETWEEN $first AND $last
        GROUP BY s.id, n.name ORDER BY {column} DESC, s.id LIMIT $limit"""


TOP_QUERIES = {
    "tweets": _top_by_total("posts"),
    "hashtags": _top_by_total("hashtag_posts"),
    # a show's best day in the range: its highest surprise, with that day's posts and ratio
    "trend": """
        SELECT id, arg_max(name, date) AS name, max(trend_score) AS trend_score,
               arg_max(date, trend_score) AS peak_day, arg_max(posts, trend_score) AS posts,
               arg_max(expected_posts, trend_score) AS expected_posts,
               arg_max(ratio, trend_score) AS ratio, count(*) AS days_trending,
               min(trend_rank) AS best_trend_rank
        FROM show_trends
        WHERE date BETWEEN $first AND $last AND trend_rank IS NOT NULL
        GROUP BY id ORDER BY trend_score DESC, id LIMIT $limit""",
}


class Lake:
    """The lake's DuckDB connection, opened on first use."""

    def __init__(self, url: str):
        self.url = url
        self._con: duckdb.DuckDBPyConnection | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            try:
                self._con = lake_sql.connect(self.url)
            except (OSError, duckdb.Error) as error:
                raise click.ClickException(f"cannot open the lake {self.url}: {error}") from error
        return self._con

    def query(self, sql: str, params: list | dict | None = None) -> lake_sql.Result:
        try:
            return lake_sql.query(self.con, sql, params)
        except lake_sql.ReadOnlyError as error:
            raise click.ClickException(str(error)) from error
        except duckdb.Error as error:
            raise click.ClickException(f"{type(error).__name__}: {error}") from error


def _emit(result: lake_sql.Result, fmt: str, title: str | None = None) -> None:
    if fmt == "csv":
        click.echo(render.rows_csv(result.columns, result.rows), nl=False)
    elif fmt == "json":
        click.echo(render.rows_json(result.columns, result.rows), nl=False)
    else:
        Console().print(render.rows_table(result.columns, result.rows, title))


@click.group()
@click.option(
    "--lake",
    envvar="TRENDING_TV_LAKE",
    default=IngestHostSettings.lake,  # where the ingest host lands by default
    show_default=True,
    help="Lake root: a folder or s3://bucket/prefix (TRENDING_TV_LAKE). S3 uses the standard AWS "
    "credential chain; AWS_ENDPOINT_URL_S3 points it at another server.",
)
@click.pass_context
def main(ctx: click.Context, lake: str) -> None:
    """Query the trending-tv lake: top shows, a day's popular and trending tables, SQL, Athena DDL,
    the report's charts."""
    ctx.obj = Lake(lake)


@main.command()
@click.option("--from", "start", type=ISO_DAY, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", type=ISO_DAY, required=True, help="Last day, included.")
@click.option(
    "--by",
    type=click.Choice(["tweets", "hashtags", "trend"]),
    default="tweets",
    show_default=True,
    help="tweets / hashtags: total posts (tweet_stat); trend: each show's best surprise (show_trends).",
)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def top(lake: Lake, start: datetime, end: datetime, by: str, limit: int, fmt: str) -> None:
    """The top shows over a range of days."""
    first, last = start.date(), end.date()
    if first > last:
        raise click.BadParameter("--from is after --to")
    result = lake.query(TOP_QUERIES[by], {"first": first, "last": last, "limit": limit})
    _emit(result, fmt, f"Top {limit} by {by}, {first} .. {last}")


@main.command()
@click.option("--date", "day", type=ISO_DAY, required=True)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def trends(lake: Lake, day: datetime, limit: int, fmt: str) -> None:
    """A day's popular (volume) and trending (surprise) shows, from show_trends."""
    the_day = day.date()
    result = lake.query("SELECT * FROM show_trends WHERE date = ?", [the_day])
    if not result.rows:
        raise click.ClickException(f"show_trends has no rows for {the_day}")
    rows = result.dicts()
    if fmt != "table":
        popular = sorted(rows, key=lambda r: r["popular_rank"])[:limit]
        trending = sorted((r for r in rows if r["trend_rank"] is not None), key=lambda r: r["trend_rank"])[
            :limit
        ]
        chosen = [*trending, *(r for r in popular if r not in trending)]
        _emit(lake_sql.Result(result.columns, [tuple(r.values()) for r in chosen]), fmt)
        return
    console = Console()
    console.print(render.popular_table(rows, limit, f"Popular on {the_day}: posts"))
    console.print(
        render.trending_table(rows, limit, f"Trending on {the_day}: surprise against each show's level")
    )


@main.command()
@click.argument("statement")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def sql(lake: Lake, statement: str, fmt: str) -> None:
    """Run one read-only query."""
    _emit(lake.query(statement), fmt)


sql.help = (
    "Run one read-only query (DuckDB SQL). Views: "
    + ", ".join(TABLES)
    + ", and "
    + ", ".join(f"{t.name}_latest" for t in TABLES.values() if t.dimension)
    + " (the newest snapshot). Writes, files, URLs and settings are refused."
)


@main.command("athena-ddl")
@click.option("--database", default="trending_tv", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
@click.pass_obj
def athena_ddl_command(lake: Lake, database: str, output: Path | None) -> None:
    """CREATE EXTERNAL TABLE statements (partition projection) for every table of an S3 lake."""
    try:
        ddl = athena_ddl(lake.url, database)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if output:
        output.write_text(ddl, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(ddl, nl=False)


@main.command("report")
@click.option("--date", "day", type=ISO_DAY, required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the charts and report.md (default ./trending-report-<date>).",
)
@click.pass_obj
def report_command(lake: Lake, day: datetime, out: Path | None) -> None:
    """The day's report: top risers, top shows of the 9-day window, daily heat map, and the popular
    and trending tables, as PNG files and report.md."""
    the_day = day.date()
    days = report.window(the_day)
    stats = lake.query(
        "SELECT id, date, hashtag_count, text_count, tweet_count FROM tweet_stat WHERE date BETWEEN ? AND ?",
        [days[0], the_day],
    ).dicts()
    names = {r["id"]: r["name"] for r in lake.query(_NAMES, {"last": the_day}).dicts()}
    trends_rows = lake.query("SELECT * FROM show_trends WHERE date = ?", [the_day]).dicts()
    if not stats and not trends_rows:
        raise click.ClickException(f"no tweet_stat or show_trends rows for {days[0]} .. {the_day}")
    folder = out or Path(f"trending-report-{the_day}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in report.build_report(the_day, stats, names, trends_rows).items():
        (folder / name).write_bytes(content)
        click.echo(str(folder / name))
