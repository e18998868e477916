"""One test per counting rule of tweet_stat (docs/design.md, rules 1-6), on small hand-written
files, in both payload families (X API v2 stream messages and v1.1 status objects), through the
real Spark transform."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from ingest_host.lake import Lake
from trending_tv.transforms import tweet_stat
from trending_tv.transforms.tweet_stat import (
    FirstDeliveriesCounted,
    compute_tweet_stat,
    prefixes_to_list,
    raw_keys_for_days,
)
from trending_tv_tests.lake_fixtures import SHOWS, v1_object, v1_status, v2_object, v2_post, write_hour

D = date(2020, 11, 23)
PREV, NEXT = date(2020, 11, 22), date(2020, 11, 24)
LOST, DEXTER, DEXTERS_LAB, SVU, GREYS, MANDO = 1, 2, 3, 4, 5, 6
FAMILIES = ["v2", "v1"]


def post(family: str, post_id: str, when: str, text: str, hashtags: tuple[str, ...] = (), **kw) -> str:
    """One post line; `when` is 'YYYY-MM-DDTHH:MM:SS' UTC."""
    if family == "v2":
        return v2_post(post_id, when + ".000Z", text, hashtags, **kw)
    return v1_status(post_id, when, text, hashtags, **kw)


def run(spark, tmp_path: Path, files: dict[tuple[date, int], list[str]], days=(D,), **write_kw):
    lake = Lake.from_url(tmp_path)
    for (day, hour), lines in files.items():
        write_hour(lake, day, hour, lines, **write_kw)
    listed = [o for p in prefixes_to_list(list(days)) for o in lake.list(p)]
    keys = raw_keys_for_days(listed, list(days))
    result = compute_tweet_stat(spark, [lake.uri(k) for k in keys], {d: SHOWS for d in days})
    counts = {
        (r["date"], r["id"]): (r["hashtag_count"], r["text_count"], r["tweet_count"]) for r in result.rows
    }
    return result, counts


def test_rule1_files_read_are_the_day_and_its_boundary_hours(tmp_path):
    lake = Lake.from_url(tmp_path)
    for day in (PREV, D, NEXT):
        for hour in range(24):
            write_hour(lake, day, hour, ["{}"])
    listed = [o for p in prefixes_to_list([D]) for o in lake.list(p)]
    keys = raw_keys_for_days(listed, [D])
    assert len(keys) == 26
    assert keys[0] == "tweet_raw/2020/11/22/23/2020-11-22-23.json"
    assert keys[-1] == "tweet_raw/2020/11/24/00/2020-11-24-00.json"


@pytest.mark.parametrize("family", FAMILIES)
def test_rule1_posts_count_on_their_own_date_whichever_file_holds_them(spark, tmp_path, family):
    files = {
        (PREV, 23): [
            post(family, "1", f"{D}T00:00:00", "Lost at midnight"),  # filed early, belongs to D
            post(family, "2", f"{PREV}T23:59:59", "Lost yesterday"),  # belongs to D-1: not counted
        ],
        (D, 0): [post(family, "3", f"{PREV}T23:59:58", "Lost late")],  # D-1 post in D's file
        (D, 12): [post(family, "4", f"{D}T12:00:00", "Lost at noon exactly")],
        (NEXT, 0): [post(family, "5", f"{D}T23:59:59", "Lost before midnight")],  # D post, D+1 file
        (NEXT, 1): [post(family, "6", f"{D}T23:00:00", "Lost in an hour not read")],
    }
    _, counts = run(spark, tmp_path, files)
    assert counts[(D, LOST)] == (0, 3, 3)


@pytest.mark.parametrize("family", FAMILIES)
def test_rule2_bad_lines_are_skipped_and_counted_by_kind(spark, tmp_path, family):
    good = post(family, "1", f"{D}T10:00:00", "Lost")
    lines = [
        good,
        "",
        "   ",
        " \t\x0b\x0c ",  # ASCII whitespace only (never parsed as JSON: \x0b and \x0c are not JSON space)
        '{"limit":{"track":12,"timestamp_ms":"1606125600000"}}',
        '{"delete":{"status":{"id":1,"id_str":"1","user_id":3,"user_id_str":"3"},"timestamp_ms":"1"}}',
        '{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect"}]}',
        v2_post("2", f"{D}T10:01:00.000Z", "Lost with a partial error", extra={"errors": [{"title": "x"}]}),
        '{"something":"else"}',
        "[1, 2]",
        "{not json at all",
        '{"data":{"id":"3","text":"Lost"} {"data":{"id":"4"}}',
        v2_post("", f"{D}T10:02:00.000Z", "Lost without an id"),
        '{"data":{"id":"5","text":"Lost without a time"}}',
        '{"id_str":"6","text":"Lost v1 without a time"}',
        v2_post("7", "not-a-time", "Lost with a bad time"),
        good,  # repeated delivery
        good[: len(good) // 2],  # truncated last line, no newline after it
    ]
    result, counts = run(spark, tmp_path, {(D, 10): lines}, newline="\r\n", end="")
    assert result.line_counts == {
        "post": 3,
        "invalid_post": 4,
        "keepalive": 3,
        "corrupt": 3,
        "limit": 1,
        "delete": 1,
        "errors": 1,
        "other": 2,
    }
    assert result.duplicates_dropped == 1
    assert result.posts_in_days == {D: 2}
    assert counts[(D, LOST)] == (0, 2, 2)


@pytest.mark.parametrize("family", FAMILIES)
def test_rule3_duplicates_count_once_and_the_first_delivery_wins(spark, tmp_path, family):
    files = {
        (D, 9): [post(family, "42", f"{D}T09:59:00", "Lost tonight")],
        (D, 10): [
            post(family, "42", f"{D}T09:59:00", "Dexter tonight"),  # a later copy with other content
            post(family, "43", f"{D}T10:00:00", "Lost again"),
            post(family, "43", f"{D}T10:00:00", "Lost again"),
            post(family, "44", f"{D}T10:01:00", "Dexter first"),  # within one file: the earlier line wins
            post(family, "44", f"{D}T10:01:00", "Lost second"),
        ],
    }
    result, counts = run(spark, tmp_path, files)
    assert counts[(D, LOST)] == (0, 2, 2)
    assert counts[(D, DEXTER)] == (0, 1, 1)
    assert result.duplicates_dropped == 3


def test_rule3_the_first_delivery_is_kept_whichever_batch_brings_it():
    # Spark hands a partition's deliveries over in batches in no promised order: the least (file, block,
    # line) wins even when it arrives last; each post counts once, on its own day.
    other_day = date(2020, 11, 24)
    ids = pa.list_(pa.int64())
    schema = pa.schema(
        [("post_id", pa.string()), ("source_file", pa.string()), ("block_start", pa.int64())]
        + [("row_in_partition", pa.int64()), ("date", pa.date32()), ("hashtag_ids", ids), ("text_ids", ids)]
    )

    def batch(*rows):
        return pa.RecordBatch.from_pylist(
            [dict(zip(schema.names, r, strict=True)) for r in rows], schema=schema
        )

    later = [
        ("7", "file:/lake/10.json", 0, 5, D, [], [DEXTER]),
        ("8", "file:/lake/10.json", 0, 6, other_day, [], [LOST]),
    ]
    earlier = [
        ("7", "file:/lake/09.json", 0, 9, D, [], [LOST]),  # an earlier file, a later line
        ("7", "file:/lake/10.json", 0, 4, D, [MANDO], []),  # an earlier line, a later file
    ]
    counted = FirstDeliveriesCounted(["source_file", "block_start", "row_in_partition"])
    out = pa.Table.from_batches(list(counted(iter([batch(*later), batch(*earlier)]))))
    totals: dict[tuple, list[int]] = {}
    for row in out.to_pylist():
        total = totals.setdefault((row["date"], row["id"]), [0, 0, 0])
        for i, column in enumerate(("hashtag_count", "text_count", "tweet_count")):
            total[i] += row[column]
    assert totals == {
        (D, LOST): [0, 1, 1],
        (D, 0): [0, 0, 1],
        (other_day, LOST): [0, 1, 1],
        (other_day, 0): [0, 0, 1],
    }


def test_rule4_v2_retweets_long_posts_and_quotes(spark, tmp_path):
    when = f"{D}T10:00:00.000Z"
    original = v2_object(
        "900", "Lost is back, full text here #Lost #Dexter", ("Lost", "Dexter"), "2020-11-01T00:00:00.000Z"
    )
    lines = [
        # retweet: its own text is cut and lost the hashtags; the original's content counts
        v2_post("1", when, "RT @fan: Lost is back, full te…", retweet_of=original),
        # retweet whose original is missing from includes: its own text counts
        v2_post("2", when, "RT @fan: Dexter's Laboratory rocks", retweet_of={"id": "901", "missing": True}),
        # long post: the note's text and hashtags count, not the cut text
        v2_post(
            "3",
            when,
            "A long post about nothing…",
            ("Unrelated",),
            note=("…and then Grey's Anatomy", ("SVU",)),
        ),
        # note without hashtags falls back to the post's own entities
        v2_post("4", when, "cut", ("TheMandalorian",), note=("The Mandalorian in a long post", ())),
        # quote: only the quoted post mentions the show; it does not count for the quoting post
        v2_post("5", when, "look at this", quote_of=v2_object("902", "Lost Lost #Lost", ("Lost",))),
    ]
    _, counts = run(spark, tmp_path, {(D, 10): lines})
    assert counts[(D, LOST)] == (1, 1, 1)  # post 1 only: dated by the retweet, not the original
    assert counts[(D, DEXTER)] == (1, 2, 2)  # post 1 by hashtag and by its "#Dexter" text, post 2 by text
    assert counts[(D, DEXTERS_LAB)] == (0, 1, 1)
    assert counts[(D, GREYS)] == (0, 1, 1)
    assert counts[(D, SVU)] == (1, 0, 1)
    assert counts[(D, MANDO)] == (1, 1, 1)


def test_rule4_v1_retweets_extended_tweets_and_quotes(spark, tmp_path):
    when = f"{D}T10:00:00"
    original = v1_object(
        "900",
        "2020-11-01T00:00:00",
        "Lost is back…",
        ("Lost",),
        extended=("Lost is back #Lost #Dexter", ("Lost", "Dexter")),
    )
    lines = [
        v1_status("1", when, "RT @fan: Lost is back…", retweeted=original),
        v1_status("2", when, "RT @fan: Dexter's Laboratory rocks (manual RT, no object)"),
        v1_status("3", when, "A long post…", ("Unrelated",), extended=("…and then Grey’s Anatomy", ("SVU",))),
        v1_status("4", when, "cut", ("TheMandalorian",), extended=("The Mandalorian in a long post", ())),
        v1_status(
            "5", when, "look at this", quoted=v1_object("902", "2020-11-01T00:00:00", "Lost #Lost", ("Lost",))
        ),
    ]
    _, counts = run(spark, tmp_path, {(D, 10): lines})
    assert counts[(D, LOST)] == (1, 1, 1)
    assert counts[(D, DEXTER)] == (1, 2, 2)
    assert counts[(D, DEXTERS_LAB)] == (0, 1, 1)
    assert counts[(D, GREYS)] == (0, 1, 1)
    assert counts[(D, SVU)] == (1, 0, 1)
    assert counts[(D, MANDO)] == (1, 1, 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_rule5_text_and_hashtags_are_normalised(spark, tmp_path, family):
    when = f"{D}T10:00:00"
    lines = [
        post(family, "1", when, "Law &amp; Order: SVU tonight"),  # HTML-escaped alias
        post(family, "2", when, "Grey’s  \n Anatomy"),  # curly apostrophe, whitespace run
        post(family, "3", when, "ＬＯＳＴ is on"),  # full-width letters (NFKC)
        post(family, "4", when, "nothing here", ("MANDALORIAN",)),  # case
        post(family, "5", when, "nothing here", ("＃TheMandalorian ",)),  # full-width '#', spaces
        post(family, "6", when, "THE   MANDALORIAN"),
    ]
    _, counts = run(spark, tmp_path, {(D, 10): lines})
    assert counts[(D, SVU)] == (0, 1, 1)
    assert counts[(D, GREYS)] == (0, 1, 1)
    assert counts[(D, LOST)] == (0, 1, 1)
    assert counts[(D, MANDO)] == (2, 1, 3)


@pytest.mark.parametrize("family", FAMILIES)
def test_rule6_whole_phrases_and_either_for_tweet_count(spark, tmp_path, family):
    when = f"{D}T10:00:00"
    lines = [
        post(family, "1", when, "Lost!"),
        post(family, "2", when, "#Lost"),
        post(family, "3", when, "lostboys"),
        post(family, "4", when, "Lostが"),
        post(family, "5", when, "lost_cause and lost2"),
        post(family, "6", when, "Dexter's Laboratory"),  # counts for Dexter and for Dexter's Laboratory
        post(family, "7", when, "Lost and #Lost", ("Lost",)),  # both: one post in tweet_count
        post(family, "8", when, "no name", ("Lost",)),
        post(family, "9", when, "no name", ("LostSeason2",)),  # a longer hashtag is another hashtag
    ]
    _, counts = run(spark, tmp_path, {(D, 10): lines})
    assert counts[(D, LOST)] == (2, 3, 4)
    assert counts[(D, DEXTER)] == (0, 1, 1)
    assert counts[(D, DEXTERS_LAB)] == (0, 1, 1)
    assert counts[(D, SVU)] == (0, 0, 0)  # every tracked show has a row, zeros included


def _with_numeric_id(line: str, post_id: int) -> str:
    message = json.loads(line)
    message["data"]["id"] = post_id
    return json.dumps(message)


# Lines whose kind only Spark's parser tells (single quotes, NaN), and a post of D whose id is a negative
# number (Spark reads its text, "-9"; the decoder leaves it): its first delivery must be compared with
# the decoded ones.
LEFT_NOT_POSTS = ["{'limit':{'track':1}}", '{"x":NaN}', "{not json at all"]
LEFT_POST = _with_numeric_id(v2_post("0", f"{D}T10:59:00.000Z", "Dexter, an early copy", ("Lost",)), -9)


@pytest.mark.parametrize(
    ("extra", "bring_back_bytes", "plan", "parsed_by_spark"),
    [
        ([], 1 << 20, "fast", 0),
        (LEFT_NOT_POSTS, 1 << 20, "fast", 3),
        ([*LEFT_NOT_POSTS, LEFT_POST], 1 << 20, "exact: 1 post(s) of the counted days left", 0),
        (LEFT_NOT_POSTS, 30, "exact: 3 lines left to Spark's parser, more than", 0),
    ],
    ids=["all-decided", "notices-left", "post-left", "too-many-left"],
)
def test_the_fast_plan_counts_what_the_exact_plan_counts(
    spark, tmp_path, monkeypatch, extra, bring_back_bytes, plan, parsed_by_spark
):
    monkeypatch.setattr(tweet_stat, "BRING_BACK_BYTES_PER_TASK", bring_back_bytes)
    lines = [
        post("v2", "1", f"{D}T10:00:00", "Lost tonight", ("Dexter",)),
        post("v1", "2", f"{D}T10:00:01", "Dexter's Laboratory"),
        post("v2", "1", f"{D}T10:00:00", "Mando, a later delivery"),
        "",
        '{"limit":{"track":12}}',
        '{"data":{"id":"3","text":"Lost without a time"}}',
        *extra,
        '{"data":{"id":"4","text":"Lost, cut',
    ]
    lake = Lake.from_url(tmp_path)
    write_hour(lake, D, 10, lines)
    write_hour(lake, D, 11, [post("v2", "-9", f"{D}T10:59:00", "Lost later")])  # LEFT_POST's post again
    paths = [
        lake.uri(k) for k in raw_keys_for_days([o for p in prefixes_to_list([D]) for o in lake.list(p)], [D])
    ]
    fast = compute_tweet_stat(spark, paths, {D: SHOWS})
    exact = compute_tweet_stat(spark, paths, {D: SHOWS}, plan="exact")
    assert fast.plan.startswith(plan) and exact.plan == "exact"
    assert fast.lines_parsed_by_spark == parsed_by_spark
    assert (fast.rows, fast.line_counts, fast.per_day) == (exact.rows, exact.line_counts, exact.per_day)
    assert fast.line_counts["corrupt"] >= 1 and fast.line_counts["invalid_post"] == 1
    counts = {r["id"]: (r["hashtag_count"], r["text_count"], r["tweet_count"]) for r in fast.rows}
    # The early copy of post -9 is the one counted when it is there (by its hashtag, not its text).
    assert counts[LOST] == ((1, 1, 2) if LEFT_POST in extra else (0, 2, 2))
