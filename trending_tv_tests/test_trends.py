"""show_trends scoring (pure Spark transform) and the report's charts and markdown."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest

from trending_tv import report
from trending_tv.transforms.trends import compute_show_trends
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

DAYS = [date(2020, 11, 20) + timedelta(days=k) for k in range(10)]
STEADY, SPIKE, QUIET = 1, 2, 3


def _tweet_stat(spark):
    rows = []
    for index, day in enumerate(DAYS):
        spike = 60 if day == DAYS[-1] else 10 + index % 2
        for show_id, count in ((STEADY, 50), (SPIKE, spike), (QUIET, 0)):
            rows.append((show_id, day, count // 2, count, count))
    return spark.createDataFrame(rows, TWEET_STAT_SCHEMA)


def _names(spark):
    return spark.createDataFrame(
        [(i, d, n) for d in DAYS for i, n in ((STEADY, "Steady"), (SPIKE, "Spike"), (QUIET, "Quiet"))],
        "id long, date date, name string",
    )


def test_the_spark_adapter_scores_tweet_stat_with_names_and_popularity(spark):
    tmdb = spark.createDataFrame(
        [(SPIKE, DAYS[-2], 10.0), (SPIKE, DAYS[-1], 14.5)], "id long, date date, popularity double"
    )
    rows = {
        r["id"]: r for r in compute_show_trends(_tweet_stat(spark), _names(spark), tmdb, [DAYS[-1]]).collect()
    }
    spike, steady, quiet = rows[SPIKE], rows[STEADY], rows[QUIET]
    assert (spike["trend_rank"], steady["popular_rank"], spike["popular_rank"]) == (1, 2, 1)
    assert quiet["trend_rank"] is None and quiet["posts"] == 0  # zero posts: never trending
    assert spike["name"] == "Spike" and spike["posts"] == 60 and spike["hashtag_posts"] == 30
    assert spike["share"] == pytest.approx(60 / 110)
    assert spike["posts_change"] == 60 - 10  # day 9 had 10 + 8 % 2
    assert spike["baseline_days"] == 7 and not spike["cold_start"] and spike["complete"]
    assert spike["source"] == "tweet_stat"
    assert spike["ratio"] > 4 and spike["trend_score"] > 3
    assert steady["trend_score"] < 1  # same volume, a busier day
    assert spike["popularity"] == 14.5 and spike["popularity_change"] == pytest.approx(4.5)
    assert steady["popularity"] is None


def test_the_spark_adapter_prefers_exact_volumes_and_flags_partial_days(spark):
    volume = spark.createDataFrame(
        [(SPIKE, DAYS[-1], 50, 100, 120), (STEADY, DAYS[-1], 10, 400, 400)],
        "id long, date date, hashtag_posts long, text_posts long, posts long",
    )
    rows = compute_show_trends(
        _tweet_stat(spark), _names(spark), None, DAYS[-2:], show_volume=volume, coverage={DAYS[-2]: 0.75}
    ).collect()
    by_key = {(r["id"], r["date"]): r for r in rows}
    assert by_key[(SPIKE, DAYS[-1])]["source"] == "show_volume" and by_key[(SPIKE, DAYS[-1])]["posts"] == 120
    assert by_key[(SPIKE, DAYS[-2])]["source"] == "tweet_stat"
    assert by_key[(SPIKE, DAYS[-2])]["complete"] is False and by_key[(SPIKE, DAYS[-2])]["coverage"] == 0.75
    assert by_key[(SPIKE, DAYS[-1])]["posts_change"] is None  # the day before was partial


def test_first_days_are_cold_starts_and_popular_is_by_volume(spark):
    rows = compute_show_trends(_tweet_stat(spark), _names(spark), None, DAYS[:2]).collect()
    first_day = sorted((r for r in rows if r["date"] == DAYS[0]), key=lambda r: r["popular_rank"])
    assert [r["id"] for r in first_day] == [STEADY, SPIKE, QUIET]
    assert all(r["cold_start"] and r["baseline_days"] == 0 for r in first_day)
    assert all(r["posts_change"] is None for r in first_day)
    assert sum(r["share"] for r in first_day) == pytest.approx(1.0)
    second_day = [r for r in rows if r["date"] == DAYS[1]]
    assert all(r["baseline_days"] == 1 and r["cold_start"] for r in second_day)


def test_report_renders_png_charts_and_a_markdown_table():
    stats = [
        {"id": i, "date": d, "tweet_count": c, "hashtag_count": c // 2}
        for d in DAYS[:3]
        for i, c in ((STEADY, 5), (SPIKE, 9))
    ]
    names = {STEADY: "Steady", SPIKE: "Spike"}
    bar = report.bar_chart_png(stats, names, "tweet_count", "Posts per show")
    heat = report.heat_map_png(stats, names, "tweet_count", DAYS[:3], "Daily posts")
    assert bar.startswith(b"\x89PNG") and heat.startswith(b"\x89PNG")
    assert report.totals_by_show(stats, "tweet_count") == [(SPIKE, 27), (STEADY, 15)]
    trends = [
        {
            "name": "Spike",
            "posts": 90,
            "share": 0.64,
            "posts_change": 20,
            "popular_rank": 1,
            "trend_rank": 1,
            "expected_posts": 30.0,
            "ratio": 3.0,
            "trend_score": 6.25,
            "baseline_days": 7,
            "cold_start": False,
            "complete": True,
            "coverage": 1.0,
            "popularity": 14.5,
            "popularity_change": 4.5,
        },
        {
            "name": "Newcomer",
            "posts": 50,
            "share": 0.36,
            "posts_change": None,
            "popular_rank": 2,
            "trend_rank": 2,
            "expected_posts": 20.0,
            "ratio": 2.5,
            "trend_score": 1.5,
            "baseline_days": 1,
            "cold_start": True,
            "complete": False,
            "coverage": 0.5,
            "popularity": None,
            "popularity_change": None,
        },
        {
            "name": "Quiet",
            "posts": 0,
            "share": 0.0,
            "posts_change": -3,
            "popular_rank": 3,
            "trend_rank": None,
            "expected_posts": 2.0,
            "ratio": 0.0,
            "trend_score": 0.0,
            "baseline_days": 7,
            "cold_start": False,
            "complete": True,
            "coverage": 1.0,
            "popularity": None,
            "popularity_change": None,
        },
    ]
    table = report.trending_table_md(trends)
    assert "| 1 | Spike | 90 | 30 | 3.0x | 6.2 | 14.5 (+4.5) |" in table
    assert (
        "| 2 | Newcomer (new: 1 d of history; partial day (50% covered)) | 50 | 20 | 2.5x | 1.5 | n/a |"
        in table
    )
    assert "Quiet" not in table  # not trending: no rank
    popular = report.popular_table_md(trends)
    assert "| 1 | Spike | 90 | 64.0% | +20 |" in popular
    assert "| 2 | Newcomer (partial day) | 50 | 36.0% | n/a |" in popular
    assert "| 3 | Quiet | 0 | 0.0% | -3 |" in popular
    risers = report.risers_chart_png(trends, "Top risers")
    assert risers.startswith(b"\x89PNG")
    assert report.risers_chart_png([trends[2]], "Top risers").startswith(b"\x89PNG")  # none rising
    assert "no show above" in report.trending_table_md([trends[2]])


def test_show_trends_and_trending_report_materialize_with_exact_volumes_and_coverage(spark, tmp_path):
    """One run over the 2020 days: 11-30 collected at half coverage (flagged, out of the baselines),
    12-01 with exact volumes (ten times the sample, same shares) replacing the sample: the stream
    covered only a fifth of 12-01, which does not make its exact counts partial."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    from dagster import ResourceDefinition, materialize
    from dagster_pyspark import LazyPySparkResource

    from ingest_host import layout
    from trending_tv.assets.show_trends import show_trends
    from trending_tv.assets.trending_report import report_key, trending_report
    from trending_tv.resources.lake import LakeResource
    from trending_tv.resources.spark import local_spark_config
    from trending_tv_tests.seed_lake import DAYS as SEED_DAYS
    from trending_tv_tests.seed_lake import load, write_seed_lake

    root = tmp_path / "lake"
    write_seed_lake(root, spark, with_trends=False)
    partial, exact = SEED_DAYS[-2], SEED_DAYS[-1]
    coverage_file = root / layout.tweet_day_coverage_key(partial)
    coverage_file.parent.mkdir(parents=True)
    coverage_file.write_text(json.dumps({"final": True, "share_covered": 0.5, "missing_hours": ["12"]}))
    stream_gap = root / layout.tweet_day_coverage_key(exact)
    stream_gap.parent.mkdir(parents=True)
    stream_gap.write_text(json.dumps({"final": True, "share_covered": 0.2}))
    figures = [f for f in load().figures.values() if f.day == exact]
    volume = pa.Table.from_pylist(
        [
            {
                "id": f.show_id,
                "date": exact,
                "hashtag_posts": 10 * f.hashtag_count,
                "text_posts": 10 * f.text_count,
                "posts": 10 * f.tweet_count,
            }
            for f in figures
        ]
    )
    folder = root / layout.table_partition_prefix("show_volume", exact)
    folder.mkdir(parents=True)
    pq.write_table(volume, folder / "part-00000.snappy.parquet")

    result = materialize(
        [show_trends, trending_report],
        resources={
            "lake": LakeResource(url=str(root)),
            "pyspark": LazyPySparkResource(spark_config=local_spark_config(2, 4)),
            "pyspark_step_launcher": ResourceDefinition.none_resource(),
        },
        tags={
            "dagster/asset_partition_range_start": "2020-11-23",
            "dagster/asset_partition_range_end": "2020-12-01",
        },
    )
    assert result.success
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["show_trends"]]
    assert sorted(e.partition for e in events) == [d.isoformat() for d in SEED_DAYS]  # one run, every day
    meta = events[-1].materialization.metadata
    assert meta["dagster/row_count"].value == 9 * 160
    assert meta["days_with_exact_volumes"].value == ["2020-12-01"]
    assert meta["incomplete_days"].value == ["2020-11-30"]
    trending = meta["trending_on_2020-12-01"].value.records
    assert trending[0].data["name"] == "The Umbrella Academy" and trending[0].data["posts"] == 6680
    schema = show_trends.specs_by_key[show_trends.key].metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns][:4] == ["id", "date", "name", "posts"]
    assert all(c.description for c in schema.columns)

    day_rows = {
        r["id"]: r
        for r in pq.read_table(root / layout.table_partition_prefix("show_trends", exact)).to_pylist()
    }
    umbrella = day_rows[75006]
    assert (
        umbrella["source"] == "show_volume" and umbrella["posts_change"] is None
    )  # the day before was partial
    assert umbrella["baseline_days"] == 6 and umbrella["trend_rank"] == 1
    assert all(r["complete"] and r["coverage"] == 1.0 for r in day_rows.values())  # exact: whole day
    half = pq.read_table(root / layout.table_partition_prefix("show_trends", partial)).to_pylist()
    assert all(r["complete"] is False and r["coverage"] == 0.5 for r in half)
    report_md = (root / report_key(exact, "report.md")).read_text()
    assert "| 1 | The Umbrella Academy | 6,680 |" in report_md
    assert (root / report_key(exact, "top_risers.png")).read_bytes().startswith(b"\x89PNG")


