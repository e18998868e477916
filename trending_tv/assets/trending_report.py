"""trending_report: charts and the trending table of each day, as PNG and markdown in the lake."""

import base64
from datetime import date, timedelta

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from trending_tv import report
from trending_tv.assets.daily import daily_asset, partition_days
from trending_tv.constants import TRENDS_GROUP
from trending_tv.resources.lake import LakeResource

REPORT_WINDOW_DAYS = 9  # the 2020 project's period: a report covers the day and the 8 before it


def report_key(day: date, name: str) -> str:
    return f"reports/trending_report/{day:%Y/%m/%d}/{name}"


def _rows(lake: LakeResource, table: str, day: date) -> list[dict]:
    """The rows of `table` on `day`; none when the day has no partition (before the first data)."""
    try:
        return lake.read_table_partition(table, day).to_pylist()
    except FileNotFoundError:
        return []


@daily_asset(group_name=TRENDS_GROUP, kinds={"python", "png"}, deps=["show_trends"])
def trending_report(context: AssetExecutionContext, lake: LakeResource) -> MaterializeResult:
    """Charts of the top shows over the 9 days ending on the day (totals, daily heat map) and the
    day's trending table, as PNG and markdown in the lake and on this page."""
    days = partition_days(context)
    written = []
    for day in days:
        window = [day - timedelta(days=k) for k in range(REPORT_WINDOW_DAYS - 1, -1, -1)]
        stats = [r for d in window for r in _rows(lake, "tweet_stat", d)]
        names = {r["id"]: r["name"] for d in window for r in _rows(lake, "tvshows", d)}
        trends = lake.read_table_partition("show_trends", day).to_pylist()
        span = f"{window[0]} .. {day}"
        charts = {
            "top_by_tweet_count.png": report.bar_chart_png(
                stats, names, "tweet_count", f"Posts per show, {span}"
            ),
            "top_by_hashtag_count.png": report.bar_chart_png(
                stats, names, "hashtag_count", f"Posts with the show's hashtag, {span}"
            ),
            "daily_tweet_count.png": report.heat_map_png(
                stats, names, "tweet_count", window, f"Daily posts of the top shows, {span}"
            ),
        }
        markdown = f"# Trending TV shows, {day}\n\n" + report.trending_table_md(trends) + "\n"
        for name, png in charts.items():
            lake.client.write_bytes(report_key(day, name), png)
            markdown += f"\n![{name}]({name})\n"
        lake.client.write_text(report_key(day, "report.md"), markdown)
        written.append(report_key(day, "report.md"))
    last = days[-1]
    preview = base64.b64encode(charts["top_by_tweet_count.png"]).decode()
    return MaterializeResult(
        metadata={
            "reports": MetadataValue.json(written),
            "folder": MetadataValue.path(lake.client.uri(report_key(last, ""))),
            f"trending_on_{last}": MetadataValue.md(report.trending_table_md(trends)),
            "top_shows_chart": MetadataValue.md(
                f"![Posts per show, {span}](data:image/png;base64,{preview})"
            ),
        }
    )
