"""Seeded, deterministic sample lake with its ground truth (docs/design.md, "The lake" and "Counting
rules for tweet_stat").

`generate_sample_lake` writes, for every day of the range: 24 hourly post files
`tweet_raw/YYYY/MM/DD/HH/YYYY-MM-DD-HH.json` (hours in `gzip_hours` as `.json.gz`; an hour without
posts still gets its empty file), the TMDB pull `tmdb_raw/YYYY/MM/DD/YYYY-MM-DD.json`, the tracked
list in force `tmdb_raw/YYYY/MM/DD/tracked_shows.csv`, the day's X post counts at the published
volumes `counts_raw/YYYY/MM/DD/YYYY-MM-DD.json` (full scale, in the format fetch-counts lands:
trending_tv_sample/volumes.py), and `config/tracked_shows.csv`; then the ground truth under
`sample_truth/` (`show_volume.csv` for the counts). It imports only the standard library and `ingest_host`, so
`trending-tv-sample-lake replay` can feed `iter_stream_messages` to the ingest host's buffer on a
box without Dagster or Spark. With `write_posts=False` it writes everything but the hourly post
files (and the truth files that describe them, `parse_counts*.csv`): the posts then come from
replaying `iter_stream_messages` through the ingest host's buffer and uploader (`make demo` does
this), and `tweet_stat.csv`, `post_matches.csv` and `adjustments.csv` hold for that lake too.

Posts. Each show's matched posts follow the 2020 project's published figures for the day: with
(h, t, tw) published, h + t - tw posts match it by hashtag and text, tw - t by hashtag only and
tw - h by text only; each of the three is scaled by `scale` and rounded half up, a non-zero number
never below 1. Unrelated posts (0.73 / 0.27 of the published matches, scaled: the 2020 project
attributed ~27% of what it collected to a show) mention no show. Times follow a diurnal curve.
Even UTC hours hold X API v2 stream messages (`\\r\\n` line ends), odd hours v1.1 status objects
(`\\n`), so every day has both families and both day boundaries (hour 23 is v1.1, hour 00 v2).

Ground truth by construction. Every post is planned with the shows it mentions by hashtag and by
text, and `sample_truth/tweet_stat.csv` is tallied from those plans (one count per distinct post id,
on its own created_at date), never by matching text. Rendering checks the written text with an
independent whole-phrase matcher and raises `SampleTextError` if it mentions any show it should not
(or misses one); the neutral vocabulary is proven safe up front (`check_vocabulary`). Where the
counting rules make the published split impossible, the truth follows the rules and the difference is
listed in `sample_truth/adjustments.csv` (truth minus scaled published figure, with the reason):
"its hashtag is also its name" (Arrow, Blindspot: "#Arrow" in the text is a text mention too, so no
post can match them by hashtag only), "named inside another show's name" (every "His Dark
Materials" mentions Dark, "House of Cards" House, "NCIS: Los Angeles" NCIS, "Ben 10: Ultimate
Alien" Ben 10, "Dexter's Laboratory" Dexter), and "edge case" (the posts that must exist every day
for the counting rules' edge cases, e.g. "Law &amp; Order: Special Victims Unit", which the 2020
project never matched by text).

Line kinds (`sample_truth/parse_counts*.csv`). A file's lines are its bytes split on "\\n" (a
"\\r" before it belongs to the terminator; the cut last line of a file, without terminator, is a
line too; an empty file has none). Each line is exactly one of:
  keepalive: empty or whitespace only;
  corrupt: not blank and not exactly one valid JSON value, or a JSON value that is not an object
    (the sample has no valid non-object JSON line: counting rule 2 would call it "other");
  post: a v2 message with a `data` object whose `id` is a non-empty string (or integer) and whose
    `created_at` parses, or a v1.1 object (no `data`) with `created_at` and `id_str`/`id` that
    are usable and parse (a line with `data` is a post even if it also has `errors`);
  invalid_post: looks like a post (a v2 `data` object, or a v1.1 object with `id_str`/`id` and
    `text`/`full_text`) but has no usable id or no parseable created_at: skipped, never counted;
  limit: an object with `limit`; delete: an object with `delete`;
  errors: a v2 object with `errors` and no `data`;
  other: any other JSON object (stall warnings, connection-exception bodies, ...).
"duplicate" counts post lines whose id already appeared earlier (key order, then line order).

Deterministic: the same arguments give byte-identical files (seeded generators, sorted JSON keys,
fixed ordering, gzip without timestamps, no wall-clock time anywhere).
"""

from __future__ import annotations

import bisect
import csv
import functools
import gzip
import io
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from os import PathLike
from typing import NamedTuple

from ingest_host.lake import Lake
from ingest_host.layout import (
    CONFIG_TRACKED_SHOWS,
    counts_day_key,
    counts_day_prefix,
    tmdb_day_key,
    tmdb_day_prefix,
    tracked_shows_day_key,
    tweet_day_prefix,
    tweet_hour_key,
)
from ingest_host.tracked_shows import format_tracked_shows
from trending_tv_sample.catalog import FIRST_DAY, LAST_DAY, Catalog, load_catalog
from trending_tv_sample.model import (
    ARCHIVE_FULL_TEXT,
    DAY_MS,
    HOUR_MS,
    LINE_KINDS,
    PLAIN,
    QUOTE,
    REPLY,
    RETWEET,
    RETWEET_MISSING,
    V2,
    V11,
    Line,
    Mention,
    PostSpec,
    day_of,
    day_start_ms,
    snowflake,
    target_split,
    utc_of,
)
from trending_tv_sample.payloads import Material, Renderer, build_users, expected_matches
from trending_tv_sample.tmdb import tmdb_day_lines
from trending_tv_sample.vocabulary import check_vocabulary
from trending_tv_sample.volumes import ShowVolumeRow, counts_day

DEFAULT_SEED = 20201123
DEFAULT_SCALE = 0.02  # ~3,300 lines a day
FULL_SIZE_SCALE = 1.0  # ~120,000 posts and ~0.6 GB a day (~5.3 KB a line), ~75 s of CPU a day
DEFAULT_GZIP_HOURS = (0, 13)
UNRELATED_PER_MATCHED = 0.73 / 0.27
TRUTH_PREFIX = "sample_truth/"
KEEP_ALIVE_AFTER_MS = 20_000  # the v2 stream sends a keep-alive after 20 s of silence

