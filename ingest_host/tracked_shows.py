"""The tracked-show list: CSV `id,name,hashtags,aliases`, several values separated by `|`,
hashtags written with `#` (docs/design.md, "The tracked-show list"). Reading it repairs what is safe
to repair and refuses what is not, so a bad list never silently stops a show from matching (a
hashtag with a trailing space or without its `#` would otherwise never match any post)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from ingest_host.normalize import normalize_hashtag, normalize_text

HEADER = ["id", "name", "hashtags", "aliases"]
SEPARATOR = "|"


class TrackedShowsError(ValueError):
    """The list cannot be used as it is; the message names every problem with its line."""


@dataclass(frozen=True)
class TrackedShow:
    id: int
    name: str
    hashtags: tuple[str, ...]  # as written, each with its leading '#'
    aliases: tuple[str, ...] = ()

    def to_row(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "name": self.name,
            "hashtags": SEPARATOR.join(self.hashtags),
            "aliases": SEPARATOR.join(self.aliases),
        }


@dataclass
class TrackedShowList:
    shows: list[TrackedShow]
    repairs: list[str] = field(default_factory=list)  # what was fixed on the way in, line by line

    def __iter__(self):
        return iter(self.shows)

    def __len__(self) -> int:
        return len(self.shows)

    def by_id(self) -> dict[int, TrackedShow]:
        return {s.id: s for s in self.shows}


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(SEPARATOR) if part.strip()]


def parse_tracked_shows(text: str) -> TrackedShowList:
    """Parse and validate the CSV text. Trims whitespace, adds a missing '#', drops blank and
    repeated values (repairs are listed); raises TrackedShowsError for a wrong header, a bad or
    repeated id, a blank name, a show with no hashtag, or a hashtag claimed by two shows."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if header[:4] != HEADER:
        raise TrackedShowsError(f"tracked-show list: header must start with {','.join(HEADER)}, got {header}")
    reader.fieldnames = header
    shows: list[TrackedShow] = []
    repairs: list[str] = []
    problems: list[str] = []
    seen_ids: dict[int, int] = {}
    hashtag_owner: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        raw_id = (row.get("id") or "").strip()
        try:
            show_id = int(raw_id)
            if show_id <= 0:
                raise ValueError
        except ValueError:
            problems.append(f"line {line}: id {raw_id!r} is not a positive integer")
            continue
        if show_id in seen_ids:
            problems.append(f"line {line}: id {show_id} repeats line {seen_ids[show_id]}")
            continue
        seen_ids[show_id] = line
        name = (row.get("name") or "").strip()
        if not name:
            problems.append(f"line {line}: show {show_id} has a blank name")
            continue
        if name != (row.get("name") or ""):
            repairs.append(f"line {line}: trimmed the name of show {show_id}")
        hashtags: list[str] = []
        for raw in _split(row.get("hashtags")):
            tag = raw if raw.startswith(("#", "＃")) else "#" + raw
            if tag != raw:
                repairs.append(f"line {line}: added '#' to hashtag {raw!r} of show {show_id}")
            if " " in tag.strip():
                problems.append(f"line {line}: hashtag {tag!r} of show {show_id} contains a space")
                continue
            key = normalize_hashtag(tag)
            if not key:
                continue
            owner = hashtag_owner.get(key)
            if owner == show_id:
                repairs.append(f"line {line}: dropped repeated hashtag {tag!r} of show {show_id}")
                continue
            if owner is not None:
                problems.append(f"line {line}: hashtag {tag!r} of show {show_id} is also show {owner}'s")
                continue
            hashtag_owner[key] = show_id
            hashtags.append(tag)
        if not hashtags:
            problems.append(f"line {line}: show {show_id} has no hashtag")
            continue
        aliases: list[str] = []
        seen_phrases = {normalize_text(name)}
        for alias in _split(row.get("aliases")):
            if normalize_text(alias) in seen_phrases:
                repairs.append(f"line {line}: dropped alias {alias!r} of show {show_id} (repeats a name)")
                continue
            seen_phrases.add(normalize_text(alias))
            aliases.append(alias)
        raw_cells = (row.get("hashtags") or "") + (row.get("aliases") or "")
        if raw_cells != raw_cells.strip() or any(p != p.strip() for p in raw_cells.split(SEPARATOR)):
            repairs.append(f"line {line}: trimmed spaces around hashtags/aliases of show {show_id}")
        shows.append(TrackedShow(show_id, name, tuple(hashtags), tuple(aliases)))
    if problems:
        raise TrackedShowsError("tracked-show list is invalid:\n  " + "\n  ".join(problems))
    if not shows:
        raise TrackedShowsError("tracked-show list is empty")
    return TrackedShowList(shows, repairs)


def format_tracked_shows(shows: list[TrackedShow] | TrackedShowList) -> str:
    """Render the CSV (stable order: as given)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    for show in shows:
        writer.writerow(show.to_row())
    return out.getvalue()
