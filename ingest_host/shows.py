"""The tracked-show list: where it lives, and `ingest-host refresh-shows`.

`TRENDING_TV_TRACKED_SHOWS` is a local path or an `s3://bucket/key` URL (default
`<lake>/config/tracked_shows.csv`). `refresh-shows` rebuilds it from TMDB's popular TV (top N)
merged with the checked-in overrides file (`ingest_host/data/tracked_shows_overrides.csv`):

    id,name,hashtags,aliases,action
    1400,Seinfeld,#Seinfeld,,pin        # always tracked, even when not in the top N
    2316,,#TheOffice|#TheOfficeUS,,     # hashtags replace the derived one; aliases are added
    12345,,,,exclude                    # never tracked

Hashtags not overridden are derived from the name (letters and digits only: "Grey's Anatomy"
-> #GreysAnatomy); a derived hashtag already taken by a more popular show gets the first-air year
appended, else the show is skipped with a warning. The result is validated by the shared parser
(trimmed, no blank or duplicate hashtags) before it is written.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from ingest_host.config import Settings
from ingest_host.normalize import normalize_hashtag, normalize_text
from ingest_host.tracked_shows import (
    TrackedShow,
    TrackedShowList,
    TrackedShowsError,
    format_tracked_shows,
    parse_tracked_shows,
)

log = logging.getLogger("ingest_host.shows")

OVERRIDE_HEADER = ["id", "name", "hashtags", "aliases", "action"]
ACTIONS = ("", "pin", "exclude")


def _s3(url: str):
    from ingest_host.lake import S3Lake

    parsed = urlparse(url)
    return S3Lake(f"s3://{parsed.netloc}"), parsed.path.lstrip("/")


def read_location(url: str) -> bytes:
    """Bytes of a local file or an s3://bucket/key object."""
    if url.startswith("s3://"):
        lake, key = _s3(url)
        return lake.read_bytes(key)
    return Path(url.removeprefix("file://")).read_bytes()


