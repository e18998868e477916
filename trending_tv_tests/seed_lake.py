"""A lake of the published 2020 days (trending_tv_sample's derived copy) written as the pipeline writes
its tables: Spark's writer for the Spark tables, pyarrow for the date table (as its asset does)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from trending_tv.resources.lake import LakeResource
from trending_tv.transforms.dimensions import DATE_ARROW_SCHEMA, GENRES_SCHEMA, NETWORKS_SCHEMA
from trending_tv.transforms.tmdb import TMDB_STAT_SCHEMA, TVSHOWS_SCHEMA
from trending_tv.transforms.trends import compute_show_trends
from trending_tv.transforms.tweet_stat import TWEET_STAT_SCHEMA

DAYS = [date(2020, 11, 23) + timedelta(days=k) for k in range(9)]


def load():
    """The sample's catalog: the 2020 shows and their published daily figures."""
    from trending_tv_sample.catalog import load_catalog

    return load_catalog()


def write_seed_lake(root: Path, spark, with_trends: bool = True) -> None:
    """The published 2020 days as the pipeline's tables: Spark's writer for the Spark tables, pyarrow
    for the date table (as its asset does)."""
    catalog = load()
    root.mkdir(parents=True)
    lake = LakeResource(url=str(root))
    figures = sorted(catalog.figures.values(), key=lambda f: (f.day, f.show_id))
    tweet_stat = spark.createDataFrame(
        [(f.show_id, f.day, f.hashtag_count, f.text_count, f.tweet_count) for f in figures], TWEET_STAT_SCHEMA
    )
    tmdb_stat = spark.createDataFrame(
        [
            (
                f.show_id,
                f.day,
                f.number_of_seasons,
                f.number_of_episodes,
                f.vote_count,
                f.vote_average,
                f.popularity,
            )
            for f in figures
        ],
        TMDB_STAT_SCHEMA,
    )
    shows = catalog.shows
    tvshows = spark.createDataFrame(
        [
            (
                s.id,
                s.name,
                s.original_name,
                s.original_language,
                list(s.genre_ids),
                list(s.network_ids),
                list(s.hashtags),
                list(s.aliases),
                d,
            )
            for d in DAYS
            for s in shows
        ],
        TVSHOWS_SCHEMA,
    )
    genres = spark.createDataFrame(
        [(i, n, d) for d in DAYS for i, n in catalog.genres.items()], GENRES_SCHEMA
    )
    networks = spark.createDataFrame(
        [(n.id, n.name, n.origin_country or None, d) for d in DAYS for n in catalog.networks.values()],
        NETWORKS_SCHEMA,
    )
    tables = [
        ("tweet_stat", tweet_stat),
        ("tmdb_stat", tmdb_stat),
        ("tvshows", tvshows),
        ("genres", genres),
        ("networks", networks),
    ]
    if with_trends:
        names = tvshows.select("id", "date", "name")
        popularity = tmdb_stat.select("id", "date", "popularity")
        tables.append(("show_trends", compute_show_trends(tweet_stat, names, popularity, DAYS)))
    for name, frame in tables:
        lake.write_daily_table(frame, name, DAYS)
    # the date table as its asset writes it: date and weekday in the file, day/month/year the folders
    dates = {
        d: pa.Table.from_pylist([{"date": d, "weekday": d.isoweekday()}], schema=DATE_ARROW_SCHEMA)
        for d in DAYS
    }
    with lake.stage_daily_arrow(dates, "date") as staged:
        staged.publish()
