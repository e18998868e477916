"""End to end on the production instance (deploy/dagster/): a real PostgreSQL server (Debian's package,
initdb + pg_ctl in a temporary folder on a free 127.0.0.1 port), the code location served by
`dagster code-server start`, and the real `dagster-daemon run` and `dagster-webserver` processes loading
it through deploy/dagster/workspace.yaml, with deploy/dagster/dagster.yaml copied unchanged into
DAGSTER_HOME. Compute logs go to moto's S3 server on 127.0.0.1 (the S3ComputeLogManager of the
production config, pointed there by AWS_ENDPOINT_URL_S3); the lake is a folder.

Shown: the sensor runs a landed day; a two-day backfill through GraphQL is one run; mid-run (the run's
process held still with SIGSTOP, so it cannot finish while the services die, however fast the machine),
the daemon killed with SIGKILL leaves the run's process alive and the run STARTED, then the code server
killed with SIGKILL takes the run's process with it and the run stays STARTED until the code server's
unit starts again: its ExecStartPre
(deploy/dagster/fail_orphaned_runs.py) marks it failed, and the restarted daemon's run retries re-execute
it once, successfully; no run is left STARTED, STARTING or QUEUED; every run, event and tick is in
PostgreSQL (queried with psycopg2), step logs are in the compute-log bucket, and
no SQLite storage exists in DAGSTER_HOME."""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import pytest

