"""The TMDB side through Dagster: materialize() of raw_tmdb, tvshows, genres, networks, date and
tmdb_stat (with tweet_stat and every check) as one single-run range over a small lake whose TMDB
file has bad input: an error body, a corrupt line, a record of an untracked show, a tracked show
without a record, empty and null lists, null and mistyped values, a non-Latin name."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from dagster import AssetCheckSeverity, DagsterInstance, materialize

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.assets.dimensions import (
    date_dimension,
    genres,
    networks,
    tvshows,
    tvshows_genres_in_genres,
    tvshows_networks_in_networks,
)
from trending_tv.assets.raw import raw_tmdb, raw_tweets
from trending_tv.assets.tmdb_stat import tmdb_stat, tmdb_stat_ids_in_tvshows
from trending_tv.assets.tweet_stat import tweet_stat, tweet_stat_ids_in_tvshows
from trending_tv.settings import DataQualityResource
from trending_tv_tests.lake_fixtures import SHOWS, tiny_lake, tmdb_record, write_day_dimensions, write_hour
from trending_tv_tests.test_slice_materialize import resources

ASSETS = [
    raw_tweets,
    raw_tmdb,
    tvshows,
    genres,
    networks,
    date_dimension,
    tmdb_stat,
    tweet_stat,
    tvshows_genres_in_genres,
    tvshows_networks_in_networks,
    tmdb_stat_ids_in_tvshows,
    tweet_stat_ids_in_tvshows,
]
DAY1, DAY2 = date(2020, 11, 23), date(2020, 11, 24)
RANGE = {
    "dagster/asset_partition_range_start": "2020-11-23",
    "dagster/asset_partition_range_end": "2020-11-24",
}
TABLES = ["tvshows", "genres", "networks", "date", "tmdb_stat", "tweet_stat"]
TMDB_SIDE = [a for a in ASSETS if a not in (raw_tweets, tweet_stat, tweet_stat_ids_in_tvshows)]


def metadata(result, key: str) -> dict:
    """The run's metadata of `key` (a single-run range records one event per day, same metadata)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    assert [e.materialization.partition for e in events] == list(RANGE.values())
    return events[0].materialization.metadata


def bad_tmdb_lines() -> list[str]:
    lost, dexter, lab, svu, _greys, mando = (tmdb_record(s) for s in SHOWS)
    lost.update(name="ロスト", original_name="LOST", popularity=40.0)  # non-Latin TMDB name
    dexter.update(genres=[], networks=[])  # empty lists
    lab.update(genres=None, networks=None, popularity=None, vote_count=None, vote_average="n/a")
    svu["networks"] = [{"id": 6, "name": "NBC", "origin_country": None, "logo_path": None}]
    # Grey's Anatomy (5) has no record today: coverage 5/6
    return [
        json.dumps(lost, ensure_ascii=False),
        json.dumps({"success": False, "status_code": 25, "status_message": "over the limit"}),
        json.dumps(dexter),
        "{cut off",
        json.dumps(lab),
        json.dumps(svu),
        json.dumps({**tmdb_record(SHOWS[0]), "id": 77, "name": "Not tracked"}),
        json.dumps(mando),
    ]


def bad_input_lake(root: Path) -> None:
    tiny_lake(root, DAY1)  # day 1: posts in hour 10 ("Watching Lost! again", ...)
    lake = Lake.from_url(root)
    lake.write_text(layout.tmdb_day_key(DAY1), "\n".join(bad_tmdb_lines()) + "\n")
    write_day_dimensions(lake, DAY2)  # day 2: every show, popularity 12.5
    write_hour(lake, DAY2, 3, [])


def tables(root: Path, names: list[str] = TABLES) -> dict[str, dict[date, list[dict]]]:
    out: dict[str, dict[date, list[dict]]] = {}
    for table in names:
        for day in (DAY1, DAY2):
            folder = root / layout.table_partition_prefix(table, day)
            assert [p.name for p in sorted(folder.iterdir())] == ["part-00000.snappy.parquet"], table
            rows = pq.read_table(folder / "part-00000.snappy.parquet").to_pylist()
            out.setdefault(table, {})[day] = rows
    return out


