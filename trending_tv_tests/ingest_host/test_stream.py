"""`ingest-host stream` with the real tweepy StreamingClient against a local X API v2 server."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from datetime import datetime

import pytest

from ingest_host.budget import SpendLedger
from ingest_host.buffer import HOUR_MS, Buffer
from ingest_host.config import Settings, load_settings
from ingest_host.lake import Lake
from ingest_host.rules import build_rules, is_ours
from ingest_host.stream import CapGuard, run_stream
from ingest_host.tracked_shows import TrackedShow
from ingest_host.upload import run_upload
from trending_tv_tests.ingest_host.conftest import child_env, ingest_host_cmd, run_cli
from trending_tv_tests.ingest_host.servers import BEARER, FakeX, utc, v2_post, wait_for

# A budget that never pauses the stream, whatever the hour or the day of the month (tests about
# parsing and signals, not the cap): 200 M reads a month, with a read cap and a limit to match.
UNCAPPED = {
    "TRENDING_TV_MAX_POSTS_PER_HOUR": "1000000",
    "TRENDING_TV_MONTHLY_READ_CAP": "1000000000",
    "TRENDING_TV_STREAM_BUDGET_USD": "1000000",
    "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD": "1000000",
}


def _stream_settings(monkeypatch: pytest.MonkeyPatch, x: FakeX, **overrides: str) -> Settings:
    """Settings for a stream run in this process against the local X server: uncapped, but for
    `overrides` (setting name: value)."""
    for key, value in {**UNCAPPED, "TRENDING_TV_X_API_URL": x.url, **overrides}.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def _start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        ingest_host_cmd("stream"),
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stored_ids(path: str) -> set[str]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return {r[0] for r in db.execute("SELECT post_id FROM lines WHERE post_id IS NOT NULL")}
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return set()


def _counts(path: str) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {k: n for k, n in db.execute("SELECT kind, SUM(n) FROM counts GROUP BY kind")}


def test_stream_syncs_rules_stores_every_message_and_stops_on_sigterm(env):
    env.update(UNCAPPED)
    # SIGTERM must not wait for the next message: the server sends no keep-alives and the read and
    # stop timeouts are far above the hang bound below, so only closing the connection at once passes
    env.update({"TRENDING_TV_STREAM_READ_TIMEOUT": "900", "TRENDING_TV_STOP_TIMEOUT": "900"})
    with FakeX(keepalive_interval=900) as x:
        x.rules["5"] = ("from:someone", "other-app")  # another app's rule: left alone
        x.rules["6"] = ("#Stale", "999")  # our stale rule: deleted
        x.rules_statuses = [429]  # the first rules call is rate limited: retried with backoff
        env["TRENDING_TV_X_API_URL"] = x.url
        proc = _start(env)
        try:
            exact_hour = utc(2024, 1, 1, 11, 0, 0)
            x.feed(
                v2_post(1, utc(2024, 1, 1, 10, 59, 59, 999000)),
                v2_post(2, exact_hour),
                v2_post(2, exact_hour),  # redelivery: counted, stored once
                b"",  # keep-alive
                b"__close__",  # the server drops the connection: tweepy reconnects
                v2_post(3, utc(2024, 1, 1, 12)),
            )
            assert wait_for(lambda: len(x.sent) >= 4 and x.connects >= 2, 60)
            assert wait_for(lambda: _stored_ids(env["TRENDING_TV_BUFFER"]) == {"1", "2", "3"}, 60)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(120) == 0  # bounds a hang only
        finally:
            if proc.poll() is None:
                proc.kill()
            x.feed(b"__close__")  # releases the server's handler, which waits for a line to send
        out, err = proc.communicate()
    counts = _counts(env["TRENDING_TV_BUFFER"])
    assert counts["post"] == 3 and counts["duplicate"] == 1
    tags = {tag: value for value, tag in x.rules.values()}
    assert tags["other-app"] == "from:someone" and "999" not in tags
    assert tags["82856"] == '#TheMandalorian OR #Mandalorian OR "The Mandalorian"'
    assert tags["2734"].startswith('#SVU OR "Law & Order: Special Victims Unit"')
    params = x.params[0]
    assert params["expansions"] == ["referenced_tweets.id"]
    assert set(params["tweet.fields"][0].split(",")) >= {
        "created_at",
        "entities",
        "note_tweet",
        "referenced_tweets",
        "lang",
    }
    assert BEARER not in out + err
    assert "stream stopped" in err


def test_ten_thousand_malformed_lines_are_counted_and_the_stream_lives(env):
    bad = [
        b"not json at all",
        b'{"data":{"id":"1',  # cut off
        b'{"data":{"id":"7","text":"x","created_at":"2024-01-01T10:00:00.000Z"},"matching_rules":[{"id":"9"}]}',
        b'{"data":{"id":"8","text":"x","created_at":"2024-01-01T10:00:00Z"}}',  # no milliseconds
        b'{"data":{"id":"9","created_at":"2024-01-01T10:00:00.000Z"}}',  # no text
        b'{"data":{"text":"no id"}}',
        b'{"errors":[{"title":"operational-disconnect"}]}',
        b"[1,2,3]",
        b'{"limit":{"track":5}}',
        b"\xff\xfe\x00garbage",
    ]
    # This test is about malformed lines, not the cap: without a high cap, the slice of the hour
    # the test happens to run in decides whether 10,000 deliveries trigger a pause.
    env.update(UNCAPPED)
    with FakeX() as x:
        env["TRENDING_TV_X_API_URL"] = x.url
        proc = _start(env)
        try:
            for i in range(10_000):
                x.lines.put(bad[i % len(bad)])
            x.feed(v2_post(424242, utc(2024, 1, 1, 10, 30)))
            # generous: 10,000 commits take seconds on a quiet machine, much longer on a loaded one
            assert wait_for(lambda: "424242" in _stored_ids(env["TRENDING_TV_BUFFER"]), 240)
            assert proc.poll() is None  # alive
            assert x.connects == 1  # never dropped the connection
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    counts = _counts(env["TRENDING_TV_BUFFER"])
    with sqlite3.connect(env["TRENDING_TV_BUFFER"]) as db:
        stored = db.execute("SELECT COUNT(*) FROM lines").fetchone()[0]
    # posts 7, 8, 9 are real posts (id + created_at): tweepy would have died on each; we store them once
    assert counts["post"] == 3 + 1 and counts["duplicate"] == 3 * 1000 - 3
    not_posts = {k: v for k, v in counts.items() if k not in ("post", "duplicate", "keepalive")}
    assert sum(not_posts.values()) == 7_000
    assert not_posts == {"corrupt": 3000, "unusable_post": 1000, "other": 1000, "errors": 1000, "limit": 1000}
    assert stored == 7_000 + 4  # every non-post line kept as received; each post once


def test_401_on_the_rules_call_exits_fast_with_a_clear_message(env):
    with FakeX(token="the-real-token") as x:
        env["TRENDING_TV_X_API_URL"] = x.url
        result = run_cli(env, "stream")
    assert result.returncode == 3
    # at once: the refused rules call is neither retried nor followed by a stream connection
    assert [(method, path) for method, path, _ in x.requests] == [("GET", "/2/tweets/search/stream/rules")]
    assert x.connects == 0
    assert "401" in result.stderr and "X_BEARER_TOKEN" in result.stderr
    assert BEARER not in result.stdout + result.stderr


def test_401_on_the_stream_connect_exits_fast(env):
    with FakeX() as x:
        x.stream_statuses = [401]
        env["TRENDING_TV_X_API_URL"] = x.url
        result = run_cli(env, "stream")
    assert result.returncode == 3, result.stderr
    assert x.connects == 1  # at once: tweepy, left alone, would reconnect after a 401 for ever
    assert "401 Unauthorized" in result.stderr


def test_missing_token_is_a_config_error(env):
    env.pop("X_BEARER_TOKEN")
    result = run_cli(env, "stream")
    assert result.returncode == 2 and "X_BEARER_TOKEN is not set" in result.stderr


def _pinned(moment) -> Callable[[], int]:
    """A stream clock stopped at `moment` (epoch ms): cap decisions never depend on the real minute."""
    at = int(moment.timestamp() * 1000)
    return lambda: at


def _run_until(settings, clock, done: Callable[[], bool], timeout: float = 60) -> bool:
    """run_stream in a thread with `clock` until `done()` (or `timeout`, which only bounds a hang),
    then stopped."""
    stop = threading.Event()
    thread = threading.Thread(target=run_stream, args=(settings, stop, clock))
    thread.start()
    try:
        return wait_for(done, timeout)
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive()


def _day_coverage(settings, now: str) -> dict:
    run_upload(settings, now=int(datetime.fromisoformat(now).timestamp() * 1000))
    return json.loads(
        Lake.from_url(settings.lake).read_bytes("ingest_meta/tweet_raw/2024/01/01/2024-01-01.json")
    )


def _minutes(first: int, last: int) -> int:
    return sum(1 << m for m in range(first, last + 1))


def test_hourly_cap_pauses_the_stream_and_keeps_posts_already_sent(env, monkeypatch):
    with FakeX() as x:
        settings = _stream_settings(
            monkeypatch, x, TRENDING_TV_MAX_POSTS_PER_HOUR="5", TRENDING_TV_SLICES_PER_HOUR="1"
        )
        now = utc(2024, 1, 1, 10, 30)
        hour = int(utc(2024, 1, 1, 10).timestamp() * 1000)
        # seven posts arrive in one burst: the stream pauses after the fifth, the sixth and seventh
        # were already delivered (paid for) and are kept
        x.feed(*(v2_post(i, now) for i in range(1, 8)))

        def paused_to_the_end_of_the_hour() -> bool:
            with Buffer(settings.buffer) as buffer:
                return len(x.sent) >= 7 and buffer.paused(hour) == _minutes(30, 59)

        assert _run_until(settings, _pinned(now), paused_to_the_end_of_the_hour)
        connects = x.connects
    assert connects == 1  # paused for the rest of the hour: no reconnect
    assert {"1", "2", "3", "4", "5"} <= _stored_ids(settings.buffer)
    with Buffer(settings.buffer) as buffer:
        minutes, cap, reached = buffer.coverage(hour)
    assert (minutes, cap, reached) == (_minutes(30, 30), 5, int(now.timestamp() * 1000))


def test_a_slice_pause_is_recorded_as_covered_by_the_cap(env, monkeypatch):
    """12 posts an hour in 12 slices: by the end of the 10:30-10:35 slice 7 are allowed. The seventh,
    at 10:31, pauses the stream to 10:35: minutes 32-34 are paused by the cap (covered, minute 31 was
    connected), so the hour is partial for the minutes before the stream started, never for the
    pause."""
    with FakeX() as x:
        settings = _stream_settings(
            monkeypatch, x, TRENDING_TV_MAX_POSTS_PER_HOUR="12", TRENDING_TV_SLICES_PER_HOUR="12"
        )
        now = utc(2024, 1, 1, 10, 31)
        hour = int(utc(2024, 1, 1, 10).timestamp() * 1000)
        x.feed(*(v2_post(i, now) for i in range(1, 8)))

        def paused_to_the_slice_end() -> bool:
            with Buffer(settings.buffer) as buffer:
                return buffer.paused(hour) != 0

        assert _run_until(settings, _pinned(now), paused_to_the_slice_end)
        connects = x.connects
    assert connects == 1
    assert _stored_ids(settings.buffer) == {str(i) for i in range(1, 8)}
    with Buffer(settings.buffer) as buffer:
        assert buffer.paused(hour) == _minutes(31, 34)
        assert buffer.coverage(hour) == (_minutes(31, 31), 12, None)  # a slice pause: the cap not reached
    ten = (coverage := _day_coverage(settings, "2024-01-01T12:10:00+00:00"))["hours"]["10"]
    assert (ten["state"], ten["minutes_covered"], ten["minutes_connected"]) == ("partial", 4, 1)
    assert ten["minutes_paused_by_cap"] == 3 and ten["posts"] == 7 and ten["cap_reached_at"] is None
    assert ten["minutes_covered_mask"] == "0" * 31 + "1" * 4 + "0" * 25
    assert coverage["capped_hours"] == ["10"] and "10" not in coverage["missing_hours"]


def test_a_spent_budget_records_its_hours_as_capped_not_missing(env, monkeypatch):
    """The month's spending limit is used up (fetch-counts spent it): the cap is 0. The stream never
    connects, and the rest of the hour is recorded as paused by the cap (a sample of nothing, by
    design), so the hour is capped and covered from then on, not missing."""
    monkeypatch.setenv("TRENDING_TV_STREAM_BUDGET_USD", "1")
    monkeypatch.setenv("TRENDING_TV_MONTHLY_SPEND_LIMIT_USD", "1")
    settings = load_settings()
    now = utc(2024, 1, 1, 10, 20)
    hour = int(utc(2024, 1, 1, 10).timestamp() * 1000)
    with SpendLedger(settings.buffer) as ledger:
        for _ in range(200):  # $1 of counts requests this month: the limit
            ledger.record(utc(2024, 1, 1, 0, 30), status=200, billed=True, cost_usd=0.005)
    with FakeX() as x:
        monkeypatch.setenv("TRENDING_TV_X_API_URL", x.url)
        settings = load_settings()
        x.feed(v2_post(1, now))

        def capped() -> bool:
            with Buffer(settings.buffer) as buffer:
                return buffer.coverage(hour)[2] is not None

        assert _run_until(settings, _pinned(now), capped)
        connects = x.connects
    assert connects == 0 and _stored_ids(settings.buffer) == set()  # nothing read, nothing paid
    with Buffer(settings.buffer) as buffer:
        assert buffer.coverage(hour) == (0, 0, int(now.timestamp() * 1000))
        assert buffer.paused(hour) == _minutes(20, 59)
    coverage = _day_coverage(settings, "2024-01-01T12:10:00+00:00")
    ten = coverage["hours"]["10"]
    assert (ten["state"], ten["minutes_covered"], ten["minutes_connected"]) == ("partial", 40, 0)
    assert ten["minutes_paused_by_cap"] == 40 and ten["posts"] == 0 and ten["cap"] == 0
    assert ten["cap_reached_at"].startswith("2024-01-01T10:20")
    assert coverage["capped_hours"] == ["10"] and coverage["empty_hours"] == ["10"]
    assert "10" not in coverage["missing_hours"] and "11" in coverage["missing_hours"]


def test_cap_guard_spreads_the_hour_and_respects_the_monthly_budget(env, monkeypatch):
    monkeypatch.setenv("TRENDING_TV_MAX_POSTS_PER_HOUR", "1200")
    monkeypatch.setenv("TRENDING_TV_SLICES_PER_HOUR", "12")
    monkeypatch.setenv("TRENDING_TV_STREAM_BUDGET_USD", "9000")  # 1.8 M reads: above 1,200 an hour
    monkeypatch.setenv("TRENDING_TV_MONTHLY_SPEND_LIMIT_USD", "9000")
    settings = load_settings()
    start = int(utc(2024, 4, 1, 0).timestamp() * 1000)
    with Buffer(settings.buffer) as buffer:
        guard = CapGuard(buffer, settings)
        assert guard.cap(start) == 1200
        # 100 posts in the first 5-minute slice: paused until 00:05
        for _ in range(100):
            buffer.accept(v2_post(len(str(_)) + _ * 7 + 1, utc(2024, 4, 1, 0, 1)), start + 60_000)
            guard.note_post(start + 60_000)
        assert guard.resume_at(start + 60_000) == start + 5 * 60_000
        assert guard.resume_at(start + 5 * 60_000) is None
    monkeypatch.setenv("TRENDING_TV_STREAM_BUDGET_USD", "36")  # 7,200 reads at $0.005: 30 days x 24 h x 10
    with Buffer(settings.buffer + "2") as buffer:
        guard = CapGuard(buffer, load_settings())
        assert guard.cap(start) == 10


def test_the_stream_cap_is_its_dollar_budget_spread_over_the_month(env, monkeypatch):
    april = utc(2024, 4, 1, 0)  # 30 days, 720 hours
    ms = int(april.timestamp() * 1000)
    settings = load_settings()  # defaults: $30 a month at $0.005 a read = 6,000 reads
    assert settings.stream_reads_per_month == 6000
    with Buffer(settings.buffer) as buffer, SpendLedger(settings.buffer) as ledger:
        assert CapGuard(buffer, settings, ledger).cap(ms) == 8  # 6,000 // 720
        # half the month gone with 3,000 reads used: the rest spread over the hours left
        mid = ms + 360 * HOUR_MS
        for i in range(3000):
            buffer.accept(v2_post(i + 1, utc(2024, 4, 2)), ms + HOUR_MS + i)
        assert CapGuard(buffer, settings, ledger).cap(mid) == 3000 // 360
        # overspent (every delivery counts): nothing more this month
        for i in range(3001):
            buffer.accept(v2_post(10_000 + i, utc(2024, 4, 3)), ms + 2 * HOUR_MS + i)
        assert CapGuard(buffer, settings, ledger).cap(mid) == 0


def test_the_stream_and_the_counts_share_one_monthly_limit(env, monkeypatch):
    april = utc(2024, 4, 1, 0)
    ms = int(april.timestamp() * 1000)
    # $30 budget, $40 limit; counts planned at $0.30 a day for the 30 days left: $9 set aside
    monkeypatch.setenv("TRENDING_TV_MONTHLY_SPEND_LIMIT_USD", "40")
    settings = load_settings()
    with Buffer(settings.buffer) as buffer, SpendLedger(settings.buffer) as ledger:
        assert CapGuard(buffer, settings, ledger, counts_per_day_usd=0.30).cap(ms) == 8  # $31 left >= $30
        # counts already spent $20 this month: $40 - $20 - $9 = $11 left = 2,200 reads
        for _ in range(4000):
            ledger.record(april, status=200, billed=True, cost_usd=0.005)
        assert CapGuard(buffer, settings, ledger, counts_per_day_usd=0.30).cap(ms) == 2200 // 720
        # spent to the limit: the stream stops for the month
        for _ in range(2200):
            ledger.record(april, status=200, billed=True, cost_usd=0.005)
        assert CapGuard(buffer, settings, ledger, counts_per_day_usd=0.30).cap(ms) == 0
        # requests X did not answer are not billed
        ledger.record(april, status=429, billed=False, cost_usd=0.005)
        assert ledger.totals(april, utc(2024, 5, 1)) == (6201, 6200, pytest.approx(31.0))


def test_rules_fit_the_tier_limits():
    shows = [TrackedShow(i, f"Show number {i}", (f"#Show{i}",), (f"alias {i}",)) for i in range(1, 31)]
    one_each = build_rules(shows, rule_limit=1000, max_chars=1024)
    assert len(one_each) == 30 and all(is_ours(r.tag) for r in one_each)
    packed = build_rules(shows, rule_limit=5, max_chars=512)
    assert len(packed) <= 5 and all(len(r.value) <= 512 for r in packed)
    assert sorted(int(t) for r in packed for t in r.tag.split("|")) == list(range(1, 31))
    long = TrackedShow(7, "A" * 40, ("#Tag",), tuple("alias " + "b" * 30 + str(i) for i in range(10)))
    (rule,) = build_rules([long], rule_limit=10, max_chars=120)
    assert len(rule.value) <= 120 and rule.value.startswith("#Tag OR ")
    assert not is_ours("other-app") and not is_ours(None) and is_ours("12|34")


def test_stream_messages_are_stored_byte_exact(env, monkeypatch):
    line = json.dumps(
        {"data": {"id": "77", "text": "caf\u00e9 &amp; #Got", "created_at": "2024-01-01T10:00:00.5Z"}},
        ensure_ascii=False,
    ).encode()
    with FakeX() as x:
        settings = _stream_settings(monkeypatch, x)
        x.feed(line)
        stop = threading.Event()
        thread = threading.Thread(target=run_stream, args=(settings, stop))
        thread.start()
        try:
            assert wait_for(lambda: "77" in _stored_ids(settings.buffer), 60)
        finally:
            stop.set()
            thread.join(60)
    with sqlite3.connect(settings.buffer) as db:
        (raw,) = db.execute("SELECT raw FROM lines WHERE post_id = '77'").fetchone()
    assert raw == line
