"""The `trending-tv` analyst CLI against real DuckDB, on a generated lake (a folder, and the same files
on the local S3 server): top, trends, sql (and its refusals), athena-ddl (parsed with sqlglot, and
its locations read back with DuckDB), report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.analyst import lake_sql
from trending_tv.analyst.cli import main
from trending_tv.analyst.tables import PARTITION_KEYS, TABLES, hive_type
from trending_tv.transforms.trends import posts_from_tweet_stat, score_trends
from trending_tv_tests.ingest_host.servers import MotoS3, s3_env
from trending_tv_tests.seed_lake import DAYS, load, write_seed_lake

BUCKET = "lake-bucket"
S3_LAKE = f"s3://{BUCKET}/lake"


@pytest.fixture(scope="module")
def folder_lake(tmp_path_factory, spark) -> Path:
    root = tmp_path_factory.mktemp("analyst") / "lake"
    write_seed_lake(root, spark)
    return root


@pytest.fixture(scope="module")
def s3_lake(folder_lake):
    """The same files on moto's S3 server on 127.0.0.1; yields the environment the CLI runs with."""
    with MotoS3(BUCKET) as s3:
        env = s3_env(s3.endpoint)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            lake = Lake.from_url(S3_LAKE)
            for path in sorted((folder_lake / layout.ANALYTICS).rglob("*.parquet")):
                lake.upload_file(path, path.relative_to(folder_lake).as_posix())
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run(lake: str, *args: str, env: dict | None = None, ok: bool = True):
    result = CliRunner().invoke(main, ["--lake", lake, *args], env=env, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def csv_rows(output: str) -> list[dict]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(output)))


def _expected_totals(column: str) -> list[tuple[int, int]]:
    totals: dict[int, int] = defaultdict(int)
    for f in load().figures.values():
        totals[f.show_id] += getattr(f, column)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


LAKES = ["folder", "s3"]


@pytest.fixture(params=LAKES)
def lake(request, folder_lake) -> tuple[str, dict | None]:
    if request.param == "folder":
        return str(folder_lake), None
    return S3_LAKE, request.getfixturevalue("s3_lake")


def test_top_by_tweets_and_hashtags_are_the_totals_of_the_range(lake):
    url, env = lake
    names = {s.id: s.name for s in load().shows}
    for by, column, key in (
        ("tweets", "tweet_count", "posts"),
        ("hashtags", "hashtag_count", "hashtag_posts"),
    ):
        out = run(
            url,
            "top",
            "--from",
            "2020-11-23",
            "--to",
            "2020-12-01",
            "--by",
            by,
            "--limit",
            "5",
            "--format",
            "csv",
            env=env,
        )
        rows = csv_rows(out.output)
        expected = _expected_totals(column)[:5]
        assert [(int(r["id"]), int(r[key])) for r in rows] == expected
        assert [r["name"] for r in rows] == [names[i] for i, _ in expected]
        assert all(r["days"] == "9" for r in rows)
    one_day = csv_rows(
        run(
            url,
            "top",
            "--from",
            "2020-11-27",
            "--to",
            "2020-11-27",
            "--limit",
            "1",
            "--format",
            "csv",
            env=env,
        ).output
    )
    assert one_day == [
        {"id": "82856", "name": "The Mandalorian", "posts": "10890", "hashtag_posts": "8630", "days": "1"}
    ]


def test_top_by_trend_is_each_shows_best_surprise(lake):
    url, env = lake
    out = run(
        url,
        "top",
        "--from",
        "2020-11-24",
        "--to",
        "2020-12-01",
        "--by",
        "trend",
        "--limit",
        "3",
        "--format",
        "json",
        env=env,
    )
    rows = [json.loads(line) for line in out.output.splitlines()]
    # the same score computed directly: each show's highest trend_score in the range
    catalog = load()
    posts = posts_from_tweet_stat(
        {
            "id": f.show_id,
            "date": f.day,
            "tweet_count": f.tweet_count,
            "hashtag_count": f.hashtag_count,
            "text_count": f.text_count,
        }
        for f in catalog.figures.values()
    )
    popularity = {(f.show_id, f.day): f.popularity for f in catalog.figures.values()}
    scored = [
        r
        for r in score_trends(posts, DAYS, popularity=popularity)
        if r["trend_rank"] and r["date"] >= DAYS[1]
    ]
    best: dict[int, dict] = {}
    for r in scored:
        if r["id"] not in best or r["trend_score"] > best[r["id"]]["trend_score"]:
            best[r["id"]] = r
    expected = sorted(best.values(), key=lambda r: (-r["trend_score"], r["id"]))[:3]
    assert [(r["id"], r["peak_day"], r["posts"]) for r in rows] == [
        (r["id"], r["date"].isoformat(), r["posts"]) for r in expected
    ]
    assert rows[0]["name"] == "Young Sheldon" and rows[0]["peak_day"] == "2020-11-29"
    assert rows[0]["trend_score"] == pytest.approx(expected[0]["trend_score"])


