"""Tests of the sample-lake generator: determinism, layout, ground truth, every counting-rule edge
case, the neutral filler, the v2 stream simulation and the CLI.

The ground truth is checked against the written bytes with a small reference reader of the counting
rules (docs/design.md) kept here (independent of the generator's own planning and of the Spark code). No
Spark, real files in tmp_path, a few seconds in all.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest_host.lake import Lake
from ingest_host.layout import tmdb_day_key, tracked_shows_day_key, tweet_hour_key
from ingest_host.normalize import normalize_hashtag, normalize_text
from ingest_host.tracked_shows import TrackedShow, parse_tracked_shows
from trending_tv_sample import (
    DEFAULT_GZIP_HOURS,
    DEFAULT_SCALE,
    expected_tweet_stat,
    generate_sample_lake,
    iter_stream_messages,
)
from trending_tv_sample.catalog import DATA_DIR, load_catalog
from trending_tv_sample.cli import main as cli_main
from trending_tv_sample.model import Mention, PostSpec
from trending_tv_sample.payloads import Renderer, SampleTextError, build_users
from trending_tv_sample.vocabulary import VocabularyError, check_vocabulary

START, END = date(2020, 11, 23), date(2020, 12, 1)
DAYS = [START + timedelta(days=i) for i in range((END - START).days + 1)]
MANDALORIAN, ATTACK_ON_TITAN, NARUTO, LOVE_ALARM = 82856, 1429, 46260, 89641
DEXTER, DEXTERS_LAB, NCIS, NCIS_LA = 1405, 4229, 4614, 17610


# ---- a reference reader of the counting rules (rules 2-6), for checking only ----------------
@dataclass
class Parsed:
    kind: str
    family: str = ""
    obj: dict | None = None
    post_id: str | None = None
    created: datetime | None = None


def parse_created(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%a %b %d %H:%M:%S %z %Y"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=None)
        except ValueError:
            continue
    return None


def usable_id(*values) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def classify(line: str) -> Parsed:
    if not line.strip():
        return Parsed("keepalive")
    try:
        value = json.loads(line)
    except ValueError:
        return Parsed("corrupt")
    if not isinstance(value, dict):
        return Parsed("corrupt")
    if isinstance(value.get("data"), dict):
        data = value["data"]
        post_id, created = usable_id(data.get("id")), parse_created(data.get("created_at"))
        kind = "post" if post_id and created else "invalid_post"
        return Parsed(kind, "v2", value, post_id, created)
    for notice in ("limit", "delete", "errors"):
        if notice in value:
            return Parsed(notice, obj=value)
    if ("id_str" in value or "id" in value) and (
        "created_at" in value or "text" in value or "full_text" in value
    ):
        post_id, created = (
            usable_id(value.get("id_str"), value.get("id")),
            parse_created(value.get("created_at")),
        )
        return Parsed("post" if post_id and created else "invalid_post", "v1.1", value, post_id, created)
    return Parsed("other", obj=value)


def content(parsed: Parsed) -> tuple[str, list[str]]:
    """Rule 4: the text and hashtags that count for a post."""
    obj = parsed.obj or {}
    if parsed.family == "v2":
        post = obj["data"]
        for reference in post.get("referenced_tweets") or []:
            if reference.get("type") == "retweeted":
                includes = (obj.get("includes") or {}).get("tweets") or []
                post = next((t for t in includes if t.get("id") == reference.get("id")), post)
        tags = [h["tag"] for h in (post.get("entities") or {}).get("hashtags", [])]
        note = post.get("note_tweet")
        if note:
            note_tags = [h["tag"] for h in (note.get("entities") or {}).get("hashtags", [])]
            return note["text"], note_tags or tags
        return post["text"], tags
    post = obj.get("retweeted_status") or obj
    tags = [h["text"] for h in (post.get("entities") or {}).get("hashtags", [])]
    extended = post.get("extended_tweet")
    if extended:
        ext_tags = [h["text"] for h in (extended.get("entities") or {}).get("hashtags", [])]
        return extended["full_text"], ext_tags or tags
    return post.get("full_text") or post["text"], tags


class ReferenceMatcher:
    """Rules 5 and 6 over the tracked list, written independently of the generator's matcher."""

    def __init__(self, shows: list[TrackedShow]):
        self.phrases = [
            (show.id, normalize_text(p), re.compile(r"(?<!\w)" + re.escape(normalize_text(p)) + r"(?!\w)"))
            for show in shows
            for p in (show.name, *show.aliases)
        ]
        self.hashtags = {normalize_hashtag(tag): show.id for show in shows for tag in show.hashtags}

    def match(self, text: str, tags: list[str]) -> tuple[frozenset[int], frozenset[int]]:
        normalized = normalize_text(text)
        by_text = {i for i, phrase, rx in self.phrases if phrase in normalized and rx.search(normalized)}
        by_tag = {self.hashtags[t] for t in map(normalize_hashtag, tags) if t in self.hashtags}
        return frozenset(by_tag), frozenset(by_text)