from ingest_host.lake import Lake
from trending_tv.constants import TRIGGER_TAG
from trending_tv_tests.ingest_host.servers import MotoS3, s3_env
from trending_tv_tests.lake_fixtures import tiny_lake, v2_post, write_day_dimensions, write_hour
from trending_tv_tests.test_e2e_ui import (
    LOCATION,
    Dagster,
    first_pass_done,
    free_port,
    set_sensor,
    stop_group,
    tweet_stat_partition,
    wait_for_run,
    wait_until,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "dagster"
ARTIFACTS = ROOT / "artifacts" / "production_instance"
BIN = Path(sys.executable).parent
COMPUTE_LOGS_BUCKET = "tt-ops"
COMPUTE_LOGS_PREFIX = "dagster/compute_logs"
SPARK_ASSETS = [{"path": [k]} for k in ("raw_tweets", "raw_tmdb", "tvshows", "tweet_stat")]
UNFINISHED = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def postgres_bin() -> Path:
    """Debian's PostgreSQL server binaries (package `postgresql`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    if not which:
        raise AssertionError("PostgreSQL is not installed: apt-get install postgresql")
    return Path(which).resolve().parent


class Postgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1 with password authentication. initdb refuses to run
    as root, so under root the server runs as Debian's `postgres` user in a folder it owns."""

    def __init__(self):
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="trending-tv-pg-"))
        self.port = free_port()
        self.user, self.password, self.db = "dagster", secrets.token_hex(12), "dagster"
        self.os_user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, user=self.os_user, capture_output=True, timeout=120)

    def start(self) -> Postgres:
        if self.os_user:
            shutil.chown(self.dir, self.os_user)
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        if self.os_user:
            shutil.chown(pwfile, self.os_user)
        self._run(
            str(self.bin / "initdb"),
            "-D", str(self.dir / "data"), "-U", self.user, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"),
            "-w", "-t", "60", "-o", options, "start",
        )  # fmt: skip
        conn = self.connect("postgres")
        try:
            conn.cursor().execute(f"CREATE DATABASE {self.db}")
        finally:
            conn.close()
        return self

    def connect(self, db: str | None = None):
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname=db or self.db
        )
        if db:  # CREATE DATABASE cannot run inside the transaction psycopg2 opens
            conn.autocommit = True
        return conn

    def query(self, sql: str, *params) -> list[tuple]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        try:
            if (self.dir / "data" / "postmaster.pid").exists():
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Production:
    """The three Dagster services of deploy/systemd/, started as the units start them."""

    def __init__(self, tmp: Path, pg: Postgres, s3: MotoS3):
        self.tmp, self.pg, self.s3 = tmp, pg, s3
        self.home, self.lake = tmp / "dagster_home", tmp / "lake"
        self.home.mkdir()
        self.lake.mkdir()
        shutil.copy(DEPLOY / "dagster.yaml", self.home / "dagster.yaml")
        self.code_port, self.web_port = free_port(), free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TRENDING_TV_", "DAGSTER_", "AWS_"))},
            **s3_env(s3.endpoint),
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_DB": pg.db,
            "DAGSTER_PG_USERNAME": pg.user,
            "DAGSTER_PG_PASSWORD": pg.password,
            "DAGSTER_COMPUTE_LOGS_BUCKET": COMPUTE_LOGS_BUCKET,
            "DAGSTER_COMPUTE_LOGS_PREFIX": COMPUTE_LOGS_PREFIX,
            "DAGSTER_COMPUTE_LOGS_LOCAL_DIR": str(tmp / "compute_logs"),
            "DAGSTER_CODE_SERVER_PORT": str(self.code_port),
            "TRENDING_TV_MAX_CONCURRENT_RUNS": "2",
            "TRENDING_TV_LAKE": str(self.lake),
            "TRENDING_TV_SENSOR_INTERVAL_SECONDS": "2",
            "TRENDING_TV_SENSOR_SETTLE_SECONDS": "0",
            "PYTHONPATH": str(ROOT),
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.daemon_starts = 0

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args,
                cwd=self.tmp,  # not the repository: no .env file is read
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def start_code_server(self) -> None:
        self._start(
            "code_server",
            [str(BIN / "dagster"), "code-server", "start", "-m", "trending_tv.definitions",
             "-h", "127.0.0.1", "-p", str(self.code_port), "--location-name", "trending_tv"],
        )  # fmt: skip

    def wait_for_code_server(self) -> None:
        """The daemon and webserver units' ExecStartPre: wait until the code server answers."""
        if self.procs["code_server"].poll() is not None:
            raise AssertionError(f"code server exited: {self.log('code_server')[-3000:]}")
        subprocess.run(
            ["/bin/sh", str(DEPLOY / "wait_for_code_server.sh"), "180"],
            env={**self.env, "VENV": sys.prefix},
            check=True,
            timeout=200,
        )

    def start_daemon(self) -> None:
        self.daemon_starts += 1
        self._start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(DEPLOY / "workspace.yaml")])

    def start_webserver(self) -> None:
        self._start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.web_port),
             "-w", str(DEPLOY / "workspace.yaml")],
        )  # fmt: skip

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for name in ("webserver", "daemon", "code_server"):
            if name in self.procs:
                stop_group(self.procs[name])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name in ("webserver", "daemon", "code_server"):
            if (self.tmp / f"{name}.log").exists():
                shutil.copy(self.tmp / f"{name}.log", ARTIFACTS / f"{name}.log")


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("production")
    pg = Postgres()
    try:
        pg.start()
        with MotoS3(bucket=COMPUTE_LOGS_BUCKET) as s3:
            services = Production(tmp, pg, s3)
            try:
                services.start_code_server()
                services.wait_for_code_server()
                services.start_daemon()
                services.start_webserver()
                server = Dagster(
                    f"http://127.0.0.1:{services.web_port}",
                    services.procs["webserver"],
                    tmp / "webserver.log",
                    services.lake,
                )
                server.wait_loaded(
                    {name: (proc, tmp / f"{name}.log") for name, proc in services.procs.items()},
                    "the webserver and the code server",
                )
                services.server = server
                yield services
            finally:
                services.stop()
    finally:
        pg.stop()


def run_status(prod: Production, run_id: str) -> str:
    return prod.pg.query("SELECT status FROM runs WHERE run_id = %s", run_id)[0][0]


def run_events(prod: Production, run_id: str, event_type: str) -> list[dict]:
    rows = prod.pg.query(
        "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = %s ORDER BY id",
        run_id,
        event_type,
    )
    return [json.loads(row[0]) for row in rows]


def test_the_sensor_runs_a_landed_day(prod: Production):
    set_sensor(prod.server, "raw_tweets_sensor", on=True)
    try:  # the later tests land days of their own: the sensor runs this one only
        wait_until(
            lambda: first_pass_done(prod.server), 120, what="the sensor's first pass over the empty lake"
        )
        tiny_lake(prod.lake, date(2020, 11, 23))
        run = wait_for_run(prod.server, {TRIGGER_TAG: "raw_tweets_sensor"}, 300)
    finally:
        set_sensor(prod.server, "raw_tweets_sensor", on=False)
    assert run["status"] == "SUCCESS", run
    assert {"key": "dagster/partition", "value": "2020-11-23"} in run["tags"]
    node = tweet_stat_partition(prod.server, "2020-11-23")
    assert [m["runId"] for m in node["assetMaterializations"]] == [run["runId"]]

    # the same facts straight from PostgreSQL
    assert run_status(prod, run["runId"]) == "SUCCESS"
    ticks = prod.pg.query(
        "SELECT count(*) FROM job_ticks WHERE type = 'SENSOR' AND status = 'SUCCESS' AND tick_body LIKE %s",
        "%raw_tweets_sensor%",
    )[0][0]
    assert ticks >= 1


