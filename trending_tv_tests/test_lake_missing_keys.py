"""Existence checks of keys that may be missing, under each role's policy in deploy/iam/.

S3 answers a HeadObject (or GetObject) of a missing key with 404 only when the caller may list that
key: an s3:ListBucket grant whose `s3:prefix` condition matches the key itself (AWS evaluates the
implied listing with the key as the prefix). Without it the answer is 403 AccessDenied, which
`Lake.exists`/`Lake.head` would raise instead of returning False/None. The code heads keys that are
missing in normal operation (a day's coverage file before the ingest host wrote one, an hour not yet
uploaded, a counts day not fetched); every such key must sit under a prefix its role may both read
and list, and a 403 is settled by listing the key (in case a prefix-narrowed grant does not count).
The IAM stand-in of test_lake_client.py is extended here with that 403/404 rule."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import unquote

import boto3
import pytest
from botocore.exceptions import ClientError

from ingest_host import layout
from ingest_host.lake import Lake
from trending_tv_tests.ingest_host.servers import MotoS3, s3_env
from trending_tv_tests.test_lake_client import PolicyGrant

IAM = Path(__file__).resolve().parents[1] / "deploy" / "iam"
DAY, HOUR = date(2020, 11, 23), datetime(2020, 11, 23, 10, tzinfo=UTC)

# the keys each side checks for with Lake.exists / Lake.head and that may be missing
HEADED = {
    "dagster-host-policy.json": [
        layout.tweet_day_coverage_key(DAY),  # raw_manifest.read_day_coverage, show_trends (local Spark)
        layout.tmdb_day_key(DAY),  # raw_manifest.seal_tmdb_day
        layout.tracked_shows_day_key(DAY),  # seal_tmdb_day, raw_counts.tracked_ids
        layout.counts_day_key(DAY),  # raw_counts.seal_counts_day, counts_lines
        layout.counts_day_stats_key(DAY),  # raw_counts.tracked_ids
    ],
    "emr-nodes-policy.json": [
        layout.tweet_day_coverage_key(DAY),  # show_trends, whose body runs on the cluster on EMR
    ],
    "ingest-host-policy.json": [
        layout.tweet_hour_key(HOUR),  # upload: the hour's previous file
        layout.tweet_hour_key(HOUR, gzip=True),  # upload: the other encoding's file
        layout.tweet_day_coverage_key(DAY),  # upload.write_day_coverage
        layout.counts_day_key(DAY),  # counts: the lines already landed
        layout.counts_day_stats_key(DAY),  # counts: previous runs
        layout.tmdb_day_key(DAY),  # tmdb_fetch: the bodies already landed
    ],
}


class AwsMissingKeyRule(PolicyGrant):
    """PolicyGrant, plus S3's answer to a read of a missing key: 404 (forwarded from moto) only if a
    ListBucket grant's `s3:prefix` pattern matches the key, else 403. With `prefix_grants_count`
    False, the stricter reading: a ListBucket grant narrowed by `s3:prefix` never turns the 403 into
    a 404 (Lake.head then settles it with a listing of the key)."""

    def __init__(self, upstream: str, policy: dict, s3, prefix_grants_count: bool = True):
        super().__init__(upstream, policy)
        self.s3 = s3  # moto, unproxied: does the key exist?
        self.prefix_grants_count = prefix_grants_count

    def allowed(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        if not super().allowed(method, path, query):
            return False
        bucket, _, key = path.lstrip("/").partition("/")
        if not key:
            return True
        key = unquote(key)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError:  # missing: 404 only for a caller who may list it
            return self.prefix_grants_count and any(
                b == bucket and fnmatchcase(key, p) for b, p in self.list_grants
            )


def policy(name: str) -> dict:
    return json.loads((IAM / name).read_text())


def lake_behind(grant: PolicyGrant, monkeypatch) -> Lake:
    for key, value in s3_env(grant.endpoint).items():
        monkeypatch.setenv(key, value)
    return Lake.from_url("s3://tt-lake/lake")


@pytest.mark.parametrize("prefix_grants_count", [True, False], ids=["prefix-grant-404", "always-403"])
@pytest.mark.parametrize("name", sorted(HEADED))
def test_missing_keys_read_as_missing_under_each_roles_policy(name, prefix_grants_count, monkeypatch):
    with MotoS3(bucket="tt-lake") as s3:
        present = HEADED[name][0]
        s3.client().put_object(Bucket="tt-lake", Key=f"lake/{present}", Body=b"{}")
        rule = AwsMissingKeyRule(s3.endpoint, policy(name), s3.client(), prefix_grants_count)
        with rule as grant:
            lake = lake_behind(grant, monkeypatch)
            assert lake.exists(present)
            assert (lake.head(present).key, lake.head(present).size) == (present, len(b"{}"))
            for key in HEADED[name][1:]:
                assert not lake.exists(key), key
            s3.client().delete_object(Bucket="tt-lake", Key=f"lake/{present}")
            assert lake.head(present) is None


def test_the_stand_in_refuses_a_missing_key_its_role_may_read_but_not_list(monkeypatch):
    """Without the listing of ingest_meta/ (the EMR nodes' policy before show_trends' coverage files
    were granted), checking for a day's missing coverage file is refused, as AWS refuses it."""
    document = policy("emr-nodes-policy.json")
    for statement in document["Statement"]:
        if statement["Action"] == "s3:ListBucket":
            patterns = statement["Condition"]["StringLike"]["s3:prefix"]
            statement["Condition"]["StringLike"]["s3:prefix"] = [
                p for p in patterns if not p.startswith(f"lake/{layout.INGEST_META}/")
            ]
    key = layout.tweet_day_coverage_key(DAY)
    with MotoS3(bucket="tt-lake") as s3, AwsMissingKeyRule(s3.endpoint, document, s3.client()) as grant:
        lake = lake_behind(grant, monkeypatch)
        with pytest.raises(ClientError) as refused:
            lake.exists(key)
        assert refused.value.response["Error"]["Code"] == "403"
        s3.client().put_object(Bucket="tt-lake", Key=f"lake/{key}", Body=b"{}")
        assert lake.exists(key)  # a present key is read on the GetObject grant alone
        client = boto3.client("s3")
        with pytest.raises(ClientError, match="AccessDenied"):
            client.get_object(
                Bucket="tt-lake", Key=f"lake/{layout.tweet_day_coverage_key(date(2020, 11, 24))}"
            )


def test_a_present_key_the_role_may_list_but_not_read_is_refused_not_missing(monkeypatch):
    """The Dagster host lists but never reads `_quarantine/`: a quarantined file is there, and the
    403 of its HeadObject is raised, not read as 'missing'."""
    key = f"{layout.QUARANTINE}/run/tweet_stat/year=2020/month=11/day=23/part-00000.snappy.parquet"
    with MotoS3(bucket="tt-lake") as s3:
        s3.client().put_object(Bucket="tt-lake", Key=f"lake/{key}", Body=b"PAR1")
        rule = AwsMissingKeyRule(s3.endpoint, policy("dagster-host-policy.json"), s3.client(), False)
        with rule as grant:
            lake = lake_behind(grant, monkeypatch)
            assert [o.key for o in lake.list(f"{layout.QUARANTINE}/run/")] == [key]
            with pytest.raises(ClientError) as refused:
                lake.head(key)
            assert refused.value.response["Error"]["Code"] == "403"
            assert lake.head(f"{layout.QUARANTINE}/run/other.parquet") is None
