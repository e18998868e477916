"""Turning planned posts into the bytes a collector would have stored.

`Renderer.materialize` writes a post's text from its mentions and neutral vocabulary (seeded by the
post id, so a post reads the same in either payload family and on every delivery) and checks the
result with the whole-phrase matcher: the text must mention exactly the planned shows, and the
hashtag entities must belong to exactly the planned shows. `Renderer.render` then shapes it as an
X API v2 stream message (`data`, `includes`, `matching_rules`, sometimes `errors`) or a v1.1 status
object (with `retweeted_status`, `quoted_status`, `extended_tweet`, full user objects), and renders
the non-post lines (notices, keep-alives, junk).
"""

from __future__ import annotations

import functools
import json
import random
import re
import string
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from trending_tv_sample import vocabulary as vocab
from trending_tv_sample.catalog import Catalog
from trending_tv_sample.model import (
    ARCHIVE_FULL_TEXT,
    DAY_MS,
    QUOTE,
    REPLY,
    RETWEET,
    RETWEET_MISSING,
    V11,
    Line,
    Mention,
    PostSpec,
    snowflake,
)

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ALNUM = string.ascii_letters + string.digits
_CAPITALISED = re.compile(r"[A-Z][\w'’.]*(?: [A-Z][\w'’.]*)*")
_DECORATIONS = (
    ("", ""),
    ("", ""),
    ("", ""),
    ("", "!"),
    ("", "?"),
    ("", "'s"),
    ("“", "”"),
    ("(", ")"),
    ("", "..."),
    ("", ","),
    ("", ":"),
)
V11_TEXT_LIMIT = 140  # longer v1.1 posts carry extended_tweet
V2_TEXT_LIMIT = 280  # longer v2 posts carry note_tweet
REFERENCED_BIT = 1 << 21  # low-bit flag of ids of posts that are only referenced (originals, quotes)


class SampleTextError(AssertionError):
    """A generated post does not say what was planned (a bug in the generator, never in the data)."""


