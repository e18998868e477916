"""The code location's shape, compared with a committed snapshot so that an unintended change fails:
asset keys, groups, kinds, deps, partitions, backfill policies, freshness and automation conditions,
asset checks (blocking), sensors and schedules with their targets and default statuses, resource
keys and the executor. Users' scripts and the UI rely on these names.

An intended change: regenerate the snapshot and review its diff in the commit,

    .venv/bin/python -m trending_tv_tests.test_definitions_snapshot --update

The snapshot is of the local deployment (TRENDING_TV_DEPLOYMENT unset); in the EMR deployment only
the sensors' and the schedule's default status differ (RUNNING)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from dagster import Definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def _partitions(partitions_def) -> dict | None:
    if partitions_def is None:
        return None
    return {
        "type": type(partitions_def).__name__,
        "start": partitions_def.start.isoformat(),
        "timezone": partitions_def.timezone,
        "cron": partitions_def.cron_schedule,
        "fmt": partitions_def.fmt,
        "end_offset": partitions_def.end_offset,
    }


def _selection(target) -> list[str]:
    return sorted(k.to_user_string() for k in target.resolvable_to_job.selection.selected_keys)


def _freshness(policy) -> dict | None:
    if policy is None:
        return None
    return {
        "type": type(policy).__name__,
        "deadline_cron": policy.deadline_cron,
        "lower_bound_delta_seconds": policy.lower_bound_delta.total_seconds(),
        "timezone": policy.timezone,
    }


def describe(defs: Definitions) -> dict:
    """Everything the snapshot covers, as plain JSON-able data in a stable order."""
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets: dict[str, dict] = {}
    for node in sorted(graph.asset_nodes, key=lambda n: n.key.to_user_string()):
        assets[node.key.to_user_string()] = {
            "description": node.description,
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "materializable": node.is_materializable,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partition_mappings": {k.to_user_string(): str(m) for k, m in node.partition_mappings.items()},
            "partitions": _partitions(node.partitions_def),
            "backfill_policy": str(node.backfill_policy) if node.backfill_policy else None,
            "freshness_policy": _freshness(node.freshness_policy),
            "automation_condition": str(node.automation_condition) if node.automation_condition else None,
            "owners": sorted(node.owners),
            "tags": dict(sorted(node.tags.items())),
        }
    checks: dict[str, dict] = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(key)
        checks[f"{key.asset_key.to_user_string()}:{key.name}"] = {
            "description": spec.description,
            "blocking": spec.blocking,
            "additional_deps": sorted(d.asset_key.to_user_string() for d in spec.additional_deps),
            # evaluated in the asset's own step (check_specs=) or as a separate @asset_check
            "in_asset": key in graph.get(key.asset_key).assets_def.check_keys,
        }
    sensors = {
        sensor.name: {
            "type": sensor.sensor_type.value,
            "minimum_interval_seconds": sensor.minimum_interval_seconds,
            "default_status": sensor.default_status.value,
            "targets": [_selection(t) for t in sensor.targets],
            "required_resources": sorted(sensor.required_resource_keys),
        }
        for sensor in sorted(repo.sensor_defs, key=lambda s: s.name)
    }
    schedules = {
        schedule.name: {
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "default_status": schedule.default_status.value,
            "target": _selection(schedule.target),
        }
        for schedule in sorted(repo.schedule_defs, key=lambda s: s.name)
    }
    return {
        "assets": assets,
        "asset_checks": checks,
        "sensors": sensors,
        "schedules": schedules,
        "resources": sorted(defs.resources or {}),
        "executor": defs.executor.name if defs.executor else None,
    }


def current() -> dict:
    from trending_tv.definitions import defs

    return describe(defs)


def test_definitions_match_the_snapshot():
    assert os.environ.get("TRENDING_TV_DEPLOYMENT", "local") == "local", (
        "the snapshot is of the local deployment"
    )
    expected = json.loads(SNAPSHOT.read_text())
    actual = json.loads(json.dumps(current()))
    for section in expected:
        assert actual[section] == expected[section], (
            f"definitions changed ({section}); if intended, run "
            "`.venv/bin/python -m trending_tv_tests.test_definitions_snapshot --update` and commit the diff"
        )
    assert actual.keys() == expected.keys()


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python -m {__spec__.name} --update   (rewrites {SNAPSHOT})")
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