# Share of a day's posts per UTC hour: evenings in the Americas (00-04 UTC) peak, 09-12 UTC is quiet.
DIURNAL_WEIGHTS = (9, 10, 10, 9, 8, 6, 4, 3, 3, 3, 3, 3, 4, 5, 6, 6, 6, 6, 6, 6, 7, 7, 8, 9)
_CUMULATIVE_WEIGHTS = [sum(DIURNAL_WEIGHTS[: i + 1]) for i in range(24)]
# Designated edge-case posts sit mid-hour in an hour of the wanted family (never 00 or 23).
FAMILY_HOURS = {V2: tuple(range(2, 23, 2)), V11: tuple(range(1, 22, 2))}

BOTH, HASHTAG_ONLY, TEXT_ONLY = 0, 1, 2
EDGE_CASE = "edge case"
ORDINARY = "ordinary"
NAMED_INSIDE = "named inside another show's name"
HASHTAG_IS_NAME = "its hashtag is also its name"


def family_of_hour(hour: int) -> str:
    """Payload family of an hour file: odd UTC hours hold v1.1 status objects, even hours v2."""
    return V11 if hour % 2 else V2


@dataclass(frozen=True)
class TweetStatRow:
    id: int
    date: date
    hashtag_count: int
    text_count: int
    tweet_count: int


@dataclass(frozen=True)
class Adjustment:
    """Where the truth differs from the scaled published figures, and why."""

    date: date
    id: int
    reasons: tuple[str, ...]
    hashtag_delta: int
    text_delta: int
    tweet_delta: int


@dataclass(frozen=True)
class FileParseCounts:
    key: str
    date: date
    hour: int
    family: str
    gzipped: bool
    lines: int
    counts: dict[str, int]  # by LINE_KINDS
    duplicate: int
    bytes: int  # uncompressed
    stored_bytes: int


@dataclass(frozen=True)
class DayParseCounts:
    """Line kinds of one day's 24 files, plus the day's posts wherever they were filed."""

    date: date
    files: int
    lines: int
    counts: dict[str, int]  # by LINE_KINDS, over the day's own 24 files
    duplicate: int  # post lines of the 24 files repeating an earlier id of those files
    posts_of_other_dates: int  # post lines of the 24 files created on another day
    posts_on_date: int  # distinct posts created on the day (D-1 hour 23 .. D+1 hour 00)
    duplicate_deliveries_on_date: int  # their deliveries beyond the first
    bytes: int
    stored_bytes: int


@dataclass
class SampleLakeSummary:
    lake_url: str
    start: date
    end: date
    seed: int
    scale: float
    full_size: bool
    tweet_stat: list[TweetStatRow]
    adjustments: list[Adjustment]
    parse_counts: list[DayParseCounts]
    parse_counts_by_file: list[FileParseCounts] = field(repr=False)
    files: int = 0
    gzipped_files: int = 0
    lines: int = 0
    bytes: int = 0
    stored_bytes: int = 0
    posts: int = 0  # distinct counted posts created in the range
    posts_written: bool = True  # False: no tweet_raw/ files (the posts come from a replay)
    show_volume: list[ShowVolumeRow] = field(default_factory=list, repr=False)  # counts_raw's truth

    def describe(self) -> str:
        days = (self.end - self.start).days + 1
        if not self.posts_written:
            return (
                f"sample lake {self.lake_url}: {days} days {self.start}..{self.end}, TMDB pulls, tracked "
                f"lists and ground truth for {self.posts:,} counted posts (posts not written: they come "
                f"from the stream replay); seed {self.seed}, scale {self.scale:g}; ground truth in "
                f"{TRUTH_PREFIX}"
            )
        return (
            f"sample lake {self.lake_url}: {days} days {self.start}..{self.end}, {self.files} hour files "
            f"({self.gzipped_files} gzipped), {self.lines:,} lines, {self.bytes / 1e6:,.1f} MB "
            f"({self.stored_bytes / 1e6:,.1f} MB stored), {self.posts:,} counted posts; "
            f"seed {self.seed}, scale {self.scale:g}; ground truth in {TRUTH_PREFIX}"
        )


class StreamMessage(NamedTuple):
    """One message of the simulated v2 stream: when the collector receives it, and the raw line
    (without its "\\r\\n"; b"" is a keep-alive), as tweepy's StreamingClient passes it to on_data."""

    received_at: datetime
    line: bytes


@dataclass
class _DayPlan:
    day: date
    lines_by_hour: dict[int, list[Line]]  # hour index (ms // HOUR_MS) -> lines filed then
    truth: dict[int, tuple[int, int, int]]  # show id -> (hashtag, text, tweet) counts
    targets: dict[int, tuple[int, int, int]]  # show id -> scaled published (hashtag, text, tweet)
    reasons: dict[int, set[str]]
    post_rows: list[tuple[int, frozenset[int], frozenset[int]]]  # counted posts: id, hashtag, text
    duplicate_deliveries: int


