"""show_volume: exact X post volumes per tracked show and UTC day from raw_counts, with the table's
checks, and the drift check comparing the stream's sample (tweet_stat) with them.

The parsing and the checks are plain Python (trending_tv/transforms/show_volume.py); a day is 160
rows, so pyarrow writes the table on the Dagster host without Spark, staged and audited before it is
published (write-audit-publish: trending_tv.assets.daily.publish)."""

from collections.abc import Iterator
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

from trending_tv.assets.daily import Check, daily_asset, partition_days, publish
from trending_tv.assets.integrity import check_days
from trending_tv.assets.metadata import column_schema, table
from trending_tv.assets.raw_counts import counts_lines, tracked_ids
from trending_tv.constants import FACTS_GROUP, ONE_ROW_PER_TRACKED_SHOW
from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.show_volume import (
    ARROW_SCHEMA,
    COLUMN_DESCRIPTIONS,
    CheckOutcome,
    check_hours_complete,
    check_one_row_per_tracked_show,
    check_posts_between_max_and_sum,
    check_sample_drift,
    show_volume_day,
)

POSTS_BETWEEN = "posts_between_max_and_sum"
HOURS_COMPLETE = "hours_complete"
SAMPLE_DRIFT = "sample_drift"

COLUMN_SCHEMA = column_schema(ARROW_SCHEMA, COLUMN_DESCRIPTIONS)
SEVERITY = {True: AssetCheckSeverity.ERROR, False: AssetCheckSeverity.WARN}


def _result(outcome: CheckOutcome, error: bool = True) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=SEVERITY[error],
        description=outcome.description,
        metadata={
            k: v if isinstance(v, int | float | str) else MetadataValue.json(v)
            for k, v in outcome.metadata.items()
        },
    )


def _merge(day_outcomes: dict[date, CheckOutcome]) -> CheckOutcome:
    """One outcome for the run's days: passed when every day passed; metadata per failing day."""
    failing = {d: o for d, o in day_outcomes.items() if not o.passed}
    name = next(iter(day_outcomes.values())).name
    if not failing:
        return CheckOutcome(
            name, True, next(iter(day_outcomes.values())).description, {"days": len(day_outcomes)}
        )
    return CheckOutcome(
        name,
        False,
        "; ".join(f"{d}: {o.description}" for d, o in sorted(failing.items())),
        {d.isoformat(): o.metadata for d, o in sorted(failing.items())},
    )


@daily_asset(
    group_name=FACTS_GROUP,
    kinds={"python", "parquet"},
    deps=["raw_counts"],
    checks=[
        Check(
            ONE_ROW_PER_TRACKED_SHOW,
            "One row per tracked show: a repeated or untracked id is an ERROR; a show whose `any` "
            "query is missing (below raw_counts' coverage gate) a WARN listing it",
        ),
        Check(
            POSTS_BETWEEN,
            "max(hashtag_posts, text_posts) <= posts <= hashtag_posts + text_posts, per day and hour",
        ),
        Check(
            HOURS_COMPLETE,
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
        by_check: dict[str, dict[date, CheckOutcome]] = {}
        for day, rows in by_day.items():
            for outcome in (
                check_one_row_per_tracked_show(rows, tracked[day]),
                check_posts_between_max_and_sum(rows),
                check_hours_complete(rows),
            ):
                by_check.setdefault(outcome.name, {})[day] = outcome
        bug = any(
            o.metadata.get("repeated") or o.metadata.get("untracked")
            for o in by_check[ONE_ROW_PER_TRACKED_SHOW].values()
        )
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
            check_results=[
                _result(_merge(by_check[ONE_ROW_PER_TRACKED_SHOW]), error=bug),
                _result(_merge(by_check[POSTS_BETWEEN])),
                _result(_merge(by_check[HOURS_COMPLETE]), error=False),
            ],
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
    days = check_days(context, lake, "show_volume")
    outcomes: dict[date, CheckOutcome] = {}
    without: list[str] = []
    for day in days:
        exact = lake.table_rows("show_volume", day, ["id", "hashtag_posts", "text_posts", "posts"])
        sample = lake.table_rows("tweet_stat", day, ["id", "hashtag_count", "text_count", "tweet_count"])
        if exact is None or sample is None:
            without.append(day.isoformat())
            continue
        outcomes[day] = check_sample_drift(sample, exact)
    if not outcomes:
        return AssetCheckResult(
            passed=True,
            severity=AssetCheckSeverity.WARN,
            description="nothing to compare: no day has both tweet_stat and show_volume",
            metadata={"days_without_both": MetadataValue.json(without)},
        )
    merged = _merge(outcomes)
    flagged = [
        {"date": day.isoformat(), **f}
        for day, o in sorted(outcomes.items())
        for f in o.metadata.get("flagged", [])
    ]
    return AssetCheckResult(
        passed=merged.passed,
        severity=AssetCheckSeverity.WARN,
        description=merged.description,
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
            "days_compared": len(outcomes),
            "days_without_both": MetadataValue.json(without),
        },
    )
