"""Which tracked shows a post mentions (docs/design.md, counting rules 5 and 6), in plain Python.

The same function runs inside Spark (an Arrow-batched UDF) and in unit tests: Python's
`html.unescape`, NFKC, `casefold` and Unicode `\\w` are the contract, and Spark SQL has no
built-in equivalent for the first three, so matching is done here rather than in Spark SQL.

Names and aliases are found in one pass over the text by an Aho-Corasick automaton (every
occurrence of every phrase, overlapping ones included), so the cost of a post does not grow with
the number of tracked shows; each occurrence is then kept only when it is a whole phrase.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from ingest_host.normalize import normalize_hashtag, normalize_text
from ingest_host.tracked_shows import TrackedShow

# One character of Python's Unicode `\w` (a letter or digit of any script, or '_'): the boundary.
_WORD_CHAR = re.compile(r"\w")


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


def _build_automaton(by_phrase: dict[str, tuple[int, ...]]) -> ahocorasick.Automaton | None:
    if not by_phrase:
        return None  # an automaton without words cannot be searched
    automaton = ahocorasick.Automaton()
    for phrase, ids in by_phrase.items():
        automaton.add_word(phrase, (len(phrase), ids))
    automaton.make_automaton()
    return automaton


class ShowMatcher:
    """Matches normalised post content against one day's tracked shows."""

    def __init__(self, shows: Iterable[ShowTerms]):
        self.shows = tuple(shows)
        by_hashtag: dict[str, list[int]] = defaultdict(list)
        by_phrase: dict[str, list[int]] = defaultdict(list)
        for show in self.shows:
            for tag in show.hashtags:
                by_hashtag[tag].append(show.id)
            for phrase in show.phrases:
                by_phrase[phrase].append(show.id)
        self._by_hashtag = {tag: tuple(ids) for tag, ids in by_hashtag.items()}
        self._by_phrase = {phrase: tuple(ids) for phrase, ids in sorted(by_phrase.items())}
        self._automaton = _build_automaton(self._by_phrase)

    def __getstate__(self) -> dict:
        # Shipped to Spark's Python workers as the phrase table; each worker builds its own automaton.
        return {"shows": self.shows, "_by_hashtag": self._by_hashtag, "_by_phrase": self._by_phrase}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._automaton = _build_automaton(self._by_phrase)

    def match(self, text: str | None, hashtags: Sequence[str] | None) -> tuple[list[int], list[int]]:
        """Return (ids matched by hashtag, ids matched by text), each sorted and without repeats."""
        hashtag_ids: set[int] = set()
        for raw in hashtags or ():
            if raw:
                hashtag_ids.update(self._by_hashtag.get(normalize_hashtag(raw), ()))
        text_ids: set[int] = set()
        if text and self._automaton is not None:
            normalised = normalize_text(text)
            end_of_text = len(normalised) - 1
            for end, (length, ids) in self._automaton.iter(normalised):
                # A whole phrase: not preceded or followed by a word character (rule 6).
                start = end - length + 1
                if start > 0 and _WORD_CHAR.match(normalised, start - 1):
                    continue
                if end < end_of_text and _WORD_CHAR.match(normalised, end + 1):
                    continue
                text_ids.update(ids)
        return sorted(hashtag_ids), sorted(text_ids)
