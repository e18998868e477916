"""Run retention for the production instance (open-source Dagster purges ticks, never runs).

Deletes finished runs (success, failure, canceled) last updated more than N days ago that recorded no
asset materialization, observation or check evaluation. Runs that did are kept: deleting a run
deletes its events, and those events are the assets' partition history (what the UI and the schedule's
"already materialized" test read). Compute logs expire by the S3 lifecycle rule (deploy/iam/).
Run daily by trending-tv-purge-runs.timer.

    python deploy/dagster/purge_runs.py --older-than-days 90 [--dry-run]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
ASSET_HISTORY = {
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_OBSERVATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
}


def purge_runs(instance: DagsterInstance, older_than: timedelta, dry_run: bool = False) -> list[str]:
    """Delete the finished runs older than `older_than` with no asset events; return their ids."""
    cutoff = datetime.now(UTC) - older_than
    doomed = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=FINISHED, updated_before=cutoff)):
        run_id = record.dagster_run.run_id
        if any(instance.get_records_for_run(run_id, of_type=ASSET_HISTORY, limit=1).records):
            continue
        doomed.append(run_id)
    if not dry_run:
        for run_id in doomed:
            instance.delete_run(run_id)
    return doomed


@click.command()
@click.option("--older-than-days", type=float, required=True, help="Keep runs updated more recently")
@click.option("--dry-run", is_flag=True, help="List what would be deleted")
def main(older_than_days: float, dry_run: bool) -> None:
    """Delete old finished runs that recorded no asset events."""
    with DagsterInstance.get() as instance:
        ids = purge_runs(instance, timedelta(days=older_than_days), dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(ids)} run(s) older than {older_than_days:g} days: {ids}")


if __name__ == "__main__":
    main()
