"""Pure functions of the TMDB side: the date row, genres/networks/tvshows/tmdb_stat rows from bad
TMDB input (error bodies, empty or null lists, nulls, wrong types, non-Latin names), stale
popularity, and the check rules (coverage severities, referential integrity read from a lake)."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetCheckSeverity

from ingest_host import layout
from ingest_host.tracked_shows import TrackedShow, TrackedShowList
from trending_tv import checks
from trending_tv.assets.integrity import check_days, ids_in_parent
from trending_tv.resources.lake import LakeResource
from trending_tv.settings import DataQualityResource, Settings, SettingsError, settings_resources
from trending_tv.transforms.dimensions import (
    date_row,
    genres_rows,
    is_non_latin,
    networks_rows,
    tvshows_quality,
)
from trending_tv.transforms.tmdb import parse_tmdb_details, stale_popularity, tmdb_stat_rows, tvshows_rows

DAY = date(2020, 11, 23)


@pytest.mark.parametrize(
    ("day", "weekday"),
    [
        (date(2020, 11, 23), 1),  # Monday
        (date(2020, 11, 29), 7),  # Sunday
        (date(2020, 12, 31), 4),  # the day the 2020 project's table missed (Thursday)
        (date(2021, 1, 1), 5),  # across the year end (Friday)
        (date(2024, 2, 29), 4),  # leap day (Thursday)
        (date(2100, 3, 1), 1),  # 2100 is not a leap year: 28 Feb is a Sunday, 1 Mar a Monday
    ],
)
def test_date_row_is_the_iso_calendar(day, weekday):
    assert date_row(day) == {
        "date": day,
        "weekday": weekday,
        "day": day.day,
        "month": day.month,
        "year": day.year,
    }


def _tracked(*ids: int) -> TrackedShowList:
    return TrackedShowList([TrackedShow(i, f"Show {i}", (f"#Show{i}",)) for i in ids])


BAD_LINES = [
    json.dumps(
        {
            "id": 1,
            "name": "Дуэты",  # non-Latin (Cyrillic)
            "original_name": "Дуэты",
            "original_language": "ru",
            "genres": [{"id": 18, "name": "Drama"}, {"id": 18, "name": "Drama"}, {"id": "35", "name": "x"}],
            "networks": [{"id": 1191, "name": "Россия 1", "origin_country": "RU", "logo_path": None}],
            "number_of_seasons": 2,
            "number_of_episodes": 24.0,  # an integral float is a count
            "vote_count": "12",  # a string is not
            "vote_average": 7.25,
            "popularity": 0.0,  # a real value
        },
        ensure_ascii=False,
    ),
    json.dumps({"success": False, "status_code": 34, "status_message": "not found"}),  # error body
    "{corrupt",
    "",
    json.dumps(
        {
            "id": 2,
            "name": None,  # null name: the tracked list's name stands in
            "original_name": "",
            "original_language": None,
            "genres": [],  # empty
            "networks": None,  # null
            "number_of_seasons": None,
            "number_of_episodes": True,  # a boolean is not a count
            "vote_count": 5,
            "vote_average": "8",
            "popularity": float("nan"),  # json.dumps writes NaN, json.loads reads it back
        }
    ),
    json.dumps(
        {
            "id": 3,
            "name": "  Netflix Show ",
            "genres": [
                {"id": 18, "name": "Drama (renamed)"},
                {"id": 10765, "name": None},
                "junk",
                {"id": True},
            ],
            "networks": [
                {"id": 213, "name": "Netflix", "origin_country": ""},
                {"id": 1191, "name": "Россия 1", "origin_country": None},
            ],
            "popularity": 3,
        }
    ),
    json.dumps({"id": 4, "name": "Show 4", "genres": [{"id": 10765, "name": "Sci-Fi & Fantasy"}]}),
    json.dumps({"id": 5, "networks": [{"id": 213, "name": "Netflix", "origin_country": "US"}]}),
    json.dumps({"id": 99, "name": "not tracked", "popularity": 1.0}),
]


def test_parse_counts_error_bodies_and_corrupt_lines():
    details, counts = parse_tmdb_details(BAD_LINES)
    assert sorted(details) == [1, 2, 3, 4, 5, 99]
    assert counts == {"records": 6, "error_bodies": 1, "corrupt": 1, "blank": 1}


def test_genres_and_networks_deduplicate_on_id_and_keep_tmdb_country():
    details, _ = parse_tmdb_details(BAD_LINES)
    tracked = _tracked(1, 2, 3, 4, 5, 6)  # 6 has no record; 99 is not tracked
    genres = genres_rows(tracked, details, DAY)
    assert [(r["id"], r["name"]) for r in genres.rows] == [
        (18, "Drama"),  # first name wins; the conflicting "Drama (renamed)" is counted
        (10765, "Sci-Fi & Fantasy"),  # a null name is filled from a later record
    ]
    assert all(r["date"] == DAY for r in genres.rows)
    assert genres.counts == {"invalid_items": 3, "without_name": 0, "name_conflicts": 1}

    networks = networks_rows(tracked, details, DAY)
    assert [(r["id"], r["name"], r["origin_country"]) for r in networks.rows] == [
        (213, "Netflix", "US"),  # blank on show 3, TMDB's value on show 5: blank only when TMDB has none
        (1191, "Россия 1", "RU"),
    ]
    assert networks.counts == {"invalid_items": 0, "without_name": 0, "name_conflicts": 0}


def test_tvshows_rows_survive_nulls_and_keep_non_latin_names():
    details, _ = parse_tmdb_details(BAD_LINES)
    tracked = _tracked(1, 2, 3, 6)
    rows = {r["id"]: r for r in tvshows_rows(tracked, details, DAY)}
    assert rows[1]["name"] == "Дуэты" and rows[1]["genres_id"] == [18]  # the repeated genre once
    assert rows[1]["aliases"] == ["Show 1"]  # the tracked name keeps matching under TMDB's
    assert rows[2]["name"] == "Show 2"
    assert (rows[2]["original_name"], rows[2]["original_language"]) == (None, None)
    assert (rows[2]["genres_id"], rows[2]["networks_id"]) == ([], [])
    assert rows[3]["name"] == "Netflix Show" and rows[3]["genres_id"] == [18, 10765]
    assert rows[6]["name"] == "Show 6" and rows[6]["hashtags"] == ["#Show6"]
    quality = tvshows_quality(rows.values(), details)
    assert quality == {
        "without_tmdb_record": 1,
        "without_genres": 2,
        "without_networks": 2,
        "without_original_name": 3,
        "non_latin_names": 1,
    }
    assert is_non_latin("進撃の巨人") and is_non_latin("사랑의 불시착")
    assert not is_non_latin("Pokémon: Journeys") and not is_non_latin(None)


def test_tmdb_stat_rows_are_typed_nulls_counted_and_missing_listed():
    details, _ = parse_tmdb_details(BAD_LINES)
    day = tmdb_stat_rows(_tracked(1, 2, 3, 6), details, DAY)
    by_id = {r["id"]: r for r in day.rows}
    assert sorted(by_id) == [1, 2, 3]  # one row per tracked show with a record
    assert by_id[1] == {
        "id": 1,
        "date": DAY,
        "number_of_seasons": 2,
        "number_of_episodes": 24,
        "vote_count": None,
        "vote_average": 7.25,
        "popularity": 0.0,
    }
    assert by_id[2]["popularity"] is None and by_id[2]["number_of_episodes"] is None
    assert by_id[3]["popularity"] == 3.0 and isinstance(by_id[3]["popularity"], float)
    assert day.missing_ids == [6]
    assert day.untracked_ids == [4, 5, 99]  # records of shows not tracked that day are left out
    assert day.null_values == {
        "vote_count": 2,  # a string on show 1, absent on show 3
        "number_of_seasons": 2,
        "number_of_episodes": 2,
        "vote_average": 2,
        "popularity": 1,
    }


def test_stale_popularity_compares_with_the_previous_day_only_when_there_is_one():
    today = [{"id": 1, "popularity": 5.0}, {"id": 2, "popularity": 7.5}, {"id": 3, "popularity": None}]
    before = [{"id": 1, "popularity": 5.0}, {"id": 2, "popularity": 7.0}, {"id": 3, "popularity": None}]
    assert stale_popularity(today, before) == [1]
    assert stale_popularity(today, None) is None
    assert stale_popularity(today, []) == []


def test_coverage_is_an_error_below_the_threshold_and_a_warning_for_any_missing_show():
    tracked = {DAY: set(range(1, 21))}
    rows = [{"id": i, "date": DAY} for i in range(1, 20)]  # 19 of 20 = 95 %
    warn = checks.tmdb_coverage(rows, tracked, 0.95)
    assert (warn.passed, warn.severity) == (False, AssetCheckSeverity.WARN)
    assert warn.metadata["missing_ids"].value == {"2020-11-23": [20]}
    error = checks.tmdb_coverage(rows[:-1], tracked, 0.95)  # 18 of 20 = 90 %
    assert (error.passed, error.severity) == (False, AssetCheckSeverity.ERROR)
    assert error.metadata["days_below_threshold"].value == ["2020-11-23"]
    full = checks.tmdb_coverage([*rows, {"id": 20, "date": DAY}], tracked, 0.95)
    assert full.passed


def test_coverage_threshold_comes_from_the_environment():
    def data_quality(env: dict) -> DataQualityResource:
        return settings_resources(Settings.from_env(env))["data_quality"]

    assert data_quality({}).tmdb_min_coverage == 0.95
    assert data_quality({"TRENDING_TV_TMDB_MIN_COVERAGE": "0.5"}).tmdb_min_coverage == 0.5
    with pytest.raises(SettingsError, match=r"TRENDING_TV_TMDB_MIN_COVERAGE='95' must be between 0 and 1"):
        data_quality({"TRENDING_TV_TMDB_MIN_COVERAGE": "95"})
    with pytest.raises(SettingsError, match=r"TRENDING_TV_TMDB_MIN_COVERAGE='high' is not a number"):
        data_quality({"TRENDING_TV_TMDB_MIN_COVERAGE": "high"})


def test_row_rules_unique_keys_names_and_hashtags():
    rows = [
        {"id": 1, "date": DAY, "name": "A", "hashtags": ["#A"]},
        {"id": 1, "date": DAY, "name": " ", "hashtags": []},
    ]
    unique = checks.unique_key(rows, ["id", "date"], "unique_id_date")
    assert not unique.passed and unique.metadata["sample"].value == ["1@2020-11-23"]
    named = checks.named_and_tagged(rows)
    assert not named.passed
    assert (named.metadata["without_name"].value, named.metadata["without_hashtag"].value) == (1, 1)
    assert checks.named_and_tagged(rows[:1]).passed


def _write(root, table: str, day: date, rows: list[dict], schema: pa.Schema) -> None:
    folder = root / layout.table_partition_prefix(table, day)
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-00000.snappy.parquet")


def test_referential_integrity_reads_the_lake(tmp_path):
    shows = pa.schema([("id", pa.int64()), ("genres_id", pa.list_(pa.int32())), ("date", pa.date32())])
    genres = pa.schema([("id", pa.int32()), ("name", pa.string()), ("date", pa.date32())])
    nov24 = date(2020, 11, 24)
    _write(tmp_path, "tvshows", DAY, [{"id": 1, "genres_id": [18, 99], "date": DAY}], shows)
    _write(tmp_path, "tvshows", nov24, [{"id": 1, "genres_id": None, "date": nov24}], shows)
    _write(tmp_path, "genres", DAY, [{"id": 18, "name": "Drama", "date": DAY}], genres)
    lake = LakeResource(url=str(tmp_path))

    orphan = ids_in_parent(lake, [DAY], "tvshows", "genres_id", "genres", "genres_id_in_genres")
    assert (orphan.passed, orphan.severity) == (False, AssetCheckSeverity.ERROR)
    assert orphan.metadata["orphan_ids"].value == {"2020-11-23": [99]}

    # genres of 11-24 were never materialized: nothing to verify is a warning, not an error
    absent = ids_in_parent(lake, [nov24], "tvshows", "genres_id", "genres", "genres_id_in_genres")
    assert (absent.passed, absent.severity) == (False, AssetCheckSeverity.WARN)
    assert absent.metadata["absent_partitions"].value == ["2020-11-24: no genres partition"]

    ok = ids_in_parent(lake, [DAY], "tvshows", "id", "tvshows", "ids_in_tvshows")
    assert ok.passed

    # run on its own (no partition tags), a check covers every day of its table in the lake
    context = SimpleNamespace(run=SimpleNamespace(tags={}))
    assert check_days(context, lake, "tvshows") == [DAY, nov24]
    ranged = SimpleNamespace(
        run=SimpleNamespace(
            tags={
                "dagster/asset_partition_range_start": "2020-12-30",
                "dagster/asset_partition_range_end": "2021-01-02",
            }
        )
    )
    assert check_days(ranged, lake, "tvshows") == [date(2020, 12, d) for d in (30, 31)] + [
        date(2021, 1, d) for d in (1, 2)
    ]
