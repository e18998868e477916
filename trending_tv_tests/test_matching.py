"""The matcher (counting rules 5-6) against the rule written as one regular expression per phrase:
every phrase occurrence found in one Aho-Corasick pass must give exactly what `(?<!\\w)phrase(?!\\w)`
gives, on random texts over an alphabet of letters, digits, '_', punctuation and other scripts."""

from __future__ import annotations

import pickle
import random
import re

from ingest_host.normalize import normalize_hashtag, normalize_text
from trending_tv.transforms.matching import ShowMatcher, ShowTerms


def by_the_rule(shows: list[ShowTerms], text: str, hashtags: list[str]) -> tuple[list[int], list[int]]:
    tags = {normalize_hashtag(h) for h in hashtags if h}
    normalised = normalize_text(text)
    by_tag = sorted({s.id for s in shows if tags & set(s.hashtags)})
    by_text = sorted(
        {
            s.id
            for s in shows
            for p in s.phrases
            if re.search(r"(?<!\w)" + re.escape(p) + r"(?!\w)", normalised)
        }
    )
    return by_tag, by_text


def test_one_pass_equals_one_regex_per_phrase_on_random_texts():
    rng = random.Random(14)
    pieces = [*"ab _!'#-1.é\u00dfが\u0660", "lost", "dexter", "dexter's", "'s", "  ", "&amp;", "\u2019"]

    def word(n: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(1, n)))

    for _ in range(400):
        shows = [
            ShowTerms(
                i + 1,
                tuple(sorted({p for p in (normalize_text(word(3)) for _ in range(3)) if p})),
                tuple(sorted({t for t in (normalize_hashtag(word(2)) for _ in range(2)) if t})),
            )
            for i in range(rng.randint(0, 6))
        ]
        matcher = ShowMatcher(shows)
        shipped = pickle.loads(pickle.dumps(matcher))  # as Spark ships it to its Python workers
        for _ in range(25):
            text, hashtags = word(12), [word(2) for _ in range(rng.randint(0, 3))]
            expected = by_the_rule(shows, text, hashtags)
            assert matcher.match(text, hashtags) == expected, (shows, text, hashtags)
            assert shipped.match(text, hashtags) == expected


def test_overlapping_and_nested_phrases_each_count():
    shows = [
        ShowTerms(1, ("dexter",), ()),
        ShowTerms(2, ("dexter's laboratory",), ()),
        ShowTerms(3, ("lab",), ()),
    ]
    matcher = ShowMatcher(shows)
    assert matcher.match("Dexter’s Laboratory tonight", []) == ([], [1, 2])
    assert matcher.match("lostdexter lab!", []) == ([], [3])
    assert ShowMatcher([]).match("anything", ["#x"]) == ([], [])


def test_whitespace_is_collapsed_as_unicode_whitespace():
    # normalize_text collapses with str.split(): the same characters as the rule's `\s+` (every code
    # point agrees), including the no-break, ideographic and line-separator spaces posts carry.
    everything = (chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert [c for c in everything if c.isspace() != bool(re.fullmatch(r"\s", c))] == []
    assert normalize_text("\u3000Stranger\u00a0\u00a0Things\u2028 \t") == "stranger things"
    assert normalize_text("The \u201cCrown\u201d\u2019s  \x1c end") == 'the "crown"\'s end'
    assert normalize_text("  ") == ""