def file_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8")
    pieces = text.split("\n")
    if pieces[-1] == "":
        pieces.pop()
    return [p[:-1] if p.endswith("\r") else p for p in pieces]


def hour_file(lake: Path, day: date, hour: int) -> Path:
    moment = datetime(day.year, day.month, day.day, hour)
    return lake / tweet_hour_key(moment, gzip=hour in DEFAULT_GZIP_HOURS)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# ---- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The default 9-day sample, generated once for the module."""
    root = tmp_path_factory.mktemp("lake")
    summary = generate_sample_lake(root)
    return root, summary


@pytest.fixture(scope="module")
def parsed_sample(sample):
    """Every line of the sample, classified: {(day, hour): [Parsed, ...]}."""
    root, _ = sample
    return {
        (day, hour): [classify(line) for line in file_lines(hour_file(root, day, hour))]
        for day in DAYS
        for hour in range(24)
    }


@pytest.fixture(scope="module")
def matcher(sample) -> ReferenceMatcher:
    root, _ = sample
    return ReferenceMatcher(parse_tracked_shows((root / "config/tracked_shows.csv").read_text()).shows)


def day_files(parsed_sample, day: date) -> list[list[Parsed]]:
    """The files read for `day` (rule 1), in key order: D-1 hour 23, D's 24 hours, D+1 hour 00."""
    files = []
    if (day - timedelta(days=1), 23) in parsed_sample:
        files.append(parsed_sample[(day - timedelta(days=1), 23)])
    files.extend(parsed_sample[(day, hour)] for hour in range(24))
    if (day + timedelta(days=1), 0) in parsed_sample:
        files.append(parsed_sample[(day + timedelta(days=1), 0)])
    return files


# ---- determinism -----------------------------------------------------------------------------
def all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_lakes(tmp_path):
    # Bytes do not depend on the scale's size, so a small one keeps this quick.
    first = generate_sample_lake(
        tmp_path / "a", start=date(2020, 11, 26), end=date(2020, 11, 27), scale=0.005
    )
    generate_sample_lake(tmp_path / "b", start=date(2020, 11, 26), end=date(2020, 11, 27), scale=0.005)
    a, b = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) == 2 * 27 + 1 + 8  # 24 hours, TMDB, list, counts; truth
    assert [k for k in a if a[k] != b[k]] == []
    generate_sample_lake(
        tmp_path / "c", start=date(2020, 11, 26), end=date(2020, 11, 27), scale=0.005, seed=7
    )
    c = all_files(tmp_path / "c")
    assert c[tweet_hour_key(datetime(2020, 11, 26, 3))] != a[tweet_hour_key(datetime(2020, 11, 26, 3))]
    assert first.describe().startswith(f"sample lake {Lake.from_url(tmp_path / 'a').url}: 2 days")


def test_rerun_with_other_gzip_hours_leaves_no_stale_hour_file(tmp_path):
    day = date(2020, 11, 24)
    generate_sample_lake(tmp_path, start=day, end=day, scale=0.002, gzip_hours=(5,))
    generate_sample_lake(tmp_path, start=day, end=day, scale=0.002, gzip_hours=(6,))
    hour_files = sorted(p.name for p in (tmp_path / "tweet_raw/2020/11/24").rglob("*") if p.is_file())
    assert len(hour_files) == 24
    assert "2020-11-24-06.json.gz" in hour_files and "2020-11-24-05.json" in hour_files


