"""show_volume: exact X post volumes per tracked show and UTC day from raw_counts, with the table's
checks, and the drift check comparing the stream's sample (tweet_stat) with them.

The parsing is plain Python (trending_tv/transforms/show_volume.py) and the table's checks are
trending_tv.checks' (shared with tweet_stat where the rule is the same); a day is 160 rows, so
pyarrow writes the table on the Dagster host without Spark, staged and audited before it is
published (write-audit-publish: trending_tv.assets.daily.publish)."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date

import pyarrow as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset_check,
)

from trending_tv import checks
from trending_tv.assets.daily import UNIQUE_ID_DATE_CHECK, Check, daily_asset, partition_days, publish
from trending_tv.assets.integrity import check_days
from trending_tv.assets.metadata import column_schema, table
from trending_tv.assets.raw_counts import counts_lines, tracked_ids
from trending_tv.constants import FACTS_GROUP, ONE_ROW_PER_TRACKED_SHOW
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.show_volume import (
    ARROW_SCHEMA,
    COLUMN,
    COLUMN_DESCRIPTIONS,
    HOURLY_COLUMN,
    Drift,
    sample_drift,
    show_volume_day,
)

SAMPLE_DRIFT = "sample_drift"
# (hashtag, text, either), as counts_consistent takes them
VOLUME_COLUMNS = (COLUMN["hashtags"], COLUMN["text"], COLUMN["any"])
HOURLY_COLUMNS = (HOURLY_COLUMN["hashtags"], HOURLY_COLUMN["text"], HOURLY_COLUMN["any"])

COLUMN_SCHEMA = column_schema(ARROW_SCHEMA, COLUMN_DESCRIPTIONS)


def table_checks(rows: Sequence[Mapping], tracked: Mapping[date, Iterable[int]]) -> list[AssetCheckResult]:
    """show_volume's in-asset checks on its rows, with the tracked ids of each day. A tracked show
    missing is a WARN: its `any` query did not land, so it has no row (a gap, not a bug)."""
    return [
        checks.one_row_per_tracked_show(
            rows, {day: set(ids) for day, ids in tracked.items()}, missing_severity=AssetCheckSeverity.WARN
        ),
        checks.unique_id_date(rows),
        checks.counts_consistent(
            rows,
            columns=VOLUME_COLUMNS,
            hourly_columns=HOURLY_COLUMNS,
            check_name=checks.POSTS_BETWEEN_MAX_AND_SUM,
        ),
        checks.hours_complete(rows),
    ]


@daily_asset(
    group_name=FACTS_GROUP,
    kinds={"python", "parquet"},
    deps=["raw_counts"],
    checks=[
        Check(
            ONE_ROW_PER_TRACKED_SHOW,
            "One row per tracked show: an untracked id is an ERROR; a show whose `any` query is "
            "missing (below raw_counts' coverage gate) a WARN listing it",
        ),
        UNIQUE_ID_DATE_CHECK,
        Check(
            checks.POSTS_BETWEEN_MAX_AND_SUM,
            "max(hashtag_posts, text_posts) <= posts <= hashtag_posts + text_posts, per day and hour",
        ),
        Check(
            checks.HOURS_COMPLETE,
            "Every show has all 24 hours of its three queries (WARN lists the gaps)",
            blocking=False,
        ),
    ],
    metadata={"dagster/column_schema": COLUMN_SCHEMA},
)
def show_volume(
    context: AssetExecutionContext, lake: LakeResource
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Exact X post volumes per tracked show and UTC day (hashtags, name and aliases, either) with
    their 24-hour series, from the counts endpoint: uncapped, unlike the stream's sample."""
    days = partition_days(context)
    results, tracked = {}, {}
    for day in days:
        tracked[day] = tracked_ids(lake.client, day).ids
        results[day] = show_volume_day(counts_lines(lake.client, day), day, tracked[day])
    # a show whose `any` query is missing has no volume: no row (show_trends reads a missing row as
    # "not known", never as zero), and one_row_per_tracked_show lists it
    tables = {
        day: pa.Table.from_pylist(
            sorted((r for r in result.rows if r["posts"] is not None), key=lambda r: r["id"]),
            schema=ARROW_SCHEMA,
        )
        for day, result in results.items()
    }
    with lake.stage_daily_arrow(tables, "show_volume") as staged:
        # audited as they will be read: the staged files
        staged_rows = staged.rows()
        by_day: dict[date, list[dict]] = {day: [] for day in days}
        for row in staged_rows:
            by_day[row["date"]].append(row)
        top = sorted(staged_rows, key=lambda r: (-int(r["posts"]), r["id"], r["date"]))[:10]
        materialized = MaterializeResult(
            metadata={
                "dagster/row_count": len(staged_rows),
                "posts": sum(int(r["posts"]) for r in staged_rows),
                "per_day": table(
                    [
                        {
                            "day": day,
                            "rows": len(by_day[day]),
                            "posts": sum(int(r["posts"]) for r in by_day[day]),
                            "pair_coverage": round(float(result.coverage["pair_coverage"]), 4),
                            "hour_coverage": round(float(result.coverage["hour_coverage"]), 4),
                            "unreadable_lines": len(result.problems),
                        }
                        for day, result in results.items()
                    ],
                    {
                        "day": "date",
                        "rows": "int",
                        "posts": "int",
                        "pair_coverage": "float",
                        "hour_coverage": "float",
                        "unreadable_lines": "int",
                    },
                ),
                "top_show_days": table(
                    top,
                    {
                        "id": "int",
                        "date": "date",
                        "posts": "int",
                        "hashtag_posts": "int",
                        "text_posts": "int",
                    },
                ),
            },
            check_results=table_checks(staged_rows, tracked),
        )
        yield from publish(context, staged, materialized)


