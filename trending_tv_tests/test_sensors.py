"""The lake sensors, the safety-net schedule and the failure alert, without servers of Dagster's own:
the watch logic against a local folder lake and moto's S3 server on 127.0.0.1 (a real endpoint), the
Dagster wiring through build_sensor_context / build_schedule_context."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    asset,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
    materialize,
)
from dagster._core.test_utils import create_run_for_test

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv.alerts import run_failure_alert
from trending_tv.lake_watch import TMDB, TWEETS, WatchSettings, evaluate
from trending_tv.resources.lake import LakeResource
from trending_tv.schedules import build_daily_schedule
from trending_tv.sensors import FINGERPRINT_TAG, build_lake_sensor
from trending_tv.settings import ALERT_WEBHOOK_URL, LakeWatchResource, Settings, settings_resources
from trending_tv_tests.lake_fixtures import LAKE_KINDS, empty_lake, write_day_dimensions, write_hour

# The ticks' clock: 05:00 UTC of the day before the real one, so that it is in the past of every object a
# test writes (a tick ignores objects older than the horizon it sets at `now`) at any real hour; from
# 00:00 to 05:00 UTC a clock of today's 05:00 was in the future and the ticks skipped new objects.
NOW = (datetime.now(UTC) - timedelta(days=1)).replace(hour=5, minute=0, second=0, microsecond=0)
TODAY = NOW.date()
SETTINGS = WatchSettings(first_day=TODAY - timedelta(days=30), settle=timedelta(0), sweep_seconds=30)


def TODAY_AT(hour: int) -> datetime:  # noqa: N802
    return datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def land_day(lake: Lake, day: date, hours=range(24), tmdb: bool = True) -> None:
    for hour in hours:
        write_hour(lake, day, hour, [f'{{"keepalive": {hour}}}'])
    if tmdb:
        write_day_dimensions(lake, day)


@pytest.fixture(params=LAKE_KINDS)
def lake(request, tmp_path, monkeypatch) -> Iterator[Lake]:
    yield from empty_lake(request.param, tmp_path, monkeypatch)


def tick(lake: Lake, cursor: str | None, source=TWEETS, now: datetime = NOW, **kwargs):
    return evaluate(lake, source, cursor, now, kwargs.pop("settings", SETTINGS), **kwargs)


def run_days(evaluation) -> list[date]:
    return [r.day for r in evaluation.runs]


def assert_narrow(evaluation) -> None:
    """Every listing is one day's (or one hour's) prefix: never a source root or the bucket."""
    for prefix in evaluation.prefixes:
        assert prefix.count("/") >= 4 and prefix.endswith("/"), prefix


def test_first_tick_adopts_history_and_runs_the_complete_recent_days(lake):
    for days_ago in (9, 8, 2, 1):
        land_day(lake, ago(days_ago))
    write_hour(lake, TODAY, 0, ["{}"])  # hour 00 of today completes yesterday
    write_hour(lake, TODAY, 3, ["{}"])

    first = tick(lake, None)

    assert first.pass_completed
    assert first.baseline_days == [ago(9), ago(8)]  # history: recorded, not run
    assert run_days(first) == [ago(2), ago(1)]
    assert {d: len(v) for d, v in first.arrivals.items()} == {
        ago(9): 24,
        ago(8): 24,
        ago(2): 24,
        ago(1): 24,
        TODAY: 2,
    }
    assert first.waiting == {TODAY: "the day is not over"}
    assert all(r.run_key.startswith(f"{r.day}:") for r in first.runs)
    assert_narrow(first)


def test_incremental_ticks_report_each_object_once_and_late_files_rerun_a_day(lake):
    land_day(lake, ago(1))
    write_hour(lake, TODAY, 0, ["{}"])
    first = tick(lake, None)
    assert run_days(first) == [ago(1)]

    second = tick(lake, first.cursor)
    assert (second.arrivals, second.runs) == ({}, [])  # unchanged: nothing new, never runs twice

    write_hour(lake, TODAY, 1, ["{}"])
    third = tick(lake, second.cursor)
    assert [o.key for o in third.arrivals[TODAY]] == [
        layout.tweet_hour_key(datetime(*TODAY.timetuple()[:3], 1))
    ]
    assert third.runs == []

    write_hour(lake, ago(1), 7, ['{"late": true}'])  # a late re-upload of yesterday's hour 07
    fourth = tick(lake, third.cursor)
    assert [o.key.split("/")[4] for o in fourth.arrivals[ago(1)]] == ["07"]
    assert run_days(fourth) == [ago(1)]
    assert fourth.runs[0].run_key != first.runs[0].run_key
    assert tick(lake, fourth.cursor).runs == []


def test_objects_landing_in_the_same_second_are_all_reported(lake):
    """A lands, a tick sees it, B lands in the same second as A: B is still reported (and A is not
    reported again). Tokens, not timestamps, decide what is new."""
    cursor = tick(lake, None).cursor
    for attempt in range(50):
        key_a = write_hour(lake, TODAY, 4, [f'{{"a": {attempt}}}'])
        seen_a = tick(lake, cursor)
        assert [o.key for o in seen_a.arrivals[TODAY]] == [key_a]
        key_b = write_hour(lake, TODAY, 5, [f'{{"b": {attempt}}}'])
        if hasattr(lake, "path"):  # a folder: give B exactly A's mtime
            stamp = os.stat(lake.path(key_a)).st_mtime_ns
            os.utime(lake.path(key_b), ns=(stamp, stamp))
        objects = {o.key: o.last_modified for o in lake.list(TWEETS.day_prefix(TODAY))}
        if int(objects[key_a].timestamp()) == int(objects[key_b].timestamp()):
            break
        cursor = tick(lake, seen_a.cursor).cursor  # not the same second: land both again
    else:
        pytest.fail("could not land two objects in the same second")
    same_second = tick(lake, seen_a.cursor)
    assert [o.key for o in same_second.arrivals[TODAY]] == [key_b]


def test_late_files_for_an_old_day_are_found_by_the_sweep_and_run(lake):
    land_day(lake, ago(20))
    land_day(lake, ago(19), hours=[0])
    first = tick(lake, None)
    assert first.baseline_days == [ago(20), ago(19)] and first.runs == []

    land_day(lake, ago(12))  # a whole old day lands late (backfilled raw data) ...
    write_hour(lake, ago(11), 0, ["{}"])  # ... with hour 00 of the next day
    write_hour(lake, ago(20), 23, ['{"late": 1}'])  # and a late rewrite of an adopted day
    second = tick(lake, first.cursor)
    assert second.swept == (SETTINGS.first_day, ago(3))
    # ago(20)'s hour 23 is also an input of ago(19) (boundary rule): both run again, once
    assert run_days(second) == [ago(20), ago(19), ago(12)]
    assert set(second.arrivals) == {ago(20), ago(12), ago(11)}
    assert tick(lake, second.cursor).runs == []  # unchanged now: never twice
    assert_narrow(second)


def test_a_day_with_no_data_never_runs_and_incomplete_days_wait_for_the_grace(lake):
    land_day(lake, ago(6))  # complete, but no hour 00 of ago(5): runs on the grace path
    land_day(lake, ago(4))  # ago(5) has no data at all
    write_hour(lake, ago(3), 0, ["{}"])
    land_day(lake, ago(1), hours=range(10))  # 10/24 hours of yesterday
    settings = WatchSettings(first_day=ago(7), settle=timedelta(0), window_days=7)
    early = TODAY_AT(2)
    first = tick(lake, None, settings=settings, now=early)
    assert run_days(first) == [ago(6), ago(4)]
    assert ago(5) not in first.waiting  # nothing landed: no run, not even waiting
    assert first.waiting[ago(1)].startswith("day open: 10/24 hours, waiting until")
    assert "no hour 00 of D+1" in first.runs[0].status.reason
    assert tick(lake, first.cursor, settings=settings, now=early).runs == []
    settling = tick(
        lake,
        first.cursor,
        now=TODAY_AT(4),
        settings=WatchSettings(first_day=ago(7), window_days=7, settle=timedelta(days=365 * 100)),
    )
    assert settling.runs == [] and "files still landing" in settling.waiting[ago(1)]
    later = tick(lake, first.cursor, settings=settings, now=TODAY_AT(4))  # grace (3 h) over, settled
    assert run_days(later) == [ago(1)]
    assert later.runs[0].status.hours_present == 10


def test_tweets_wait_for_tmdb_and_the_tmdb_sensor_runs_the_day_when_it_lands(lake):
    land_day(lake, ago(1), tmdb=False)
    write_hour(lake, TODAY, 0, ["{}"])
    tweets = tick(lake, None)
    assert tweets.runs == [] and "TMDB" in tweets.waiting[ago(1)]
    tmdb = tick(lake, None, source=TMDB)
    assert tmdb.runs == []
    write_day_dimensions(lake, ago(1))
    tmdb = tick(lake, tmdb.cursor, source=TMDB)
    tweets_again = tick(lake, tweets.cursor, already_requested={tmdb.runs[0].run_key}.__contains__)
    assert run_days(tmdb) == [ago(1)]
    assert tweets_again.runs == []  # the same fingerprint already ran (launched by the TMDB sensor)
    assert tmdb.arrivals[ago(1)] and {o.key for o in tmdb.arrivals[ago(1)]} == {
        layout.tmdb_day_key(ago(1)),
        layout.tracked_shows_day_key(ago(1)),
    }


def test_a_year_of_hourly_keys_first_pass_then_steady_ticks(tmp_path, monkeypatch):
    """8,760 keys: the first pass adopts the history in bounded ticks, the listing budget spreading it
    over several; a pass two hours later finds nothing new and leaves a small cursor. The budget is
    read on a stand-in clock that advances one second per reading, so how many old days a tick lists
    does not depend on the machine's speed (timing is measured in trending_tv_tests/bench/sensors.py)."""
    from itertools import count
    from types import SimpleNamespace

    readings = count()
    monkeypatch.setattr(
        "trending_tv.lake_watch.time_module", SimpleNamespace(perf_counter=lambda: float(next(readings)))
    )
    root = tmp_path / "lake"
    root.mkdir()
    lake = Lake.from_url(root)
    first_day = TODAY - timedelta(days=365)
    landed = (NOW - timedelta(minutes=30)).timestamp()  # visible just before the first tick
    for i in range(365):  # plain writes (the lake's atomic writes are slower and not the point here)
        for hour in range(24):
            path = root / layout.tweet_hour_key(datetime.combine(first_day + timedelta(days=i), time(hour)))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
            os.utime(path, (landed, landed))
    # the sweep stops at the first reading past the budget: 8 old days a tick on the stand-in clock
    per_tick = 8
    settings = WatchSettings(first_day=first_day, settle=timedelta(0), sweep_seconds=per_tick - 0.5)
    old_days = (TODAY - timedelta(days=settings.window_days + 1) - first_day).days + 1  # 363
    ticks_per_pass = -(-old_days // per_tick)  # 46

    def one_pass(cursor: str | None, now: datetime) -> tuple[str, list, int]:
        evaluations = []
        while True:
            result = tick(lake, cursor, settings=settings, now=now)
            cursor = result.cursor
            evaluations.append(result)
            assert_narrow(result)
            first, last = result.swept
            assert (last - first).days + 1 <= per_tick, result.swept  # a bounded slice of old days
            if result.pass_completed:
                return cursor, evaluations, sum(len(v) for e in evaluations for v in e.arrivals.values())

    cursor, first_pass, seen = one_pass(None, NOW)
    assert seen == 8_760
    assert len(first_pass) == ticks_per_pass  # the budget spread the first pass over its ticks
    assert [e.swept[0] for e in first_pass] == [
        first_day + timedelta(days=per_tick * i) for i in range(ticks_per_pass)
    ]
    assert len(json.loads(cursor)["s"]) == 8_760  # landed after the pass began minus the allowance

    # two hours later (more than the upload allowance) a second pass completes: nothing is new, and
    # the horizon has moved past every object, so the cursor is small again
    cursor, steady, seen = one_pass(cursor, NOW + timedelta(hours=2))
    assert seen == 0 and all(e.runs == [] for e in steady) and len(steady) == ticks_per_pass
    assert json.loads(cursor)["s"] == {} and len(cursor) < 300


# ------------------------------------------------------------------------------ Dagster wiring
def test_sensor_emits_observations_and_partition_runs(tmp_path):
    root = tmp_path / "lake"
    root.mkdir()
    lake = Lake.from_url(root)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    land_day(lake, yesterday)
    write_hour(lake, yesterday + timedelta(days=1), 0, ["{}"])
    sensor_def = build_lake_sensor(TWEETS, target=["raw_tweets"], watch=SETTINGS)
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(
        instance=instance, resources={"lake": LakeResource(url=str(root)), "lake_watch": LakeWatchResource()}
    )
    result = sensor_def(context)
    [request] = result.run_requests
    assert isinstance(request, RunRequest)
    assert request.partition_key == yesterday.isoformat()
    assert request.tags[FINGERPRINT_TAG] == request.run_key
    observation = next(e for e in result.asset_events if e.partition == yesterday.isoformat())
    assert observation.asset_key == AssetKey("raw_tweets")
    arrivals = observation.metadata["arrivals"].value
    assert len(arrivals) == 24 and {"key", "size", "last_modified"} <= set(arrivals[0])

    # the other sensor already launched this exact fingerprint: no second run
    create_run_for_test(instance, job_name="__ASSET_JOB", tags={FINGERPRINT_TAG: request.run_key})
    again = build_sensor_context(
        instance=instance, resources={"lake": LakeResource(url=str(root)), "lake_watch": LakeWatchResource()}
    )
    assert sensor_def(again).run_requests == []

    missing = build_sensor_context(
        resources={"lake": LakeResource(url=str(tmp_path / "nope")), "lake_watch": LakeWatchResource()}
    )
    assert "does not exist" in sensor_def(missing).skip_message


def test_schedule_runs_yesterday_only_when_not_materialized():
    with instance_for_test() as instance:
        _schedule_checks(instance)


def _schedule_checks(instance: DagsterInstance) -> None:
    keys = [AssetKey("raw_tweets"), AssetKey("tweet_stat")]
    schedule_def = build_daily_schedule(["raw_tweets", "tweet_stat"], keys)
    when = datetime(2020, 11, 24, 7, 0, tzinfo=UTC)
    request = schedule_def(build_schedule_context(instance=instance, scheduled_execution_time=when))
    assert isinstance(request, RunRequest) and request.partition_key == "2020-11-23"
    for key in keys:
        instance.report_runless_asset_event(AssetMaterialization(key, partition="2020-11-23"))
    skipped = schedule_def(build_schedule_context(instance=instance, scheduled_execution_time=when))
    assert isinstance(skipped, SkipReason) and "already materialized" in skipped.skip_message


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_run_failure_alert_logs_and_posts_json_without_secrets(monkeypatch, capfd):
    secret = "s3cr3t-bearer-value"
    monkeypatch.setenv("X_BEARER_TOKEN", secret)

    @asset
    def exploding() -> None:
        raise RuntimeError(f"the lake bucket is not reachable (token {secret} refused)")

    instance = DagsterInstance.ephemeral()
    result = materialize(
        [exploding], instance=instance, raise_on_error=False, tags={"dagster/partition": "x"}
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run.status == DagsterRunStatus.FAILURE
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hooks/T0KEN-in-path"
        monkeypatch.setenv(ALERT_WEBHOOK_URL, url)
        # the deployment's `alerts` resource: the URL reaches the sensor through EnvVar, never as config
        alerts = settings_resources(Settings.from_env())["alerts"]
        context = build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
            resources={"alerts": alerts},
        ).for_run_failure()
        capfd.readouterr()
        run_failure_alert(context)
    finally:
        server.shutdown()
    [(path, content_type, payload)] = _Hook.received
    assert (path, content_type) == ("/hooks/T0KEN-in-path", "application/json")
    assert payload["run_id"] == run.run_id and payload["partition"] == "x"
    # the failing step's own error, not only the run's "Steps failed" line; the secret masked
    step_error = "RuntimeError: the lake bucket is not reachable (token *** refused)"
    assert payload["failed_steps"] == [{"step": "exploding", "error": step_error}]
    assert payload["error"] == f"step exploding: {step_error}"
    assert payload["text"].endswith(f"failed for partition x: step exploding: {step_error}")
    assert "Steps failed: ['exploding']" in payload["run_error"]
    logs = "".join(capfd.readouterr())
    assert f"RUN FAILED: trending-tv run {run.run_id}" in logs
    assert "posted to webhook host 127.0.0.1" in logs
    assert "T0KEN" not in logs and secret not in logs and secret not in json.dumps(payload)


def test_definitions_carry_the_sensors_schedule_and_day_selection():
    from trending_tv.definitions import defs

    repo = defs.get_repository_def()
    assert {"raw_tweets_sensor", "raw_tmdb_sensor", "run_failure_alert"} <= {s.name for s in repo.sensor_defs}
    assert [s.name for s in repo.schedule_defs] == ["daily_safety_net"]
    assert repo.get_schedule_def("daily_safety_net").cron_schedule == "0 7 * * *"
    job = repo.get_sensor_def("raw_tweets_sensor").targets[0]
    selection = job.resolvable_to_job.selection
    assert {"raw_tweets", "raw_tmdb", "tvshows", "tweet_stat"} <= {
        k.to_user_string() for k in selection.selected_keys
    }


def test_many_days_stuck_waiting_cannot_make_a_tick_unbounded(tmp_path):
    """Posts for 20 days, TMDB for none: all wait. With the budget spent, older days are left for
    the next tick, and the newest days are always checked first."""
    root = tmp_path / "lake"
    root.mkdir()
    lake = Lake.from_url(root)
    for days_ago in range(1, 21):
        land_day(lake, ago(days_ago), hours=[0, 23], tmdb=False)
    settings = WatchSettings(first_day=ago(25), window_days=25, settle=timedelta(0), sweep_seconds=0.0)
    result = tick(lake, None, settings=settings)
    assert result.runs == []
    assert "TMDB" in result.waiting[ago(1)]
    assert result.waiting[ago(20)] == "not checked this tick (time budget spent)"
    assert ago(20).isoformat() in json.loads(result.cursor)["p"]  # still pending, checked on a later tick