# ---- layout ----------------------------------------------------------------------------------
def test_layout_has_every_hour_tmdb_pull_and_tracked_list(sample):
    root, summary = sample
    assert summary.files == 24 * len(DAYS) and summary.gzipped_files == 2 * len(DAYS)
    config = (root / "config/tracked_shows.csv").read_text()
    tracked = parse_tracked_shows(config)
    assert len(tracked) == 160 and tracked.repairs == []
    seeds = read_csv(DATA_DIR / "shows.csv")
    trailing = {
        row["seed_list_hashtag"].strip()
        for row in seeds
        if row["seed_list_hashtag"] != row["seed_list_hashtag"].strip()
    }
    assert len(trailing) == 6
    written = {tag for show in tracked for tag in show.hashtags}
    assert trailing <= written and all(tag == tag.strip() for tag in written)
    for day in DAYS:
        for hour in range(24):
            path = hour_file(root, day, hour)
            assert path.is_file(), path
            other = Path(str(path).removesuffix(".gz")) if path.name.endswith(".gz") else Path(f"{path}.gz")
            assert not other.exists()
        assert (root / tracked_shows_day_key(day)).read_text() == config
        records = [json.loads(line) for line in (root / tmdb_day_key(day)).read_text().splitlines()]
        shows = [r for r in records if "id" in r]
        assert {r["id"] for r in shows} == {s.id for s in tracked}
        assert any(r.get("status_code") == 34 and r.get("success") is False for r in records)
        assert len(shows) == 161  # one record fetched twice
        for record in shows:
            assert isinstance(record["origin_country"], list) and record["origin_country"]
            assert all(set(g) == {"id", "name"} for g in record["genres"])
            assert all(set(n) == {"id", "name", "logo_path", "origin_country"} for n in record["networks"])
            assert isinstance(record["vote_average"], float) and isinstance(record["popularity"], float)
        aot = next(r for r in shows if r["id"] == ATTACK_ON_TITAN)
        assert aot["original_name"] == "進撃の巨人" and aot["origin_country"] == ["JP"]


def test_tmdb_truth_follows_published_figures(sample):
    root, _ = sample
    stats = {(r["id"], r["date"]): r for r in read_csv(DATA_DIR / "daily_stats.csv")}
    truth = read_csv(root / "sample_truth/tmdb_stat.csv")
    assert len(truth) == 160 * len(DAYS)
    for row in truth:
        published = stats[(row["id"], row["date"])]
        assert float(row["popularity"]) == float(published["popularity"])
        assert int(row["vote_count"]) == int(published["vote_count"])


# ---- ground truth ----------------------------------------------------------------------------
def scaled(n: int, scale: float) -> int:
    return 0 if n <= 0 else max(1, math.floor(n * scale + 0.5))


def test_truth_is_the_scaled_published_figures_plus_listed_adjustments(sample):
    root, summary = sample
    truth = read_csv(root / "sample_truth/tweet_stat.csv")
    adjustments = {(r["date"], r["id"]): r for r in read_csv(root / "sample_truth/adjustments.csv")}
    published = {(r["date"], r["id"]): r for r in read_csv(DATA_DIR / "daily_stats.csv")}
    assert len(truth) == 160 * len(DAYS)
    assert Counter(r["date"] for r in truth) == {d.isoformat(): 160 for d in DAYS}
    for row in truth:
        h, t, tw = int(row["hashtag_count"]), int(row["text_count"]), int(row["tweet_count"])
        assert max(h, t) <= tw <= h + t, row
        pub = published[(row["date"], row["id"])]
        ph, pt, ptw = int(pub["hashtag_count"]), int(pub["text_count"]), int(pub["tweet_count"])
        both, tag_only, text_only = (scaled(n, DEFAULT_SCALE) for n in (ph + pt - ptw, ptw - pt, ptw - ph))
        target = (both + tag_only, both + text_only, both + tag_only + text_only)
        for value, exact in zip(target, (ph, pt, ptw), strict=True):
            assert abs(value - exact * DEFAULT_SCALE) < 3  # rounding of three parts, each at least 1
        adjustment = adjustments.get((row["date"], row["id"]))
        delta = (0, 0, 0)
        if adjustment:
            delta = tuple(int(adjustment[k]) for k in ("hashtag_delta", "text_delta", "tweet_delta"))
        assert (h, t, tw) == tuple(a + b for a, b in zip(target, delta, strict=True)), row
    reasons = defaultdict(set)
    for adjustment in adjustments.values():
        assert all(int(adjustment[k]) >= 0 for k in ("hashtag_delta", "text_delta", "tweet_delta"))
        for reason in adjustment["reasons"].split("|"):
            reasons[reason].add(adjustment["name"])
    assert set(reasons) <= {"edge case", "named inside another show's name", "its hashtag is also its name"}
    assert reasons["named inside another show's name"] <= {"Dark", "House", "NCIS", "Ben 10", "Dexter"}
    assert reasons["its hashtag is also its name"] <= {"Arrow", "Blindspot"}
    assert {"Dark", "House"} <= reasons["named inside another show's name"]
    # Most shows follow the published figures exactly; the spikes stay (The Mandalorian on 11-27).
    assert len({a["id"] for a in adjustments.values()}) <= 20
    mando = {r["date"]: int(r["tweet_count"]) for r in truth if int(r["id"]) == MANDALORIAN}
    assert mando["2020-11-27"] == max(mando.values()) > 2 * mando["2020-11-24"]
    assert summary.tweet_stat[0].id == int(truth[0]["id"])


