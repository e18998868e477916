"""Data-quality rules evaluated on the rows a run just wrote (in-asset checks: per-partition
checks that take the asset as input would load every partition)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from trending_tv.constants import (
    COUNTS_CONSISTENT,
    NAMED_AND_TAGGED,
    ONE_ROW_PER_TRACKED_SHOW,
    POPULARITY_REFRESHED,
    TMDB_COVERAGE,
    UNIQUE_ID_DATE,
)
from trending_tv.raw_manifest import DayCoverage
from trending_tv.transforms.show_volume import HOURLY_COLUMN, HOURS, QUERY_KINDS

_SAMPLE = 20  # ids listed in check metadata at most


def one_row_per_tracked_show(
    rows: Sequence[Mapping],
    tracked: Mapping[date, set[int]],
    *,
    missing_severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
) -> AssetCheckResult:
    """Every show tracked on a day has a row that day, and no other show has one. A row of an
    untracked show is an ERROR; a tracked show without a row is `missing_severity` (show_volume
    leaves out a show whose counts did not land: a gap to list, not a bug)."""
    seen: dict[date, set[int]] = {}
    for row in rows:
        seen.setdefault(row["date"], set()).add(int(row["id"]))
    missing = {d.isoformat(): sorted(ids - seen.get(d, set())) for d, ids in tracked.items()}
    extra = {d.isoformat(): sorted(ids - tracked.get(d, set())) for d, ids in seen.items()}
    missing = {d: ids for d, ids in missing.items() if ids}
    extra = {d: ids for d, ids in extra.items() if ids}
    missing_count = sum(len(ids) for ids in missing.values())
    extra_count = sum(len(ids) for ids in extra.values())
    problems = [f"{missing_count} tracked show-days without a row"] if missing else []
    problems += [f"{extra_count} rows of untracked shows"] if extra else []
    return AssetCheckResult(
        check_name=ONE_ROW_PER_TRACKED_SHOW,
        passed=not missing and not extra,
        severity=AssetCheckSeverity.ERROR if extra else missing_severity,
        description="; ".join(problems) or None,
        metadata={
            "tracked_shows": sum(len(ids) for ids in tracked.values()),
            "rows": len(rows),
            "missing": missing_count,
            "unexpected": extra_count,
            "missing_ids": MetadataValue.json({d: ids[:_SAMPLE] for d, ids in missing.items()}),
            "unexpected_ids": MetadataValue.json({d: ids[:_SAMPLE] for d, ids in extra.items()}),
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


def _between_max_and_sum(hashtag: int, text: int, either: int) -> bool:
    """Posts matching either rule are at least those of each rule and at most both added."""
    return min(hashtag, text) >= 0 and max(hashtag, text) <= either <= hashtag + text


def counts_consistent(
    rows: Sequence[Mapping],
    *,
    columns: tuple[str, str, str] = ("hashtag_count", "text_count", "tweet_count"),
    hourly_columns: tuple[str, str, str] | None = None,
    check_name: str = COUNTS_CONSISTENT,
) -> AssetCheckResult:
    """max(hashtag, text) <= either <= hashtag + text, all >= 0, for the (hashtag, text, either)
    `columns` of each row and, with `hourly_columns`, each hour of their series. A value that is
    None (a query X's counts lack) is not judged: hours_complete reports it."""
    bad: list[str] = []
    for r in rows:
        key = f"{r['id']}@{r['date']}"
        values = [r[c] for c in columns]
        if None not in values and not _between_max_and_sum(*values):
            bad.append(key)
        if hourly_columns is None:
            continue
        series = [r[c] for c in hourly_columns]
        if None in series:
            continue
        for hour, hour_values in enumerate(zip(*series, strict=True)):
            if None not in hour_values and not _between_max_and_sum(*hour_values):
                bad.append(f"{key} hour {hour:02d}")
    return AssetCheckResult(
        check_name=check_name,
        passed=not bad,
        severity=AssetCheckSeverity.ERROR,
        description=f"{len(bad)} violation(s)" if bad else None,
        metadata={"violations": len(bad), "sample": MetadataValue.json(bad[:_SAMPLE])},
    )


# --- The TMDB side and the dimensions ---


def tmdb_coverage(
    rows: Sequence[Mapping], tracked: Mapping[date, set[int]], min_coverage: float
) -> AssetCheckResult:
    """Share of the tracked shows with a TMDB record, per day: ERROR when a day is below
    `min_coverage`, WARN when any show is missing on any day; the missing ids are listed."""
    seen: dict[date, set[int]] = {}
    for row in rows:
        seen.setdefault(row["date"], set()).add(int(row["id"]))
    coverage = {d: (len(ids & seen.get(d, set())) / len(ids) if ids else 1.0) for d, ids in tracked.items()}
    missing = {d.isoformat(): sorted(ids - seen.get(d, set())) for d, ids in tracked.items()}
    missing = {d: ids for d, ids in missing.items() if ids}
    low = sorted(d.isoformat() for d, share in coverage.items() if share < min_coverage)
    if low:
        description = f"coverage below {min_coverage:.0%} on {', '.join(low)}"
    elif missing:
        description = f"{sum(len(v) for v in missing.values())} tracked show-days without a TMDB record"
    else:
        description = None
    return AssetCheckResult(
        check_name=TMDB_COVERAGE,
        passed=not missing,
        severity=AssetCheckSeverity.ERROR if low else AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "min_coverage": min_coverage,
            "lowest_coverage": round(min(coverage.values(), default=1.0), 4),
            "coverage_by_day": MetadataValue.json({d.isoformat(): round(c, 4) for d, c in coverage.items()}),
            "days_below_threshold": MetadataValue.json(low),
            "missing": sum(len(v) for v in missing.values()),
            "missing_ids": MetadataValue.json(missing),
        },
    )


