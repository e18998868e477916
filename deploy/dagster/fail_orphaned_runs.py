"""Mark failed the runs a stopped code server had started, so run retries re-execute them.

Run by the dagster-code-server unit before it starts (ExecStartPre). Runs execute as child processes of
the code server and systemd stops the whole unit (KillMode=control-group), so while the server is down
none of the runs it started can be alive; without this they would stay STARTED until run monitoring's
maximum runtime. A run failed here carries the usual failure event: the daemon's run retries
(dagster.yaml, run_retries) launch it again once the server is back.

    python deploy/dagster/fail_orphaned_runs.py --host 127.0.0.1 --port 4000
"""

from __future__ import annotations

import json

import click
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import GRPC_INFO_TAG  # where DefaultRunLauncher records the server

IN_FLIGHT = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def fail_orphaned_runs(instance: DagsterInstance, host: str, port: int) -> list[str]:
    """Fail every in-flight run launched through the code server at host:port; return their ids."""
    failed = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=IN_FLIGHT)):
        run = record.dagster_run
        server = json.loads(run.tags.get(GRPC_INFO_TAG, "{}"))
        if server.get("host") != host or server.get("port") != port:
            continue
        instance.report_run_failed(
            run,
            f"The code server at {host}:{port} that ran this run stopped before the run finished "
            "(restart, crash or reboot); its process is gone.",
        )
        failed.append(run.run_id)
    return failed


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The code server's host")
@click.option("--port", type=int, envvar="DAGSTER_CODE_SERVER_PORT", required=True, help="Its port")
def main(host: str, port: int) -> None:
    """Fail the runs the (stopped) code server at HOST:PORT had started."""
    with DagsterInstance.get() as instance:
        failed = fail_orphaned_runs(instance, host, port)
    click.echo(f"{len(failed)} run(s) of the code server at {host}:{port} marked failed: {failed}")


if __name__ == "__main__":
    main()