def test_trends_of_a_day_shows_popular_and_trending_apart(lake):
    url, env = lake
    out = run(url, "trends", "--date", "2020-11-27", env=env).output
    popular, trending = out.split("Trending on 2020-11-27")
    assert "Popular on 2020-11-27" in popular and "The Mandalorian" in popular and "10,890" in popular
    assert trending.index("The Mandalorian") < trending.index("Gossip Girl")
    rows = csv_rows(
        run(url, "trends", "--date", "2020-11-27", "--limit", "3", "--format", "csv", env=env).output
    )
    assert [r["name"] for r in rows if r["trend_rank"]][:2] == ["The Mandalorian", "Gossip Girl"]
    missing = run(url, "trends", "--date", "2019-01-01", env=env, ok=False)
    assert missing.exit_code == 1 and "no rows for 2019-01-01" in missing.output


def test_sql_sees_every_table_and_the_latest_dimension_snapshots(lake):
    url, env = lake
    query = """SELECT (SELECT count(*) FROM tweet_stat) AS tweet_stat,
                      (SELECT count(*) FROM tmdb_stat) AS tmdb_stat,
                      (SELECT count(*) FROM show_trends) AS show_trends,
                      (SELECT count(*) FROM tvshows) AS tvshows,
                      (SELECT count(*) FROM tvshows_latest) AS tvshows_latest,
                      (SELECT min(date) FROM tvshows_latest) AS latest_day,
                      (SELECT count(*) FROM genres_latest) AS genres_latest,
                      (SELECT count(*) FROM networks_latest) AS networks_latest,
                      (SELECT count(*) FROM show_volume) AS show_volume"""
    row = csv_rows(run(url, "sql", query, "--format", "csv", env=env).output)[0]
    shows, genres, networks = len(load().shows), len(load().genres), len(load().networks)
    assert row == {
        "tweet_stat": str(9 * shows),
        "tmdb_stat": str(9 * shows),
        "show_trends": str(9 * shows),
        "tvshows": str(9 * shows),
        "tvshows_latest": str(shows),
        "latest_day": "2020-12-01",
        "genres_latest": str(genres),
        "networks_latest": str(networks),
        "show_volume": "0",  # not written yet: an empty view with its columns
    }
    calendar = csv_rows(
        run(
            url, "sql", "SELECT * FROM date WHERE date = DATE '2020-11-23'", "--format", "csv", env=env
        ).output
    )
    assert calendar == [{"date": "2020-11-23", "weekday": "1", "day": "23", "month": "11", "year": "2020"}]
    described = run(url, "sql", "DESCRIBE show_trends", "--format", "csv", env=env).output
    assert "trend_score,DOUBLE" in described and "popular_rank,INTEGER" in described


def test_the_date_view_takes_day_month_and_year_from_the_partition_folders(tmp_path):
    """The date asset's files hold date and weekday only; the view (like Athena) adds day, month and
    year from the year=/month=/day= folders."""
    from trending_tv.transforms.dimensions import DATE_ARROW_SCHEMA

    for d in DAYS[:2]:
        folder = tmp_path / layout.table_partition_prefix("date", d)
        folder.mkdir(parents=True)
        row = pa.Table.from_pylist([{"date": d, "weekday": d.isoweekday()}], schema=DATE_ARROW_SCHEMA)
        pq.write_table(row, folder / "part-00000.snappy.parquet")
    rows = csv_rows(run(str(tmp_path), "sql", "SELECT * FROM date ORDER BY date", "--format", "csv").output)
    assert rows == [
        {"date": "2020-11-23", "weekday": "1", "day": "23", "month": "11", "year": "2020"},
        {"date": "2020-11-24", "weekday": "2", "day": "24", "month": "11", "year": "2020"},
    ]
    empty = run(str(tmp_path), "sql", "DESCRIBE show_volume", "--format", "csv").output
    assert "posts_hourly,BIGINT[]" in empty  # no file yet: the view has the table's declared columns


