"""Small hand-written lakes and post builders for tests, in the lake layout of docs/design.md."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from ingest_host import layout
from ingest_host.lake import Lake
from ingest_host.tracked_shows import TrackedShow, format_tracked_shows
from trending_tv_tests.ingest_host.servers import MotoS3, s3_env

LAKE_KINDS = ["local", "s3"]


def empty_lake(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    """For a fixture parametrized over LAKE_KINDS: an empty lake, a folder ("local") or a prefix of a
    fresh bucket on moto's S3 server on 127.0.0.1 ("s3", its environment set for the test only)."""
    if kind == "local":
        (tmp_path / "lake").mkdir()
        yield Lake.from_url(tmp_path / "lake")
        return
    # moto keeps its buckets per process: a fresh bucket per test
    with MotoS3(bucket=f"lake-{uuid.uuid4().hex[:12]}") as s3:
        for key, value in s3_env(s3.endpoint).items():
            monkeypatch.setenv(key, value)
        yield Lake.from_url(f"s3://{s3.bucket}/lake")


SHOWS = [
    TrackedShow(1, "Lost", ("#Lost",)),
    TrackedShow(2, "Dexter", ("#Dexter",)),
    TrackedShow(3, "Dexter's Laboratory", ("#DextersLab",)),
    TrackedShow(4, "Law & Order: Special Victims Unit", ("#SVU",), ("Law & Order: SVU",)),
    TrackedShow(5, "Grey's Anatomy", ("#GreysAnatomy",)),
    TrackedShow(6, "The Mandalorian", ("#TheMandalorian", "#Mandalorian")),
]


def v2_post(
    post_id: str,
    created_at: str,
    text: str,
    hashtags: tuple[str, ...] = (),
    *,
    note: tuple[str, tuple[str, ...]] | None = None,
    retweet_of: dict | None = None,
    quote_of: dict | None = None,
    extra: dict | None = None,
) -> str:
    """An X API v2 filtered-stream message; `retweet_of`/`quote_of` are v2 post objects placed in
    includes.tweets (pass {"id": ...} with "missing": True to leave the original out)."""
    data: dict = {
        "id": post_id,
        "text": text,
        "created_at": created_at,
        "edit_history_tweet_ids": [post_id],
        "entities": {"hashtags": [{"start": 0, "end": len(h) + 1, "tag": h} for h in hashtags]},
    }
    if note:
        data["note_tweet"] = {
            "text": note[0],
            "entities": {"hashtags": [{"start": 0, "end": 1, "tag": h} for h in note[1]]},
        }
    includes: list[dict] = []
    references = []
    for kind, original in (("retweeted", retweet_of), ("quoted", quote_of)):
        if original:
            references.append({"type": kind, "id": original["id"]})
            if not original.get("missing"):
                includes.append(original)
    if references:
        data["referenced_tweets"] = references
    message: dict = {"data": data, "matching_rules": [{"id": "1", "tag": "1"}]}
    if includes:
        message["includes"] = {"tweets": includes}
    message.update(extra or {})
    return json.dumps(message, ensure_ascii=False)


def v2_object(
    post_id: str, text: str, hashtags: tuple[str, ...] = (), created_at: str = "2020-11-20T00:00:00.000Z"
):
    return {
        "id": post_id,
        "text": text,
        "created_at": created_at,
        "entities": {"hashtags": [{"tag": h} for h in hashtags]},
    }


def v1_created(iso: str) -> str:
    """'2020-11-23T10:00:00' -> 'Mon Nov 23 10:00:00 +0000 2020' (the v1.1 format)."""
    return datetime.fromisoformat(iso).strftime("%a %b %d %H:%M:%S +0000 %Y")


def v1_status(
    post_id: str,
    created_iso: str,
    text: str,
    hashtags: tuple[str, ...] = (),
    *,
    extended: tuple[str, tuple[str, ...]] | None = None,
    retweeted: dict | None = None,
    quoted: dict | None = None,
) -> str:
    """A v1.1 status object as the 2020 stream delivered it (created_iso is UTC, no zone)."""
    status = v1_object(post_id, created_iso, text, hashtags, extended=extended)
    if retweeted:
        status["retweeted_status"] = retweeted
    if quoted:
        status["quoted_status"] = quoted
        status["is_quote_status"] = True
    return json.dumps(status, ensure_ascii=False)


def v1_object(post_id, created_iso, text, hashtags=(), *, extended=None) -> dict:
    status: dict = {
        "created_at": v1_created(created_iso),
        "id": int(post_id),
        "id_str": post_id,
        "text": text,
        "truncated": extended is not None,
        "entities": {"hashtags": [{"text": h, "indices": [0, 1]} for h in hashtags]},
        "user": {"id_str": "99", "screen_name": "someone"},
    }
    if extended:
        status["extended_tweet"] = {
            "full_text": extended[0],
            "entities": {"hashtags": [{"text": h, "indices": [0, 1]} for h in extended[1]]},
        }
    return status


def tmdb_record(show: TrackedShow) -> dict:
    return {
        "id": show.id,
        "name": show.name,
        "original_name": show.name,
        "original_language": "en",
        "genres": [{"id": 18, "name": "Drama"}],
        "networks": [{"id": 2, "name": "ABC", "origin_country": "US", "logo_path": None}],
        "number_of_seasons": 1,
        "number_of_episodes": 10,
        "vote_count": 100,
        "vote_average": 8.1,
        "popularity": 12.5,
    }


def write_day_dimensions(lake: Lake, day: date, shows=SHOWS) -> None:
    lake.write_text(layout.tracked_shows_day_key(day), format_tracked_shows(list(shows)))
    lake.write_text(layout.tmdb_day_key(day), "\n".join(json.dumps(tmdb_record(s)) for s in shows) + "\n")


def write_hour(
    lake: Lake, day: date, hour: int, lines: list[str], *, newline: str = "\n", end: str = "\n"
) -> str:
    key = layout.tweet_hour_key(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))
    lake.write_text(key, newline.join(lines) + (end if lines else ""))
    return key


def tiny_lake(root: Path | Lake, day: date = date(2020, 11, 23), hours: int = 24) -> Lake:
    """A lake (a folder, or any Lake such as S3) with one day of dimensions and `hours` hourly
    files, a few posts in hour 10."""
    if isinstance(root, Lake):
        lake = root
    else:
        root.mkdir(parents=True, exist_ok=True)
        lake = Lake.from_url(root)
    write_day_dimensions(lake, day)
    for hour in range(hours):
        write_hour(lake, day, hour, [])
    iso = f"{day}T10:15:00.000Z"
    write_hour(
        lake,
        day,
        10,
        [
            v2_post("100", iso, "Watching Lost! again", ("Mandalorian",)),
            "",
            v1_status("101", f"{day}T10:16:00", "Dexter's Laboratory marathon"),
            '{"limit":{"track":5,"timestamp_ms":"1606126560000"}}',
            "{not json",
        ],
    )
    return lake