# --- show_trends on a folder lake: the day coverage files and empty show_volume partitions ---

HISTORY = [date(2020, 11, 20) + timedelta(days=k) for k in range(7)]
RUN = [date(2020, 11, 27), date(2020, 11, 28), date(2020, 11, 29)]
CORRUPT, EMPTY_VOLUME, UNKNOWN = RUN  # corrupt coverage file; empty show_volume; no coverage file
LAKE_POSTS = {STEADY: 100, SPIKE: 50, QUIET: 20}


def _write_parquet(root, table: str, day: date, rows) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingest_host import layout

    folder = root / layout.table_partition_prefix(table, day)
    folder.mkdir(parents=True)
    pq.write_table(
        rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows),
        folder / "part-00000.snappy.parquet",
    )


@pytest.fixture(scope="module")
def coverage_run(spark, tmp_path_factory):
    """show_trends over RUN (with 7 days of history before) on a folder lake without any coverage
    file but two: CORRUPT's is not JSON, EMPTY_VOLUME's says half the day was covered; EMPTY_VOLUME
    also has a show_volume partition without a row."""
    from dagster import DagsterInstance, ResourceDefinition, materialize
    from dagster_pyspark import LazyPySparkResource

    from ingest_host import layout
    from trending_tv.assets.show_trends import show_trends
    from trending_tv.resources.lake import LakeResource
    from trending_tv.resources.spark import local_spark_config
    from trending_tv.transforms.show_volume import ARROW_SCHEMA

    root = tmp_path_factory.mktemp("coverage") / "lake"
    for day in HISTORY + RUN:
        stats = [
            {"id": i, "date": day, "hashtag_count": n // 2, "text_count": n, "tweet_count": n}
            for i, n in LAKE_POSTS.items()
        ]
        _write_parquet(root, "tweet_stat", day, stats)
    for day in RUN:
        _write_parquet(
            root, "tvshows", day, [{"id": i, "date": day, "name": f"show {i}"} for i in LAKE_POSTS]
        )
    _write_parquet(root, "show_volume", EMPTY_VOLUME, ARROW_SCHEMA.empty_table())
    for day, body in (
        (CORRUPT, b'{"final": true, "share_cov'),
        (EMPTY_VOLUME, b'{"final": true, "share_covered": 0.5}'),
    ):
        path = root / layout.tweet_day_coverage_key(day)
        path.parent.mkdir(parents=True)
        path.write_bytes(body)

    instance = DagsterInstance.ephemeral()
    result = materialize(
        [show_trends],
        resources={
            "lake": LakeResource(url=str(root)),
            "pyspark": LazyPySparkResource(spark_config=local_spark_config(2, 4)),
            "pyspark_step_launcher": ResourceDefinition.none_resource(),
        },
        tags={
            "dagster/asset_partition_range_start": RUN[0].isoformat(),
            "dagster/asset_partition_range_end": RUN[-1].isoformat(),
        },
        instance=instance,
    )
    assert result.success
    rows = {}
    for day in RUN:
        for r in LakeResource(url=str(root)).table_rows("show_trends", day):
            rows[(r["id"], r["date"])] = r
    [event] = [e for e in result.get_asset_materialization_events() if e.partition == RUN[-1].isoformat()]
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    return rows, event.materialization.metadata, warnings


def test_an_unreadable_coverage_file_makes_its_day_partial_and_is_reported(coverage_run):
    rows, meta, warnings = coverage_run
    corrupt = [r for (_, day), r in rows.items() if day == CORRUPT]
    assert len(corrupt) == 3 and all(r["complete"] is False and r["coverage"] == 0.0 for r in corrupt)
    assert {r["source"] for r in corrupt} == {"tweet_stat"}
    assert list(meta["coverage_files_unreadable"].value) == [CORRUPT.isoformat()]
    assert meta["coverage_files_unreadable"].value[CORRUPT.isoformat()].startswith("not JSON")
    assert any(f"{CORRUPT}: coverage file" in w and "unreadable" in w for w in warnings)
    # out of the baselines and of the day-over-day change
    assert rows[(STEADY, EMPTY_VOLUME)]["posts_change"] is None
    assert rows[(STEADY, UNKNOWN)]["baseline_days"] == 5  # 11-22..28 without 11-27 and 11-28


def test_a_day_without_a_coverage_file_counts_as_covered_and_is_listed_as_unknown(coverage_run):
    """As raw_tweets' collection_coverage check reads it: coverage unknown, not an incomplete day."""
    rows, meta, _ = coverage_run
    unknown = [r for (_, day), r in rows.items() if day == UNKNOWN]
    assert len(unknown) == 3 and all(r["complete"] is True and r["coverage"] == 1.0 for r in unknown)
    assert meta["days_coverage_unknown"].value == [d.isoformat() for d in [*HISTORY, UNKNOWN]]
    assert meta["incomplete_days"].value == [CORRUPT.isoformat(), EMPTY_VOLUME.isoformat()]


def test_an_empty_show_volume_partition_falls_back_to_the_sample_and_its_coverage(coverage_run):
    """No show has an exact figure that day: it is ranked on tweet_stat and the stream's coverage
    (half the day) qualifies it, as on a day without a show_volume partition."""
    rows, meta, warnings = coverage_run
    fallback = [r for (_, day), r in rows.items() if day == EMPTY_VOLUME]
    assert {r["source"] for r in fallback} == {"tweet_stat"}
    assert {r["id"]: r["posts"] for r in fallback} == LAKE_POSTS
    assert all(r["complete"] is False and r["coverage"] == 0.5 for r in fallback)
    assert meta["days_with_exact_volumes"].value == []
    assert meta["show_volume_days_without_rows"].value == [EMPTY_VOLUME.isoformat()]
    assert any("show_volume partitions without a row" in w and str(EMPTY_VOLUME) in w for w in warnings)
