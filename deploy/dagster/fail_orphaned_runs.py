"""Mark failed the runs a stopped code server had started, so run retries re-execute them.

Runs execute as child processes of the code server, and systemd stops the whole unit
(KillMode=control-group), so while the server is down none of the runs it started can be alive; nothing
else would notice (they would stay STARTED until run monitoring's maximum runtime). Two steps, around
the server's start (deploy/systemd/dagster-code-server.service):

    fail_orphaned_runs.py --state FILE collect   # ExecStartPre: server down, its in-flight runs are dead
    fail_orphaned_runs.py --state FILE fail      # ExecStartPost, once the server answers

Failing only once the server answers matters: the daemon retries a failed run at once, and a retry
attempted while the code location is unreachable is dropped, not postponed. Collecting before the start
means a run the new server launches meanwhile is never touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import GRPC_INFO_TAG  # where DefaultRunLauncher records the server

IN_FLIGHT = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def orphaned_runs(instance: DagsterInstance, host: str, port: int) -> list[str]:
    """Ids of the in-flight runs launched through the code server at host:port."""
    ids = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=IN_FLIGHT)):
        server = json.loads(record.dagster_run.tags.get(GRPC_INFO_TAG, "{}"))
        if server.get("host") == host and server.get("port") == port:
            ids.append(record.dagster_run.run_id)
    return ids


def fail_runs(instance: DagsterInstance, run_ids: list[str], host: str, port: int) -> list[str]:
    """Fail those of `run_ids` still in flight; return the ids failed."""
    failed = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in IN_FLIGHT:
            continue
        instance.report_run_failed(
            run,
            f"The code server at {host}:{port} that ran this run stopped before the run finished "
            "(restart, crash or reboot); its process is gone.",
        )
        failed.append(run_id)
    return failed


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The code server's host")
@click.option("--port", type=int, envvar="DAGSTER_CODE_SERVER_PORT", required=True, help="Its port")
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    required=True,
    help="Where `collect` leaves the run ids for `fail`",
)
@click.argument("step", type=click.Choice(["collect", "fail"]))
def main(host: str, port: int, state: Path, step: str) -> None:
    """collect (server down) or fail (server up) the runs the code server at HOST:PORT left in flight."""
    with DagsterInstance.get() as instance:
        if step == "collect":
            ids = orphaned_runs(instance, host, port)
            state.write_text(json.dumps(ids))
            click.echo(f"{len(ids)} run(s) of the stopped code server at {host}:{port}: {ids}")
            return
        ids = json.loads(state.read_text()) if state.exists() else []
        failed = fail_runs(instance, ids, host, port)
        state.unlink(missing_ok=True)
        click.echo(f"{len(failed)} run(s) of the code server at {host}:{port} marked failed: {failed}")


if __name__ == "__main__":
    main()
