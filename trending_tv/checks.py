"""Data-quality rules evaluated on the rows a run just wrote (in-asset checks: per-partition
checks that take the asset as input would load every partition)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from trending_tv.constants import COUNTS_CONSISTENT, ONE_ROW_PER_TRACKED_SHOW, UNIQUE_ID_DATE

_SAMPLE = 20  # ids listed in check metadata at most


def one_row_per_tracked_show(rows: Sequence[Mapping], tracked: Mapping[date, set[int]]) -> AssetCheckResult:
    """Every show tracked on a day has a row that day, and no other show has one."""
    seen: dict[date, set[int]] = {}
    for row in rows:
        seen.setdefault(row["date"], set()).add(int(row["id"]))
    missing = {d.isoformat(): sorted(ids - seen.get(d, set()))[:_SAMPLE] for d, ids in tracked.items()}
    extra = {d.isoformat(): sorted(ids - tracked.get(d, set()))[:_SAMPLE] for d, ids in seen.items()}
    missing = {d: ids for d, ids in missing.items() if ids}
    extra = {d: ids for d, ids in extra.items() if ids}
    return AssetCheckResult(
        check_name=ONE_ROW_PER_TRACKED_SHOW,
        passed=not missing and not extra,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "tracked_shows": sum(len(ids) for ids in tracked.values()),
            "rows": len(rows),
            "missing_ids": MetadataValue.json(missing),
            "unexpected_ids": MetadataValue.json(extra),
        },
    )


def unique_id_date(rows: Sequence[Mapping]) -> AssetCheckResult:
    counts = Counter((int(r["id"]), r["date"]) for r in rows)
    repeated = sorted(f"{i}@{d}" for (i, d), n in counts.items() if n > 1)
    return AssetCheckResult(
        check_name=UNIQUE_ID_DATE,
        passed=not repeated,
        severity=AssetCheckSeverity.ERROR,
        metadata={"repeated_keys": len(repeated), "sample": MetadataValue.json(repeated[:_SAMPLE])},
    )


def counts_consistent(rows: Sequence[Mapping]) -> AssetCheckResult:
    """max(hashtag_count, text_count) <= tweet_count <= hashtag_count + text_count, all >= 0."""
    bad = [
        f"{r['id']}@{r['date']}"
        for r in rows
        if min(r["hashtag_count"], r["text_count"]) < 0
        or not max(r["hashtag_count"], r["text_count"])
        <= r["tweet_count"]
        <= r["hashtag_count"] + r["text_count"]
    ]
    return AssetCheckResult(
        check_name=COUNTS_CONSISTENT,
        passed=not bad,
        severity=AssetCheckSeverity.ERROR,
        metadata={"violations": len(bad), "sample": MetadataValue.json(bad[:_SAMPLE])},
    )