def v11_time(ms: int) -> str:
    """v1.1 created_at, e.g. "Mon Nov 23 14:05:09 +0000 2020" (fixed English names, no locale)."""
    t = time.gmtime(ms // 1000)
    return (
        f"{_WEEKDAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000 {t.tm_year}"
    )


@functools.lru_cache(maxsize=100_000)
def _v11_time_cached(ms: int) -> str:
    """Account creation times repeat (a fixed pool of users): format each once."""
    return v11_time(ms)


def v2_time(ms: int, with_ms: bool = True) -> str:
    """v2 created_at, e.g. "2020-11-23T14:05:09.123Z" (or without the milliseconds)."""
    t = time.gmtime(ms // 1000)
    stamp = f"{t.tm_year}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{stamp}.{ms % 1000:03d}Z" if with_ms else f"{stamp}Z"


def _token(rng: random.Random, length: int) -> str:
    """A random [A-Za-z0-9] token (t.co paths, media keys): one draw, not one per character."""
    number = rng.getrandbits(6 * length)
    return "".join(_ALNUM[(number >> (6 * i)) % 62] for i in range(length))


def escape_text(text: str) -> str:
    """X escapes exactly these three characters in post text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    screen_name: str
    location: str
    description: str
    followers: int
    friends: int
    listed: int
    favourites: int
    statuses: int
    created_ms: int
    verified: bool
    image_key: str


def build_users(seed: int, count: int) -> list[User]:
    """A fixed pool of neutral accounts (names from the vocabulary, never a show's)."""
    rng = random.Random(f"{seed}:users")
    users = []
    for index in range(count):
        first = rng.choice(vocab.USER_FIRST_NAMES)
        last = rng.choice(vocab.USER_LAST_NAMES)
        word = rng.choice(vocab.USER_WORDS)
        screen_name = rng.choice(
            (f"{first.lower()}_{word}", f"{word}{last.lower()}{rng.randint(1, 999)}", f"{word}_{index}")
        ).replace("-", "")
        created_ms = 1_230_768_000_000 + rng.randrange(370_000_000_000)  # 2009 .. 2020
        # Older accounts have small ids; accounts from late 2013 on have snowflake ids (> 2**53).
        user_id = (
            rng.randrange(10_000_000, 2_000_000_000)
            if created_ms < 1_380_000_000_000
            else snowflake(created_ms, rng.getrandbits(22))
        )
        followers = int(rng.paretovariate(1.2) * 40)
        users.append(
            User(
                id=user_id,
                name=f"{first} {last}",
                screen_name=screen_name[:15],
                location=rng.choice(vocab.USER_LOCATIONS),
                description=" · ".join(rng.sample([b for b in vocab.USER_BIOS if b], rng.randint(0, 3)))
                + rng.choice(("", "", " " + rng.choice(vocab.EMOJI))),
                followers=followers,
                friends=rng.randrange(20, 2000),
                listed=followers // 200,
                favourites=rng.randrange(0, 60_000),
                statuses=rng.randrange(50, 90_000),
                created_ms=created_ms,
                verified=followers > 200_000,
                image_key=_token(rng, 8),
            )
        )
    return users


@dataclass(slots=True)
class Body:
    """One post object's own content: its text (unescaped) and entities with code-point indices."""

    post_id: int
    created_ms: int
    user: User
    text: str = ""
    hashtags: list[tuple[str, int, int]] = field(default_factory=list)
    mentions: list[tuple[User, int, int]] = field(default_factory=list)
    urls: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # t.co, expanded, display
    lang: str = "en"
    source: str = ""
    metrics: tuple[int, int, int, int] = (0, 0, 0, 0)  # retweets, replies, likes, quotes
    reply_to: tuple[int, User] | None = None
    shows: frozenset[int] = frozenset()  # for context annotations only
    photo: str | None = None  # media key when the post has photos
    photos: int = 0
    place: int | None = None  # index into PLACES (full objects only)
    topics: tuple[int, ...] = ()  # indices into TOPICS: v2 context annotations (full objects only)

    def add(self, piece: str) -> None:
        self.text += piece

    def add_hashtag(self, sign: str, tag: str) -> None:
        start = len(self.text)
        self.text += sign + tag
        self.hashtags.append((tag, start, len(self.text)))

    def add_mention(self, user: User) -> None:
        start = len(self.text)
        self.text += "@" + user.screen_name
        self.mentions.append((user, start, len(self.text)))

    def add_url(self, short: str, expanded: str, display: str) -> None:
        start = len(self.text)
        self.text += short
        self.urls.append((short, expanded, display, start, len(self.text)))

    def cut(self, limit: int, suffix: str) -> tuple[str, list, list, list]:
        """The first `limit` characters plus `suffix`, with the entities that fit wholly."""
        text = self.text[:limit].rstrip() + suffix
        keep = len(self.text[:limit].rstrip())
        return (
            text,
            [h for h in self.hashtags if h[2] <= keep],
            [m for m in self.mentions if m[2] <= keep],
            [u for u in self.urls if u[4] <= keep],
        )


@dataclass(slots=True)
class Material:
    """A post ready to render: its own object, and the original or quoted post it embeds."""

    spec: PostSpec
    body: Body
    original: Body | None = None
    quoted: Body | None = None


def expected_matches(catalog: Catalog, mentions: Iterable[Mention]) -> tuple[frozenset[int], frozenset[int]]:
    """(hashtag shows, text shows) of a post saying `mentions`: by construction, from what each
    written name or hashtag mentions (a hashtag stays in the text, so "#Riverdale" also mentions
    Riverdale by text; "His Dark Materials" also mentions Dark)."""
    hashtag_shows: set[int] = set()
    text_shows: set[int] = set()
    for mention in mentions:
        if mention.hashtag:
            hashtag_shows.add(mention.show_id)
            text_shows |= catalog.mentions_of(mention.hashtag)
        if mention.phrase:
            text_shows |= catalog.mentions_of(mention.phrase)
    return frozenset(hashtag_shows), frozenset(text_shows)


def _rule_id(show_id: int) -> str:
    return str(1_329_170_000_000_000_000 + show_id)


class Renderer:
    """Writes posts and other lines for one sample (one seed, one level of object detail)."""

    def __init__(self, catalog: Catalog, users: list[User], seed: int, full_objects: bool):
        self.catalog = catalog
        self.users = users
        self.seed = seed
        self.full = full_objects

    # ---- content -------------------------------------------------------------------------
    def materialize(self, spec: PostSpec) -> Material:
        rng = random.Random((self.seed << 64) ^ spec.post_id)
        user = rng.choice(self.users)
        if spec.kind in (RETWEET, RETWEET_MISSING):
            original = self._content(
                spec.post_id,
                spec,
                spec.mentions,
                rng,
                created_ms=spec.created_ms - rng.randrange(600_000, 3 * DAY_MS),
                referenced=1,
                short=spec.kind == RETWEET_MISSING,
            )
            quoted = None
            if spec.kind == RETWEET and rng.random() < 0.2:
                # A retweet of a quote post: the quoted post travels along and never counts.
                show = rng.choice(self.catalog.shows)
                quoted = self._quote(spec, original, (Mention(show.id, show.hashtags[0], show.name),), rng, 2)
            self._verify(original, spec.hashtag_shows, spec.text_shows, spec)
            if spec.kind == RETWEET:
                own = self._retweet(spec, user, original, cut=True)
                return Material(spec, own, original=original, quoted=quoted)
            # The original is not embedded: the post's own text carries its content uncut.
            own = self._retweet(spec, user, original, cut=False)
            self._verify(own, spec.hashtag_shows, spec.text_shows, spec)
            return Material(spec, own, original=original)
        own = self._content(spec.post_id, spec, spec.mentions, rng, created_ms=spec.created_ms, user=user)
        quoted = self._quote(spec, own, spec.quoted_mentions, rng, 1) if spec.kind == QUOTE else None
        self._verify(own, spec.hashtag_shows, spec.text_shows, spec)
        return Material(spec, own, quoted=quoted)

    def _quote(
        self, spec: PostSpec, quoting: Body, mentions: tuple[Mention, ...], rng: random.Random, slot: int
    ) -> Body:
        """The post `quoting` quotes (checked to say exactly `mentions`); adds the quote link."""
        quoted = self._content(
            spec.post_id,
            spec,
            mentions,
            rng,
            created_ms=quoting.created_ms - rng.randrange(60_000, DAY_MS),
            referenced=slot,
        )
        self._verify(quoted, *expected_matches(self.catalog, mentions), spec)
        link = "https://t.co/" + _token(rng, 10)
        expanded = f"https://twitter.com/{quoted.user.screen_name}/status/{quoted.post_id}"
        quoting.add(" ")
        quoting.add_url(link, expanded, f"twitter.com/{quoted.user.screen_name}/…")
        return quoted

    def _content(
        self,
        post_id: int,
        spec: PostSpec,
        mentions: tuple[Mention, ...],
        rng: random.Random,
        *,
        created_ms: int,
        user: User | None = None,
        referenced: int = 0,
        short: bool = False,
    ) -> Body:
        if referenced:
            # Originals and quoted posts: bit 21 set, bit 20 tells the two apart (delivered posts'
            # low bits are their plan sequence, below 2**20).
            post_id = snowflake(created_ms, REFERENCED_BIT | (referenced - 1) << 20 | spec.seq & 0xFFFFF)
            user = rng.choice(self.users)
        assert user is not None
        body = Body(post_id, created_ms, user, lang=spec.lang, source=rng.choice(vocab.SOURCES))
        body.shows = frozenset(m.show_id for m in mentions)
        reply_to = None
        if spec.kind == REPLY and not referenced:
            replied = rng.choice(self.users)
            reply_to = (
                snowflake(created_ms - rng.randrange(60_000, 7_200_000), rng.getrandbits(22)),
                replied,
            )
            body.add_mention(replied)
            body.add(" ")
        body.reply_to = reply_to
        self._compose(body, spec, mentions, rng, short=short or (bool(referenced) and spec.kind == QUOTE))
        if not short and rng.random() < 0.12:
            host = rng.choice(vocab.LINK_SITES)
            token = _token(rng, 11)
            body.add(" ")
            body.add_url(
                "https://t.co/" + _token(rng, 10),
                f"https://{host}{token}",
                host + token[:4] + "…",
            )
        if not short and rng.random() < 0.35:
            body.photo = _token(rng, 15)
            body.photos = rng.choices((1, 2, 3, 4), weights=(70, 15, 8, 7))[0]
            body.add(" ")
            body.add_url("https://t.co/" + _token(rng, 10), "", "pic.twitter.com/" + body.photo[:10])
        # Drawn in every mode so that full and trimmed objects say the same.
        body.place = rng.randrange(len(PLACES)) if rng.random() < 0.06 else None
        mask = rng.getrandbits(len(TOPICS))
        body.topics = tuple(i for i in range(len(TOPICS)) if mask >> i & 1)
        popularity = rng.paretovariate(1.5)
        body.metrics = (
            int(popularity * 3) - 3,
            int(popularity) - 1,
            int(popularity * 9) - 9,
            int(popularity / 3),
        )
        return body

    def _compose(
        self, body: Body, spec: PostSpec, mentions: tuple[Mention, ...], rng: random.Random, short: bool
    ) -> None:
        lang = spec.lang
        sentences = vocab.SENTENCES_EN if lang == "en" else vocab.SENTENCES_OTHER[lang]
        start = len(body.text)
        if spec.template:
            self._near_miss(body, spec.template, rng)
            return
        sentence_starts = [start]
        if spec.tail and mentions:
            while len(body.text) - start < 150:
                self._add_sentence(body, vocab.SENTENCES_EN, start, rng)
            body.add(". ")
            sentence_starts.append(len(body.text))
        pending: list[Mention] = []
        for index, mention in enumerate(mentions):
            if index:
                joiner = rng.choice(vocab.JOINERS)
                body.add(joiner)
                if joiner == ". ":
                    sentence_starts.append(len(body.text))
            self._clause(body, mention, lang, rng)
            if mention.hashtag:
                if rng.random() < 0.5 and not (spec.long or spec.tail):
                    body.add(" ")
                    body.add_hashtag(*self._hashtag_surface(mention, rng))
                else:
                    pending.append(mention)
        if not mentions:
            self._add_sentence(body, sentences, start, rng)
        for _ in range(0 if short else rng.choice((0, 1, 1, 2))):
            self._add_sentence(body, sentences, start, rng)
        if spec.long:
            while len(body.text) - start < V2_TEXT_LIMIT + 20:
                self._add_sentence(body, vocab.SENTENCES_EN, start, rng)
        for mention in pending:
            body.add(" ")
            body.add_hashtag(*self._hashtag_surface(mention, rng))
        if not short:
            if rng.random() < 0.2:
                body.add(" ")
                body.add_hashtag("#", rng.choice(vocab.NEUTRAL_HASHTAGS))
            if rng.random() < 0.15:
                body.add(" " + rng.choice(vocab.EMOJI))
        # Capitalise sentence starts (case never changes what a post mentions; entity indices stay).
        chars = list(body.text)
        for at in sentence_starts:
            if (
                at + 1 < len(chars)
                and chars[at].isascii()
                and chars[at].islower()
                and not chars[at + 1].isupper()
            ):
                chars[at] = chars[at].upper()
        body.text = "".join(chars)

    @staticmethod
    def _add_sentence(body: Body, sentences: tuple[str, ...], start: int, rng: random.Random) -> None:
        """Another neutral sentence (not one the post already says), punctuated and capitalised."""
        for _ in range(4):  # a few tries for a sentence the post does not say yet
            sentence = rng.choice(sentences)
            if sentence[1:] not in body.text:
                break
        sentence = sentence[:1].upper() + sentence[1:]
        if len(body.text) == start:
            body.add(sentence)
        elif body.text.rstrip()[-1:] in tuple(".!?…。！？") or not body.text[-1:].isascii():
            body.add(" " + sentence)
        else:
            body.add(". " + sentence)

    def _clause(self, body: Body, mention: Mention, lang: str, rng: random.Random) -> None:
        show = self.catalog.by_id[mention.show_id]
        openers = vocab.OPENERS_EN if lang == "en" else vocab.OPENERS_OTHER[lang]
        closers = vocab.CLOSERS_EN if lang == "en" else vocab.CLOSERS_OTHER[lang]
        if mention.surface == "original_name":
            body.add(f"{show.original_name} {rng.choice(vocab.CLOSERS_OTHER['ja'])}")
        elif mention.phrase:
            opener, closer = rng.choice(openers), rng.choice(closers)
            written = self._phrase_surface(mention, rng)
            if lang in ("ja", "ko"):
                # Spaces around the Latin name: glued to a CJK letter it would not be a whole phrase.
                body.add(f"{opener} {written} {closer}")
            else:
                body.add(" ".join(part for part in (opener, written, closer) if part))
        else:
            body.add(rng.choice([c for c in closers if c] or list(vocab.SENTENCES_EN)))

    @staticmethod
    def _phrase_surface(mention: Mention, rng: random.Random) -> str:
        text = mention.phrase or ""
        if "'" in text and (mention.surface == "curly" or (not mention.surface and rng.random() < 0.4)):
            text = text.replace("'", "’")
        if mention.surface == "exclaim":
            return text + "!"
        if not mention.surface:
            roll = rng.random()
            if roll < 0.2:
                text = text.lower()
            elif roll < 0.28:
                text = text.upper()
        prefix, suffix = rng.choice(_DECORATIONS)
        if suffix == "'s" and not text[-1].isalnum():
            suffix = ""
        return prefix + text + suffix

    @staticmethod
    def _hashtag_surface(mention: Mention, rng: random.Random) -> tuple[str, str]:
        tag = (mention.hashtag or "#")[1:]
        sign = "#"
        if mention.surface == "fullwidth" or (not mention.surface and rng.random() < 0.02):
            sign = "＃"
        if mention.surface == "lower":
            tag = tag.lower()
        elif mention.surface == "upper":
            tag = tag.upper()
        elif not mention.surface:
            roll = rng.random()
            if roll < 0.08:
                tag = tag.lower()
            elif roll < 0.12:
                tag = tag.upper()
        return sign, tag

    def _near_miss(self, body: Body, template: str, rng: random.Random) -> None:
        if template == "near_ja":
            body.add(vocab.NEAR_MISS_JA.format(closer=rng.choice(vocab.CLOSERS_OTHER["ja"])))
        elif template == "near_hashtag":
            body.add(rng.choice(vocab.CLOSERS_EN[:-1]).capitalize() + " ")
            body.add_hashtag("#", vocab.NEAR_MISS_HASHTAG)
        else:
            index = int(template.removeprefix("near_en"))
            body.add(vocab.NEAR_MISS_EN[index][0].format(sister=rng.choice(("sister", "brother", "friend"))))

    def _retweet(self, spec: PostSpec, user: User, original: Body, cut: bool) -> Body:
        own = Body(spec.post_id, spec.created_ms, user, lang=original.lang, source=original.source)
        own.add("RT ")
        own.add_mention(original.user)
        own.add(": ")
        offset = len(own.text)
        text, hashtags, mentions, urls = original.text, original.hashtags, original.mentions, original.urls
        if cut and len(own.text) + len(original.text) > V11_TEXT_LIMIT:
            # The repost's own text is cut to 140 characters and loses what follows.
            text, hashtags, mentions, urls = original.cut(V11_TEXT_LIMIT - 1 - offset, "…")
        own.text += text
        own.hashtags += [(t, s + offset, e + offset) for t, s, e in hashtags]
        own.mentions += [(u, s + offset, e + offset) for u, s, e in mentions]
        own.urls += [(a, b, c, s + offset, e + offset) for a, b, c, s, e in urls]
        own.shows = original.shows
        return own

    def _verify(
        self, body: Body, hashtag_shows: frozenset[int], text_shows: frozenset[int], spec: PostSpec
    ) -> None:
        """The check that keeps the ground truth honest: the written text and entities mention
        exactly the planned shows (no neutral word spells a show, no near-miss counts)."""
        found_text = self.catalog.matcher.shows_in_text(escape_text(body.text))
        found_tags = {self.catalog.matcher.show_of_hashtag(tag) for tag, _, _ in body.hashtags} - {None}
        if found_text != text_shows or found_tags != hashtag_shows:
            raise SampleTextError(
                f"post {spec.post_id} says {body.text!r}: text mentions {sorted(found_text)} "
                f"(planned {sorted(text_shows)}), hashtags {sorted(found_tags)} "
                f"(planned {sorted(hashtag_shows)})"
            )

    # ---- rendering -------------------------------------------------------------------------
    def render_post(self, material: Material, family: str) -> str:
        if family == V11:
            # The 2020 archive: X escaped every "/" as "\\/", and the collector wrote the status with
            # Python's default separators (", ", ": "). Both are valid JSON a reader must accept.
            return json.dumps(self._v11_message(material), sort_keys=True).replace("/", "\\/")
        return json.dumps(
            self._v2_message(material), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    # v1.1 ----------------------------------------------------------------------------------
    def _v11_user(self, user: User) -> dict:
        obj: dict = {
            "id": user.id,
            "id_str": str(user.id),
            "name": user.name,
            "screen_name": user.screen_name,
            "followers_count": user.followers,
            "friends_count": user.friends,
            "statuses_count": user.statuses,
            "verified": user.verified,
            "protected": False,
            "created_at": _v11_time_cached(user.created_ms),
        }
        if self.full:
            image = f"pbs.twimg.com/profile_images/{user.id % 10**19}/{user.image_key}_normal.jpg"
            obj.update(
                {
                    "location": user.location or None,
                    "url": None,
                    "description": user.description or None,
                    "translator_type": "none",
                    "listed_count": user.listed,
                    "favourites_count": user.favourites,
                    "utc_offset": None,
                    "time_zone": None,
                    "geo_enabled": user.followers % 3 == 0,
                    "lang": None,
                    "contributors_enabled": False,
                    "is_translator": False,
                    "profile_background_color": "F5F8FA",
                    "profile_background_image_url": "http://abs.twimg.com/images/themes/theme1/bg.png",
                    "profile_background_image_url_https": "https://abs.twimg.com/images/themes/theme1/bg.png",
                    "profile_background_tile": False,
                    "profile_link_color": "1DA1F2",
                    "profile_sidebar_border_color": "C0DEED",
                    "profile_sidebar_fill_color": "DDEEF6",
                    "profile_text_color": "333333",
                    "profile_use_background_image": True,
                    "profile_image_url": "http://" + image,
                    "profile_image_url_https": "https://" + image,
                    "profile_banner_url": f"https://pbs.twimg.com/profile_banners/{user.id}/1600000000",
                    "default_profile": True,
                    "default_profile_image": False,
                    "following": None,
                    "follow_request_sent": None,
                    "notifications": None,
                    "withheld_in_countries": [],
                }
            )
        return obj

    @staticmethod
    def _v11_entities(hashtags: list, mentions: list, urls: list) -> dict:
        return {
            "hashtags": [{"text": tag, "indices": [s, e]} for tag, s, e in hashtags],
            "urls": [
                {"url": short, "expanded_url": exp, "display_url": disp, "indices": [s, e]}
                for short, exp, disp, s, e in urls
                if exp
            ],
            "user_mentions": [
                {
                    "screen_name": u.screen_name,
                    "name": u.name,
                    "id": u.id,
                    "id_str": str(u.id),
                    "indices": [s, e],
                }
                for u, s, e in mentions
            ],
            "symbols": [],
        }

    def _media_items(self, body: Body) -> list[dict]:
        short, _, display, start, end = next(u for u in body.urls if not u[1])
        items = []
        for number in range(1, body.photos + 1):
            key = f"{body.photo}{number}"
            media_id = snowflake(
                body.created_ms - 5000, (int.from_bytes(key[:3].encode()) + number) & 0x3FFFFF
            )
            url = f"https://pbs.twimg.com/media/{body.photo[:14]}{number}.jpg"
            width, height = ((1200, 900), (900, 1200), (1080, 1080), (2048, 1152))[(media_id >> 3) % 4]
            sizes = {
                "thumb": {"w": 150, "h": 150, "resize": "crop"},
                "small": {"w": 680, "h": 680 * height // width, "resize": "fit"},
                "medium": {"w": 1200, "h": 1200 * height // width, "resize": "fit"},
                "large": {"w": width, "h": height, "resize": "fit"},
            }
            items.append(
                {
                    "id": media_id,
                    "id_str": str(media_id),
                    "indices": [start, end],
                    "media_url": url.replace("https://", "http://"),
                    "media_url_https": url,
                    "url": short,
                    "display_url": display,
                    "expanded_url": f"https://twitter.com/{body.user.screen_name}/status/{body.post_id}/photo/{number}",
                    "type": "photo",
                    "sizes": sizes,
                }
            )
        return items

    def _v11_place(self, body: Body) -> dict | None:
        if not self.full or body.place is None:
            return None
        place_id, name, full_name, country_code, country, lon, lat = PLACES[body.place]
        box = [[lon - 0.3, lat - 0.2], [lon + 0.3, lat - 0.2], [lon + 0.3, lat + 0.2], [lon - 0.3, lat + 0.2]]
        return {
            "id": place_id,
            "url": f"https://api.twitter.com/1.1/geo/id/{place_id}.json",
            "place_type": "city",
            "name": name,
            "full_name": full_name,
            "country_code": country_code,
            "country": country,
            "bounding_box": {
                "type": "Polygon",
                "coordinates": [[[round(x, 6), round(y, 6)] for x, y in box]],
            },
            "attributes": {},
        }

    def _v11_status(self, body: Body, *, embedded: bool, archive: bool = False) -> dict:
        obj: dict = {
            "created_at": v11_time(body.created_ms),
            "id": body.post_id,
            "id_str": str(body.post_id),
            "source": body.source,
            "user": self._v11_user(body.user),
            "lang": body.lang,
            "is_quote_status": False,
            "quote_count": body.metrics[3],
            "reply_count": body.metrics[1],
            "retweet_count": body.metrics[0],
            "favorite_count": body.metrics[2],
            "favorited": False,
            "retweeted": False,
            "in_reply_to_status_id": None,
            "in_reply_to_status_id_str": None,
            "in_reply_to_user_id": None,
            "in_reply_to_user_id_str": None,
            "in_reply_to_screen_name": None,
            "geo": None,
            "coordinates": None,
            "place": None,
            "contributors": None,
        }
        if body.reply_to:
            status_id, replied = body.reply_to
            obj.update(
                {
                    "in_reply_to_status_id": status_id,
                    "in_reply_to_status_id_str": str(status_id),
                    "in_reply_to_user_id": replied.id,
                    "in_reply_to_user_id_str": str(replied.id),
                    "in_reply_to_screen_name": replied.screen_name,
                }
            )
        if not embedded and not archive:
            obj["filter_level"] = "low"
            obj["timestamp_ms"] = str(body.created_ms)
        obj["place"] = self._v11_place(body)
        entities = self._v11_entities(body.hashtags, body.mentions, body.urls)
        # Twitter put the first photo in entities.media and all of them in extended_entities.media.
        media = {"media": self._media_items(body)} if self.full and body.photo else None
        if media:
            entities["media"] = media["media"][:1]
        if archive:
            obj.update(
                {
                    "full_text": escape_text(body.text),
                    "display_text_range": [0, len(body.text)],
                    "truncated": False,
                    "entities": entities,
                }
            )
        elif len(body.text) > V11_TEXT_LIMIT:
            # Long posts: a cut `text` with a link to themselves; the whole post in extended_tweet.
            link = "https://t.co/" + format(body.post_id, "x")[-10:]
            visible, hashtags, mentions, urls = body.cut(V11_TEXT_LIMIT - 2 - 23, "…")
            urls = [
                *urls,
                (
                    link,
                    f"https://twitter.com/i/web/status/{body.post_id}",
                    "twitter.com/i/web/status/1…",
                    len(visible) + 1,
                    len(visible) + 24,
                ),
            ]
            obj.update(
                {
                    "text": escape_text(visible + " " + link),
                    "display_text_range": [0, len(visible)],
                    "truncated": True,
                    "entities": self._v11_entities(hashtags, mentions, urls),
                    "extended_tweet": {
                        "full_text": escape_text(body.text),
                        "display_text_range": [0, len(body.text)],
                        "entities": entities,
                    },
                }
            )
            if media:
                obj["extended_tweet"]["extended_entities"] = media
        else:
            obj.update({"text": escape_text(body.text), "truncated": False, "entities": entities})
        if media and "extended_tweet" not in obj:
            obj["extended_entities"] = media
            obj["possibly_sensitive"] = False
        return obj

    def _v11_attach_quote(self, obj: dict, quoting: Body, quoted: Body) -> None:
        link = next(u for u in quoting.urls if u[1].endswith(f"/status/{quoted.post_id}"))
        obj.update(
            {
                "is_quote_status": True,
                "quoted_status_id": quoted.post_id,
                "quoted_status_id_str": str(quoted.post_id),
                "quoted_status": self._v11_status(quoted, embedded=True),
                "quoted_status_permalink": {"url": link[0], "expanded": link[1], "display": link[2]},
            }
        )

    def _v11_message(self, material: Material) -> dict:
        spec = material.spec
        if spec.kind == RETWEET and material.original:
            obj = self._v11_status(material.body, embedded=False)
            obj["retweeted_status"] = self._v11_status(material.original, embedded=True)
            if material.quoted:
                # v1.1 repeats the quoted post beside the retweeted quote post.
                self._v11_attach_quote(obj["retweeted_status"], material.original, material.quoted)
                self._v11_attach_quote(obj, material.original, material.quoted)
        elif spec.kind == QUOTE and material.quoted:
            obj = self._v11_status(material.body, embedded=False)
            self._v11_attach_quote(obj, material.body, material.quoted)
        else:
            # RETWEET_MISSING renders as a manual "RT @user: ..." without a retweet object.
            obj = self._v11_status(material.body, embedded=False, archive=spec.kind == ARCHIVE_FULL_TEXT)
        if spec.invalid == "no_created_at":
            obj.pop("created_at")
            obj.pop("timestamp_ms", None)
        elif spec.invalid == "empty_created_at":
            obj["created_at"] = ""
        elif spec.invalid == "no_id":
            obj.pop("id")
            obj.pop("id_str")
        return obj

    # v2 ------------------------------------------------------------------------------------
    def _v2_user(self, user: User) -> dict:
        obj: dict = {"id": str(user.id), "name": user.name, "username": user.screen_name}
        if self.full:
            obj.update(
                {
                    "created_at": v2_time(user.created_ms),
                    "description": user.description,
                    "location": user.location,
                    "profile_image_url": (
                        f"https://pbs.twimg.com/profile_images/{user.id % 10**19}/{user.image_key}_normal.jpg"
                    ),
                    "protected": False,
                    "public_metrics": {
                        "followers_count": user.followers,
                        "following_count": user.friends,
                        "tweet_count": user.statuses,
                        "listed_count": user.listed,
                        "like_count": user.favourites,
                    },
                    "url": "",
                    "verified": user.verified,
                    "verified_type": "none",
                    "pinned_tweet_id": str(snowflake(user.created_ms + 86_400_000, user.id & 0x3FFFFF)),
                    "entities": {"description": {"hashtags": [], "mentions": [], "urls": []}},
                }
            )
        return obj

    @staticmethod
    def _v2_entities(hashtags: list, mentions: list, urls: list) -> dict:
        entities: dict = {}
        if hashtags:
            entities["hashtags"] = [{"start": s, "end": e, "tag": tag} for tag, s, e in hashtags]
        if mentions:
            entities["mentions"] = [
                {"start": s, "end": e, "username": u.screen_name, "id": str(u.id)} for u, s, e in mentions
            ]
        if urls:
            entities["urls"] = [
                {
                    "start": s,
                    "end": e,
                    "url": short,
                    "expanded_url": exp or f"https://twitter.com/i/photo/{short[-10:]}",
                    "display_url": disp,
                }
                for short, exp, disp, s, e in urls
            ]
        return entities

    def _v2_tweet(self, body: Body, without_ms: bool = False) -> dict:
        obj: dict = {
            "id": str(body.post_id),
            "created_at": v2_time(body.created_ms, with_ms=not without_ms),
            "author_id": str(body.user.id),
            "edit_history_tweet_ids": [str(body.post_id)],
            "lang": body.lang,
            "conversation_id": str(body.reply_to[0] if body.reply_to else body.post_id),
            "possibly_sensitive": False,
            "public_metrics": {
                "retweet_count": body.metrics[0],
                "reply_count": body.metrics[1],
                "like_count": body.metrics[2],
                "quote_count": body.metrics[3],
            },
        }
        all_entities = self._v2_entities(body.hashtags, body.mentions, body.urls)
        if len(body.text) > V2_TEXT_LIMIT:
            visible, hashtags, mentions, urls = body.cut(V2_TEXT_LIMIT - 4, "…")
            obj["text"] = escape_text(visible)
            entities = self._v2_entities(hashtags, mentions, urls)
            obj["note_tweet"] = {"text": escape_text(body.text)}
            if all_entities:
                obj["note_tweet"]["entities"] = all_entities
        else:
            obj["text"] = escape_text(body.text)
            entities = all_entities
        if entities:
            obj["entities"] = entities
        if body.reply_to:
            obj["in_reply_to_user_id"] = str(body.reply_to[1].id)
            obj["referenced_tweets"] = [{"type": "replied_to", "id": str(body.reply_to[0])}]
        if self.full:
            obj["public_metrics"]["impression_count"] = body.metrics[2] * 37 + body.metrics[0] * 11
            obj["public_metrics"]["bookmark_count"] = body.metrics[2] // 7
            named = self._named_entities(body)
            if named:
                obj.setdefault("entities", {})["annotations"] = named
            obj["reply_settings"] = "everyone"
            obj["source"] = body.source.split(">")[1].split("<")[0]
            obj["edit_controls"] = {
                "edits_remaining": 5,
                "is_edit_eligible": not body.reply_to,
                "editable_until": v2_time(body.created_ms + 1_800_000),
            }
            annotations = [
                {
                    "domain": {
                        "id": "3",
                        "name": "TV Shows",
                        "description": "Television shows from ongoing series",
                    },
                    "entity": {"id": str(10**18 + show_id), "name": self.catalog.by_id[show_id].name},
                }
                for show_id in sorted(body.shows)
            ]
            for topic in body.topics:
                domain_id, domain, domain_text, entity_id, entity, entity_text = TOPICS[topic]
                annotation = {
                    "domain": {"id": domain_id, "name": domain, "description": domain_text},
                    "entity": {"id": entity_id, "name": entity},
                }
                if entity_text:
                    annotation["entity"]["description"] = entity_text
                annotations.append(annotation)
            obj["context_annotations"] = annotations
            if body.photo:
                obj["attachments"] = {
                    "media_keys": [f"3_{item['id_str']}" for item in self._media_items(body)]
                }
            if body.place is not None:
                obj["geo"] = {"place_id": PLACES[body.place][0]}
        return obj

    def _named_entities(self, body: Body) -> list[dict]:
        """v2 entities.annotations: X's named-entity guesses (capitalised runs, typed "Other")."""
        found = []
        for match in _CAPITALISED.finditer(body.text):
            if match.start() and body.text[match.start() - 1] in "#@/":
                continue
            found.append(
                {
                    "start": match.start(),
                    "end": match.end() - 1,
                    "probability": round(0.35 + zlib.crc32(match.group().encode()) % 60 / 100, 4),
                    "type": "Other",
                    "normalized_text": match.group(),
                }
            )
        return found[:6]

    def _v2_message(self, material: Material) -> dict:
        spec = material.spec
        body = material.body
        data = self._v2_tweet(body, without_ms=spec.without_ms)
        users = [body.user]
        tweets: list[dict] = []
        message: dict = {}
        if spec.kind in (RETWEET, RETWEET_MISSING) and material.original:
            original = material.original
            data["referenced_tweets"] = [{"type": "retweeted", "id": str(original.post_id)}]
            users.append(original.user)
            if spec.kind == RETWEET:
                tweets.append(self._v2_tweet(original))
                if material.quoted:
                    tweets[0].setdefault("referenced_tweets", []).append(
                        {"type": "quoted", "id": str(material.quoted.post_id)}
                    )
                    tweets.append(self._v2_tweet(material.quoted))
                    users.append(material.quoted.user)
            else:
                message["errors"] = [
                    {
                        "value": str(original.post_id),
                        "detail": f"Could not find tweet with referenced_tweets.id: [{original.post_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "referenced_tweets.id",
                        "resource_id": str(original.post_id),
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
        elif spec.kind == QUOTE and material.quoted:
            data.setdefault("referenced_tweets", []).append(
                {"type": "quoted", "id": str(material.quoted.post_id)}
            )
            tweets.append(self._v2_tweet(material.quoted))
            users.append(material.quoted.user)
        if spec.invalid == "no_created_at":
            # A client that asked for no tweet.fields gets the defaults only.
            data = {key: data[key] for key in ("id", "text", "edit_history_tweet_ids")}
        elif spec.invalid == "no_id":
            data.pop("id")
            data.pop("edit_history_tweet_ids")
        elif spec.invalid == "empty_created_at":
            data["created_at"] = ""
        message["data"] = data
        users += [u for u, _, _ in body.mentions]  # expansions=entities.mentions.username
        includes: dict = {"users": [self._v2_user(u) for u in dict.fromkeys(users)]}
        if tweets:
            includes["tweets"] = tweets
        if self.full and body.photo:
            includes["media"] = [
                {
                    "media_key": f"3_{item['id_str']}",
                    "type": "photo",
                    "url": item["media_url_https"],
                    "width": item["sizes"]["large"]["w"],
                    "height": item["sizes"]["large"]["h"],
                }
                for item in self._media_items(body)
            ]
        place = self._v11_place(body)
        if place:
            includes["places"] = [
                {
                    "id": place["id"],
                    "full_name": place["full_name"],
                    "name": place["name"],
                    "country": place["country"],
                    "country_code": place["country_code"],
                    "place_type": place["place_type"],
                    "geo": {"type": "Feature", "bbox": _bbox(place), "properties": {}},
                }
            ]
        message["includes"] = includes
        message["matching_rules"] = self._matching_rules(spec)
        return message

    def _matching_rules(self, spec: PostSpec) -> list[dict]:
        shows = sorted(spec.hashtag_shows | spec.text_shows)
        if not shows:
            quoted = expected_matches(self.catalog, spec.quoted_mentions)
            shows = sorted(quoted[0] | quoted[1]) or [spec.rule_show or self.catalog.shows[0].id]
        rules: list[dict] = [{"id": _rule_id(s), "tag": self.catalog.by_id[s].name} for s in shows]
        first = rules[0]
        if spec.rule_variant == "numeric_id":
            first["id"] = int(first["id"])  # the 2021 recordings carried numeric rule ids
        elif spec.rule_variant == "null_tag":
            first["tag"] = None
        elif spec.rule_variant == "no_tag":
            del first["tag"]
        return rules

    # ---- non-post lines --------------------------------------------------------------------
    def render_other(self, line: Line, family: str) -> str:
        kind, variant = line.kind, line.variant
        stamp = str(line.filed_ms)
        if kind == "keepalive":
            return "   " if variant == "spaces" else ""
        if kind == "limit":
            return json.dumps(
                {"limit": {"track": int(variant), "timestamp_ms": stamp}}, separators=(",", ":")
            )
        if kind == "delete":
            assert line.spec is not None
            user = self.materialize(line.spec).body.user
            status = {
                "id": line.spec.post_id,
                "id_str": str(line.spec.post_id),
                "user_id": user.id,
                "user_id_str": str(user.id),
            }
            return json.dumps(
                {"delete": {"status": status, "timestamp_ms": stamp}}, sort_keys=True, separators=(",", ":")
            )
        if kind == "errors":
            return json.dumps({"errors": [_OPERATIONAL_DISCONNECT]}, sort_keys=True, separators=(",", ":"))
        if kind == "other":
            if variant == "warning":
                payload = {
                    "warning": {
                        "code": "FALLING_BEHIND",
                        "message": (
                            "Your connection is falling behind and messages are being queued for "
                            "delivery to you. Your queue is now over 60% full. You will be "
                            "disconnected when the queue is full."
                        ),
                        "percent_full": 60,
                    }
                }
            else:
                payload = {
                    "title": "ConnectionException",
                    "detail": "This stream is currently at the maximum allowed connection limit.",
                    "connection_issue": "TooManyConnections",
                    "type": "https://api.twitter.com/2/problems/streaming-connection",
                }
            return json.dumps(payload, sort_keys=True, separators=(",", ":"))
        if kind == "corrupt":
            if variant == "html":
                return (
                    "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
                    "<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
                )
            if variant == "glued":
                one = json.dumps({"errors": [_OPERATIONAL_DISCONNECT]}, sort_keys=True, separators=(",", ":"))
                return one + one  # two messages on one line: not one JSON value
            if variant in ("cut", "spliced"):
                assert line.spec is not None
                whole = self.render_post(self.materialize(line.spec), family)
                # "cut": the write stopped mid-line; "spliced": the next message was written after
                # the unfinished one, on the same line.
                return whole[: len(whole) // 2] + (whole if variant == "spliced" else "")
        raise ValueError(f"unknown line {kind}/{variant}")


def _bbox(place: dict) -> list[float]:
    ring = place["bounding_box"]["coordinates"][0]
    return [ring[0][0], ring[0][1], ring[2][0], ring[2][1]]


# Places of geotagged posts (full objects): id, name, full name, country code, country, lon, lat.
PLACES = (
    ("c3f37afa9efcf94b", "Austin", "Austin, TX", "US", "United States", -97.74, 30.27),
    ("3797791ff9c0e4c6", "Toronto", "Toronto, Ontario", "CA", "Canada", -79.38, 43.65),
    ("457b4814b4240d87", "London", "London, England", "GB", "United Kingdom", -0.13, 51.51),
    (
        "0062ad2f7d0e1f3e",
        "Manila",
        "Manila, National Capital Region",
        "PH",
        "Republic of the Philippines",
        120.98,
        14.6,
    ),
    ("206e932cc0e89fa2", "Madrid", "Madrid, Comunidad de Madrid", "ES", "Spain", -3.7, 40.42),
    ("4a4d5ec6c2ad4f1a", "Tokyo", "Tokyo, Japan", "JP", "Japan", 139.69, 35.69),
    ("68e019afec7d0ba5", "São Paulo", "São Paulo, Brasil", "BR", "Brasil", -46.63, -23.55),
)
# Generic v2 context annotations (full objects): domain id, name, description; entity id, name, description.
TOPICS = (
    (
        "46",
        "Business Taxonomy",
        "Categories within Brand Verticals that narrow down the scope of Brands",
        "1557696848252391426",
        "Entertainment & Media",
        "Brands, companies and services in entertainment and media",
    ),
    (
        "65",
        "Interests and Hobbies Vertical",
        "Top level interests and hobbies groupings, like Food or Travel",
        "847528391163092993",
        "Entertainment",
        "Entertainment",
    ),
    (
        "66",
        "Interests and Hobbies Category",
        "A grouping of interests and hobbies entities, like Novelty Food or Destinations",
        "1037082244219297792",
        "TV & movies",
        "",
    ),
    (
        "131",
        "Unified Twitter Taxonomy",
        "A taxonomy view into the Magic Recs Unified Twitter Taxonomy",
        "1108790278225158144",
        "Television",
        "Television",
    ),
    ("47", "Brand", "Brands and Companies", "10045225402", "Twitter", ""),
    ("71", "Video Game", "A video game like Overwatch", "1301192447302090753", "Streaming", ""),
    (
        "45",
        "Brand Vertical",
        "Top level entities that describe a Brands industry",
        "781974597105094656",
        "Media & Entertainment",
        "Media and entertainment brands",
    ),
    ("29", "Events [Entity Service]", "Real world events.", "1329156734516502528", "Holiday season", ""),
    (
        "67",
        "Interests and Hobbies",
        "Interests, opinions, and behaviors of individuals, groups, or cultures; like Speciality Cooking",
        "1280542432128282625",
        "Binge watching",
        "Watching several episodes of a series in one sitting",
    ),
    (
        "30",
        "Entities [Entity Service]",
        "Entity Service top level domain, every item that is in Entity Service should be in this domain",
        "781974596148793345",
        "Business & finance",
        "",
    ),
)

_OPERATIONAL_DISCONNECT = {
    "title": "operational-disconnect",
    "disconnect_type": "UpstreamOperationalDisconnect",
    "detail": "This stream has been disconnected upstream for operational reasons.",
    "type": "https://api.twitter.com/2/problems/operational-disconnect",
}