def test_truth_matches_a_reference_reading_of_the_bytes(sample, parsed_sample, matcher):
    """Rules 1-6 applied to the written lines give exactly sample_truth/ (per post and per show)."""
    root, _ = sample
    post_truth = {r["id"]: r for r in read_csv(root / "sample_truth/post_matches.csv")}
    stat_truth = {(r["date"], int(r["id"])): r for r in read_csv(root / "sample_truth/tweet_stat.csv")}
    counted_ids = set()
    for day in DAYS:
        first: dict[str, Parsed] = {}
        for lines in day_files(parsed_sample, day):
            for parsed in lines:
                if parsed.kind == "post" and parsed.created.date() == day and parsed.post_id not in first:
                    first[parsed.post_id] = parsed
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        for post_id, parsed in first.items():
            by_tag, by_text = matcher.match(*content(parsed))
            expected = post_truth[post_id]
            assert expected["date"] == day.isoformat()
            assert (expected["hashtag_ids"], expected["text_ids"]) == (
                "|".join(map(str, sorted(by_tag))),
                "|".join(map(str, sorted(by_text))),
            ), (post_id, content(parsed))
            for show_id in by_tag:
                totals[show_id][0] += 1
            for show_id in by_text:
                totals[show_id][1] += 1
            for show_id in by_tag | by_text:
                totals[show_id][2] += 1
        counted_ids |= set(first)
        for (row_day, show_id), row in stat_truth.items():
            if row_day == day.isoformat():
                written = (int(row["hashtag_count"]), int(row["text_count"]), int(row["tweet_count"]))
                assert written == tuple(totals.get(show_id, (0, 0, 0))), (day, show_id)
    assert counted_ids == set(post_truth)


def test_parse_counts_match_the_lines(sample, parsed_sample):
    root, summary = sample
    by_file = {r["key"]: r for r in read_csv(root / "sample_truth/parse_counts_by_file.csv")}
    by_day = {r["date"]: r for r in read_csv(root / "sample_truth/parse_counts.csv")}
    kinds = ("post", "invalid_post", "keepalive", "corrupt", "limit", "delete", "errors", "other")
    for day in DAYS:
        day_kinds: Counter[str] = Counter()
        seen, duplicate, other_dates = set(), 0, 0
        for hour in range(24):
            lines = parsed_sample[(day, hour)]
            key = hour_file(root, day, hour).relative_to(root).as_posix()
            counts = Counter(p.kind for p in lines)
            assert {k: int(by_file[key][k]) for k in kinds} == {k: counts.get(k, 0) for k in kinds}, key
            assert int(by_file[key]["lines"]) == len(lines)
            day_kinds += counts
            for parsed in lines:
                if parsed.kind == "post":
                    duplicate += parsed.post_id in seen
                    seen.add(parsed.post_id)
                    other_dates += parsed.created.date() != day
        row = by_day[day.isoformat()]
        assert {k: int(row[k]) for k in kinds} == {k: day_kinds.get(k, 0) for k in kinds}
        assert (int(row["duplicate"]), int(row["posts_of_other_dates"])) == (duplicate, other_dates)
        deliveries = Counter(
            p.post_id
            for lines in day_files(parsed_sample, day)
            for p in lines
            if p.kind == "post" and p.created.date() == day
        )
        assert int(row["posts_on_date"]) == len(deliveries)
        assert int(row["duplicate_deliveries_on_date"]) == sum(deliveries.values()) - len(deliveries)
        assert 2000 <= int(row["lines"]) <= 4500  # the demo's size
    assert summary.lines == sum(int(r["lines"]) for r in by_day.values())