@asset_check(
    asset="show_volume",
    name=SAMPLE_DRIFT,
    blocking=False,
    additional_deps=["tweet_stat"],
    description=(
        "The stream's sample (tweet_stat) against the exact volumes, per show and measure (hashtag, "
        "text, either): WARN naming each show whose share of the sample is off by more than 2x and "
        "4 standard deviations from its share of the exact volumes, with an expectation of at "
        "least 20 sampled posts (a broken rule, a hashtag X tokenises differently)"
    ),
)
def show_volume_sample_drift(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    drifts: dict[date, list[Drift]] = {}
    without: list[str] = []
    for day in check_days(context, lake, "show_volume"):
        exact = lake.table_rows("show_volume", day, ["id", "hashtag_posts", "text_posts", "posts"])
        sample = lake.table_rows("tweet_stat", day, ["id", "hashtag_count", "text_count", "tweet_count"])
        if exact is None or sample is None:
            without.append(day.isoformat())
            continue
        drifts[day] = sample_drift(sample, exact)
    return drift_result(drifts, without)


def drift_result(
    drifts: Mapping[date, Sequence[Drift]], days_without_both: Sequence[str]
) -> AssetCheckResult:
    """sample_drift's verdict: WARN naming, per day, each show and measure whose share of the sample
    drifts; `drifts` holds the days that have both tables."""
    if not drifts:
        return AssetCheckResult(
            passed=True,
            severity=AssetCheckSeverity.WARN,
            description="nothing to compare: no day has both tweet_stat and show_volume",
            metadata={"days_without_both": MetadataValue.json(list(days_without_both))},
        )
    flagged = [
        {
            "date": day.isoformat(),
            "id": d.id,
            "measure": d.measure,
            "sample": d.sample,
            "exact": d.exact,
            "sample_share": round(d.sample_share, 6),
            "exact_share": round(d.exact_share, 6),
            "ratio": round(d.ratio, 3),
            "z": round(d.z, 2),
        }
        for day, found in sorted(drifts.items())
        for d in found
    ]
    shows_by_day = {
        day: ", ".join(sorted({f"{d.id} ({d.measure})" for d in found}))
        for day, found in sorted(drifts.items())
        if found
    }
    return AssetCheckResult(
        passed=not flagged,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(
            f"{day}: sample drifts for show(s) {shows}" for day, shows in shows_by_day.items()
        )
        or "the sample's shares follow the exact volumes",
        metadata={
            "flagged": table(
                flagged,
                {
                    "date": "string",
                    "id": "int",
                    "measure": "string",
                    "sample": "int",
                    "exact": "int",
                    "sample_share": "float",
                    "exact_share": "float",
                    "ratio": "float",
                    "z": "float",
                },
            ),
            "flagged_count": len(flagged),
            "days_compared": len(drifts),
            "days_without_both": MetadataValue.json(list(days_without_both)),
        },
    )
