"""TMDB /tv/{id} responses (one JSON object per line) -> show records, the tvshows dimension and the
tmdb_stat facts."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from pyspark.sql import types as T

from ingest_host.normalize import normalize_text
from ingest_host.tracked_shows import TrackedShow, TrackedShowList

TVSHOWS_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("name", T.StringType()),
        T.StructField("original_name", T.StringType()),
        T.StructField("original_language", T.StringType()),
        T.StructField("genres_id", T.ArrayType(T.IntegerType())),
        T.StructField("networks_id", T.ArrayType(T.IntegerType())),
        T.StructField("hashtags", T.ArrayType(T.StringType())),
        T.StructField("aliases", T.ArrayType(T.StringType())),
        T.StructField("date", T.DateType()),
    ]
)


def parse_tmdb_details(lines: Iterable[str]) -> tuple[dict[int, dict], Counter]:
    """Show records by TMDB id, and counts of what was skipped.

    A record is a JSON object with an integer `id`; error bodies (`success: false`, a `status_code`
    without an `id`), other JSON and unparsable lines are counted and skipped. A repeated id keeps
    the last record (a re-fetch within the day replaces the earlier answer)."""
    records: dict[int, dict] = {}
    counts: Counter = Counter()
    for line in lines:
        if not line.strip():
            counts["blank"] += 1
            continue
        try:
            value = json.loads(line)
        except ValueError:
            counts["corrupt"] += 1
            continue
        if not isinstance(value, dict):
            counts["other"] += 1
        elif value.get("success") is False or ("status_code" in value and "id" not in value):
            counts["error_bodies"] += 1
        elif isinstance(value.get("id"), int) and not isinstance(value.get("id"), bool):
            if value["id"] in records:
                counts["repeated"] += 1
            records[value["id"]] = value
            counts["records"] += 1
        else:
            counts["other"] += 1
    return records, counts


def is_int(value: object) -> bool:
    """A JSON integer (not a boolean, which Python counts as an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def text_or_none(value: object) -> str | None:
    """A non-blank string, trimmed; anything else (null, a number, "") is None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _ids(items: object) -> list[int]:
    """The integer ids of TMDB's `[{id, name}, ...]`, in TMDB's order, each once; a null list, items
    that are not objects and ids that are not integers are left out."""
    if not isinstance(items, list):
        return []
    ids = [i["id"] for i in items if isinstance(i, dict) and is_int(i.get("id"))]
    return list(dict.fromkeys(ids))


def tvshows_rows(tracked: TrackedShowList, details: dict[int, dict], day: date) -> list[dict]:
    """One row per tracked show: TMDB's names and ids where TMDB answered, the tracked list's name
    otherwise; hashtags and aliases from the tracked list (what tweet_stat matches against)."""
    rows = []
    for show in tracked:
        record = details.get(show.id, {})
        name = text_or_none(record.get("name")) or show.name.strip()
        aliases = list(show.aliases)
        if normalize_text(show.name) != normalize_text(name):
            aliases.insert(0, show.name)  # the tracked list's name keeps matching under TMDB's
        rows.append(
            {
                "id": show.id,
                "name": name,
                "original_name": text_or_none(record.get("original_name")),
                "original_language": text_or_none(record.get("original_language")),
                "genres_id": _ids(record.get("genres")),
                "networks_id": _ids(record.get("networks")),
                "hashtags": list(show.hashtags),
                "aliases": aliases,
                "date": day,
            }
        )
    return rows


def tracked_from_tvshows(rows: Iterable[dict]) -> list[TrackedShow]:
    """The matching terms of one day's tvshows rows (its name, aliases and hashtags)."""
    return [
        TrackedShow(int(r["id"]), r["name"], tuple(r["hashtags"] or ()), tuple(r["aliases"] or ()))
        for r in rows
    ]


# tmdb_stat: the columns and types of docs/design.md ("Table schemas"), in that order.
TMDB_STAT_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("number_of_seasons", T.LongType()),
        T.StructField("number_of_episodes", T.LongType()),
        T.StructField("vote_count", T.LongType()),
        T.StructField("vote_average", T.DoubleType()),
        T.StructField("popularity", T.DoubleType()),
    ]
)
TMDB_STAT_COUNTS = ("number_of_seasons", "number_of_episodes", "vote_count")
TMDB_STAT_MEASURES = ("vote_average", "popularity")


def _whole(value: object) -> int | None:
    """A count as TMDB sends it (an integer; a float with no fraction is accepted), else None."""
    if is_int(value):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _real(value: object) -> float | None:
    """A finite JSON number as a double, else None (null, strings, booleans, NaN)."""
    if is_int(value) or (isinstance(value, float) and math.isfinite(value)):
        return float(value)
    return None


@dataclass
class TmdbStatDay:
    """One day of tmdb_stat and what was left out of it or nulled on the way."""

    rows: list[dict]
    missing_ids: list[int]  # tracked that day, no TMDB record
    untracked_ids: list[int]  # a TMDB record for a show not tracked that day (not in the table)
    null_values: Counter = field(default_factory=Counter)  # column -> rows with null (absent or invalid)


def tmdb_stat_rows(tracked: TrackedShowList, details: dict[int, dict], day: date) -> TmdbStatDay:
    """One row per show tracked on `day` that has a TMDB record that day, typed as docs/design.md says.

    `date` is the day the snapshot was taken (the ingest host fetches at 23:30 UTC and labels the
    file with that UTC day), so the row describes TMDB's state on that day. A value that is absent,
    null or not a number of the right kind is stored as null and counted by column."""
    rows: list[dict] = []
    nulls: Counter = Counter()
    tracked_ids = [s.id for s in tracked]
    for show_id in tracked_ids:
        record = details.get(show_id)
        if record is None:
            continue
        row: dict = {"id": show_id, "date": day}
        for column in TMDB_STAT_COUNTS:
            row[column] = _whole(record.get(column))
        for column in TMDB_STAT_MEASURES:
            row[column] = _real(record.get(column))
        for column in (*TMDB_STAT_COUNTS, *TMDB_STAT_MEASURES):
            if row[column] is None:
                nulls[column] += 1
        rows.append(row)
    known = set(tracked_ids)
    return TmdbStatDay(
        rows=rows,
        missing_ids=sorted(i for i in known if i not in details),
        untracked_ids=sorted(i for i in details if i not in known),
        null_values=nulls,
    )


def stale_popularity(today: Iterable[dict], previous: Iterable[dict] | None) -> list[int] | None:
    """Ids whose popularity is exactly the previous day's: TMDB did not refresh them (an
    unchanged value means "not refreshed", not "no change"). None when there is no previous
    day to compare with; shows without a popularity on either day are not compared."""
    if previous is None:
        return None
    before = {int(r["id"]): r["popularity"] for r in previous if r.get("popularity") is not None}
    return sorted(
        int(r["id"])
        for r in today
        if r.get("popularity") is not None and before.get(int(r["id"])) == r["popularity"]
    )