# ---- edge cases ------------------------------------------------------------------------------
def posts_of(lines: list[Parsed], family: str | None = None) -> list[Parsed]:
    return [p for p in lines if p.kind == "post" and (family is None or p.family == family)]


def text_of(parsed: Parsed) -> str:
    return content(parsed)[0]


def test_every_edge_case_is_present_every_day(sample, parsed_sample, matcher):
    root, _ = sample
    truth = {r["id"]: r for r in read_csv(root / "sample_truth/post_matches.csv")}
    for day in DAYS:
        files = {hour: parsed_sample[(day, hour)] for hour in range(24)}
        lines = [p for hour in range(24) for p in files[hour]]
        posts = posts_of(lines)
        v2, v11 = posts_of(lines, "v2"), posts_of(lines, "v1.1")
        found: dict[str, bool] = {}

        def shows(parsed: Parsed) -> tuple[set[int], set[int]]:
            row = truth.get(parsed.post_id)
            if row is None or row["date"] != parsed.created.date().isoformat():
                return set(), set()
            return {int(i) for i in row["hashtag_ids"].split("|") if i}, {
                int(i) for i in row["text_ids"].split("|") if i
            }

        # Day boundaries: posts of D filed in D-1's hour 23 (v1.1) and D+1's hour 00 (v2).
        if day > START:
            earlier = posts_of(parsed_sample[(day - timedelta(days=1), 23)], "v1.1")
            found["filed in D-1 hour 23"] = any(p.created.date() == day for p in earlier)
        if day < END:
            later = posts_of(parsed_sample[(day + timedelta(days=1), 0)], "v2")
            found["filed in D+1 hour 00"] = any(p.created.date() == day for p in later)
        found["v2 exactly on the hour"] = any(p.obj["data"]["created_at"].endswith(":00:00.000Z") for p in v2)
        found["v1.1 exactly on the hour"] = any(
            re.search(r" \d\d:00:00 \+0000 ", p.obj["created_at"]) for p in v11
        )
        found["v2 created_at without ms"] = any(
            re.fullmatch(r"[-\dT:]+Z", p.obj["data"]["created_at"]) for p in v2
        )
        found["v1.1 created_at format"] = all(
            re.fullmatch(r"\w{3} \w{3} \d\d [\d:]{8} \+0000 \d{4}", p.obj["created_at"]) for p in v11
        )
        found["v2 ids are strings"] = all(isinstance(p.obj["data"]["id"], str) for p in v2)
        found["v1.1 numeric id above 2**53 with id_str"] = all(
            p.obj["id"] > 2**53 and p.obj["id_str"] == str(p.obj["id"]) for p in v11
        )
        ids_by_hour = [{p.post_id for p in posts_of(files[h])} for h in range(24)]
        for family in ("v2", "v1.1"):
            by_file = [Counter(p.post_id for p in posts_of(files[h], family)) for h in range(24)]
            found[f"{family} duplicate in one file"] = any(max(c.values(), default=0) > 1 for c in by_file)
            first_hours = range(0, 23, 2) if family == "v2" else range(1, 23, 2)
            found[f"{family} redelivered in the next file"] = any(
                ids_by_hour[h] & ids_by_hour[h + 1] for h in first_hours
            )
        # Retweets whose own cut text lacks the content that counts.
        found["v1.1 retweet with extended original"] = any(
            "extended_tweet" in p.obj.get("retweeted_status", {})
            and p.obj["text"].startswith("RT @")
            and p.obj["text"].endswith("…")
            and shows(p)[0]
            and not p.obj["entities"]["hashtags"]
            for p in v11
        )
        found["v2 retweet with original in includes"] = any(
            any(r["type"] == "retweeted" for r in p.obj["data"].get("referenced_tweets", []))
            and p.obj.get("includes", {}).get("tweets")
            and p.obj["data"]["text"].endswith("…")
            and shows(p)[0]
            and not p.obj["data"].get("entities", {}).get("hashtags")
            for p in v2
        )
        found["v2 retweet with missing original (data + errors)"] = any(
            "errors" in p.obj
            and any(r["type"] == "retweeted" for r in p.obj["data"].get("referenced_tweets", []))
            and not p.obj.get("includes", {}).get("tweets")
            and shows(p)[0]
            for p in v2
        )
        found["v1.1 manual RT without retweeted_status"] = any(
            p.obj.get("text", "").startswith("RT @") and "retweeted_status" not in p.obj and shows(p)[0]
            for p in v11
        )
        # Long posts: a show hashtag only in extended_tweet / note_tweet entities.
        found["v1.1 hashtag only in extended_tweet"] = any(
            "extended_tweet" in p.obj
            and {h["text"] for h in p.obj["extended_tweet"]["entities"]["hashtags"]}
            - {h["text"] for h in p.obj["entities"]["hashtags"]}
            and shows(p)[0]
            for p in v11
        )
        found["v2 hashtag only in note_tweet"] = any(
            "note_tweet" in p.obj["data"]
            and not p.obj["data"].get("entities", {}).get("hashtags")
            and p.obj["data"]["note_tweet"].get("entities", {}).get("hashtags")
            and shows(p)[0]
            for p in v2
        )
        found["v1.1 archive full_text"] = any("full_text" in p.obj and "text" not in p.obj for p in v11)
        # Quotes: the show only in the quoted post does not count.
        found["v1.1 quote of a show only"] = any(
            "quoted_status" in p.obj
            and matcher.match(p.obj["quoted_status"]["text"], [])[1]
            and shows(p) == (set(), set())
            for p in v11
        )
        found["v2 quote of a show only"] = any(
            any(r["type"] == "quoted" for r in p.obj["data"].get("referenced_tweets", []))
            and matcher.match(p.obj["includes"]["tweets"][0]["text"], [])[1]
            and shows(p) == (set(), set())
            for p in v2
        )
        for family, group in (("v2", v2), ("v1.1", v11)):
            texts = [(text_of(p), p) for p in group]
            found[f"{family} &amp; Law & Order"] = any(
                "Law &amp; Order: Special Victims Unit".lower() in t.lower() and 2734 in shows(p)[1]
                for t, p in texts
            )
            found[f"{family} &amp; Drake & Josh"] = any(
                "drake &amp; josh" in t.lower() and 2038 in shows(p)[1] for t, p in texts
            )
            found[f"{family} curly Grey’s"] = any(
                "grey’s anatomy" in t.lower() and 1416 in shows(p)[1] for t, p in texts
            )
            found[f"{family} curly Queen’s"] = any(
                "queen’s gambit" in t.lower() and 87739 in shows(p)[1] for t, p in texts
            )
            found[f"{family} Dexter's Laboratory counts for Dexter"] = any(
                {DEXTER, DEXTERS_LAB} <= shows(p)[1] and "dexter" in t.lower() for t, p in texts
            )
            found[f"{family} NCIS: Los Angeles counts for NCIS"] = any(
                {NCIS, NCIS_LA} <= shows(p)[1] and "ncis: los angeles" in t.lower() for t, p in texts
            )
            found[f"{family} Supernatural!"] = any(
                "supernatural!" in t.lower() and 1622 in shows(p)[1] for t, p in texts
            )
            found[f"{family} #Gotham counts by text"] = any(
                "#gotham" in normalize_text(t) and 60708 in shows(p)[1] for t, p in texts
            )
            found[f"{family} full-width ＃"] = any(
                "＃Mandalorian" in t and MANDALORIAN in shows(p)[0] for t, p in texts
            )
            found[f"{family} hashtag in other case"] = any(
                re.search(r"#(themandalorian|THEMANDALORIAN)\b", t) and MANDALORIAN in shows(p)[0]
                for t, p in texts
            )
            found[f"{family} Japanese original title"] = any(
                "進撃の巨人" in t and ATTACK_ON_TITAN in shows(p)[0] and ATTACK_ON_TITAN not in shows(p)[1]
                for t, p in texts
            )
            found[f"{family} Japanese text, spaced name"] = any(
                re.search(r"[ぁ-ん一-龯]", t) and NARUTO in shows(p)[1] for t, p in texts
            )
            found[f"{family} Korean text"] = any(
                re.search(r"[가-힣]", t) and LOVE_ALARM in shows(p)[1] for t, p in texts
            )
            for near in (
                "dexterous",
                "narutoが",
                "#themandalorianseason2",
                "ben 100",
                "house_party",
                "gotham2020",
            ):
                found[f"{family} near miss {near}"] = any(
                    near in t.lower() and shows(p) == (set(), set()) for t, p in texts
                )
        rules = [r for p in v2 for r in p.obj["matching_rules"]]
        found["matching_rules numeric id"] = any(isinstance(r["id"], int) for r in rules)
        found["matching_rules null tag"] = any("tag" in r and r["tag"] is None for r in rules)
        found["matching_rules without tag"] = any("tag" not in r for r in rules)
        # Lines that are not posts.
        kinds = Counter(p.kind for p in lines)
        for kind in ("keepalive", "limit", "delete", "errors", "other", "corrupt", "invalid_post"):
            found[f"line kind {kind}"] = kinds[kind] > 0
        found["v2 data + errors counts"] = any("errors" in p.obj for p in v2)
        invalid = [p for p in lines if p.kind == "invalid_post"]
        found["invalid v2 and v1.1"] = {p.family for p in invalid} == {"v2", "v1.1"}
        raw_06 = hour_file(root, day, 6).read_bytes()
        found["cut last line"] = not raw_06.endswith(b"\n") and files[6][-1].kind == "corrupt"
        even = hour_file(root, day, 2).read_bytes()
        odd = hour_file(root, day, 3).read_bytes()
        found["\\r\\n in v2 files, \\n in v1.1 files"] = (
            even.count(b"\r\n") == even.count(b"\n") > 0 and b"\r" not in odd
        )
        found["blank keep-alive in v2 file"] = b"\r\n\r\n" in even or even.startswith(b"\r\n")
        missing = sorted(name for name, ok in found.items() if not ok)
        assert missing == [], (day, missing)
        assert posts and len(found) > 60


