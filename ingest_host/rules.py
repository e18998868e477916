"""X API v2 filtered-stream rules for the tracked shows: build, pack to the tier limits, sync.

One rule per show, `#hashtag OR "name" OR "alias"`, tagged with the show's TMDB id. A rule longer
than the tier's character limit drops its last terms (aliases first, never the first hashtag).
When there are more shows than the tier allows rules, shows are packed together into shared rules
(tag `id1|id2|...`) so that every show is still streamed. Syncing adds the missing rules and deletes
our stale ones; rules whose tag is not ours (not TMDB ids) are left alone.

The counts queries of `fetch-counts` use the same terms (three queries a show: hashtags, exact
phrases, either) but never drop one: a query over the length limit is split into disjoint parts
whose counts add up exactly, or refused (see `split_exact`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ingest_host.tracked_shows import TrackedShow

log = logging.getLogger("ingest_host.rules")

_OUR_TAG = re.compile(r"^\d+(\|\d+)*$")
TAG_MAX = 256


@dataclass(frozen=True)
class Rule:
    value: str
    tag: str


def _phrase(text: str) -> str:
    return '"' + text.replace("\\", " ").replace('"', '\\"').strip() + '"'


def _unique(terms: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for term in terms:
        if term.casefold() not in seen:
            seen.add(term.casefold())
            unique.append(term)
    return unique


def hashtag_terms(show: TrackedShow) -> list[str]:
    """The show's hashtag operators (`#Tag`), as listed, deduplicated."""
    return _unique(["#" + body for body in (t.lstrip("#＃").strip() for t in show.hashtags) if body])


def phrase_terms(show: TrackedShow) -> list[str]:
    """The show's name and aliases as exact-phrase operators, deduplicated."""
    return _unique([_phrase(show.name), *(_phrase(alias) for alias in show.aliases)])


def show_terms(show: TrackedShow) -> list[str]:
    """Terms of one show's rule, most important first (hashtags, name, aliases), deduplicated."""
    return _unique(hashtag_terms(show) + phrase_terms(show))


def _join(terms: list[str]) -> str:
    return " OR ".join(terms)


def show_rule(show: TrackedShow, max_chars: int) -> Rule:
    terms = show_terms(show)
    while len(terms) > 1 and len(_join(terms)) > max_chars:
        dropped = terms.pop()
        log.warning("rule for show %s too long: dropped term %s", show.id, dropped)
    value = _join(terms)
    if len(value) > max_chars:
        value = value[:max_chars]
        log.warning("rule for show %s cut to %d characters", show.id, max_chars)
    return Rule(value, str(show.id))


def build_rules(shows: list[TrackedShow], rule_limit: int, max_chars: int) -> list[Rule]:
    """Rules for the shows within `rule_limit` rules of at most `max_chars` characters."""
    rules = [show_rule(show, max_chars) for show in shows]
    if len(rules) <= rule_limit:
        return rules
    # Pack: shortest-first greedy bins, so that the number of rules fits the tier.
    packed: list[Rule] = []
    for rule in sorted(rules, key=lambda r: len(r.value)):
        for index, bin_rule in enumerate(packed):
            value = f"{bin_rule.value} OR {rule.value}"
            tag = f"{bin_rule.tag}|{rule.tag}"
            if len(value) <= max_chars and len(tag) <= TAG_MAX:
                packed[index] = Rule(value, tag)
                break
        else:
            packed.append(rule)
    if len(packed) > rule_limit:
        raise ValueError(
            f"{len(shows)} shows do not fit in {rule_limit} rules of {max_chars} characters "
            f"({len(packed)} needed): track fewer shows or raise TRENDING_TV_RULE_LIMIT"
        )
    log.info("packed %d show rules into %d rules (tier limit %d)", len(rules), len(packed), rule_limit)
    return packed


def is_ours(tag: str | None) -> bool:
    return bool(tag) and bool(_OUR_TAG.match(tag or ""))


@dataclass
class SyncResult:
    added: int
    deleted: int
    kept: int
    foreign: int


class RuleSyncError(RuntimeError):
    pass


