"""`ingest-host fetch-counts`: tweepy's real Client against a local X API v2 counts server.

The clock is injected (a fixed instant), and so is the sleep (recorded, never slept), so nothing
depends on the wall clock or the machine's speed."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import date
from pathlib import Path

import pytest

from ingest_host.budget import SpendLimitReached
from ingest_host.buffer import Buffer
from ingest_host.config import load_settings
from ingest_host.counts import fetch_counts, fetchable_days
from ingest_host.layout import counts_day_key, counts_day_stats_key
from trending_tv.assets.show_volume import table_checks
from trending_tv.checks import hours_complete
from trending_tv.transforms.show_volume import coverage, parse_counts_day, show_volume_rows
from trending_tv_tests.ingest_host.conftest import child_env, ingest_host_cmd, run_cli
from trending_tv_tests.ingest_host.servers import BEARER, FakeXCounts, utc, v2_post

NOW = utc(2026, 11, 29, 0, 40)
NOW_TEXT = "2026-11-29T00:40:00Z"
DAY = date(2026, 11, 28)
MANDALORIAN = "id,name,hashtags,aliases\n82856,The Mandalorian,#TheMandalorian|#Mandalorian,\n"


def clock():
    return NOW


def _add_posts(x: FakeXCounts) -> None:
    # The Mandalorian: hashtags 8, text 5, either 10 (hour 00)
    x.add_posts(utc(2026, 11, 28, 0), 5, "#TheMandalorian")
    x.add_posts(utc(2026, 11, 28, 0), 3, "#Mandalorian", '"The Mandalorian"')
    x.add_posts(utc(2026, 11, 28, 0), 2, '"The Mandalorian"')
    # Game of Thrones: hashtags 5, text 7, either 11 (hour 05)
    x.add_posts(utc(2026, 11, 28, 5), 4, "#GoT")
    x.add_posts(utc(2026, 11, 28, 5), 6, '"Game of Thrones"')
    x.add_posts(utc(2026, 11, 28, 5), 1, "#GoT", '"GoT"')
    # SVU: 7 of each, the same posts (hour 23); a post of the day after is not counted
    x.add_posts(utc(2026, 11, 28, 23), 7, "#SVU", '"Law & Order: SVU"')
    x.add_posts(utc(2026, 11, 29, 0), 9, "#SVU")


def _lake_lines(env: dict[str, str], day: date = DAY) -> list[bytes]:
    path = Path(env["TRENDING_TV_LAKE"]) / counts_day_key(day)
    return [line for line in path.read_bytes().split(b"\n") if line]


def _stats(env: dict[str, str], day: date = DAY) -> dict:
    return json.loads((Path(env["TRENDING_TV_LAKE"]) / counts_day_stats_key(day)).read_bytes())


def _settings(monkeypatch, x: FakeXCounts, **extra: str):
    monkeypatch.setenv("TRENDING_TV_X_API_URL", x.url)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_counts_land_every_response_as_received_and_add_up(env, monkeypatch):
    sleeps: list[float] = []
    with FakeXCounts(page_hours=12) as x:  # two pages a query: next_token pagination
        _add_posts(x)
        settings = _settings(monkeypatch, x)
        report = fetch_counts(settings, DAY, clock=clock, sleep=sleeps.append)
        served = list(x.served)
        env["TRENDING_TV_X_API_URL"] = x.url
    assert sleeps == []
    assert report.coverage == 1.0 and report.missing == {} and report.stopped is None
    assert report.billed == 18 and report.attempts == 18 and report.cost_usd == pytest.approx(0.09)
    lines = _lake_lines(env)
    assert len(lines) == 9
    objs = [json.loads(line) for line in lines]
    assert [(o["show_id"], o["query_kind"]) for o in objs] == [
        (i, k) for i in (82856, 1399, 2734) for k in ("hashtags", "text", "any")
    ]
    first = objs[0]
    assert first["query"] == "#TheMandalorian OR #Mandalorian" and first["combine"] == "single"
    assert (first["start_time"], first["end_time"]) == ("2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z")
    assert (
        first["requests"] == 2 and first["cost_usd"] == pytest.approx(0.01) and first["granularity"] == "hour"
    )
    assert objs[4]["query"] == '"Game of Thrones" OR "GoT"'
    assert objs[5]["query"] == '#GameOfThrones OR #GoT OR "Game of Thrones" OR "GoT"'
    # the landed bodies are the served bytes, page by page, in order
    for obj in objs:
        (part,) = obj["parts"]
        answers = [body for params, _, body in served if params["query"] == part["query"]]
        assert [page["body"].encode("utf-8") for page in part["pages"]] == answers
        assert [page["next_token"] for page in part["pages"]] == [None, "page1"]
    second_pages = [params for params, _, _ in served if params.get("next_token") == "page1"]
    assert len(second_pages) == 9 and all(p["granularity"] == "hour" for p in second_pages)

    series, problems = parse_counts_day(lines, DAY)
    rows = {r["id"]: r for r in show_volume_rows(series, DAY)}
    assert problems == []
    assert (rows[82856]["hashtag_posts"], rows[82856]["text_posts"], rows[82856]["posts"]) == (8, 5, 10)
    assert (rows[1399]["hashtag_posts"], rows[1399]["text_posts"], rows[1399]["posts"]) == (5, 7, 11)
    assert (rows[2734]["hashtag_posts"], rows[2734]["text_posts"], rows[2734]["posts"]) == (7, 7, 7)
    assert rows[1399]["posts_hourly"] == [0] * 5 + [11] + [0] * 18
    assert rows[2734]["hashtag_hourly"][23] == 7
    tracked = [82856, 1399, 2734]
    assert coverage(series, tracked)["pair_coverage"] == 1.0
    for check in table_checks(list(rows.values()), {DAY: tracked}):
        assert check.passed, check

    stats = _stats(env)
    assert stats["coverage"] == 1.0 and stats["missing_shows"] == [] and stats["tracked_show_ids"] == tracked
    assert stats["requests"] == 18 and stats["cost_usd"] == pytest.approx(0.09)
    assert stats["runs"][0]["billed_requests"] == 18 and stats["runs"][0]["by_status"] == {"200": 18}
    # the spend is in the ledger: `status` shows it for the month
    status = run_cli(env, "status", "--now", NOW_TEXT)
    assert status.returncode == 0, status.stderr
    spend = json.loads(status.stdout)["spend"]
    assert spend["month"] == "2026-11" and spend["counts_requests"] == 18 and spend["post_reads"] == 0
    assert spend["counts_usd"] == pytest.approx(0.09) and spend["total_usd"] == pytest.approx(0.09)
    # the stream's cap: $30 of reads over the 48 hours left in November, the counts' 2 days set aside
    assert spend["tracked_shows"] == 3 and spend["counts_planned_per_day_usd"] == pytest.approx(0.045)
    assert spend["stream_cap_this_hour"] == 6000 // 48
    assert BEARER not in status.stdout + status.stderr


def test_429_waits_for_the_reset_and_5xx_and_malformed_bodies_are_retried(env, monkeypatch, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(MANDALORIAN)
    reset = int(NOW.timestamp()) + 120
    sleeps: list[float] = []
    with FakeXCounts() as x:
        _add_posts(x)
        x.script = [
            (
                429,
                {"title": "Too Many Requests"},
                {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
            ),
            (503, {"title": "Service Unavailable"}, {}),
            (200, b'{"data":[{"start":"2026-11-28T00:00:00.000Z"', {}),  # cut off: malformed
        ]
        settings = _settings(monkeypatch, x)
        report = fetch_counts(settings, DAY, clock=clock, sleep=sleeps.append)
        served = list(x.served)
    assert [status for _, status, _ in served] == [429, 503, 200, 200, 200, 200]
    assert sleeps[0] == 121.0  # until X's reset (clock injected), plus a second
    assert len(sleeps) == 3 and all(0 < s <= 0.1 for s in sleeps[1:])  # exponential backoff
    assert report.coverage == 1.0 and report.attempts == 6
    assert report.by_status == {"429": 1, "503": 1, "200": 4}
    assert report.billed == 4 and report.cost_usd == pytest.approx(0.02)  # the malformed answer is billed
    objs = [json.loads(line) for line in _lake_lines(env)]
    assert [page["body"].encode() for page in objs[0]["parts"][0]["pages"]] == [served[3][2]]
    assert objs[0]["requests"] == 2  # the malformed answer and the good one
    stats = _stats(env)
    assert stats["runs"][0]["attempts"] == 6 and stats["runs"][0]["billed_requests"] == 4
    assert stats["month"]["counts_requests"] == 4 and stats["month"]["counts_attempts"] == 6


def test_a_response_saying_the_window_is_used_up_waits_for_its_reset(env, monkeypatch, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(MANDALORIAN)
    sleeps: list[float] = []
    with FakeXCounts() as x:
        x.script = [(200, {"meta": {"total_tweet_count": 0}}, {"x-rate-limit-remaining": "0"})]
        x.reset_at = NOW.timestamp() + 300
        settings = _settings(monkeypatch, x)
        report = fetch_counts(settings, DAY, clock=clock, sleep=sleeps.append)
    assert sleeps == [301.0] and report.coverage == 1.0


def test_an_empty_result_is_24_zero_hours(env, monkeypatch, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(MANDALORIAN)
    with FakeXCounts() as x:
        x.script = [(200, {"meta": {"total_tweet_count": 0}}, {})]  # nothing matched: no data key
        settings = _settings(monkeypatch, x)
        report = fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
        served = list(x.served)
    assert report.coverage == 1.0
    lines = _lake_lines(env)
    assert json.loads(lines[0])["parts"][0]["pages"][0]["body"].encode() == served[0][2]
    series, problems = parse_counts_day(lines, DAY)
    (row,) = show_volume_rows(series, DAY)
    assert problems == [] and row["hashtag_posts"] == 0 and row["hashtag_hourly"] == [0] * 24
    assert hours_complete([row]).passed


def test_a_rerun_resumes_a_partial_day_and_never_makes_it_worse(env, monkeypatch):
    unavailable = [(503, {"title": "Service Unavailable"}, {})] * 4  # TRENDING_TV_RETRY_ATTEMPTS=4
    with FakeXCounts() as x:
        _add_posts(x)
        settings = _settings(monkeypatch, x)
        # run 1: the first show lands, then X stays down: the run stops, the rest is missing
        x.script = [None, None, None, *unavailable]
        first = fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
        assert first.stopped and "TwitterServerError" in first.stopped
        assert first.pairs_present == 3 and first.missing_shows == [1399, 2734]
        after_first = (Path(env["TRENDING_TV_LAKE"]) / counts_day_key(DAY)).read_bytes()
        assert len(after_first.splitlines()) == 3
        stats = _stats(env)
        assert stats["coverage"] == pytest.approx(3 / 9, abs=1e-4) and stats["missing_shows"] == [1399, 2734]
        # run 2: X still down: the day keeps every line it had, byte for byte
        x.script = list(unavailable)
        second = fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
        assert second.kept == 3 and second.fetched == 0 and second.pairs_present == 3
        assert (Path(env["TRENDING_TV_LAKE"]) / counts_day_key(DAY)).read_bytes() == after_first
        # run 3: X is back, with more posts for the first show: its landed lines are kept as they were
        x.add_posts(utc(2026, 11, 28, 1), 50, "#TheMandalorian")
        served_before = len(x.served)
        third = fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
        queried = {params["query"] for params, _, _ in x.served[served_before:]}
        assert third.fetched == 6 and third.coverage == 1.0 and third.missing == {}
        assert not any("Mandalorian" in q for q in queried)
        # run 4: the day is complete: no request at all
        served_before = len(x.served)
        fourth = fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
        assert len(x.served) == served_before and fourth.kept == 9 and not fourth.wrote
    lines = _lake_lines(env)
    assert len(lines) == 9 and b"\n".join(lines[:3]) + b"\n" == after_first
    assert [run["fetched_pairs"] for run in _stats(env)["runs"]] == [3, 0, 6, 0]


def test_the_spend_limit_refuses_before_any_request_and_names_the_setting(env):
    with FakeXCounts() as x:
        env.update(
            TRENDING_TV_X_API_URL=x.url,
            TRENDING_TV_STREAM_BUDGET_USD="0",
            TRENDING_TV_MONTHLY_SPEND_LIMIT_USD="0.04",  # 9 requests cost $0.045
        )
        result = run_cli(env, "fetch-counts", "--date", "2026-11-28", "--now", NOW_TEXT)
        assert x.served == []
    assert result.returncode == 1
    assert "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD" in result.stderr and "$0.04" in result.stderr
    stats = _stats(env)
    assert stats["coverage"] == 0 and stats["missing_shows"] == [1399, 2734, 82856]
    assert set(stats["missing"].values()) == {"not fetched: monthly spend limit"}


def test_post_reads_and_pages_count_against_the_shared_limit(env, monkeypatch):
    with FakeXCounts(page_hours=12) as x:
        _add_posts(x)
        # the stream's reads this month count: 2 posts ($0.01) + 9 requests ($0.045) > $0.05
        settings = _settings(
            monkeypatch, x, TRENDING_TV_STREAM_BUDGET_USD="0", TRENDING_TV_MONTHLY_SPEND_LIMIT_USD="0.05"
        )
        with Buffer(settings.buffer) as buffer:
            for post_id in (1, 2):
                buffer.accept(v2_post(post_id, utc(2026, 11, 20)), int(utc(2026, 11, 20).timestamp() * 1000))
        with pytest.raises(SpendLimitReached, match="TRENDING_TV_MONTHLY_SPEND_LIMIT_USD"):
            fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
        assert x.served == []
        # reads of last month do not count; the planned 9 requests fit, but every query takes two
        # pages: the run stops at the limit, naming it, and lands what it paid for
        settings = _settings(monkeypatch, x, TRENDING_TV_BUFFER=env["TRENDING_TV_BUFFER"] + ".2")
        with Buffer(settings.buffer) as buffer:
            buffer.accept(v2_post(3, utc(2026, 10, 31)), int(utc(2026, 10, 31, 12).timestamp() * 1000))
        report = fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
    assert "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD" in (report.stopped or "")
    assert report.billed == 10 and report.cost_usd == pytest.approx(0.05) and report.pairs_present == 5
    assert len(_lake_lines(env)) == 5


def test_budget_settings_are_refused_with_the_setting_named(env):
    too_big = run_cli(
        {**env, "TRENDING_TV_STREAM_BUDGET_USD": "20000", "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD": "30000"},
        "status",
    )
    assert too_big.returncode == 2
    assert (
        "TRENDING_TV_STREAM_BUDGET_USD" in too_big.stderr and "TRENDING_TV_MONTHLY_READ_CAP" in too_big.stderr
    )
    assert "4,000,000" in too_big.stderr and "2,000,000" in too_big.stderr
    above_limit = run_cli({**env, "TRENDING_TV_STREAM_BUDGET_USD": "200"}, "status")
    assert above_limit.returncode == 2 and "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD" in above_limit.stderr
    old = run_cli({**env, "TRENDING_TV_MONTHLY_POST_BUDGET": "3000000"}, "status")
    assert old.returncode == 2
    assert "TRENDING_TV_MONTHLY_POST_BUDGET" in old.stderr and "TRENDING_TV_STREAM_BUDGET_USD" in old.stderr
    bad_price = run_cli({**env, "TRENDING_TV_PRICE_PER_POST_READ": "cheap"}, "status")
    assert (
        bad_price.returncode == 2 and "TRENDING_TV_PRICE_PER_POST_READ must be a number" in bad_price.stderr
    )
    defaults = json.loads(run_cli(env, "status").stdout)["settings"]
    assert defaults["stream_budget_usd"] == 30.0 and defaults["price_per_post_read"] == 0.005
    assert defaults["monthly_read_cap"] == 2_000_000


def test_only_finished_days_of_the_last_seven_are_fetched_and_catch_up_fills_them(env):
    assert fetchable_days(NOW) == [date(2026, 11, d) for d in range(23, 29)]
    assert fetchable_days(utc(2026, 11, 29, 0, 0, 20)) == [date(2026, 11, d) for d in range(23, 28)]
    with FakeXCounts() as x:
        _add_posts(x)
        env["TRENDING_TV_X_API_URL"] = x.url
        today = run_cli(env, "fetch-counts", "--date", "2026-11-29", "--now", NOW_TEXT)
        too_old = run_cli(env, "fetch-counts", "--date", "2026-11-22", "--now", NOW_TEXT)
        assert x.served == []
        assert today.returncode == 2 and "not over yet" in today.stderr
        assert too_old.returncode == 2 and "last 7 days" in too_old.stderr
        caught_up = run_cli(env, "fetch-counts", "--catch-up", "--now", NOW_TEXT)
        assert caught_up.returncode == 0, caught_up.stderr
        assert len(x.served) == 6 * 9
        again = run_cli(env, "fetch-counts", "--catch-up", "--now", NOW_TEXT)
        assert again.returncode == 0 and len(x.served) == 6 * 9  # complete days: nothing requested
    for day in range(23, 29):
        assert len(_lake_lines(env, date(2026, 11, day))) == 9
    assert "9/9 show queries" in caught_up.stdout and BEARER not in caught_up.stdout + caught_up.stderr


def test_long_queries_are_split_into_disjoint_parts_that_add_up_or_refused(env, monkeypatch, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(
        "id,name,hashtags,aliases\n"
        '5,Alpha,#Alpha|#AlphaShow,"Al one|Al two|Al three|Al four"\n'
        "6,Beta,#Beta," + "a very long alias " * 5 + "\n"
    )
    with FakeXCounts() as x:
        hour = utc(2026, 11, 28, 3)
        x.add_posts(hour, 2, "#Alpha", '"Al four"')  # in the first and the last part: counted once
        x.add_posts(hour, 3, '"Al three"', '"Al four"')
        x.add_posts(hour, 1, '"Al four"')
        x.add_posts(hour, 4, "#AlphaShow")
        x.add_posts(hour, 5, "#Beta")
        settings = _settings(monkeypatch, x, TRENDING_TV_COUNTS_QUERY_MAX_CHARS="70")
        report = fetch_counts(settings, DAY, clock=clock, sleep=lambda s: None)
        assert all(len(params["query"]) <= 70 for params, _, _ in x.served)
        whole_any = x.count(
            '#Alpha OR #AlphaShow OR "Alpha" OR "Al one" OR "Al two" OR "Al three" OR "Al four"', hour
        )
    assert whole_any == 10
    assert set(report.missing) == {"6:text", "6:any"} and report.missing_shows == [6]
    assert all(
        reason.startswith("refused: ") and "TRENDING_TV_COUNTS_QUERY_MAX_CHARS" in reason
        for reason in report.missing.values()
    )
    objs = {(o["show_id"], o["query_kind"]): o for o in map(json.loads, _lake_lines(env))}
    assert objs[(5, "any")]["combine"] == "sum_of_disjoint_parts" and len(objs[(5, "any")]["parts"]) == 3
    series, _ = parse_counts_day(_lake_lines(env), DAY)
    rows = {r["id"]: r for r in show_volume_rows(series, DAY)}
    assert (rows[5]["hashtag_posts"], rows[5]["text_posts"], rows[5]["posts"]) == (6, 6, whole_any)
    assert rows[6]["hashtag_posts"] == 5 and rows[6]["text_posts"] is None
    assert not hours_complete(list(rows.values())).passed


def test_a_refused_token_exits_3_with_a_clear_message(env):
    with FakeXCounts(token="the-real-token") as x:
        env["TRENDING_TV_X_API_URL"] = x.url
        result = run_cli(env, "fetch-counts", "--date", "2026-11-28", "--now", NOW_TEXT)
    assert result.returncode == 3
    assert "401" in result.stderr and "X_BEARER_TOKEN" in result.stderr
    assert BEARER not in result.stdout + result.stderr


def test_sigterm_lands_the_lines_already_paid_for(env):
    with FakeXCounts() as x:
        _add_posts(x)
        x.script = [None, None, None, ("hang", 20, {})]  # the first show lands, then X is slow
        env.update(TRENDING_TV_X_API_URL=x.url, TRENDING_TV_HTTP_TIMEOUT="30")
        proc = subprocess.Popen(
            ingest_host_cmd("fetch-counts", "--date", "2026-11-28", "--now", NOW_TEXT),
            env=child_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert x.hanging.wait(60)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 128 + signal.SIGTERM
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert [json.loads(line)["show_id"] for line in _lake_lines(env)] == [82856] * 3
    stats = _stats(env)
    assert stats["pairs_present"] == 3 and stats["missing_shows"] == [1399, 2734]
    assert stats["missing"]["1399:hashtags"] == "not fetched: run interrupted"
    assert stats["runs"][0]["billed_requests"] == 3


def test_a_line_landed_by_another_run_meanwhile_is_kept(env, monkeypatch, tmp_path):
    (tmp_path / "tracked_shows.csv").write_text(MANDALORIAN)
    theirs = json.dumps(
        {"show_id": 82856, "query_kind": "hashtags", "parts": [], "by": "another run"}
    ).encode()
    day_file = Path(env["TRENDING_TV_LAKE"]) / counts_day_key(DAY)

    def another_run_lands_a_line(seconds: float) -> None:  # while this run waits to retry
        day_file.parent.mkdir(parents=True, exist_ok=True)
        day_file.write_bytes(theirs + b"\n")

    with FakeXCounts() as x:
        x.script = [(503, {"title": "Service Unavailable"}, {})]
        settings = _settings(monkeypatch, x)
        report = fetch_counts(settings, DAY, clock=clock, sleep=another_run_lands_a_line)
    lines = _lake_lines(env)
    assert lines[0] == theirs and len(lines) == 3
    assert [json.loads(line)["query_kind"] for line in lines] == ["hashtags", "text", "any"]
    assert report.wrote and report.pairs_present == 3
