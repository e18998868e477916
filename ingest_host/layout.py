"""Keys of the data lake (docs/design.md, "The lake"): zero-padded, UTC, one layout for folders and S3."""

from __future__ import annotations

from datetime import date, datetime

TWEET_RAW = "tweet_raw"
TMDB_RAW = "tmdb_raw"
CONFIG_TRACKED_SHOWS = "config/tracked_shows.csv"
ANALYTICS = "analytics"
MANIFESTS = "manifests"


def tweet_day_prefix(day: date) -> str:
    """Prefix of one UTC day's hourly post files, with its trailing slash."""
    return f"{TWEET_RAW}/{day:%Y/%m/%d}/"


def tweet_hour_key(hour: datetime, gzip: bool = False) -> str:
    """Key of one UTC hour's post file: tweet_raw/YYYY/MM/DD/HH/YYYY-MM-DD-HH.json[.gz]."""
    suffix = ".json.gz" if gzip else ".json"
    return f"{TWEET_RAW}/{hour:%Y/%m/%d/%H}/{hour:%Y-%m-%d-%H}{suffix}"


def tmdb_day_prefix(day: date) -> str:
    return f"{TMDB_RAW}/{day:%Y/%m/%d}/"


def tmdb_day_key(day: date) -> str:
    """Key of one UTC day's TMDB details file (JSON Lines, one /tv/{id} response per line)."""
    return f"{TMDB_RAW}/{day:%Y/%m/%d}/{day:%Y-%m-%d}.json"


def tracked_shows_day_key(day: date) -> str:
    """Key of the tracked-show list in force on that day."""
    return f"{TMDB_RAW}/{day:%Y/%m/%d}/tracked_shows.csv"


def table_prefix(table: str) -> str:
    return f"{ANALYTICS}/{table}/"


def table_partition_prefix(table: str, day: date) -> str:
    """analytics/<table>/year=YYYY/month=MM/day=DD/ (zero-padded, unlike the 2020 project)."""
    return f"{ANALYTICS}/{table}/year={day:%Y}/month={day:%m}/day={day:%d}/"


def manifest_key(source: str, day: date) -> str:
    """Where sealing a raw day writes its manifest (kept out of the raw prefixes the sensors list)."""
    return f"{MANIFESTS}/{source}/{day:%Y/%m/%d}/manifest.json"


INGEST_META = "ingest_meta"


def tweet_hour_stats_key(hour: datetime) -> str:
    """Collection stats of one UTC hour, written by the ingest host beside (not inside) tweet_raw:
    ingest_meta/tweet_raw/YYYY/MM/DD/HH/YYYY-MM-DD-HH.json (minutes covered, cap, counts by kind)."""
    return f"{INGEST_META}/{TWEET_RAW}/{hour:%Y/%m/%d/%H}/{hour:%Y-%m-%d-%H}.json"


def tmdb_day_stats_key(day: date) -> str:
    """Coverage of one UTC day's TMDB pull: ingest_meta/tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json."""
    return f"{INGEST_META}/{TMDB_RAW}/{day:%Y/%m/%d}/{day:%Y-%m-%d}.json"


COUNTS_RAW = "counts_raw"


def counts_day_prefix(day: date) -> str:
    return f"{COUNTS_RAW}/{day:%Y/%m/%d}/"


def counts_day_key(day: date) -> str:
    """Key of one UTC day's X post counts (JSON Lines, one line per show and query, each holding the
    responses as received): counts_raw/YYYY/MM/DD/YYYY-MM-DD.json."""
    return f"{COUNTS_RAW}/{day:%Y/%m/%d}/{day:%Y-%m-%d}.json"


def counts_day_stats_key(day: date) -> str:
    """Coverage, requests and spend of one UTC day's counts:
    ingest_meta/counts_raw/YYYY/MM/DD/YYYY-MM-DD.json."""
    return f"{INGEST_META}/{COUNTS_RAW}/{day:%Y/%m/%d}/{day:%Y-%m-%d}.json"


def tweet_day_coverage_key(day: date) -> str:
    """Collection coverage of one UTC day, written by the ingest host after each upload run that
    touched the day: ingest_meta/tweet_raw/YYYY/MM/DD/YYYY-MM-DD.json. Per hour ("00".."23"): its
    state (complete, partial, uncovered, missing, pending or open), minutes covered and their
    60-character mask, the raw file's key, bytes, lines and posts; per day: minutes covered, the
    share of the day's finished minutes, and the hours missing (ingest_host/README.md, "Coverage")."""
    return f"{INGEST_META}/{TWEET_RAW}/{day:%Y/%m/%d}/{day:%Y-%m-%d}.json"


def check_key(key: str) -> str:
    """`key` if it is a safe relative lake key, else ValueError: no leading `/`, no `.` or `..`
    segment, no backslash, no NUL. Use it before turning a key into a local path."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\0" in key or any(p in (".", "..") for p in parts):
        raise ValueError(f"Invalid lake key {key!r}")
    return key


# Who writes which top-level prefixes of the lake: the one list the IAM policies in deploy/iam/ are
# checked against (trending_tv_tests/test_iam_policies.py). A new prefix goes here and in the policies.
CONFIG = "config"
REPORTS = "reports"
# Spark's output in direct mode (EMR) before each day is swapped into analytics/ (EMRFS also writes a
# `_staging_$folder$` marker beside it)
STAGING = "_staging"
# A run's staged output of a table whose blocking checks failed, kept for inspection (outside analytics/,
# so no table reader sees it); written by whoever publishes: the Dagster host, or the EMR nodes when the
# asset body runs on the cluster (direct mode). The lake's lifecycle rule expires it (deploy/iam/).
QUARANTINE = "_quarantine"

INGEST_HOST_WRITES = (TWEET_RAW, TMDB_RAW, COUNTS_RAW, CONFIG, INGEST_META)
"""The collector: raw posts, TMDB pulls and tracked-show lists, post counts, the current list,
collection stats."""
DAGSTER_HOST_WRITES = (MANIFESTS, ANALYTICS, REPORTS, STAGING, QUARANTINE)
"""The Dagster host: sealed-day manifests, the tables its assets compute (date, dimensions, trends,
and every table when Spark runs locally), the trend reports, direct-mode staging, and the quarantined
output of tables whose blocking checks failed."""
EMR_NODES_WRITES = (ANALYTICS, STAGING, QUARANTINE)
"""The EMR nodes: the Spark tables (written to staging, then swapped into analytics/, or copied to
the quarantine when a blocking check fails)."""