def popularity_refreshed(stale: Mapping[date, list[int] | None]) -> AssetCheckResult:
    """WARN when a show's popularity is exactly the previous day's (TMDB did not refresh it).
    `stale[day]` is None when the previous day has no tmdb_stat partition to compare with."""
    found = {d.isoformat(): ids for d, ids in stale.items() if ids}
    unchecked = sorted(d.isoformat() for d, ids in stale.items() if ids is None)
    count = sum(len(ids) for ids in found.values())
    return AssetCheckResult(
        check_name=POPULARITY_REFRESHED,
        passed=not found,
        severity=AssetCheckSeverity.WARN,
        description=f"{count} show-days with the previous day's popularity" if found else None,
        metadata={
            "stale": count,
            "stale_by_day": MetadataValue.json({d: len(ids) for d, ids in found.items()}),
            "stale_ids": MetadataValue.json(found),
            "days_without_previous_day": MetadataValue.json(unchecked),
        },
    )


def unique_key(rows: Sequence[Mapping], columns: Sequence[str], check_name: str) -> AssetCheckResult:
    """No two rows share the values of `columns` (a table's key, e.g. (id, date) or (date,))."""
    counts = Counter(tuple(r[c] for c in columns) for r in rows)
    repeated = sorted("@".join(str(v) for v in key) for key, n in counts.items() if n > 1)
    return AssetCheckResult(
        check_name=check_name,
        passed=not repeated,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "key": ", ".join(columns),
            "repeated_keys": len(repeated),
            "sample": MetadataValue.json(repeated[:_SAMPLE]),
        },
    )


def named_and_tagged(rows: Sequence[Mapping]) -> AssetCheckResult:
    """Every tvshows row has a non-blank name and at least one hashtag (what posts are matched on)."""
    unnamed = sorted(f"{r['id']}@{r['date']}" for r in rows if not (r["name"] or "").strip())
    untagged = sorted(f"{r['id']}@{r['date']}" for r in rows if not [h for h in r["hashtags"] or [] if h])
    return AssetCheckResult(
        check_name=NAMED_AND_TAGGED,
        passed=not unnamed and not untagged,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "without_name": len(unnamed),
            "without_hashtag": len(untagged),
            "sample": MetadataValue.json((unnamed + untagged)[:_SAMPLE]),
        },
    )


def ids_within(
    child: Mapping[date, Iterable[int] | None],
    parent: Mapping[date, set[int] | None],
    check_name: str,
    child_name: str,
    parent_name: str,
) -> AssetCheckResult:
    """Referential integrity per day: every id of `child_name` is among `parent_name`'s ids of the
    same day. Orphan ids are an ERROR; a day whose child or parent partition is absent (None) is a
    WARN (nothing could be verified that day: the table was not materialized)."""
    orphans: dict[str, list[int]] = {}
    absent: list[str] = []
    checked = 0
    for day, ids in sorted(child.items()):
        known = parent.get(day)
        if ids is None or known is None:
            absent.append(f"{day}: no {child_name if ids is None else parent_name} partition")
            continue
        values = set(ids)
        checked += len(values)
        lost = sorted(values - known)
        if lost:
            orphans[day.isoformat()] = lost[:_SAMPLE]
    count = sum(len(v) for v in orphans.values())
    problems = ([f"{count} {child_name} ids not in {parent_name}"] if orphans else []) + absent
    return AssetCheckResult(
        check_name=check_name,
        passed=not orphans and not absent,
        severity=AssetCheckSeverity.ERROR if orphans else AssetCheckSeverity.WARN,
        description="; ".join(problems) or None,
        metadata={
            "days": len(child),
            "distinct_ids_checked": checked,
            "orphans": count,
            "orphan_ids": MetadataValue.json(orphans),
            "absent_partitions": MetadataValue.json(absent),
        },
    )