def test_a_two_day_backfill_through_graphql_is_one_run(prod: Production):
    lake = Lake.from_url(prod.lake)
    days = [date(2020, 11, 24), date(2020, 11, 25)]
    for day in days:
        write_day_dimensions(lake, day)
        write_hour(lake, day, 9, [v2_post(f"9{day.day}", f"{day}T09:00:00.000Z", "Lost tonight", ("Lost",))])
    launched = prod.server.gql(
        """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"p": {"partitionNames": [d.isoformat() for d in days], "assetSelection": SPARK_ASSETS}},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    run = wait_for_run(prod.server, {"dagster/backfill": backfill_id}, 300)
    assert run["status"] == "SUCCESS", run
    assert len(prod.server.runs({"dagster/backfill": backfill_id})) == 1
    for day in days:
        node = tweet_stat_partition(prod.server, day.isoformat())
        assert [m["runId"] for m in node["assetMaterializations"]] == [run["runId"]]
    # the backfill's record and its one run are rows in PostgreSQL
    assert prod.pg.query("SELECT count(*) FROM bulk_actions WHERE key = %s", backfill_id)[0][0] == 1
    rows = prod.pg.query(
        "SELECT r.run_id FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
        "WHERE t.key = 'dagster/backfill' AND t.value = %s",
        backfill_id,
    )
    assert rows == [(run["runId"],)]


def launch_run(prod: Production, assets: list[dict], day: date) -> str:
    """What the UI's Materialize button sends for one partition: a run of the asset job, queued."""
    launched = prod.server.gql(
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
             ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {
            "p": {
                "selector": {**LOCATION, "jobName": "__ASSET_JOB", "assetSelection": assets},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day.isoformat()}]},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def test_two_requests_for_the_same_day_run_one_after_the_other(prod: Production):
    """Two runs may run at once (TRENDING_TV_MAX_CONCURRENT_RUNS=2 here), but never two of one day.
    The runs are of the day's Spark assets: they last longer than the daemon takes to launch the
    next queued run (runs of `date` alone finish in under a second and would never overlap anyway)."""
    same_day, other_day = date(2020, 11, 27), date(2020, 11, 28)
    lake = Lake.from_url(prod.lake)
    for day in (same_day, other_day):
        write_day_dimensions(lake, day)
        write_hour(lake, day, 9, [v2_post(f"8{day.day}", f"{day}T09:00:00.000Z", "Lost tonight", ("Lost",))])
    first = launch_run(prod, SPARK_ASSETS, same_day)
    second = launch_run(prod, SPARK_ASSETS, same_day)
    other = launch_run(prod, SPARK_ASSETS, other_day)

    def finished():
        rows = prod.pg.query(
            "SELECT run_id, status, start_time, end_time FROM runs WHERE run_id = ANY(%s)",
            [first, second, other],
        )
        return {r[0]: r[1:] for r in rows} if all(r[1] == "SUCCESS" for r in rows) else None

    runs = wait_until(finished, 420, interval=1, what="the three runs")
    assert runs[second][1] >= runs[first][2], "the second run of the day started before the first ended"


def run_worker_pid(prod: Production, run_id: str) -> int:
    """The run's process, from the engine event the code server's run worker logs as it starts."""
    for event in run_events(prod, run_id, "ENGINE_EVENT"):
        found = re.search(r"Started process for run \(pid: (\d+)\)", json.dumps(event))
        if found:
            return int(found.group(1))
    raise AssertionError(f"run {run_id} logged no process id")


def process_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (R, S, T for stopped, Z for exited), None once reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def test_a_run_killed_mid_run_is_marked_failed_and_retried(prod: Production):
    day = date(2020, 11, 26)
    lake = Lake.from_url(prod.lake)
    write_day_dimensions(lake, day)
    write_hour(lake, day, 12, [v2_post("126", f"{day}T12:00:00.000Z", "Lost again", ("Lost",))])
    run_id = launch_run(prod, SPARK_ASSETS, day)

    def in_spark_step():  # mid-run: the run's process has started its first Spark step
        return prod.pg.query(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_START' "
            "AND step_key = 'tvshows'",
            run_id,
        )[0][0]

    wait_until(in_spark_step, 240, interval=0.5, what="the run to reach a Spark step")
    # held mid-run: a stopped process logs nothing and cannot finish before the code server dies with it
    worker = run_worker_pid(prod, run_id)
    os.kill(worker, signal.SIGSTOP)
    wait_until(lambda: process_state(worker) == "T", 60, interval=0.1, what="the run's process to stop")

    # the daemon dies: the run's process lives on (it is a child of the code server), the run stays
    # STARTED; systemd restarts the daemon
    daemon = prod.procs["daemon"]
    os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait(60)
    assert process_state(worker) == "T"
    assert run_status(prod, run_id) == "STARTED"
    prod.start_daemon()

    # then the code server dies with the run inside it (a crash, an OOM kill, `systemctl restart`, which
    # stops the unit's whole control group): nothing alive knows the run, still STARTED (the
    # DefaultRunLauncher has no worker health check for the daemon's run monitoring to fail it by)
    code_server = prod.procs["code_server"]
    os.killpg(code_server.pid, signal.SIGKILL)
    code_server.wait(60)
    wait_until(
        lambda: process_state(worker) in (None, "Z"), 60, interval=0.1, what="the run's process to die"
    )
    assert run_status(prod, run_id) == "STARTED"

    # systemd starts the code server again, as deploy/systemd/dagster-code-server.service says
    def orphans(step: str) -> str:
        done = subprocess.run(
            [sys.executable, str(DEPLOY / "fail_orphaned_runs.py"), "--host", "127.0.0.1",
             "--state", str(prod.tmp / "orphaned_runs.json"), step],
            env=prod.env, cwd=prod.tmp, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"1 run(s) of the stopped code server at 127.0.0.1:{prod.code_port}: ['{run_id}']" in orphans(
        "collect"
    )  # ExecStartPre
    prod.start_code_server()  # ExecStart
    prod.wait_for_code_server()  # ExecStartPost
    assert f"marked failed: ['{run_id}']" in orphans("fail")  # ExecStartPost
    assert run_status(prod, run_id) == "FAILURE"

    retry = wait_for_run(prod.server, {"dagster/parent_run_id": run_id}, 360)
    assert retry["status"] == "SUCCESS", retry
    tags = {t["key"]: t["value"] for t in retry["tags"]}
    assert tags["dagster/retry_number"] == "1" and tags["dagster/partition"] == day.isoformat()
    node = tweet_stat_partition(prod.server, day.isoformat())
    assert node["assetMaterializations"][-1]["runId"] == retry["runId"]
    assert run_events(prod, run_id, "PIPELINE_FAILURE"), "the killed run has no failure event"

    # nothing is left running, starting or queued
    unfinished = prod.pg.query("SELECT run_id, status FROM runs WHERE status = ANY(%s)", list(UNFINISHED))
    assert unfinished == []


def test_all_history_is_in_postgresql(prod: Production):
    statuses = dict(prod.pg.query("SELECT status, count(*) FROM runs GROUP BY status"))
    assert statuses == {"SUCCESS": 6, "FAILURE": 1}, statuses
    materialized = {
        partition
        for (partition,) in prod.pg.query(
            "SELECT partition FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
            "AND asset_key = %s",
            json.dumps(["tweet_stat"]),
        )
    }
    # the sensor's day, the backfill's two, the killed-and-retried day, the same-day test's two days
    assert materialized == {f"2020-11-{d}" for d in range(23, 29)}
    assert prod.pg.query("SELECT count(*) FROM job_ticks")[0][0] > 0
    # no SQLite storage was created beside the instance config
    assert not [p for p in prod.home.rglob("*.db")], sorted(prod.home.rglob("*"))
    # step logs were uploaded to the compute-log bucket
    assert any(key.endswith(".out") or key.endswith(".err") for key in prod.s3.keys(COMPUTE_LOGS_PREFIX))