class _DayPlanner:
    """Plans one day: every post (with its mentions, times and shape) and every other line."""

    def __init__(self, sample: _Sample, day: date):
        self.sample = sample
        self.catalog = sample.catalog
        self.day = day
        self.day_ms = day_start_ms(day)
        self.rng = random.Random(f"{sample.seed}:{day.isoformat()}:plan")
        self.seq = 0
        self.quota: dict[int, list[int]] = {}
        for show in self.catalog.shows:
            figures = self.catalog.figures_for(day, show.id)
            self.quota[show.id] = list(
                target_split(figures.hashtag_count, figures.text_count, figures.tweet_count, sample.scale)
            )
        self.targets = {
            show_id: (both + tag_only, both + text_only, both + tag_only + text_only)
            for show_id, (both, tag_only, text_only) in self.quota.items()
        }
        self.reasons: dict[int, set[str]] = defaultdict(set)
        self.specs: list[PostSpec] = []
        self.lines: list[Line] = []

    # ---- building blocks -----------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq += 1
        if self.seq >= 1 << 20:  # ids keep 20 bits for it (payloads.REFERENCED_BIT)
            raise ValueError("more than a million posts in a day: lower the scale")
        return self.seq

    def _filed(self, created_ms: int) -> int:
        """When the collector stores a post: a moment later (its hour file follows that moment)."""
        filed = created_ms + 200 + min(int(self.rng.expovariate(1 / 900)), 5000)
        return created_ms if filed >= self.sample.range_end_ms else filed

    def _diurnal_ms(self) -> int:
        hour = bisect.bisect_right(_CUMULATIVE_WEIGHTS, self.rng.random() * _CUMULATIVE_WEIGHTS[-1])
        return self.day_ms + hour * HOUR_MS + self.rng.randrange(HOUR_MS)

    def _mid(self, family: str, first_minute: int = 5, last_minute: int = 54) -> int:
        hour = self.rng.choice(FAMILY_HOURS[family])
        return self.day_ms + hour * HOUR_MS + self.rng.randrange(first_minute * 60_000, last_minute * 60_000)

    def _mention(self, show_id: int, category: int) -> Mention:
        show = self.catalog.by_id[show_id]
        hashtag = self.rng.choice(show.hashtags) if category in (BOTH, HASHTAG_ONLY) else None
        phrase = None
        if category in (BOTH, TEXT_ONLY):
            phrase = self.rng.choice(show.aliases) if show.aliases and self.rng.random() < 0.25 else show.name
        return Mention(show_id, hashtag, phrase)

    def _pick(self, category: int) -> int:
        """A show with quota left in `category` (weighted by it), or any show."""
        candidates = [(s, q[category]) for s, q in self.quota.items() if q[category] > 0]
        if not candidates:
            return self.rng.choice(self.catalog.shows).id
        return self.rng.choices([s for s, _ in candidates], weights=[w for _, w in candidates])[0]

    def _any_mention(self) -> Mention:
        """A mention from whatever quota is left (keeps designated posts inside the figures)."""
        weights = [sum(q) for q in self.quota.values()]
        if not any(weights):
            return self._mention(self.rng.choice(self.catalog.shows).id, BOTH)
        show_id = self.rng.choices(list(self.quota), weights=weights)[0]
        category = self.rng.choices((BOTH, HASHTAG_ONLY, TEXT_ONLY), weights=self.quota[show_id])[0]
        return self._mention(show_id, category)

    def _style(self, with_mentions: bool) -> dict:
        roll = self.rng.random()
        kind = RETWEET if roll < 0.65 else REPLY if roll < 0.72 else QUOTE if roll < 0.8 else PLAIN
        lang = self.rng.choices(("en", "es", "pt", "ja", "ko"), cum_weights=(85, 90, 94, 98, 100))[0]
        style: dict = {"kind": kind, "lang": lang}
        if kind == QUOTE and (not with_mentions or self.rng.random() < 0.5):
            style["quoted_mentions"] = (self._mention(self.rng.choice(self.catalog.shows).id, BOTH),)
        if kind in (PLAIN, REPLY) and self.rng.random() < 0.06:
            style["long"] = True
        if self.rng.random() < 0.01:
            style["without_ms"] = True
        if not with_mentions:
            style["rule_show"] = self.rng.choice(self.catalog.shows).id
        return style

    def post(
        self,
        created_ms: int,
        mentions: tuple[Mention, ...] = (),
        *,
        filed_ms: int | None = None,
        reason: str = EDGE_CASE,
        **fields,
    ) -> PostSpec:
        """Plan one post; when it counts (valid, created this day) take it from the shows' quotas."""
        seq = self._next_seq()
        hashtag_shows, text_shows = expected_matches(self.catalog, mentions)
        counted_here = not fields.get("invalid") and day_of(created_ms) == self.day
        if counted_here:
            mentions = self._settle_incidental(mentions, hashtag_shows, text_shows)
            hashtag_shows, text_shows = expected_matches(self.catalog, mentions)
            self._consume(mentions, hashtag_shows, text_shows, reason)
        spec = PostSpec(
            post_id=snowflake(created_ms, seq),
            created_ms=created_ms,
            filed_ms=self._filed(created_ms) if filed_ms is None else filed_ms,
            seq=seq,
            mentions=mentions,
            hashtag_shows=hashtag_shows,
            text_shows=text_shows,
            **fields,
        )
        if counted_here:
            self.specs.append(spec)
        self.lines.append(Line(spec.filed_ms, seq, "invalid_post" if spec.invalid else "post", spec))
        return spec

    def redeliver(self, spec: PostSpec, filed_ms: int) -> None:
        spec.redeliveries.append(filed_ms)
        self.lines.append(Line(filed_ms, spec.seq, "post", spec, duplicate=True))

    def other_line(self, kind: str, filed_ms: int, family: str, variant: str = "", **extra) -> None:
        self.lines.append(Line(filed_ms, self._next_seq(), kind, family=family, variant=variant, **extra))

    def _settle_incidental(
        self, mentions: tuple[Mention, ...], hashtag_shows: frozenset[int], text_shows: frozenset[int]
    ) -> tuple[Mention, ...]:
        """A show named inside another's name ("Dark" in "His Dark Materials") is mentioned by text
        whether planned or not. When its text-only quota is spent but a both-quota is left, add its
        hashtag so the post becomes one of its both-posts and the figures stay exact."""
        own = {m.show_id for m in mentions}
        extra = []
        for show_id in sorted(text_shows - hashtag_shows - own):
            quota = self.quota[show_id]
            if quota[TEXT_ONLY] == 0 and quota[BOTH] > 0:
                extra.append(Mention(show_id, hashtag=self.catalog.by_id[show_id].hashtags[0]))
        return mentions + tuple(extra)

    def _consume(
        self,
        mentions: tuple[Mention, ...],
        hashtag_shows: frozenset[int],
        text_shows: frozenset[int],
        reason: str,
    ) -> None:
        by_phrase = {m.show_id for m in mentions if m.phrase}
        by_hashtag = {m.show_id for m in mentions if m.hashtag}
        for show_id in sorted(hashtag_shows | text_shows):
            in_tags, in_text = show_id in hashtag_shows, show_id in text_shows
            category = BOTH if in_tags and in_text else HASHTAG_ONLY if in_tags else TEXT_ONLY
            quota = self.quota[show_id]
            if quota[category] > 0:
                quota[category] -= 1
                continue
            if reason == EDGE_CASE:
                why = EDGE_CASE
            elif in_text and show_id not in by_phrase and show_id not in by_hashtag:
                why = NAMED_INSIDE
            elif in_text and show_id not in by_phrase:
                why = HASHTAG_IS_NAME
            else:
                why = reason  # never expected: _finish refuses unexplained differences anyway
            self.reasons[show_id].add(why)
            if category == BOTH:
                # A both-post standing in for a one-sided post keeps tweet_count exact and adds
                # one to the other count; otherwise the post is one more than the figures.
                for fallback in (HASHTAG_ONLY, TEXT_ONLY):
                    if quota[fallback] > 0:
                        quota[fallback] -= 1
                        break

    # ---- the day --------------------------------------------------------------------------
    def plan(self) -> _DayPlan:
        self._edge_cases()
        self._boundaries()
        self._other_lines()
        self._ordinary_posts()
        self._unrelated_posts()
        return self._finish()

    def _named(self, name: str) -> int:
        return self.sample.show_ids_by_name[name]

    def _edge_cases(self) -> None:
        """The counting rules' edge cases, every day, in both payload families where they exist."""
        rng = self.rng
        for family in (V2, V11):
            mid = functools.partial(self._mid, family)
            # A retweet whose content is the embedded original; its own cut text lacks name and hashtag.
            self.post(mid(), (self._mention(self._pick(BOTH), BOTH),), kind=RETWEET, tail=True)
            # Original missing (v2: data + errors; v1.1: a manual "RT @"): counts by its own text.
            self.post(mid(), (self._mention(self._pick(BOTH), BOTH),), kind=RETWEET_MISSING)
            # Long post: the show hashtag only in extended_tweet / note_tweet entities.
            self.post(mid(), (self._mention(self._pick(BOTH), BOTH),), long=True)
            # Created exactly on the hour.
            hour = rng.choice(FAMILY_HOURS[family])
            self.post(self.day_ms + hour * HOUR_MS, (self._any_mention(),))
            # Delivered twice in the same file.
            twice = self.post(mid(5, 40), (self._any_mention(),), kind=REPLY)
            self.redeliver(twice, twice.filed_ms + rng.randrange(60_000, 600_000))
            # Delivered again in the next hour's file (the other family).
            hour = rng.choice(FAMILY_HOURS[family])
            created = self.day_ms + hour * HOUR_MS + rng.randrange(50 * 60_000, 54 * 60_000)
            again = self.post(created, (self._any_mention(),))
            self.redeliver(again, self.day_ms + (hour + 1) * HOUR_MS + rng.randrange(60_000, 300_000))
            # Deleted later: the notice is never applied to counts.
            delete_at = twice.filed_ms + rng.randrange(11 * 60_000, 14 * 60_000)
            if family == V2:
                delete_at = self.day_ms + (twice.filed_ms - self.day_ms) // HOUR_MS * HOUR_MS + HOUR_MS
                delete_at += rng.randrange(60_000, 1_800_000)
            self.other_line("delete", delete_at, V11, spec=twice)
            # HTML entities: the text says "Law &amp; Order" and "Drake &amp; Josh".
            svu = self._named("Law & Order: Special Victims Unit")
            self.post(mid(), (Mention(svu, "#SVU", "Law & Order: Special Victims Unit"),))
            self.post(mid(), (Mention(self._named("Drake & Josh"), None, "Drake & Josh"),))
            # Curly apostrophes.
            self.post(mid(), (Mention(self._named("Grey's Anatomy"), None, "Grey's Anatomy", "curly"),))
            self.post(
                mid(), (Mention(self._named("The Queen's Gambit"), None, "The Queen's Gambit", "curly"),)
            )
            # One phrase, two shows: "Dexter's Laboratory" and "NCIS: Los Angeles" also name Dexter, NCIS.
            self.post(mid(), (Mention(self._named("Dexter's Laboratory"), None, "Dexter's Laboratory"),))
            self.post(mid(), (Mention(self._named("NCIS: Los Angeles"), None, "NCIS: Los Angeles"),))
            # Punctuation boundaries: "Supernatural!" and "#Gotham" (the hashtag in the text is the name).
            self.post(mid(), (Mention(self._named("Supernatural"), None, "Supernatural", "exclaim"),))
            self.post(mid(), (Mention(self._named("Gotham"), "#Gotham"),))
            # Hashtags in another case and with a full-width sign.
            mando = self._named("The Mandalorian")
            case = "lower" if family == V2 else "upper"
            self.post(mid(), (Mention(mando, "#TheMandalorian", None, case),))
            self.post(mid(), (Mention(mando, "#Mandalorian", None, "fullwidth"),))
            # Non-Latin text: a Japanese original title (not a matching phrase), spaced Latin names.
            aot = self._named("Attack on Titan")
            self.post(mid(), (Mention(aot, "#AttackOnTitan", None, "original_name"),), lang="ja")
            self.post(mid(), (Mention(self._named("Naruto"), None, "Naruto"),), lang="ja")
            self.post(mid(), (Mention(self._named("Love Alarm"), None, "Love Alarm"),), lang="ko")
            # Not counted: a show only in the quoted post.
            quoted = (self._mention(self._pick(BOTH), BOTH),)
            self.post(mid(), (), kind=QUOTE, quoted_mentions=quoted, rule_show=mando)
            # Not counted: near misses (glued to letters, digits, "_" or CJK; a longer hashtag).
            for template in ("near_en0", "near_en1", "near_en2", "near_en3", "near_ja", "near_hashtag"):
                lang = "ja" if template == "near_ja" else "en"
                self.post(mid(), (), template=template, lang=lang, rule_show=self._named("Naruto"))
            # Not counted: posts without a usable id or created_at.
            for invalid in ("no_created_at", "no_id" if family == V2 else "empty_created_at"):
                self.post(mid(), (self._mention(self._pick(BOTH), BOTH),), invalid=invalid)
        # v1.1 only: an archive object with `full_text` instead of `text`.
        self.post(self._mid(V11), (self._any_mention(),), kind=ARCHIVE_FULL_TEXT)
        # v2 only: created_at without milliseconds, and matching_rules variants.
        self.post(self._mid(V2), (self._any_mention(),), without_ms=True)
        for variant in ("numeric_id", "null_tag", "no_tag"):
            self.post(self._mid(V2), (self._any_mention(),), rule_variant=variant)

    def _boundaries(self) -> None:
        """Posts of one day filed in the neighbouring day's boundary file, both ways."""
        rng, day_end = self.rng, self.day_ms + DAY_MS
        has_next = self.day < self.sample.end
        if has_next:
            # Created in the last second of the day, received after midnight: D+1's hour 00 (v2).
            created = day_end - 1 - rng.randrange(400)
            self.post(created, (self._any_mention(),), filed_ms=day_end + rng.randrange(300, 1500))
        else:
            created = day_end - 1 - rng.randrange(400)
            self.post(created, (self._any_mention(),), filed_ms=created)
        if self.day > self.sample.start:
            # Created exactly at midnight, filed by a collector clock running behind: D-1's hour 23.
            self.post(self.day_ms, (self._any_mention(),), filed_ms=self.day_ms - rng.randrange(200, 900))
        # First delivered in hour 23 (v1.1), redelivered in D+1's hour 00 (v2).
        created = day_end - 3000 - rng.randrange(2000)
        twice = self.post(created, (self._any_mention(),), filed_ms=created + 500)
        self.redeliver(twice, day_end + rng.randrange(500, 3000) if has_next else created + 1500)
        # At the range's edges, posts of days outside it (filed inside it, never counted).
        if self.day == self.sample.start:
            created = self.day_ms - 1500 - rng.randrange(500)
            mention = self._mention(self._pick(BOTH), BOTH)
            self.post(created, (mention,), filed_ms=self.day_ms + rng.randrange(500, 2000))
        if not has_next:
            mention = self._mention(self._pick(BOTH), BOTH)
            self.post(day_end + rng.randrange(1000), (mention,), filed_ms=day_end - rng.randrange(200, 800))

    def _other_lines(self) -> None:
        """Keep-alives, notices and junk a real collector stores alongside posts."""
        rng = self.rng
        disconnect = self._mid(V2, 5, 50)
        self.other_line("errors", disconnect, V2)
        for delay in (1500, 3000):  # keep-alives while reconnecting
            self.other_line("keepalive", disconnect + delay, V2)
        track = 0
        for filed in sorted(self._mid(V11) for _ in range(3)):
            track += rng.randrange(5, 400)  # v1.1 limit notices count undelivered matches cumulatively
            self.other_line("limit", filed, V11, str(track))
        self.other_line("other", self._mid(V11), V11, "warning")
        self.other_line("other", self._mid(V2), V2, "connection_exception")
        self.other_line("corrupt", self._mid(V2), V2, "glued")
        self.other_line("corrupt", self._mid(V11), V11, "html")
        self.other_line("keepalive", self._mid(V11), V11, "spaces")
        # A message left unfinished, with the next one written after it on the same line (v2).
        spliced_at = self._mid(V2)
        spliced = self._uncounted_post(spliced_at - 900, spliced_at)
        self.lines.append(Line(spliced_at, spliced.seq, "corrupt", spliced, family=V2, variant="spliced"))
        # The 06:00 file's last line was cut off mid-JSON when the collector stopped (v2 hour).
        end_of_06 = self.day_ms + 7 * HOUR_MS - 1
        cut = self._uncounted_post(end_of_06 - 1200, end_of_06)
        self.lines.append(Line(end_of_06, 1 << 40, "corrupt", cut, family=V2, variant="cut", lake_only=True))

    def _uncounted_post(self, created_ms: int, filed_ms: int) -> PostSpec:
        """A post whose line will be damaged: it names a show but never counts."""
        mention = self._mention(self._pick(BOTH), BOTH)
        hashtag_shows, text_shows = expected_matches(self.catalog, (mention,))
        seq = self._next_seq()
        return PostSpec(
            snowflake(created_ms, seq),
            created_ms,
            filed_ms,
            seq,
            mentions=(mention,),
            hashtag_shows=hashtag_shows,
            text_shows=text_shows,
        )

    def _ordinary_posts(self) -> None:
        """The rest of every show's quota. Shows whose names contain other shows' names go first, so
        the names they carry are taken from those shows' quotas before they are spent."""
        containers = [
            show.id
            for show in self.catalog.shows
            if any(len(self.catalog.mentions_of(p)) > 1 for p in show.phrases)
        ]
        for show_id in containers:
            for category in (BOTH, HASHTAG_ONLY, TEXT_ONLY):
                for _ in range(self.quota[show_id][category]):
                    mention = self._mention(show_id, category)
                    self.post(self._diurnal_ms(), (mention,), reason=ORDINARY, **self._style(True))
        units = [
            (show_id, category)
            for show_id, quota in self.quota.items()
            for category in (BOTH, HASHTAG_ONLY, TEXT_ONLY)
            for _ in range(quota[category])
        ]
        self.rng.shuffle(units)
        index = 0
        while index < len(units):
            show_id, category = units[index]
            mentions = [self._mention(show_id, category)]
            index += 1
            # Some posts name two shows.
            if index < len(units) and units[index][0] != show_id and self.rng.random() < 0.08:
                mentions.append(self._mention(*units[index]))
                index += 1
            self.post(self._diurnal_ms(), tuple(mentions), reason=ORDINARY, **self._style(True))

    def _unrelated_posts(self) -> None:
        published = sum(self.catalog.figures_for(self.day, s.id).tweet_count for s in self.catalog.shows)
        for _ in range(math.floor(published * self.sample.scale * UNRELATED_PER_MATCHED + 0.5)):
            self.post(self._diurnal_ms(), (), reason=ORDINARY, **self._style(False))

    def _finish(self) -> _DayPlan:
        truth: dict[int, list[int]] = {show.id: [0, 0, 0] for show in self.catalog.shows}
        rows = []
        for spec in self.specs:
            for show_id in spec.hashtag_shows:
                truth[show_id][0] += 1
            for show_id in spec.text_shows:
                truth[show_id][1] += 1
            for show_id in spec.hashtag_shows | spec.text_shows:
                truth[show_id][2] += 1
            rows.append((spec.post_id, spec.hashtag_shows, spec.text_shows))
        for show_id, counts in truth.items():
            if tuple(counts) != self.targets[show_id] and not self.reasons.get(show_id):
                raise AssertionError(f"{self.day}: show {show_id} is off its figures without a reason")
        by_hour: dict[int, list[Line]] = defaultdict(list)
        for line in self.lines:
            by_hour[line.filed_ms // HOUR_MS].append(line)
        return _DayPlan(
            day=self.day,
            lines_by_hour=dict(by_hour),
            truth={show_id: (c[0], c[1], c[2]) for show_id, c in truth.items()},
            targets=self.targets,
            reasons=dict(self.reasons),
            post_rows=sorted(rows),
            duplicate_deliveries=sum(len(spec.redeliveries) for spec in self.specs),
        )


class _Sample:
    """One sample (range, scale, seed): plans days on demand and renders hours."""

    def __init__(
        self,
        *,
        start: date,
        end: date,
        scale: float | None,
        full_size: bool,
        seed: int,
        full_objects: bool | None,
    ):
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        if full_size and scale not in (None, FULL_SIZE_SCALE):
            raise ValueError("full_size generates full days (scale 1.0); do not pass another scale")
        self.scale = FULL_SIZE_SCALE if full_size else DEFAULT_SCALE if scale is None else float(scale)
        if not 0 < self.scale <= 1:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")
        self.start, self.end, self.seed, self.full_size = start, end, seed, full_size
        self.range_end_ms = day_start_ms(end) + DAY_MS
        self.catalog: Catalog = load_catalog()
        check_vocabulary(self.catalog)
        self.show_ids_by_name = {show.name: show.id for show in self.catalog.shows}
        users = build_users(seed, max(2000, int(60_000 * self.scale)))
        self.renderer = Renderer(
            self.catalog, users, seed, full_size if full_objects is None else full_objects
        )
        self._plans: dict[date, _DayPlan] = {}
        self.planned: list[_DayPlan] = []  # every plan made, in day order (their truth is kept)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def plan(self, day: date) -> _DayPlan:
        if day not in self._plans:
            if any(p.day == day for p in self.planned):
                raise AssertionError(f"{day} was planned and forgotten: its truth would count twice")
            plan = _DayPlanner(self, day).plan()
            self._plans[day] = plan
            self.planned.append(plan)
        return self._plans[day]

    def forget_before(self, day: date) -> None:
        """Drop the lines of plans no later hour can need (their truth stays in `planned`)."""
        for old in [d for d in self._plans if d < day]:
            self._plans[old].lines_by_hour = {}
            del self._plans[old]

    def hour_lines(self, hour_ms: int) -> list[Line]:
        day = day_of(hour_ms)
        lines: list[Line] = []
        for neighbour in (day - timedelta(days=1), day, day + timedelta(days=1)):
            if self.start <= neighbour <= self.end:
                lines.extend(self.plan(neighbour).lines_by_hour.get(hour_ms // HOUR_MS, ()))
        return sorted(lines, key=Line.sort_key)

    def rendered(
        self, hour_ms: int, family: str, stream: bool
    ) -> Iterator[tuple[int, str, str, Line | None]]:
        """(received ms, kind, text, line) for every line of an hour file (or of the stream's
        hour), keep-alives included."""
        materials: dict[int, Material] = {}
        previous = hour_ms
        for line in self.hour_lines(hour_ms):
            if stream and (line.lake_only or line.family == V11):
                continue
            if not stream and line.family and line.family != family:
                raise AssertionError(f"{line.kind} planned for {line.family} filed in a {family} hour")
            if family == V2:
                yield from _keepalives(previous, line.filed_ms, stream)
            previous = max(previous, line.filed_ms)
            if line.kind in ("post", "invalid_post"):
                assert line.spec is not None
                material = materials.get(line.spec.post_id)
                if material is None:
                    material = materials[line.spec.post_id] = self.renderer.materialize(line.spec)
                yield line.filed_ms, line.kind, self.renderer.render_post(material, family), line
            else:
                yield line.filed_ms, line.kind, self.renderer.render_other(line, family), line
        if family == V2:
            yield from _keepalives(previous, hour_ms + HOUR_MS - 1, stream)

    def truth_rows(self) -> list[TweetStatRow]:
        rows = []
        for plan in sorted(self.planned, key=lambda p: p.day):
            for show_id in sorted(plan.truth):
                h, t, tw = plan.truth[show_id]
                rows.append(TweetStatRow(show_id, plan.day, h, t, tw))
        return rows

    def adjustments(self) -> list[Adjustment]:
        found = []
        for plan in sorted(self.planned, key=lambda p: p.day):
            for show_id in sorted(plan.truth):
                truth, target = plan.truth[show_id], plan.targets[show_id]
                if truth != target:
                    deltas = [a - b for a, b in zip(truth, target, strict=True)]
                    reasons = tuple(sorted(plan.reasons.get(show_id, ())))
                    found.append(Adjustment(plan.day, show_id, reasons, *deltas))
        return found


# ---- public API -----------------------------------------------------------------------------
def generate_sample_lake(
    lake: Lake | str | PathLike[str],
    *,
    start: date = FIRST_DAY,
    end: date = LAST_DAY,
    scale: float | None = None,
    full_size: bool = False,
    seed: int = DEFAULT_SEED,
    gzip_hours: tuple[int, ...] | frozenset[int] = DEFAULT_GZIP_HOURS,
    full_objects: bool | None = None,
    progress: Callable[[str], None] | None = None,
    write_posts: bool = True,
) -> SampleLakeSummary:
    """Write the sample lake for `start`..`end` and its ground truth; return the summary.

    `scale` (default 0.02, ~3,300 lines a day) multiplies the published figures; `full_size`
    writes full days (scale 1.0, ~120,000 posts and ~0.6 GB a day). `full_objects` (default: as
    `full_size`) writes complete v1.1/v2 objects (profile fields, annotations, media) instead of
    the trimmed ones that keep the default sample light; the counted content is the same.
    `progress` is called with each key written. Objects the generation does not write under the
    generated days' `tweet_raw/` and `tmdb_raw/` prefixes and under `sample_truth/` are removed
    afterwards, so a rerun with other settings leaves no stale hour file behind.

    `write_posts=False` writes no `tweet_raw/` file and leaves that prefix alone (nothing is
    rendered, only planned): the TMDB files, tracked lists and the ground truth of the posts that
    `iter_stream_messages` (same arguments) delivers, without the line counts of the lake's hour
    files (`parse_counts*.csv`, which describe files not written). The summary then has no files."""
    lake = lake if isinstance(lake, Lake) else Lake.from_url(lake)
    sample = _Sample(
        start=start, end=end, scale=scale, full_size=full_size, seed=seed, full_objects=full_objects
    )
    catalog = sample.catalog
    tracked_csv = format_tracked_shows(catalog.tracked_shows())
    file_counts: list[FileParseCounts] = []
    day_counts: list[DayParseCounts] = []
    show_volume: list[ShowVolumeRow] = []
    for day in sample.days():
        written: set[str] = set()
        day_files: list[FileParseCounts] = []
        seen_ids: set[int] = set()
        other_dates = 0
        for hour in range(24 if write_posts else 0):
            hour_ms = day_start_ms(day) + hour * HOUR_MS
            family = family_of_hour(hour)
            gzipped = hour in gzip_hours
            key = tweet_hour_key(utc_of(hour_ms), gzip=gzipped)
            terminator = "\r\n" if family == V2 else "\n"
            parts: list[str] = []
            counts: Counter[str] = Counter()
            duplicate = 0
            for _, kind, text, line in sample.rendered(hour_ms, family, stream=False):
                counts[kind] += 1
                cut = line is not None and line.variant == "cut"
                parts.append(text if cut else text + terminator)
                if kind == "post" and line is not None and line.spec is not None:
                    if line.spec.post_id in seen_ids:
                        duplicate += 1
                    seen_ids.add(line.spec.post_id)
                    if line.spec.day != day:
                        other_dates += 1
            data = "".join(parts).encode("utf-8")
            stored = gzip.compress(data, compresslevel=6, mtime=0) if gzipped else data
            lake.write_bytes(key, stored)
            written.add(key)
            if progress:
                progress(key)
            day_files.append(
                FileParseCounts(
                    key,
                    day,
                    hour,
                    family,
                    gzipped,
                    sum(counts.values()),
                    {k: counts.get(k, 0) for k in LINE_KINDS},
                    duplicate,
                    len(data),
                    len(stored),
                )
            )
        tmdb_text = "\n".join(tmdb_day_lines(day, catalog)) + "\n"
        lake.write_text(tmdb_day_key(day), tmdb_text)
        lake.write_text(tracked_shows_day_key(day), tracked_csv)
        written |= {tmdb_day_key(day), tracked_shows_day_key(day)}
        if progress:
            progress(tmdb_day_key(day))
        counts_body, volume_rows = counts_day(catalog, day, seed, DIURNAL_WEIGHTS)
        lake.write_bytes(counts_day_key(day), counts_body)
        written.add(counts_day_key(day))
        show_volume.extend(volume_rows)
        _remove_unwritten(
            lake,
            [tweet_day_prefix(day)] * write_posts + [tmdb_day_prefix(day), counts_day_prefix(day)],
            written,
        )
        plan = sample.plan(day)
        file_counts.extend(day_files)
        if write_posts:
            day_counts.append(
                DayParseCounts(
                    date=day,
                    files=len(day_files),
                    lines=sum(f.lines for f in day_files),
                    counts={k: sum(f.counts[k] for f in day_files) for k in LINE_KINDS},
                    duplicate=sum(f.duplicate for f in day_files),
                    posts_of_other_dates=other_dates,
                    posts_on_date=len(plan.post_rows),
                    duplicate_deliveries_on_date=plan.duplicate_deliveries,
                    bytes=sum(f.bytes for f in day_files),
                    stored_bytes=sum(f.stored_bytes for f in day_files),
                )
            )
        sample.forget_before(day)
    lake.write_text(CONFIG_TRACKED_SHOWS, tracked_csv)
    summary = SampleLakeSummary(
        lake_url=lake.url,
        start=start,
        end=end,
        seed=seed,
        scale=sample.scale,
        full_size=full_size,
        tweet_stat=sample.truth_rows(),
        adjustments=sample.adjustments(),
        parse_counts=day_counts,
        parse_counts_by_file=file_counts,
        files=len(file_counts),
        gzipped_files=sum(1 for f in file_counts if f.gzipped),
        lines=sum(f.lines for f in file_counts),
        bytes=sum(f.bytes for f in file_counts),
        stored_bytes=sum(f.stored_bytes for f in file_counts),
        posts=sum(len(p.post_rows) for p in sample.planned if start <= p.day <= end),
        posts_written=write_posts,
        show_volume=show_volume,
    )
    _write_truth(lake, sample, summary, gzip_hours)
    return summary


def _keepalives(silent_from: int, until: int, stream: bool) -> Iterator[tuple[int, str, str, None]]:
    """The keep-alives of a silence from `silent_from` to `until` (ms). The stream's come every 20 s,
    as X sends them to a connected client, so a replay covers every minute of the sample (the stream
    never disconnects for longer than a reconnect). A lake file holds one per silence: the small
    sample is mostly silence, and a collector never stores them."""
    at = silent_from + KEEP_ALIVE_AFTER_MS
    while at <= until:
        yield at, "keepalive", "", None
        if not stream:
            return
        at += KEEP_ALIVE_AFTER_MS


def iter_stream_messages(
    start: date = FIRST_DAY,
    end: date = LAST_DAY,
    *,
    scale: float | None = None,
    full_size: bool = False,
    seed: int = DEFAULT_SEED,
    full_objects: bool | None = None,
) -> Iterator[StreamMessage]:
    """The same sample as the X API v2 stream would deliver it, in arrival order, without a lake:
    every post as a v2 message (the lake's v1.1 hours included), keep-alives after 20 s of silence,
    the v2 notices and junk lines; not the v1.1-only notices nor the lake's cut file endings.
    A collector filing these by `received_at` hour reproduces the lake's posts, so the ground
    truth (`expected_tweet_stat`) is the same."""
    sample = _Sample(
        start=start, end=end, scale=scale, full_size=full_size, seed=seed, full_objects=full_objects
    )
    for day in sample.days():
        for hour in range(24):
            hour_ms = day_start_ms(day) + hour * HOUR_MS
            for received_ms, _, text, _ in sample.rendered(hour_ms, V2, stream=True):
                yield StreamMessage(utc_of(received_ms), text.encode("utf-8"))
        sample.forget_before(day)


def expected_tweet_stat(
    start: date = FIRST_DAY,
    end: date = LAST_DAY,
    *,
    scale: float | None = None,
    full_size: bool = False,
    seed: int = DEFAULT_SEED,
) -> list[TweetStatRow]:
    """The ground truth of a sample without rendering it (same arguments, same rows as the
    `sample_truth/tweet_stat.csv` that `generate_sample_lake` writes)."""
    sample = _Sample(start=start, end=end, scale=scale, full_size=full_size, seed=seed, full_objects=False)
    for day in sample.days():
        sample.plan(day)
        sample.forget_before(day)
    return sample.truth_rows()


def lake_is_empty(lake: Lake) -> bool:
    """True when the lake has no object at all (or its folder does not exist yet)."""
    try:
        return not lake.list("")
    except FileNotFoundError:
        return True


# ---- writing helpers ------------------------------------------------------------------------
def _remove_unwritten(lake: Lake, prefixes: list[str], written: set[str]) -> None:
    for prefix in prefixes:
        lake.delete([o.key for o in lake.list(prefix) if o.key not in written])


def _csv_text(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _ids(values: frozenset[int]) -> str:
    return "|".join(str(v) for v in sorted(values))


def _write_parse_counts(files: dict[str, str], summary: SampleLakeSummary) -> None:
    kinds = list(LINE_KINDS)
    files["parse_counts.csv"] = _csv_text(
        [
            "date",
            "files",
            "lines",
            *kinds,
            "duplicate",
            "posts_of_other_dates",
            "posts_on_date",
            "duplicate_deliveries_on_date",
            "bytes",
            "stored_bytes",
        ],
        [
            [
                d.date.isoformat(),
                d.files,
                d.lines,
                *(d.counts[k] for k in kinds),
                d.duplicate,
                d.posts_of_other_dates,
                d.posts_on_date,
                d.duplicate_deliveries_on_date,
                d.bytes,
                d.stored_bytes,
            ]
            for d in summary.parse_counts
        ],
    )
    files["parse_counts_by_file.csv"] = _csv_text(
        ["key", "date", "hour", "family", "gzipped", "lines", *kinds, "duplicate", "bytes", "stored_bytes"],
        [
            [
                f.key,
                f.date.isoformat(),
                f.hour,
                f.family,
                int(f.gzipped),
                f.lines,
                *(f.counts[k] for k in kinds),
                f.duplicate,
                f.bytes,
                f.stored_bytes,
            ]
            for f in summary.parse_counts_by_file
        ],
    )


def _write_truth(lake: Lake, sample: _Sample, summary: SampleLakeSummary, gzip_hours) -> None:
    catalog = sample.catalog
    files: dict[str, str] = {}
    files["tweet_stat.csv"] = _csv_text(
        ["id", "date", "hashtag_count", "text_count", "tweet_count"],
        [
            [r.id, r.date.isoformat(), r.hashtag_count, r.text_count, r.tweet_count]
            for r in summary.tweet_stat
        ],
    )
    post_rows = []
    for plan in sorted(sample.planned, key=lambda p: p.day):
        for post_id, hashtag_shows, text_shows in plan.post_rows:
            post_rows.append([post_id, plan.day.isoformat(), _ids(hashtag_shows), _ids(text_shows)])
    files["post_matches.csv"] = _csv_text(["id", "date", "hashtag_ids", "text_ids"], post_rows)
    files["adjustments.csv"] = _csv_text(
        ["date", "id", "name", "reasons", "hashtag_delta", "text_delta", "tweet_delta"],
        [
            [
                a.date.isoformat(),
                a.id,
                catalog.by_id[a.id].name,
                "|".join(a.reasons),
                a.hashtag_delta,
                a.text_delta,
                a.tweet_delta,
            ]
            for a in summary.adjustments
        ],
    )
    files["show_volume.csv"] = _csv_text(
        ["id", "date", "hashtag_posts", "text_posts", "posts", "posts_hourly"],
        [
            [
                r.id,
                r.date.isoformat(),
                r.hashtag_posts,
                r.text_posts,
                r.posts,
                "|".join(map(str, r.posts_hourly)),
            ]
            for r in summary.show_volume
        ],
    )
    if summary.posts_written:
        _write_parse_counts(files, summary)
    tmdb_rows = []
    for day in sample.days():
        for show in catalog.shows:
            fig = catalog.figures_for(day, show.id)
            tmdb_rows.append(
                [
                    show.id,
                    day.isoformat(),
                    fig.number_of_seasons,
                    fig.number_of_episodes,
                    fig.vote_count,
                    fig.vote_average,
                    fig.popularity,
                ]
            )
    files["tmdb_stat.csv"] = _csv_text(
        ["id", "date", "number_of_seasons", "number_of_episodes", "vote_count", "vote_average", "popularity"],
        tmdb_rows,
    )
    files["generation.json"] = (
        json.dumps(
            {
                "start": summary.start.isoformat(),
                "end": summary.end.isoformat(),
                "seed": summary.seed,
                "scale": summary.scale,
                "full_size": summary.full_size,
                "full_objects": sample.renderer.full,
                "gzip_hours": sorted(gzip_hours),
                "files": summary.files,
                "lines": summary.lines,
                "bytes": summary.bytes,
                "posts": summary.posts,
                **({} if summary.posts_written else {"posts_written": False}),
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    for name, text in files.items():
        lake.write_text(TRUTH_PREFIX + name, text)
    _remove_unwritten(lake, [TRUTH_PREFIX], {TRUTH_PREFIX + name for name in files})