REFUSED = [
    ("INSERT INTO tweet_stat VALUES (1, DATE '2020-11-23', 1, 1, 1)", "INSERT statements are refused"),
    ("CREATE TABLE copy_of AS SELECT * FROM tweet_stat", "CREATE statements are refused"),
    ("DROP VIEW tvshows_latest", "DROP statements are refused"),
    ("ATTACH 'elsewhere.duckdb'", "ATTACH statements are refused"),
    ("SET enable_external_access = true", "statements are refused"),
    ("INSTALL httpfs", "statements are refused"),
    ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN statements are refused"),
    ("SELECT 1; SELECT 2", "one statement at a time"),
    ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
    ("SELECT * FROM read_text('/etc/hostname')", "Permission Error"),
    ("SELECT * FROM read_parquet('s3://another-bucket/x.parquet')", "Permission Error"),
]


@pytest.mark.parametrize("statement,message", REFUSED)
def test_sql_refuses_writes_and_files(folder_lake, tmp_path, statement, message):
    result = run(str(folder_lake), "sql", statement, ok=False)
    assert result.exit_code == 1 and message in result.output, result.output


def test_sql_cannot_write_or_read_files_even_inside_the_lake(folder_lake, tmp_path):
    target = tmp_path / "out.csv"
    copy = run(str(folder_lake), "sql", f"COPY tweet_stat TO '{target}'", ok=False)
    assert copy.exit_code == 1 and "COPY statements are refused" in copy.output and not target.exists()
    # a query that writes is a SELECT to the parser: DuckDB's own lock refuses its file access
    inside = folder_lake / "analytics" / "tweet_stat"
    direct = run(
        str(folder_lake), "sql", f"SELECT count(*) FROM read_parquet('{inside}/**/*.parquet')", ok=False
    )
    assert direct.exit_code == 1 and "Permission Error" in direct.output
    before = sorted(p.relative_to(folder_lake) for p in folder_lake.rglob("*"))
    run(str(folder_lake), "sql", "SELECT count(*) FROM tweet_stat")
    assert sorted(p.relative_to(folder_lake) for p in folder_lake.rglob("*")) == before


def test_sql_on_an_s3_lake_refuses_its_own_objects_and_writes(s3_lake):
    inside = f"{S3_LAKE}/analytics/tweet_stat/year=2020/month=11/day=23/part-00000.snappy.parquet"
    direct = run(S3_LAKE, "sql", f"SELECT count(*) FROM read_parquet('{inside}')", env=s3_lake, ok=False)
    assert direct.exit_code == 1 and "Permission Error" in direct.output
    copy = run(S3_LAKE, "sql", f"COPY tweet_stat TO '{S3_LAKE}/x.parquet'", env=s3_lake, ok=False)
    assert copy.exit_code == 1 and "COPY statements are refused" in copy.output
    assert Lake.from_url(S3_LAKE).list("x.parquet") == []


def test_the_connection_is_locked_with_duckdbs_own_settings(folder_lake):
    con = lake_sql.connect(str(folder_lake))
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() "
            "WHERE name IN ('enable_external_access', 'lock_configuration')"
        ).fetchall()
    )
    assert settings == {"enable_external_access": "false", "lock_configuration": "true"}
    with pytest.raises(duckdb.Error):  # even bypassing the CLI's statement check
        con.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.PermissionException):
        con.execute("COPY (SELECT 1) TO '/tmp/trending-tv-should-not-exist.csv'")
    assert not Path("/tmp/trending-tv-should-not-exist.csv").exists()


def test_athena_ddl_needs_an_s3_lake(folder_lake):
    result = run(str(folder_lake), "athena-ddl", ok=False)
    assert result.exit_code == 1 and "Athena reads S3" in result.output


def _properties(create: exp.Create) -> dict[str, str]:
    return {
        p.this.this: p.args["value"].this
        for p in create.args["properties"].expressions
        if isinstance(p, exp.Property) and type(p) is exp.Property
    }


DUCKDB_TYPE = {
    "bigint": "BIGINT",
    "int": "INTEGER",
    "string": "VARCHAR",
    "double": "DOUBLE",
    "date": "DATE",
    "boolean": "BOOLEAN",
}


def _duckdb_type(hive: str) -> str:
    if hive.startswith("array<"):
        return _duckdb_type(hive[len("array<") : -1]) + "[]"
    return DUCKDB_TYPE[hive]


