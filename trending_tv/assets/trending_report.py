"""trending_report: charts, trending and popular tables of each day, as PNG and markdown in the lake."""

import base64
from datetime import date

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from ingest_host import layout
from trending_tv import report
from trending_tv.assets import metadata
from trending_tv.assets.daily import daily_asset, partition_days
from trending_tv.assets.show_trends import POPULAR_COLUMNS, TRENDING_COLUMNS
from trending_tv.constants import TRENDS_GROUP
from trending_tv.resources.lake import LakeResource


def report_key(day: date, name: str) -> str:
    return f"{layout.REPORTS}/trending_report/{day:%Y/%m/%d}/{name}"


@daily_asset(group_name=TRENDS_GROUP, kinds={"python", "png"}, deps=["show_trends"])
def trending_report(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """The day's top risers against their expected posts, the top shows over the 9 days ending on
    the day (totals, daily heat map), and the trending and popular tables, as PNG and markdown in
    the lake and on this page."""
    days = partition_days(context)
    written = []
    # the 9-day windows of a range's days overlap: each (table, day) is read from the lake once
    read: dict[tuple[str, date], list[dict]] = {}

    def rows(table: str, d: date) -> list[dict]:
        if (table, d) not in read:
            read[table, d] = lake.table_rows(table, d) or []
        return read[table, d]

    for day in days:
        window = report.window(day)
        stats = [r for d in window for r in rows("tweet_stat", d)]
        names = {r["id"]: r["name"] for d in window for r in rows("tvshows", d)}
        trends = lake.read_table_partition("show_trends", day).to_pylist()
        files = report.build_report(day, stats, names, trends)
        for name, content in files.items():
            lake.client.write_bytes(report_key(day, name), content)
        written.append(report_key(day, "report.md"))
    last = days[-1]
    popular = sorted(trends, key=lambda r: r["popular_rank"])[:10]
    trending = sorted((r for r in trends if r["trend_rank"] is not None), key=lambda r: r["trend_rank"])[:10]
    risers = base64.b64encode(files["top_risers.png"]).decode()
    top = base64.b64encode(files["top_by_tweet_count.png"]).decode()
    return MaterializeResult(
        metadata={
            "reports": MetadataValue.json(written),
            "folder": MetadataValue.path(lake.client.uri(report_key(last, ""))),
            f"trending_on_{last}": metadata.table(trending, TRENDING_COLUMNS),
            f"popular_on_{last}": metadata.table(popular, POPULAR_COLUMNS),
            "top_risers_chart": MetadataValue.md(f"![Top risers on {last}](data:image/png;base64,{risers})"),
            "top_shows_chart": MetadataValue.md(f"![Posts per show](data:image/png;base64,{top})"),
        }
    )
