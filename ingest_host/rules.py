"""X API v2 filtered-stream rules for the tracked shows: build, pack to the tier limits, sync.

One rule per show, `#hashtag OR "name" OR "alias"`, tagged with the show's TMDB id. A rule longer
than the tier's character limit drops its last terms (aliases first, never the first hashtag).
When there are more shows than the tier allows rules, shows are packed together into shared rules
(tag `id1|id2|...`) so that every show is still streamed. Syncing adds the missing rules and deletes
our stale ones; rules whose tag is not ours (not TMDB ids) are left alone.
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


def show_terms(show: TrackedShow) -> list[str]:
    """Terms of one show's rule, most important first (hashtags, name, aliases), deduplicated."""
    terms: list[str] = []
    for tag in show.hashtags:
        body = tag.lstrip("#＃").strip()
        if body:
            terms.append("#" + body)
    terms.append(_phrase(show.name))
    terms.extend(_phrase(alias) for alias in show.aliases)
    seen: set[str] = set()
    unique = []
    for term in terms:
        if term.casefold() not in seen:
            seen.add(term.casefold())
            unique.append(term)
    return unique


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