# ---- neutral filler ----------------------------------------------------------------------------
def test_vocabulary_is_proven_neutral_and_an_unsafe_word_is_refused(monkeypatch):
    catalog = load_catalog()
    check_vocabulary(catalog)
    from trending_tv_sample import vocabulary

    monkeypatch.setattr(vocabulary, "_CHECKED", {})
    monkeypatch.setattr(vocabulary, "SENTENCES_EN", (*vocabulary.SENTENCES_EN, "once upon a time in my town"))
    with pytest.raises(VocabularyError, match="once upon a time"):
        check_vocabulary(catalog)


def test_a_post_that_names_an_unplanned_show_is_refused():
    catalog = load_catalog()
    renderer = Renderer(catalog, build_users(1, 50), seed=1, full_objects=False)
    # Planned as a Dexter's Laboratory post only: the text also names Dexter, so the truth would lie.
    mention = Mention(DEXTERS_LAB, None, "Dexter's Laboratory")
    spec = PostSpec(
        1, 1_606_089_600_000, 1_606_089_600_500, 1, mentions=(mention,), text_shows=frozenset({DEXTERS_LAB})
    )
    with pytest.raises(SampleTextError, match="planned"):
        renderer.materialize(spec)


def test_unrelated_posts_name_no_show(sample, parsed_sample, matcher):
    root, _ = sample
    truth = {r["id"]: r for r in read_csv(root / "sample_truth/post_matches.csv")}
    unrelated = [
        p
        for lines in parsed_sample.values()
        for p in lines
        if p.kind == "post"
        and p.post_id in truth
        and not truth[p.post_id]["hashtag_ids"]
        and not truth[p.post_id]["text_ids"]
    ]
    assert len(unrelated) > 0.6 * len(truth)
    for parsed in unrelated:
        assert matcher.match(*content(parsed)) == (frozenset(), frozenset()), text_of(parsed)


