"""The sample's facts: the 160 tracked shows, genres, networks and the published daily figures
(`data/`, see PROVENANCE.md there), plus the whole-phrase matcher the generator uses to check that
what it wrote means what it intended.

The matcher implements counting rules 5 and 6 (docs/design.md) on its own (normalise with
`ingest_host.normalize`, a phrase counts when it is not preceded or followed by a Unicode `\\w`
character). The generator never derives its ground truth from it; it only uses it to refuse text
that would mention a show by accident (or fail to mention one on purpose).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ingest_host.normalize import normalize_hashtag, normalize_text
from ingest_host.tracked_shows import TrackedShow

DATA_DIR = Path(__file__).resolve().parent / "data"
# The sample's days: the first and last day of the published figures (the generator's, the replay's
# and the demo's default range).
FIRST_DAY = date(2020, 11, 23)
LAST_DAY = date(2020, 12, 1)

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Show:
    id: int
    name: str
    original_name: str
    original_language: str
    genre_ids: tuple[int, ...]
    network_ids: tuple[int, ...]
    hashtags: tuple[str, ...]  # as written, with '#'
    aliases: tuple[str, ...]

    @property
    def phrases(self) -> tuple[str, ...]:
        """What counts as a text mention: the name and every alias (not the original name)."""
        return (self.name, *self.aliases)

    def tracked(self) -> TrackedShow:
        return TrackedShow(self.id, self.name, self.hashtags, self.aliases)


@dataclass(frozen=True)
class DailyFigures:
    """One show's published figures for one day (tweet_stat and tmdb_stat of the 2020 project)."""

    show_id: int
    day: date
    hashtag_count: int
    text_count: int
    tweet_count: int
    popularity: float
    vote_average: float
    vote_count: int
    number_of_episodes: int
    number_of_seasons: int


@dataclass(frozen=True)
class Network:
    id: int
    name: str
    origin_country: str


def _ints(cell: str) -> tuple[int, ...]:
    return tuple(int(part) for part in cell.split("|") if part.strip())


def _texts(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split("|") if part.strip())


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


class PhraseMatcher:
    """Which shows a text mentions by whole phrase, and which show a hashtag belongs to."""

    def __init__(self, shows: list[Show]):
        # Index each phrase under its longest word: a whole-phrase occurrence needs all of its
        # words as whole words of the text, so most texts are settled by a few set lookups.
        self._by_word: dict[str, list[tuple[int, frozenset[str], re.Pattern[str]]]] = defaultdict(list)
        self.phrase_words: dict[str, frozenset[str]] = {}
        for show in shows:
            for phrase in show.phrases:
                normalized = normalize_text(phrase)
                words = frozenset(_WORD.findall(normalized))
                self.phrase_words[normalized] = words
                pattern = re.compile(r"(?<!\w)" + re.escape(normalized) + r"(?!\w)")
                key = max(sorted(words), key=len)
                self._by_word[key].append((show.id, words, pattern))
        self._hashtag_owner = {normalize_hashtag(tag): show.id for show in shows for tag in show.hashtags}

    def shows_in_text(self, text: str) -> frozenset[int]:
        """Shows whose name or alias occurs in `text` as a whole phrase (after normalising it)."""
        normalized = normalize_text(text)
        words = set(_WORD.findall(normalized))
        found: set[int] = set()
        for word in [w for w in words if w in self._by_word]:
            for show_id, phrase_words, pattern in self._by_word[word]:
                if show_id not in found and phrase_words <= words and pattern.search(normalized):
                    found.add(show_id)
        return frozenset(found)

    def show_of_hashtag(self, tag: str) -> int | None:
        """The show owning a hashtag (with or without '#', any case or width), or None."""
        return self._hashtag_owner.get(normalize_hashtag(tag))


class Catalog:
    """Everything the generator knows about the shows, loaded once from `data/`."""

    def __init__(self) -> None:
        self.shows: list[Show] = [
            Show(
                id=int(row["id"]),
                name=row["name"],
                original_name=row["original_name"],
                original_language=row["original_language"],
                genre_ids=_ints(row["genres_id"]),
                network_ids=_ints(row["networks_id"]),
                hashtags=_texts(row["hashtags"]),
                aliases=_texts(row["aliases"]),
            )
            for row in _read_csv("shows.csv")
        ]
        self.by_id = {show.id: show for show in self.shows}
        self.genres = {int(row["id"]): row["name"] for row in _read_csv("genres.csv")}
        self.networks = {
            int(row["id"]): Network(int(row["id"]), row["name"], row["origin_country"])
            for row in _read_csv("networks.csv")
        }
        self.figures: dict[tuple[date, int], DailyFigures] = {}
        for row in _read_csv("daily_stats.csv"):
            figures = DailyFigures(
                show_id=int(row["id"]),
                day=date.fromisoformat(row["date"]),
                hashtag_count=int(row["hashtag_count"]),
                text_count=int(row["text_count"]),
                tweet_count=int(row["tweet_count"]),
                popularity=float(row["popularity"]),
                vote_average=float(row["vote_average"]),
                vote_count=int(row["vote_count"]),
                number_of_episodes=int(row["number_of_episodes"]),
                number_of_seasons=int(row["number_of_seasons"]),
            )
            self.figures[(figures.day, figures.show_id)] = figures
        self.matcher = PhraseMatcher(self.shows)
        # What writing a phrase (or a hashtag, which stays in the text) mentions: usually its own
        # show, sometimes more ("His Dark Materials" also mentions "Dark", "#Riverdale" mentions
        # "Riverdale"). Computed once per phrase from the show list, never from a post.
        self.phrase_mentions: dict[str, frozenset[int]] = {}
        self._mentions_cache: dict[str, frozenset[int]] = {}
        for show in self.shows:
            for phrase in show.phrases:
                self.phrase_mentions[normalize_text(phrase)] = self.matcher.shows_in_text(phrase)
            for tag in show.hashtags:
                self.phrase_mentions[normalize_text(tag)] = self.matcher.shows_in_text(tag)

    def mentions_of(self, written: str) -> frozenset[int]:
        """Shows mentioned by writing a name, alias or hashtag of the list (any surface variant)."""
        found = self._mentions_cache.get(written)
        if found is None:
            found = self._mentions_cache[written] = self.phrase_mentions[normalize_text(written)]
        return found

    def figures_for(self, day: date, show_id: int) -> DailyFigures:
        """The published figures of `day`; days outside 2020-11-23..12-01 reuse them in a 9-day cycle."""
        span = (LAST_DAY - FIRST_DAY).days + 1
        source_day = FIRST_DAY + timedelta(days=(day - FIRST_DAY).days % span)
        return self.figures[(source_day, show_id)]

    def tracked_shows(self) -> list[TrackedShow]:
        return [show.tracked() for show in self.shows]


_CATALOG: Catalog | None = None


def load_catalog() -> Catalog:
    """The catalog, loaded on first use and shared (it is read-only)."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = Catalog()
    return _CATALOG
