"""The genres, networks and date dimensions of a day, in plain Python (a day is a few hundred rows).

genres and networks are the distinct ids found in the day's TMDB records of the tracked shows,
deduplicated on id (the 2020 project deduplicated on (id, name), so a renamed genre appeared
twice); a network's `origin_country` is TMDB's own value for that network, blank only
when TMDB has none. The date row is the calendar of the partition day, ISO weekday (1 = Monday)."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
from pyspark.sql import types as T

from ingest_host.tracked_shows import TrackedShowList
from trending_tv.transforms.tmdb import is_int, text_or_none

GENRES_SCHEMA = T.StructType(
    [
        T.StructField("id", T.IntegerType()),
        T.StructField("name", T.StringType()),
        T.StructField("date", T.DateType()),
    ]
)
NETWORKS_SCHEMA = T.StructType(
    [
        T.StructField("id", T.IntegerType()),
        T.StructField("name", T.StringType()),
        T.StructField("origin_country", T.StringType()),
        T.StructField("date", T.DateType()),
    ]
)
# The date table's file columns: its day, month and year are the partition folders
# (analytics/date/year=YYYY/month=MM/day=DD/), which Athena and DuckDB expose as columns.
DATE_ARROW_SCHEMA = pa.schema([pa.field("date", pa.date32()), pa.field("weekday", pa.int32())])
CATALOG_COUNTS = ("invalid_items", "without_name", "name_conflicts")
TVSHOWS_COUNTS = (
    "without_tmdb_record",
    "without_genres",
    "without_networks",
    "without_original_name",
    "non_latin_names",
)


@dataclass
class CatalogDay:
    """One day of genres or networks, and what the TMDB records got wrong on the way."""

    rows: list[dict]
    counts: Counter = field(default_factory=Counter)  # invalid_items, without_name, name_conflicts


def _catalog_rows(
    tracked: TrackedShowList, details: Mapping[int, dict], day: date, list_field: str, country: bool
) -> CatalogDay:
    rows: dict[int, dict] = {}
    counts: Counter = Counter()
    for show in tracked:
        items = details.get(show.id, {}).get(list_field)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict) or not is_int(item.get("id")):
                counts["invalid_items"] += 1
                continue
            name = text_or_none(item.get("name"))
            row = rows.get(item["id"])
            if row is None:
                row = rows[item["id"]] = {"id": item["id"], "name": name, "date": day}
                if country:
                    row["origin_country"] = ""
            elif name and row["name"] is None:
                row["name"] = name
            elif name and row["name"] != name:
                counts["name_conflicts"] += 1  # the first name seen wins
            if country and not row["origin_country"]:
                row["origin_country"] = text_or_none(item.get("origin_country")) or ""
    counts["without_name"] = sum(1 for r in rows.values() if r["name"] is None)
    stable = Counter({k: counts[k] for k in CATALOG_COUNTS})
    return CatalogDay(rows=sorted(rows.values(), key=lambda r: r["id"]), counts=stable)


def genres_rows(tracked: TrackedShowList, details: Mapping[int, dict], day: date) -> CatalogDay:
    """The distinct genres of the day's tracked shows: (id, name), one row per id."""
    return _catalog_rows(tracked, details, day, "genres", country=False)


def networks_rows(tracked: TrackedShowList, details: Mapping[int, dict], day: date) -> CatalogDay:
    """The distinct networks of the day's tracked shows: (id, name, origin_country), one row per id."""
    return _catalog_rows(tracked, details, day, "networks", country=True)


def date_row(day: date) -> dict:
    """The calendar row of `day`: ISO weekday (1 = Monday .. 7 = Sunday), day, month and year."""
    return {"date": day, "weekday": day.isoweekday(), "day": day.day, "month": day.month, "year": day.year}


def is_non_latin(name: str | None) -> bool:
    """True when the name has a letter of a script other than Latin (Cyrillic, Japanese, Hangul...)."""
    return any(ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN") for ch in name or "")


def tvshows_quality(rows: Iterable[Mapping], details: Mapping[int, dict]) -> Counter:
    """What the day's tvshows rows lack, counted for metadata: no TMDB record (the tracked list's
    name stands in), no genres, no networks, no original name; and names in a non-Latin script."""
    counts: Counter = Counter({k: 0 for k in TVSHOWS_COUNTS})
    for row in rows:
        counts["without_tmdb_record"] += row["id"] not in details
        counts["without_genres"] += not row["genres_id"]
        counts["without_networks"] += not row["networks_id"]
        counts["without_original_name"] += row["original_name"] is None
        counts["non_latin_names"] += is_non_latin(row["name"]) or is_non_latin(row["original_name"])
    return counts
