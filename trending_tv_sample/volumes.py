"""The sample's `counts_raw/`: what `ingest-host fetch-counts` would have landed for each day, at the
published 2020 volumes (full scale, whatever the posts' `scale`).

Per show and day the published (hashtag, text, tweet) figures give three disjoint post groups as the
posts do (model.target_split at scale 1): matched by hashtag and text, by hashtag only, by text
only. Each group is spread over the 24 UTC hours along the stream's diurnal curve (a seeded draw per
post), and the three queries' hourly counts are sums of groups: hashtags = both + hashtag only,
text = both + text only, any = all three. So max(h, t) <= posts <= h + t holds in every hour by
construction, and the day's totals are the published figures (where they are consistent).

A name inside another show's name ("House" in "House of Cards", "Dark" in "His Dark Materials"):
X's exact-phrase query for the shorter name also matches every post naming the longer one, as the
counting rules do (docs/design.md, counting rules), so those posts are added to the shorter show's
text and `any` counts (as text-only posts: a post naming both is assumed not to exist).

Each line is the JSON fetch-counts lands (ingest_host/counts.py, `CountsFetcher.fetch`): the query
built by ingest_host.rules from the tracked list, one page per query part holding a counts/recent
response body with 24 hour buckets (zeros included, as X answers), and the request's price. A query
split into disjoint parts gets its counts in the first part and zeros in the others (the parts'
counts add up, which is all the split promises)."""

from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ingest_host.rules import COUNTS_QUERY_KINDS, QueryTooLong, counts_queries
from trending_tv_sample.catalog import Catalog
from trending_tv_sample.model import target_split  # the posts' split, at full scale

HOURS = 24
PRICE_PER_REQUEST_USD = 0.005  # X's price per counts request (docs/cost_plan.md)
QUERY_MAX_CHARS = 512  # ingest host's default TRENDING_TV_COUNTS_QUERY_MAX_CHARS
FETCHED_AFTER = timedelta(minutes=30)  # the fetch-counts timer runs at 00:30 UTC the next day


@dataclass(frozen=True)
class ShowVolumeRow:
    """The sample's ground truth for show_volume (tallied from the hourly draws)."""

    id: int
    date: date
    hashtag_posts: int
    text_posts: int
    posts: int
    posts_hourly: tuple[int, ...]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _spread(rng: random.Random, count: int, cumulative: list[int]) -> list[int]:
    hours = [0] * HOURS
    for _ in range(count):
        hours[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])] += 1
    return hours


def _body(day_start: datetime, hourly: list[int]) -> str:
    """A counts/recent response as X sends it: every hour bucket of the window, then the total."""
    data = [
        {
            "end": (day_start + timedelta(hours=h + 1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "start": (day_start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "tweet_count": count,
        }
        for h, count in enumerate(hourly)
    ]
    return json.dumps({"data": data, "meta": {"total_tweet_count": sum(hourly)}}, separators=(",", ":"))


def containers(catalog: Catalog, show_id: int) -> list[int]:
    """The other shows whose name or an alias contains this show's name or alias as a whole phrase."""
    return [
        other.id
        for other in catalog.shows
        if other.id != show_id and any(show_id in catalog.mentions_of(p) for p in other.phrases)
    ]


def counts_day(
    catalog: Catalog, day: date, seed: int, diurnal_weights: tuple[int, ...]
) -> tuple[bytes, list[ShowVolumeRow]]:
    """The day's counts_raw file (one line per tracked show and query kind, in tracked order) and
    the ground truth rows."""

    cumulative = [sum(diurnal_weights[: i + 1]) for i in range(HOURS)]
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    window = {"start_time": _iso(day_start), "end_time": _iso(day_start + timedelta(days=1))}
    fetched_at = _iso(day_start + timedelta(days=1) + FETCHED_AFTER)
    lines: list[str] = []
    truth: list[ShowVolumeRow] = []
    groups: dict[int, tuple[list[int], list[int], list[int]]] = {}
    for show in catalog.shows:
        fig = catalog.figures_for(day, show.id)
        rng = random.Random(f"{seed}:counts:{day.isoformat()}:{show.id}")
        groups[show.id] = tuple(  # type: ignore[assignment]
            _spread(rng, n, cumulative)
            for n in target_split(fig.hashtag_count, fig.text_count, fig.tweet_count, 1.0)
        )
    for show in catalog.shows:
        both, hashtag_only, text_only = groups[show.id]
        for container in containers(catalog, show.id):
            c_both, _, c_text_only = groups[container]
            text_only = [t + b + o for t, b, o in zip(text_only, c_both, c_text_only, strict=True)]
        hourly = {
            "hashtags": [b + h for b, h in zip(both, hashtag_only, strict=True)],
            "text": [b + t for b, t in zip(both, text_only, strict=True)],
            "any": [b + h + t for b, h, t in zip(both, hashtag_only, text_only, strict=True)],
        }
        truth.append(
            ShowVolumeRow(
                show.id,
                day,
                sum(hourly["hashtags"]),
                sum(hourly["text"]),
                sum(hourly["any"]),
                tuple(hourly["any"]),
            )
        )
        queries = counts_queries(show.tracked(), QUERY_MAX_CHARS)
        for kind in COUNTS_QUERY_KINDS:
            query = queries[kind]
            if isinstance(query, QueryTooLong):
                continue  # fetch-counts refuses it: the pair is missing, as on a real day
            parts = [
                {
                    "query": part,
                    "pages": [
                        {
                            "next_token": None,
                            "status": 200,
                            "body": _body(day_start, hourly[kind] if index == 0 else [0] * HOURS),
                        }
                    ],
                }
                for index, part in enumerate(query.parts)
            ]
            line = {
                "show_id": show.id,
                "name": show.name,
                "query_kind": kind,
                "query": query.query,
                "combine": "single" if len(query.parts) == 1 else "sum_of_disjoint_parts",
                "granularity": "hour",
                **window,
                "parts": parts,
                "requests": len(parts),
                "price_per_request_usd": PRICE_PER_REQUEST_USD,
                "cost_usd": round(len(parts) * PRICE_PER_REQUEST_USD, 6),
                "fetched_at": fetched_at,
            }
            lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
    return "".join(line + "\n" for line in lines).encode("utf-8"), truth