def write_location(url: str, data: bytes) -> None:
    if url.startswith("s3://"):
        lake, key = _s3(url)
        lake.write_bytes(key, data)
        return
    path = Path(url.removeprefix("file://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_tracked_bytes(settings: Settings) -> bytes:
    """The current tracked list's bytes, or a TrackedShowsError saying how to create it."""
    url = settings.tracked_shows_url
    try:
        return read_location(url)
    except OSError as error:
        raise TrackedShowsError(
            f"tracked-show list {url} cannot be read ({type(error).__name__}): run "
            "`ingest-host refresh-shows` or set TRENDING_TV_TRACKED_SHOWS"
        ) from error
    except Exception as error:  # S3 errors
        raise TrackedShowsError(f"tracked-show list {url} cannot be read: {error}") from error


def load_tracked_shows(settings: Settings) -> TrackedShowList:
    return parse_tracked_shows(read_tracked_bytes(settings).decode("utf-8"))


@dataclass
class Override:
    id: int
    name: str = ""
    hashtags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    action: str = ""


def _cells(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split("|") if p.strip())


def parse_overrides(text: str) -> dict[int, Override]:
    lines = [line for line in text.lstrip("\ufeff").splitlines() if not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = [h.strip() for h in reader.fieldnames or []]
    if header != OVERRIDE_HEADER:
        raise TrackedShowsError(f"overrides: header must be {','.join(OVERRIDE_HEADER)}, got {header}")
    reader.fieldnames = header
    out: dict[int, Override] = {}
    for number, row in enumerate(reader, start=2):
        try:
            show_id = int((row["id"] or "").strip())
        except ValueError as error:
            raise TrackedShowsError(f"overrides line {number}: bad id {row['id']!r}") from error
        action = (row["action"] or "").strip().lower()
        if action not in ACTIONS:
            raise TrackedShowsError(f"overrides line {number}: action must be one of {ACTIONS}")
        if show_id in out:
            raise TrackedShowsError(f"overrides line {number}: id {show_id} repeated")
        out[show_id] = Override(
            show_id, (row["name"] or "").strip(), _cells(row["hashtags"]), _cells(row["aliases"]), action
        )
        if action == "pin" and not out[show_id].name:
            raise TrackedShowsError(f"overrides line {number}: a pinned show needs its name")
    return out


def derive_hashtag(name: str) -> str:
    """'#' + the name's letters and digits (NFKC): "Grey's Anatomy" -> "#GreysAnatomy"."""
    body = "".join(ch for ch in unicodedata.normalize("NFKC", name) if ch.isalnum())
    return "#" + body if body else ""


@dataclass
class Candidate:
    id: int
    name: str
    year: str = ""


@dataclass
class MergeResult:
    shows: list[TrackedShow]
    warnings: list[str] = field(default_factory=list)


def merge_shows(popular: list[Candidate], overrides: dict[int, Override], top_n: int) -> MergeResult:
    """Top N popular shows (exclusions skipped) plus pinned ones, with overrides applied."""
    result = MergeResult([])
    taken: set[str] = set()
    chosen: list[Candidate] = []
    seen: set[int] = set()
    for candidate in popular:
        if len(chosen) >= top_n:
            break
        override = overrides.get(candidate.id)
        if candidate.id in seen or (override and override.action == "exclude"):
            continue
        seen.add(candidate.id)
        chosen.append(candidate)
    for override in overrides.values():
        if override.action == "pin" and override.id not in seen:
            seen.add(override.id)
            chosen.append(Candidate(override.id, override.name))
    # overridden hashtags are reserved first so that a derived one never takes them
    for candidate in chosen:
        override = overrides.get(candidate.id)
        if override and override.hashtags:
            taken.update(normalize_hashtag(h) for h in override.hashtags)
    for candidate in chosen:
        override = overrides.get(candidate.id) or Override(candidate.id)
        name = (override.name or candidate.name).strip()
        if not name:
            result.warnings.append(f"show {candidate.id}: no name, skipped")
            continue
        if override.hashtags:
            hashtags = tuple(h if h.startswith("#") else "#" + h for h in override.hashtags)
        else:
            tag = derive_hashtag(name)
            if tag and normalize_hashtag(tag) in taken and candidate.year:
                tag = f"{tag}{candidate.year}"
            if not tag or normalize_hashtag(tag) in taken:
                result.warnings.append(f"show {candidate.id} ({name}): no free hashtag, skipped")
                continue
            taken.add(normalize_hashtag(tag))
            hashtags = (tag,)
        aliases = tuple(a for a in override.aliases if normalize_text(a) != normalize_text(name))
        result.shows.append(TrackedShow(candidate.id, name, hashtags, aliases))
    return result


def fetch_popular(client, top_n: int, overrides: dict[int, Override]) -> list[Candidate]:
    excluded = sum(1 for o in overrides.values() if o.action == "exclude")
    wanted = top_n + excluded
    out: list[Candidate] = []
    page = 1
    while len(out) < wanted:
        payload = client.popular(page)
        for item in payload["results"]:
            if isinstance(item, dict) and isinstance(item.get("id"), int) and item.get("name"):
                year = str(item.get("first_air_date") or "")[:4]
                out.append(Candidate(item["id"], str(item["name"]), year))
        if page >= int(payload.get("total_pages") or page) or not payload["results"]:
            break
        page += 1
    return out


def refresh_shows(settings: Settings, dry_run: bool = False) -> tuple[str, MergeResult]:
    from ingest_host.tmdb_client import TmdbClient

    overrides = parse_overrides(settings.show_overrides_path.read_text(encoding="utf-8"))
    client = TmdbClient(settings)
    popular = fetch_popular(client, settings.popular_top_n, overrides)
    merged = merge_shows(popular, overrides, settings.popular_top_n)
    text = format_tracked_shows(merged.shows)
    checked = parse_tracked_shows(text)  # the shared validator: raises on anything unusable
    for warning in merged.warnings + checked.repairs:
        log.warning(warning)
    if not dry_run:
        write_location(settings.tracked_shows_url, text.encode("utf-8"))
    return text, merged
