"""What the generator decides before it writes a byte: posts as specifications (who, when, which
shows they mention and how), and the other lines of a stream (notices, keep-alives, junk).

A post's ground truth is fixed here, from its mentions; rendering it as a v1.1 status or an X API
v2 message only changes its shape, never which shows it counts for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# Payload families: every hour file holds one of them (odd UTC hours hold v1.1 archives).
V2 = "v2"
V11 = "v1.1"

# How a post is built (its content is always `mentions`; see PostSpec).
PLAIN = "plain"
REPLY = "reply"
RETWEET = "retweet"  # content is the retweeted original, which the message embeds
RETWEET_MISSING = "retweet_missing"  # v2: original absent from includes (data + errors); v1.1: manual "RT @"
QUOTE = "quote"  # the quoted post's mentions never count
ARCHIVE_FULL_TEXT = "archive_full_text"  # v1.1 REST archive object with `full_text` (v2: plain)

# Line kinds of the parse-count truth (definitions in generator.py's docstring).
LINE_KINDS = ("post", "invalid_post", "keepalive", "corrupt", "limit", "delete", "errors", "other")


def ms_of(moment: datetime) -> int:
    return (moment - UNIX_EPOCH) // timedelta(milliseconds=1)


def utc_of(ms: int) -> datetime:
    return UNIX_EPOCH + timedelta(milliseconds=ms)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_of(ms: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + ms // DAY_MS)


def day_start_ms(day: date) -> int:
    return ms_of(datetime(day.year, day.month, day.day, tzinfo=UTC))


def snowflake(ms: int, low_bits: int) -> int:
    """An X/Twitter-style id for a moment: milliseconds since 2010-11-04 then 22 low bits."""
    return ((ms - TWITTER_EPOCH_MS) << 22) | (low_bits & 0x3FFFFF)


@dataclass(frozen=True, slots=True)
class Mention:
    """One show named by a post: by one of its hashtags, by a name or alias, or both.

    `surface` forces how it is written ("" = chosen at random): "curly" apostrophe, "exclaim"
    ("Name!"), "lower"/"upper"/"fullwidth" hashtag, "original_name" (the non-Latin original title
    in the text, which is not a matching phrase), "spaced" (CJK text around a spaced name)."""

    show_id: int
    hashtag: str | None = None
    phrase: str | None = None
    surface: str = ""


@dataclass(slots=True)
class PostSpec:
    """One post: its id, its own created_at, when the collector filed it, and what it says."""

    post_id: int
    created_ms: int
    filed_ms: int
    seq: int  # creation order in the plan: breaks ties between lines filed in the same millisecond
    kind: str = PLAIN
    mentions: tuple[Mention, ...] = ()
    quoted_mentions: tuple[Mention, ...] = ()  # QUOTE only: what the quoted post says
    lang: str = "en"
    template: str = ""  # a fixed near-miss text for unrelated posts ("" = composed)
    hashtag_shows: frozenset[int] = frozenset()  # expected matches, fixed when planned
    text_shows: frozenset[int] = frozenset()
    long: bool = False  # padded past 280 characters with the show hashtags at the very end
    tail: bool = False  # mentions only after 150 characters (a retweet's cut text lacks them)
    invalid: str = ""  # "", "no_created_at", "no_id", "empty_created_at": skipped, never counted
    without_ms: bool = False  # v2 created_at without milliseconds
    rule_variant: str = ""  # "", "numeric_id", "null_tag", "no_tag" (v2 matching_rules)
    redeliveries: list[int] = field(default_factory=list)  # filed_ms of duplicate deliveries
    rule_show: int | None = None  # the rule an unrelated post matched (v2), if any

    @property
    def counted(self) -> bool:
        return not self.invalid

    @property
    def day(self) -> date:
        return day_of(self.created_ms)


@dataclass(slots=True)
class Line:
    """A line of an hour file (or a message of the stream), before rendering.

    kind is "post" (a delivery of `spec`; `duplicate` when it is not the first) or a LINE_KINDS
    kind for non-posts; `family` limits where it appears ("" = either family), `lake_only` keeps it
    out of the simulated stream (a file's cut last line)."""

    filed_ms: int
    seq: int
    kind: str
    spec: PostSpec | None = None
    duplicate: bool = False
    family: str = ""
    variant: str = ""
    lake_only: bool = False

    def sort_key(self) -> tuple[int, int, int]:
        return (self.filed_ms, self.seq, 1 if self.duplicate else 0)


def scaled_count(published: int, scale: float) -> int:
    """`published * scale` rounded half up; zero stays zero and anything else is at least 1."""
    if published <= 0:
        return 0
    return max(1, math.floor(published * scale + 0.5))


def target_split(hashtag_count: int, text_count: int, tweet_count: int, scale: float) -> tuple[int, int, int]:
    """(both, hashtag-only, text-only) post numbers for published (h, t, tw) at `scale`."""
    return (
        scaled_count(hashtag_count + text_count - tweet_count, scale),
        scaled_count(tweet_count - text_count, scale),
        scaled_count(tweet_count - hashtag_count, scale),
    )
