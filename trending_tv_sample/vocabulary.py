"""Neutral words for the sample's posts and users, and the proof that they stay neutral.

Everything a post says besides its intended show mentions comes from these lists. `check_vocabulary`
proves, once per run, that no show's name or alias can be spelled out by them: not by one
fragment, and not by a fragment next to another show's name or hashtag. Generic names ("Dark",
"House", "This Is Us", "Once Upon a Time", "We Are Who We Are", ...) are why the lists avoid words
such as "dark", "house", "us", "upon" and "who".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest_host.normalize import normalize_text
from trending_tv_sample.catalog import Catalog

_WORD = re.compile(r"\w+")

# Before a show's name ("<opener> The Mandalorian <closer>").
OPENERS_EN = (
    "just finished",
    "currently watching",
    "rewatching",
    "can't stop thinking about",
    "finally started",
    "still not over",
    "binged all of",
    "three episodes into",
    "hot take:",
    "my sister got me into",
    "tonight's plan:",
    "just caught up on",
    "we need to talk about",
    "obsessed with",
    "nobody talks about",
    "the new episode of",
    "the soundtrack of",
    "the cast of",
    "the finale of",
    "unpopular opinion:",
    "late to the party but",
    "ok so",
    "can we talk about",
    "been waiting all week for",
    "the writing on",
    "the latest season of",
    "my comfort watch is",
    "started",
    "thinking about",
    "",
)
# After a show's name.
CLOSERS_EN = (
    "and I have so many questions",
    "what a ride",
    "is so great",
    "hits different at 2am",
    "deserves more attention",
    "made me cry again",
    "was worth the wait",
    "is peak television",
    "never disappoints",
    "is on another level",
    "just keeps getting better",
    "left me speechless",
    "is back and better than ever",
    "was a rollercoaster",
    "no spoilers please",
    "needs another season",
    "has the best characters",
    "was hilarious",
    "scared me so much",
    "<3",
    "tonight with snacks",
    "and honestly? perfect",
    "is my whole personality now",
    "made my week",
    "",
)
# Posts that mention no show at all.
SENTENCES_EN = (
    "coffee first, then emails",
    "the traffic this morning was unreal",
    "anyone else's wifi acting up today?",
    "tried a new recipe and it actually worked",
    "happy thanksgiving to everyone celebrating",
    "these deals are wild",
    "cannot believe it's almost december",
    "my cat knocked my phone off the table again",
    "going for a run before it rains",
    "the sunset tonight was gorgeous",
    "reading a great book this week",
    "I need more sleep",
    "football later with friends",
    "is it friday yet",
    "made pancakes for the kids",
    "my plants are thriving",
    "working from home again today",
    "just booked a haircut, finally",
    "cold brew season never ends",
    "this playlist is carrying my whole day",
    "can't find my keys, send help",
    "first snow of the year!",
    "grocery store was packed",
    "learning to bake sourdough, wish me luck",
    "my dog refuses to walk in the rain",
    "that match last night was incredible",
    "three meetings before noon, why",
    "the new album dropped and I'm not okay",
    "cleaning my room feels like a workout",
    "just ordered way too much takeout",
    "staying in tonight with a blanket and tea",
    "any podcast recommendations?",
    "I love a quiet sunday",
    "stayed up way too late again",
    "remember to drink water today",
    "the leaves are turning and it's beautiful",
    "video call with my grandparents today",
    "online classes are exhausting",
    "hot chocolate weather",
    "the puzzle is finally done",
)
# Spanish, Portuguese, Japanese and Korean posts (around a name, or on their own).
OPENERS_OTHER = {
    "es": ("acabo de terminar", "estoy viendo", "no puedo dejar de pensar en", "por fin empecé"),
    "pt": ("acabei de ver", "estou assistindo", "finalmente comecei", "não paro de pensar em"),
    "ja": ("今日は", "やっと", "久しぶりに", "週末は"),
    "ko": ("오늘은", "드디어", "주말에", "밤새"),
}
CLOSERS_OTHER = {
    "es": ("y no puedo más", "qué capítulo tan bueno", "me encanta", "necesito otra temporada"),
    "pt": ("que episódio incrível", "amo demais", "preciso da próxima temporada", "chorei muito"),
    "ja": ("を見た", "最高すぎる", "泣いた", "続きが気になる"),
    "ko": ("너무 재밌어요", "정주행 완료", "시즌2 언제 나와요", "최고예요"),
}
SENTENCES_OTHER = {
    "es": ("buenos días a todos", "qué frío hace hoy", "mañana empiezo el gimnasio"),
    "pt": ("bom dia pessoal", "que calor hoje", "amanhã tem jogo"),
    "ja": ("おはようございます", "今日は寒いですね", "コーヒーがおいしい"),
    "ko": ("좋은 아침이에요", "오늘 너무 추워요", "커피 한 잔 하실래요"),
}
# Hashtags that belong to no show.
NEUTRAL_HASHTAGS = (
    "tv",
    "bingewatching",
    "nowwatching",
    "streaming",
    "tvtime",
    "weekendvibes",
    "thanksgiving",
    "blackfriday",
    "cybermonday",
    "coffee",
    "wfh",
    "fandom",
    "series",
    "music",
    "football",
    "nofilter",
    "tbt",
    "mood",
)
JOINERS = (" and ", ". ", " / ", ", also ")  # between two clauses of one post
EMOJI = ("🔥", "😭", "😂", "👀", "🙌", "❤️", "✨", "😍", "🤯")
# Phrases that look like a show but must not count (glued to letters/digits, CJK, longer hashtags).
NEAR_MISS_EN = (
    ("my {sister} has the most dexterous hands, she fixed everything in minutes", ()),
    ("ben 100 days until the trip, counting down", ()),
    ("the house_party playlist is ready", ()),
    ("gotham2020 cosplay photos are up", ()),
)
NEAR_MISS_JA = "Narutoが大好き、{closer}"
NEAR_MISS_HASHTAG = "TheMandalorianSeason2"

USER_FIRST_NAMES = (
    "Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
    "Maya", "Leo", "Nina", "Omar", "Priya", "Chen", "Sofia", "Lucas", "Hana", "Yuki", "Carlos",
    "Lucia", "Ahmed", "Fatima", "Ivan", "Olga", "Kofi", "Amara", "Noah", "Zoe",
)  # fmt: skip
USER_LAST_NAMES = (
    "Reyes", "Kim", "Patel", "Nguyen", "Garcia", "Smith", "Okafor", "Ivanova", "Tanaka", "Park",
    "Silva", "Rossi", "Novak", "Haddad", "Larsen", "Moreau", "Fischer", "Costa", "Brooks", "Ali",
)  # fmt: skip
USER_WORDS = (
    "sunny", "reader", "pixel", "coffee", "maple", "river", "cloud", "velvet", "echo", "lemon",
    "comet", "willow", "ember", "quill", "harbor", "meadow", "stardust", "biscuit", "pepper", "nova",
)  # fmt: skip
USER_LOCATIONS = (
    "Austin, TX", "Toronto", "London", "Manila", "São Paulo", "Tokyo", "Seoul", "Madrid",
    "Berlin", "Lagos", "Sydney", "Dublin", "Denver, CO", "Lisbon", "Mexico City", "",
)  # fmt: skip
USER_BIOS = (
    "coffee, books and too many series",
    "she/her",
    "he/him | views my own",
    "living one episode after another",
    "professional overthinker",
    "music, memes and movies",
    "student. tired. hopeful.",
    "plant parent and weekend critic",
    "",
)
SOURCES = (
    '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
    '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
    '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
    '<a href="https://about.twitter.com/products/tweetdeck" rel="nofollow">TweetDeck</a>',
)
LINK_SITES = ("youtube.com/watch?v=", "instagram.com/p/", "open.spotify.com/track/", "blog.example.org/")


class VocabularyError(ValueError):
    """A neutral word list could spell out a show's name: the sample's ground truth would be wrong."""


@dataclass(frozen=True)
class VocabularyReport:
    fragments: int
    words: int


def neutral_fragments() -> list[str]:
    """Every neutral piece of text a post, a user or a filler sentence can contain."""
    pieces: list[str] = [*OPENERS_EN, *CLOSERS_EN, *SENTENCES_EN, *USER_BIOS, *USER_LOCATIONS]
    for table in (OPENERS_OTHER, CLOSERS_OTHER, SENTENCES_OTHER):
        for values in table.values():
            pieces.extend(values)
    pieces.extend(f"{first} {last}" for first in USER_FIRST_NAMES for last in USER_LAST_NAMES)
    pieces.extend(USER_WORDS)
    pieces.extend("#" + tag for tag in NEUTRAL_HASHTAGS)
    pieces.extend(EMOJI)
    pieces.extend(JOINERS)
    pieces.extend(text.format(sister="sister") for text, _ in NEAR_MISS_EN)
    pieces.append(NEAR_MISS_JA.format(closer=""))
    pieces.append("#" + NEAR_MISS_HASHTAG)
    pieces.extend(["RT", "https", "t.co", "s"])  # retweet prefixes, links, possessive "'s"
    return pieces


_CHECKED: dict[int, VocabularyReport] = {}


def check_vocabulary(catalog: Catalog) -> VocabularyReport:
    """Raise VocabularyError unless no show phrase can be formed by the neutral lists, alone or
    together with another show's name or hashtag written next to them.

    A phrase made of neutral words only needs all of its words in the lists, so one missing word
    proves it safe. A phrase P that would borrow from a neighbour Q (written whole) must contain Q,
    or start with an ending of Q or end with a beginning of Q cut at a word boundary; the rest of P
    must then be neutral words. The lists and the catalog are fixed, so a passed check is
    remembered for the process."""
    if id(catalog) in _CHECKED:
        return _CHECKED[id(catalog)]
    matcher = catalog.matcher
    problems: list[str] = []
    words: set[str] = set()
    for piece in neutral_fragments():
        found = matcher.shows_in_text(piece)
        if found:
            names = ", ".join(catalog.by_id[i].name for i in sorted(found))
            problems.append(f"fragment {piece!r} mentions {names}")
        words.update(_WORD.findall(normalize_text(piece)))
    for tag in NEUTRAL_HASHTAGS + (NEAR_MISS_HASHTAG,):
        if matcher.show_of_hashtag(tag) is not None:
            problems.append(f"neutral hashtag #{tag} belongs to a show")
    owners: dict[str, set[int]] = {}
    for show in catalog.shows:
        for phrase in show.phrases:
            owners.setdefault(normalize_text(phrase), set()).add(show.id)
    neighbours = sorted(
        {normalize_text(written) for show in catalog.shows for written in (*show.phrases, *show.hashtags)}
    )

    def neutral(rest: str) -> bool:
        return set(_WORD.findall(rest)) <= words

    cuts = {neighbour: _cuts(neighbour) for neighbour in neighbours}
    for phrase, phrase_words in matcher.phrase_words.items():
        if phrase_words <= words:
            problems.append(f"the neutral lists contain every word of {phrase!r}")
            continue
        for neighbour in neighbours:
            if owners[phrase] & catalog.phrase_mentions[neighbour]:
                continue  # writing the neighbour mentions this show on purpose
            if _borrows(phrase, neighbour, cuts[neighbour], neutral):
                problems.append(f"{phrase!r} could be formed next to {neighbour!r}")
    if problems:
        raise VocabularyError("neutral vocabulary is unsafe:\n  " + "\n  ".join(problems))
    report = VocabularyReport(fragments=len(neutral_fragments()), words=len(words))
    _CHECKED[id(catalog)] = report
    return report


def _cuts(neighbour: str) -> list[tuple[str, str]]:
    """(head, tail) splits of a neighbour at a word boundary, where a phrase could end or start."""

    def word(char: str) -> bool:
        return char.isalnum() or char == "_"

    return [
        (neighbour[:cut], neighbour[cut:])
        for cut in range(1, len(neighbour))
        if not word(neighbour[cut - 1]) or not word(neighbour[cut])
    ]


def _borrows(phrase: str, neighbour: str, cuts: list[tuple[str, str]], neutral) -> bool:
    """Whether `phrase` could occur across `neighbour` with only neutral words around it."""
    start = phrase.find(neighbour)
    while start >= 0:
        if neutral(phrase[:start]) and neutral(phrase[start + len(neighbour) :]):
            return True
        start = phrase.find(neighbour, start + 1)
    for head, tail in cuts:
        if phrase[-1] == head[-1] and phrase.endswith(head) and neutral(phrase[: -len(head)]):
            return True
        if phrase[0] == tail[0] and phrase.startswith(tail) and neutral(phrase[len(tail) :]):
            return True
    return False