def test_athena_ddl_parses_and_its_locations_hold_the_declared_columns(s3_lake, tmp_path):
    ddl = run(S3_LAKE, "athena-ddl", "--database", "tt").output
    statements = sqlglot.parse(ddl, read="athena")
    assert isinstance(statements[0], exp.Create) and statements[0].args["kind"] == "DATABASE"
    tables = {s.this.this.name: s for s in statements[1:]}
    assert set(tables) == set(TABLES)
    for name, create in tables.items():
        assert create.args["kind"] == "TABLE" and create.this.this.args["db"].name == "tt"
        props = create.args["properties"].expressions
        assert any(isinstance(p, exp.ExternalProperty) for p in props)
        assert next(p for p in props if isinstance(p, exp.FileFormatProperty)).this.name == "PARQUET"
        location = next(p for p in props if isinstance(p, exp.LocationProperty)).this.this
        assert location == f"{S3_LAKE}/analytics/{name}/"
        partitioned = next(p for p in props if isinstance(p, exp.PartitionedByProperty))
        partitions = [(c.name, c.args["kind"].sql("hive").lower()) for c in partitioned.this.expressions]
        assert partitions == [(k, "int") for k in PARTITION_KEYS]
        columns = {c.name: c.args["kind"].sql("hive").lower() for c in create.this.expressions}
        # Hive refuses a column that is also a partition key (the date table's day/month/year)
        assert not set(columns) & set(PARTITION_KEYS)
        assert columns == {f.name: hive_type(f.dataType) for f in TABLES[name].file_columns}
        settings = _properties(create)
        assert settings["projection.enabled"] == "true"
        assert settings["projection.month.digits"] == settings["projection.day.digits"] == "2"
        template = settings["storage.location.template"]
        assert template == location + "year=${year}/month=${month}/day=${day}/"

        # DuckDB reads what each projected partition location holds: the declared columns with the
        # declared types, and the rows the `sql` views count for that day.
        location_of = lake_sql.lake_location(S3_LAKE)
        for day in DAYS if name != "show_volume" else []:
            prefix = template.replace("${year}", f"{day.year}").replace("${month}", f"{day.month:02d}")
            prefix = prefix.replace("${day}", f"{day.day:02d}")
            key = prefix[len("s3://") :].rstrip("/")
            infos = location_of.filesystem.get_file_info(lake_sql.pafs.FileSelector(key))
            files = [i.path for i in infos if i.path.endswith(".parquet")]
            assert files, (name, day)
            con = duckdb.connect()
            con.register(
                "part", lake_sql.ds.dataset(files, filesystem=location_of.filesystem, format="parquet")
            )
            described = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE part)").fetchall())
            for column, hive in columns.items():
                assert described[column] == _duckdb_type(hive), (name, column)
            rows = con.execute("SELECT count(*), min(date), max(date) FROM part").fetchone()
            expected = csv_rows(
                run(
                    S3_LAKE,
                    "sql",
                    f"SELECT count(*) AS n FROM \"{name}\" WHERE date = DATE '{day}'",
                    "--format",
                    "csv",
                ).output
            )[0]["n"]
            assert rows == (int(expected), day, day)
            con.close()


def test_report_writes_the_charts_and_tables(lake, tmp_path):
    url, env = lake
    out = tmp_path / "report"
    printed = run(url, "report", "--date", "2020-12-01", "--out", str(out), env=env).output
    names = {
        "top_risers.png",
        "top_by_tweet_count.png",
        "top_by_hashtag_count.png",
        "daily_tweet_count.png",
        "report.md",
    }
    assert {p.name for p in out.iterdir()} == names and all(str(out / n) in printed for n in names)
    assert all((out / n).read_bytes().startswith(b"\x89PNG") for n in names if n.endswith(".png"))
    markdown = (out / "report.md").read_text()
    trending = markdown.split("## Trending")[1].split("## Popular")[0]
    assert "| 1 | The Umbrella Academy | 668 |" in trending
    popular = markdown.split("## Popular")[1]
    assert "| 1 | The Mandalorian | 2,705 |" in popular and "| 2 | Attack on Titan | 2,199 |" in popular


def test_the_installed_entry_point_runs(folder_lake):
    exe = shutil.which("trending-tv", path=str(Path(sys.executable).parent))
    assert exe, "pip install -e . installs the trending-tv script"
    out = subprocess.run(
        [exe, "sql", "SELECT count(*) AS n FROM tvshows_latest", "--format", "csv"],
        env={**os.environ, "TRENDING_TV_LAKE": str(folder_lake)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines() == ["n", str(len(load().shows))]


def test_the_cli_starts_without_loading_dagster():
    # the tables' schemas and column descriptions live in Dagster-free modules, so the analyst CLI
    # does not pay Dagster's import time (about a second) at every start
    subprocess.run(
        [sys.executable, "-c", "import trending_tv.analyst.cli, sys; assert 'dagster' not in sys.modules"],
        check=True,
    )
