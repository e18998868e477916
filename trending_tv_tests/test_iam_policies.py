"""The IAM policies and S3 lifecycle rules in deploy/iam/ against the lake prefixes each side writes, as
listed once in ingest_host/layout.py: every written prefix granted, nothing else writable, no wildcard
action, no grant on a whole bucket, listing only under named prefixes (no HeadBucket: a prefix-limited
ListBucket grant refuses it, so the code lists with a prefix instead)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest_host import layout

IAM = Path(__file__).resolve().parents[1] / "deploy" / "iam"
# the example names the policies use (README, "From laptop to AWS"): lake s3://tt-lake/lake,
# EMR staging s3://tt-ops/emr, compute logs s3://tt-ops/dagster/compute_logs
LAKE_BUCKET, LAKE_ROOT = "tt-lake", "lake"
OPS_BUCKET, EMR_STAGING, COMPUTE_LOGS = "tt-ops", "emr", "dagster/compute_logs"
EVERY_LAKE_PREFIX = set(layout.INGEST_HOST_WRITES) | set(layout.DAGSTER_HOST_WRITES)
# what the Dagster host reads: everything but the quarantine (written for people to inspect, never read)
DAGSTER_HOST_READ = EVERY_LAKE_PREFIX - {layout.QUARANTINE}
# what the EMR nodes read: raw posts and TMDB days, the tracked list, tables, their own staging output,
# and the day coverage files under ingest_meta/ (show_trends runs on the cluster and reads them)
EMR_NODES_READ = {
    layout.TWEET_RAW,
    layout.TMDB_RAW,
    layout.CONFIG,
    layout.INGEST_META,
    layout.ANALYTICS,
    layout.STAGING,
}

ROLES = {
    # file: (lake prefixes written, lake prefixes read, ops-bucket object patterns written)
    "dagster-host-policy.json": (
        set(layout.DAGSTER_HOST_WRITES),
        DAGSTER_HOST_READ,
        {f"{EMR_STAGING}/*", f"{COMPUTE_LOGS}/*"},
    ),
    "ingest-host-policy.json": (set(layout.INGEST_HOST_WRITES), set(layout.INGEST_HOST_WRITES), set()),
    "emr-nodes-policy.json": (
        set(layout.EMR_NODES_WRITES),
        EMR_NODES_READ,
        {f"{EMR_STAGING}/*/events.pkl", f"{EMR_STAGING}/logs/*"},
    ),
}
OBJECT_WRITE = {"s3:PutObject", "s3:DeleteObject"}
S3_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}


def load(name: str) -> dict:
    return json.loads((IAM / name).read_text())


def statements(policy: dict) -> list[dict]:
    out = []
    for statement in policy["Statement"]:
        actions = statement["Action"]
        resources = statement.get("Resource", [])  # trust policies name a Principal instead
        out.append(
            {
                **statement,
                "Action": [actions] if isinstance(actions, str) else actions,
                "Resource": [resources] if isinstance(resources, str) else resources,
            }
        )
    return out


def lake_prefix(resource: str) -> str:
    """The top-level lake prefix an object ARN grants: tweet_raw for .../lake/tweet_raw/*; refuses
    ARNs that reach past one prefix (the lake root, the bucket)."""
    head = f"arn:aws:s3:::{LAKE_BUCKET}/{LAKE_ROOT}/"
    assert resource.startswith(head), f"{resource} is outside the lake root {head}"
    rest = resource[len(head) :]
    for prefix in EVERY_LAKE_PREFIX:
        if rest in (f"{prefix}/*", f"{prefix}_$folder$"):  # EMRFS writes `<dir>_$folder$` markers
            return prefix
    raise AssertionError(f"{resource} does not name one lake prefix of ingest_host/layout.py")


def granted(policy: dict, action: str, bucket: str) -> list[str]:
    arn = f"arn:aws:s3:::{bucket}/"
    return [
        r for s in statements(policy) if action in s["Action"] for r in s["Resource"] if r.startswith(arn)
    ]


def test_every_file_parses_and_policies_are_documents():
    files = sorted(IAM.glob("*.json"))
    assert {f.name for f in files} >= set(ROLES) | {"lake-lifecycle.json", "ops-lifecycle.json"}
    for path in files:
        document = json.loads(path.read_text())
        if "Statement" in document:
            assert document["Version"] == "2012-10-17", path.name
            for statement in statements(document):
                assert statement["Effect"] == "Allow", (path.name, statement)


@pytest.mark.parametrize("name", sorted(ROLES))
def test_policy_grants_exactly_the_prefixes_its_side_writes(name: str):
    writes, reads, ops_writes = ROLES[name]
    policy = load(name)
    for statement in statements(policy):
        for action in statement["Action"]:
            assert "*" not in action, f"{name}: wildcard action {action}"
            assert not action.startswith("s3:") or action in S3_ACTIONS, f"{name}: {action} is not needed"
        if any(a.startswith("s3:") for a in statement["Action"]):
            for resource in statement["Resource"]:
                assert resource not in ("*", f"arn:aws:s3:::{LAKE_BUCKET}/*", f"arn:aws:s3:::{OPS_BUCKET}/*")

    for action in OBJECT_WRITE:
        lake = {lake_prefix(r) for r in granted(policy, action, LAKE_BUCKET)}
        if action == "s3:PutObject":
            assert lake == writes, f"{name}: writes {sorted(lake)}, layout says {sorted(writes)}"
        else:
            assert lake <= writes, f"{name}: deletes outside what it writes: {sorted(lake - writes)}"
    put_ops = {
        r.removeprefix(f"arn:aws:s3:::{OPS_BUCKET}/") for r in granted(policy, "s3:PutObject", OPS_BUCKET)
    }
    assert put_ops == ops_writes, name

    read = {lake_prefix(r) for r in granted(policy, "s3:GetObject", LAKE_BUCKET)}
    assert read == reads, f"{name}: reads {sorted(read)}, expected {sorted(reads)}"

    # listing: the bucket ARN only, always narrowed to the prefixes it reads or writes
    listed: set[str] = set()
    for statement in statements(policy):
        if "s3:ListBucket" not in statement["Action"]:
            continue
        assert statement["Action"] == ["s3:ListBucket"], f"{name}: ListBucket shares a statement"
        (bucket_arn,) = statement["Resource"]
        patterns = statement["Condition"]["StringLike"]["s3:prefix"]
        if bucket_arn == f"arn:aws:s3:::{LAKE_BUCKET}":
            for pattern in patterns:
                rest = pattern.removeprefix(f"{LAKE_ROOT}/")
                assert rest != pattern and rest.split("/")[0] in EVERY_LAKE_PREFIX, f"{name}: lists {pattern}"
                listed.add(rest.split("/")[0])
        else:
            assert bucket_arn == f"arn:aws:s3:::{OPS_BUCKET}", bucket_arn
            assert all(p.startswith((f"{EMR_STAGING}/", f"{COMPUTE_LOGS}/")) for p in patterns), patterns
    assert listed >= reads | writes, f"{name}: cannot list {sorted((reads | writes) - listed)}"


def test_the_ingest_host_never_touches_what_dagster_writes():
    assert not set(layout.INGEST_HOST_WRITES) & set(layout.DAGSTER_HOST_WRITES)
    assert set(layout.EMR_NODES_WRITES) <= set(layout.DAGSTER_HOST_WRITES)


def test_layout_keys_fall_under_the_listed_prefixes():
    from datetime import UTC, date, datetime

    from trending_tv.assets.trending_report import report_key
    from trending_tv.resources.lake import quarantine_prefix

    day, hour = date(2020, 11, 23), datetime(2020, 11, 23, 10, tzinfo=UTC)
    ingest = [
        layout.tweet_hour_key(hour),
        layout.tmdb_day_key(day),
        layout.tracked_shows_day_key(day),
        layout.CONFIG_TRACKED_SHOWS,
        layout.tweet_hour_stats_key(hour),
        layout.tmdb_day_stats_key(day),
        layout.counts_day_key(day),
        layout.counts_day_stats_key(day),
    ]
    dagster = [
        layout.manifest_key(layout.TWEET_RAW, day),
        layout.manifest_key(layout.COUNTS_RAW, day),  # raw_counts seals counts days
        layout.table_partition_prefix("date", day),
        layout.table_partition_prefix("show_volume", day),
        quarantine_prefix("run", "tweet_stat"),  # write-audit-publish keeps failed days here
        report_key(day, "report.md"),
    ]
    assert all(key.split("/")[0] in layout.INGEST_HOST_WRITES for key in ingest), ingest
    assert all(key.split("/")[0] in layout.DAGSTER_HOST_WRITES for key in dagster), dagster


def test_lifecycle_rules_expire_staging_quarantine_and_the_per_run_step_files():
    lake_rules = {r["Filter"]["Prefix"]: r for r in load("lake-lifecycle.json")["Rules"]}
    staging = lake_rules[f"{LAKE_ROOT}/{layout.STAGING}"]
    assert staging["Status"] == "Enabled" and 0 < staging["Expiration"]["Days"] <= 7
    # long enough to inspect a failed run, short enough that quarantined copies do not pile up
    quarantine = lake_rules[f"{LAKE_ROOT}/{layout.QUARANTINE}/"]
    assert quarantine["Status"] == "Enabled" and 7 <= quarantine["Expiration"]["Days"] <= 90
    ops_rules = {r["Filter"]["Prefix"]: r for r in load("ops-lifecycle.json")["Rules"]}
    steps = ops_rules[f"{EMR_STAGING}/"]  # <staging>/<run_id>/<step>/ step_run_ref.pkl, code.zip, events.pkl
    assert steps["Status"] == "Enabled" and steps["Expiration"]["Days"] >= 1
    assert ops_rules[f"{COMPUTE_LOGS}/"]["Expiration"]["Days"] >= 1
    # no rule ever expires the lake's data: only staging and quarantined copies
    assert all(
        p.startswith(f"{LAKE_ROOT}/{layout.STAGING}")
        for p in set(lake_rules) - {quarantine["Filter"]["Prefix"]}
    )
