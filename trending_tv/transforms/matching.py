"""Which tracked shows a post mentions (docs/design.md, counting rules 5 and 6), in plain Python.

The same function runs inside Spark (an Arrow-batched UDF) and in unit tests: Python's
`html.unescape`, NFKC, `casefold` and Unicode `\\w` are the contract, and Spark SQL has no
built-in equivalent for the first three, so matching is done here rather than in Spark SQL.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest_host.normalize import normalize_hashtag, normalize_text
from ingest_host.tracked_shows import TrackedShow


@dataclass(frozen=True)
class ShowTerms:
    """A tracked show reduced to what matching needs (picklable, small)."""

    id: int
    phrases: tuple[str, ...]  # normalised name and aliases
    hashtags: tuple[str, ...]  # normalised, without '#'

    @classmethod
    def from_tracked(cls, show: TrackedShow) -> ShowTerms:
        phrases = {normalize_text(p) for p in (show.name, *show.aliases)}
        hashtags = {normalize_hashtag(h) for h in show.hashtags}
        return cls(show.id, tuple(sorted(p for p in phrases if p)), tuple(sorted(h for h in hashtags if h)))


class ShowMatcher:
    """Matches normalised post content against one day's tracked shows."""

    def __init__(self, shows: Iterable[ShowTerms]):
        self.shows = tuple(shows)
        self._by_hashtag: dict[str, list[int]] = defaultdict(list)
        by_phrase: dict[str, list[int]] = defaultdict(list)
        for show in self.shows:
            for tag in show.hashtags:
                self._by_hashtag[tag].append(show.id)
            for phrase in show.phrases:
                by_phrase[phrase].append(show.id)
        # A whole phrase: not preceded or followed by a letter or digit of any script or '_' (\w).
        self._phrases = [
            (phrase, re.compile(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)"), tuple(ids))
            for phrase, ids in sorted(by_phrase.items())
        ]

    def match(self, text: str | None, hashtags: Sequence[str] | None) -> tuple[list[int], list[int]]:
        """Return (ids matched by hashtag, ids matched by text), each sorted and without repeats."""
        hashtag_ids: set[int] = set()
        for raw in hashtags or ():
            if raw:
                hashtag_ids.update(self._by_hashtag.get(normalize_hashtag(raw), ()))
        text_ids: set[int] = set()
        if text:
            normalised = normalize_text(text)
            for phrase, pattern, ids in self._phrases:
                # The substring test is a cheap filter; the regex then enforces the boundaries.
                if phrase in normalised and pattern.search(normalised):
                    text_ids.update(ids)
        return sorted(hashtag_ids), sorted(text_ids)