# ---- streaming, expected truth, object detail ----------------------------------------------------
def test_stream_replays_the_same_posts_as_v2_messages(tmp_path, matcher):
    day = date(2020, 11, 27)
    generate_sample_lake(tmp_path, start=day, end=day, scale=0.005)
    messages = list(iter_stream_messages(day, day, scale=0.005))
    assert [m.received_at for m in messages] == sorted(m.received_at for m in messages)
    parsed = [classify(m.line.decode()) for m in messages]
    assert all(p.family in ("", "v2") for p in parsed)
    kinds = Counter(p.kind for p in parsed)
    assert kinds["keepalive"] and kinds["errors"] and kinds["corrupt"] and not kinds["limit"]
    assert all(m.line == b"" for m, p in zip(messages, parsed, strict=True) if p.kind == "keepalive")
    truth = {r["id"]: r for r in read_csv(tmp_path / "sample_truth/post_matches.csv")}
    streamed = {}
    for p in parsed:
        if p.kind == "post" and p.created.date() == day:
            streamed.setdefault(p.post_id, p)
    assert set(streamed) == set(truth)
    for post_id, p in streamed.items():
        by_tag, by_text = matcher.match(*content(p))
        assert ("|".join(map(str, sorted(by_tag))), "|".join(map(str, sorted(by_text)))) == (
            truth[post_id]["hashtag_ids"],
            truth[post_id]["text_ids"],
        )
    rows = expected_tweet_stat(day, day, scale=0.005)
    written = read_csv(tmp_path / "sample_truth/tweet_stat.csv")
    assert [(r.id, r.hashtag_count, r.text_count, r.tweet_count) for r in rows] == [
        (int(r["id"]), int(r["hashtag_count"]), int(r["text_count"]), int(r["tweet_count"])) for r in written
    ]