def sync_rules(client, desired: list[Rule]) -> SyncResult:
    """Make our rules on X equal `desired` with tweepy's StreamingClient rule calls."""
    import tweepy

    response = client.get_rules()
    active = list(response.data or [])
    wanted = {(r.value, r.tag) for r in desired}
    ours = [r for r in active if is_ours(r.tag)]
    foreign = len(active) - len(ours)
    stale = [r.id for r in ours if (r.value, r.tag) not in wanted]
    present = {(r.value, r.tag) for r in ours}
    missing = [r for r in desired if (r.value, r.tag) not in present]
    if stale:
        client.delete_rules([str(i) for i in stale])
    if missing:
        for start in range(0, len(missing), 100):  # keep each POST body modest
            batch = missing[start : start + 100]
            result = client.add_rules([tweepy.StreamRule(value=r.value, tag=r.tag) for r in batch])
            problems = [e for e in (result.errors or []) if (e.get("title") or "").lower() != "duplicaterule"]
            if problems:
                raise RuleSyncError(f"X refused {len(problems)} rule(s): {problems[:3]}")
    return SyncResult(len(missing), len(stale), len(ours) - len(stale), foreign)


# -- counts queries (GET /2/tweets/counts/recent): the same terms as the stream rule, never dropped
COUNTS_QUERY_KINDS = ("hashtags", "text", "any")  # its hashtags; name and aliases; either


class QueryTooLong(ValueError):
    """A show's query cannot be split into exact parts within the query length limit."""


@dataclass(frozen=True)
class CountsQuery:
    """One show's counts query. `parts` are disjoint (each post matches at most one), so the
    hourly counts of the parts add up to the count of `query` exactly."""

    show_id: int
    kind: str
    query: str  # the whole query, as it would be sent if it fitted
    parts: tuple[str, ...]


def counts_terms(show: TrackedShow, kind: str) -> list[str]:
    if kind == "hashtags":
        return hashtag_terms(show)
    if kind == "text":
        return phrase_terms(show)
    if kind == "any":
        return show_terms(show)
    raise ValueError(f"unknown counts query kind {kind!r}")


def _part(positive: list[str], negated: list[str]) -> str:
    head = positive[0] if len(positive) == 1 else "(" + _join(positive) + ")"
    return " ".join([head, *("-" + term for term in negated)])


def split_exact(terms: list[str], max_chars: int) -> list[str]:
    """`t1 OR t2 OR ...` as one query if it fits, else as disjoint parts whose counts add up exactly:
    part k is `(its terms) -t -t ...` negating every term of the earlier parts (X asks for each
    operator to be negated on its own, not a negated group). Summing plain OR-chunks would count a
    post matching terms of two chunks twice, so that is never done. Raises QueryTooLong when a part
    with a single term and its negations does not fit."""
    if not terms:
        raise ValueError("no terms")
    whole = _join(terms)
    if len(whole) <= max_chars:
        return [whole]
    parts: list[str] = []
    earlier: list[str] = []
    current: list[str] = []
    for term in terms:
        if current and len(_part([*current, term], earlier)) <= max_chars:
            current.append(term)
            continue
        if current:
            parts.append(_part(current, earlier))
            earlier.extend(current)
        if len(_part([term], earlier)) > max_chars:
            raise QueryTooLong(
                f"{term} with the negations of the {len(earlier)} term(s) before it is longer than "
                f"{max_chars} characters (TRENDING_TV_COUNTS_QUERY_MAX_CHARS): no exact split"
            )
        current = [term]
    parts.append(_part(current, earlier))
    return parts


def counts_queries(show: TrackedShow, max_chars: int) -> dict[str, CountsQuery | QueryTooLong]:
    """The three counts queries of a show (hashtags; name and aliases as exact phrases; either),
    each split exactly to the length limit, or the reason it cannot be."""
    out: dict[str, CountsQuery | QueryTooLong] = {}
    for kind in COUNTS_QUERY_KINDS:
        terms = counts_terms(show, kind)
        try:
            out[kind] = CountsQuery(show.id, kind, _join(terms), tuple(split_exact(terms, max_chars)))
        except QueryTooLong as error:
            out[kind] = error
    return out