def test_bad_tmdb_input_is_handled_counted_and_checked_in_one_run(spark, tmp_path):
    root = tmp_path / "lake"
    bad_input_lake(root)
    lenient = {"data_quality": DataQualityResource(tmdb_min_coverage=0.8)}  # 5 of 6 shows is enough today
    instance = DagsterInstance.ephemeral()
    result = materialize(ASSETS, resources=resources(root) | lenient, instance=instance, tags=RANGE)
    assert result.success
    assert len(instance.get_runs()) == 1
    materialized = sorted(
        (e.asset_key.to_user_string(), e.materialization.partition)
        for e in result.get_asset_materialization_events()
    )
    assert materialized == sorted((t, d) for t in [*TABLES, "raw_tmdb", "raw_tweets"] for d in RANGE.values())

    got = tables(root)
    schema = pq.read_schema(
        root / layout.table_partition_prefix("tmdb_stat", DAY1) / "part-00000.snappy.parquet"
    )
    assert [(f.name, str(f.type)) for f in schema] == [
        ("id", "int64"),
        ("date", "date32[day]"),
        ("number_of_seasons", "int64"),
        ("number_of_episodes", "int64"),
        ("vote_count", "int64"),
        ("vote_average", "double"),
        ("popularity", "double"),
    ]
    stat1 = {r["id"]: r for r in got["tmdb_stat"][DAY1]}
    assert sorted(stat1) == [1, 2, 3, 4, 6]  # tracked shows with a record; not 5 (none), not 77
    assert (stat1[3]["popularity"], stat1[3]["vote_count"], stat1[3]["vote_average"]) == (None, None, None)
    assert stat1[1]["popularity"] == 40.0 and stat1[1]["date"] == DAY1
    assert len(got["tmdb_stat"][DAY2]) == 6

    shows_schema = pq.read_schema(
        root / layout.table_partition_prefix("tvshows", DAY1) / "part-00000.snappy.parquet"
    )
    assert {f.name: str(f.type) for f in shows_schema}["genres_id"] == "list<element: int32>"
    assert {f.name: str(f.type) for f in shows_schema}["hashtags"] == "list<element: string>"
    shows1 = {r["id"]: r for r in got["tvshows"][DAY1]}
    assert len(shows1) == 6
    assert (shows1[1]["name"], shows1[1]["original_name"], shows1[1]["aliases"]) == (
        "ロスト",
        "LOST",
        ["Lost"],
    )
    assert (shows1[2]["genres_id"], shows1[2]["networks_id"]) == ([], [])
    assert (shows1[3]["genres_id"], shows1[5]["name"]) == ([], "Grey's Anatomy")  # no record: list name
    assert [(r["id"], r["name"]) for r in got["genres"][DAY1]] == [(18, "Drama")]
    assert [(r["id"], r["name"], r["origin_country"]) for r in got["networks"][DAY1]] == [
        (2, "ABC", "US"),
        (6, "NBC", ""),  # TMDB has no country for it: blank
    ]
    # the date table's files hold date and weekday; day, month and year are its partition folders
    assert [r for d in (DAY1, DAY2) for r in got["date"][d]] == [
        {"date": DAY1, "weekday": 1},
        {"date": DAY2, "weekday": 2},
    ]
    # tweet_stat still matches the tracked name under TMDB's non-Latin one ("Watching Lost! again")
    assert {r["id"]: r["text_count"] for r in got["tweet_stat"][DAY1]}[1] == 1

    stat_meta = metadata(result, "tmdb_stat")
    assert stat_meta["dagster/row_count"].value == 11
    assert stat_meta["missing_ids"].value == {"2020-11-23": [5]}
    assert stat_meta["untracked_records"].value == {"2020-11-23": [77]}
    assert stat_meta["tmdb_lines_skipped"].value == {"corrupt": 1, "error_bodies": 1}
    assert stat_meta["null_values"].value == {
        "number_of_seasons": 0,
        "number_of_episodes": 0,
        "vote_count": 1,
        "vote_average": 1,
        "popularity": 1,
    }
    per_day = {r.data["day"]: r.data for r in stat_meta["per_day"].records}
    assert per_day["2020-11-23"] == {
        "day": "2020-11-23",
        "tracked": 6,
        "rows": 5,
        "missing": 1,
        "stale_popularity": None,  # nothing to compare with on the first day
    }
    assert [c.name for c in stat_meta["top_popularity"].schema.columns][:2] == ["date", "show"]
    show_meta = metadata(result, "tvshows")
    assert show_meta["non_latin_names"].value == 1
    assert [c.name for c in show_meta["preview"].schema.columns] == [
        "id",
        "name",
        "genres_id",
        "networks_id",
        "hashtags",
    ]
    assert show_meta["quality"].value == {
        "without_tmdb_record": 1,
        "without_genres": 3,
        "without_networks": 3,
        "without_original_name": 1,
        "non_latin_names": 1,
    }

    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()
    }
    coverage = evaluations[("tmdb_stat", "tmdb_coverage")]
    assert (coverage.passed, coverage.severity) == (False, AssetCheckSeverity.WARN)
    assert coverage.metadata["missing_ids"].value == {"2020-11-23": [5]}
    assert coverage.metadata["coverage_by_day"].value == {"2020-11-23": 0.8333, "2020-11-24": 1.0}
    stale = evaluations[("tmdb_stat", "popularity_refreshed")]
    assert (stale.passed, stale.severity) == (False, AssetCheckSeverity.WARN)
    # 12.5 on both days for 2, 4, 6; show 1 changed, 3 had none, 5 had no row the day before
    assert stale.metadata["stale_ids"].value == {"2020-11-24": [2, 4, 6]}
    assert stale.metadata["days_without_previous_day"].value == ["2020-11-23"]
    must_pass = [
        ("tvshows", "unique_id_date"),
        ("tvshows", "every_show_named_and_tagged"),
        ("tvshows", "genres_id_in_genres"),
        ("tvshows", "networks_id_in_networks"),
        ("genres", "unique_id_date"),
        ("networks", "unique_id_date"),
        ("date", "unique_date"),
        ("tmdb_stat", "unique_id_date"),
        ("tmdb_stat", "ids_in_tvshows"),
        ("tweet_stat", "ids_in_tvshows"),
        ("tweet_stat", "one_row_per_tracked_show"),
    ]
    assert {key: evaluations[key].passed for key in must_pass} == dict.fromkeys(must_pass, True)
    assert evaluations[("tweet_stat", "ids_in_tvshows")].metadata["distinct_ids_checked"].value == 12

    # Rerun the TMDB side of the same range under the default threshold (95 %): identical tables,
    # and 5 of 6 shows is now a blocking coverage ERROR that fails the run and stops the checks
    # after tmdb_stat.
    rerun = materialize(
        TMDB_SIDE, resources=resources(root), instance=instance, tags=RANGE, raise_on_error=False
    )
    assert not rerun.success
    checked = {(e.asset_key.to_user_string(), e.check_name): e for e in rerun.get_asset_check_evaluations()}
    coverage = checked[("tmdb_stat", "tmdb_coverage")]
    assert (coverage.passed, coverage.severity) == (False, AssetCheckSeverity.ERROR)
    assert coverage.metadata["days_below_threshold"].value == ["2020-11-23"]
    assert ("tmdb_stat", "ids_in_tvshows") not in checked
    tmdb_tables = [t for t in TABLES if t != "tweet_stat"]
    assert tables(root, tmdb_tables) == {t: got[t] for t in tmdb_tables}