def test_full_objects_are_bigger_and_count_the_same(tmp_path):
    day = date(2020, 11, 25)
    lite = generate_sample_lake(tmp_path / "lite", start=day, end=day, scale=0.003)
    full = generate_sample_lake(tmp_path / "full", start=day, end=day, scale=0.003, full_objects=True)
    assert full.tweet_stat == lite.tweet_stat
    assert full.bytes > 2 * lite.bytes
    line = next(
        json.loads(line)
        for line in file_lines(tmp_path / "full" / tweet_hour_key(datetime(2020, 11, 25, 3)))
        if line.startswith("{") and '"user"' in line
    )
    assert {"profile_image_url_https", "description", "listed_count"} <= set(line["user"])


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        generate_sample_lake(tmp_path, scale=0.5, full_size=True)
    with pytest.raises(ValueError, match="before"):
        generate_sample_lake(tmp_path, start=END, end=START)


# ---- CLI -----------------------------------------------------------------------------------------
def test_cli_refuses_to_overwrite_without_force(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "something.txt").write_text("keep me")
    runner = CliRunner()
    args = ["write", "--lake", str(lake), "--start", "2020-11-30", "--end", "2020-11-30", "--scale", "0.002"]
    refused = runner.invoke(cli_main, args)
    assert refused.exit_code != 0
    assert "already holds objects" in refused.output and "--force" in refused.output
    assert not (lake / "tweet_raw").exists()
    done = runner.invoke(cli_main, [*args, "--force"])
    assert done.exit_code == 0, done.output
    assert "1 days 2020-11-30..2020-11-30" in done.output and "ground truth in sample_truth/" in done.output
    assert (lake / tweet_hour_key(datetime(2020, 11, 30, 23))).is_file()
    assert (lake / "something.txt").read_text() == "keep me"


def test_cli_writes_into_an_empty_lake_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRENDING_TV_LAKE", str(tmp_path / "fresh"))
    result = CliRunner().invoke(
        cli_main, ["write", "--start", "2020-12-01", "--end", "2020-12-01", "--scale", "0.002"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh/sample_truth/tweet_stat.csv").is_file()
    bad = CliRunner().invoke(
        cli_main, ["write", "--lake", str(tmp_path / "x"), "--full-size", "--scale", "0.1"]
    )
    assert bad.exit_code != 0 and "--full-size" in bad.output