# --- Collection coverage (the ingest host's day coverage files) ---

COLLECTION_COVERAGE = "collection_coverage"


def _hour_list(labels: Sequence[str], minutes: Mapping[str, int] | None = None) -> str:
    if minutes is None:
        return ", ".join(labels)
    return ", ".join(f"{h} ({minutes[h]} min)" for h in labels)


def collection_coverage(coverage: Mapping[date, DayCoverage | None], min_share: float) -> AssetCheckResult:
    """WARN when a day's collection covered less than `min_share` of its 1,440 minutes, naming the
    hours not covered (missing: no file; pending or open: not uploaded or not finished when the
    coverage file was written) and the partial ones, or saying the coverage file is unreadable; a day
    without a coverage file is "coverage unknown" (uploaded before coverage was recorded), also a WARN."""
    problems: list[str] = []
    below: dict[str, dict] = {}
    unknown = sorted(d.isoformat() for d, c in coverage.items() if c is None)
    for day, cov in sorted(coverage.items()):
        if cov is None:
            continue
        if cov.share_of_day >= min_share:
            continue
        not_covered = cov.hours_in("missing", "pending", "open", "unknown")
        partial = cov.hours_in("partial")
        minutes = {h: cov.minutes(h) for h in partial}
        below[day.isoformat()] = {
            "share_of_day": round(cov.share_of_day, 4),
            "hours_not_covered": not_covered,
            "partial_hours": minutes,
            "final": cov.final,
        }
        if cov.error:  # an unreadable file vouches for nothing: say so instead of listing 24 hours
            below[day.isoformat()] = {"share_of_day": 0.0, "unreadable": cov.error}
            problems.append(f"{day}: coverage file unreadable ({cov.error})")
            continue
        parts = [f"{cov.share_of_day:.1%} of the day's minutes covered"]
        if not_covered:
            parts.append(f"{len(not_covered)} hour(s) not covered: {_hour_list(not_covered)}")
        if partial:
            parts.append(f"partial: {_hour_list(partial, minutes)}")
        if not cov.final:
            parts.append("coverage file written before the day ended")
        problems.append(f"{day}: " + "; ".join(parts))
    unknown_note = "coverage unknown (no coverage file: uploaded before coverage was recorded)"
    problems += [f"{d}: {unknown_note}" for d in unknown]
    heading = f"below {min_share:.0%} of the day's minutes: " if below else ""
    description = heading + " | ".join(problems) if problems else None
    return AssetCheckResult(
        check_name=COLLECTION_COVERAGE,
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "min_share": min_share,
            "lowest_share": round(
                min((c.share_of_day for c in coverage.values() if c is not None), default=1.0), 4
            ),
            "days_below_threshold": MetadataValue.json(below),
            "days_coverage_unknown": MetadataValue.json(unknown),
        },
    )


# --- Exact volumes (show_volume) ---

POSTS_BETWEEN_MAX_AND_SUM = "posts_between_max_and_sum"
HOURS_COMPLETE = "hours_complete"


def hours_complete(rows: Sequence[Mapping]) -> AssetCheckResult:
    """WARN unless every row has its three queries with all 24 hours; lists each incomplete
    show query with its missing hours (or "query missing")."""
    gaps: dict[str, object] = {}
    for row in rows:
        for kind in QUERY_KINDS:
            series = row[HOURLY_COLUMN[kind]]
            key = f"{row['id']}@{row['date']}:{kind}"
            if series is None:
                gaps[key] = "query missing"
            elif len(series) != HOURS or None in series:
                gaps[key] = [h for h in range(HOURS) if h >= len(series) or series[h] is None]
    return AssetCheckResult(
        check_name=HOURS_COMPLETE,
        passed=not gaps,
        severity=AssetCheckSeverity.WARN,
        description=f"{len(gaps)} show queries incomplete" if gaps else None,
        metadata={
            "incomplete": len(gaps),
            "sample": MetadataValue.json(dict(list(gaps.items())[:_SAMPLE])),
        },
    )
