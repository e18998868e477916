"""TMDB /tv/{id} responses (one JSON object per line) -> show records, and the tvshows dimension."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
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


def _ids(items: object) -> list[int]:
    if not isinstance(items, list):
        return []
    return [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]


def tvshows_rows(tracked: TrackedShowList, details: dict[int, dict], day: date) -> list[dict]:
    """One row per tracked show: TMDB's names and ids where TMDB answered, the tracked list's name
    otherwise; hashtags and aliases from the tracked list (what tweet_stat matches against)."""
    rows = []
    for show in tracked:
        record = details.get(show.id, {})
        name = (record.get("name") or show.name).strip()
        aliases = list(show.aliases)
        if normalize_text(show.name) != normalize_text(name):
            aliases.insert(0, show.name)  # the tracked list's name keeps matching under TMDB's
        rows.append(
            {
                "id": show.id,
                "name": name,
                "original_name": record.get("original_name") or None,
                "original_language": record.get("original_language") or None,
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
