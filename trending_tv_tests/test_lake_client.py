"""The lake client's operations the resources use (copy, replace a prefix from keys or a folder,
the existence check), on a folder and on moto's S3 server on 127.0.0.1; the existence check also
behind a stand-in for IAM enforcing each role's policy in deploy/iam/ (listing only under named
prefixes of the lake)."""

from __future__ import annotations

import fnmatch
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import pytest
from botocore.exceptions import ClientError

from ingest_host import layout
from ingest_host.lake import Lake, LakeAccessDeniedError, LakeNotFoundError
from trending_tv_tests.ingest_host.servers import MotoS3, s3_env
from trending_tv_tests.lake_fixtures import LAKE_KINDS, empty_lake

TARGET = "analytics/tweet_stat/year=2020/month=11/day=23/"
NEIGHBOUR = "analytics/tweet_stat/year=2020/month=11/day=24/part-00000.snappy.parquet"
STAGED = "_staging/tweet_stat/run/year=2020/month=11/day=23/"
IAM = Path(__file__).resolve().parents[1] / "deploy" / "iam"


@pytest.fixture(params=LAKE_KINDS)
def lake(request, tmp_path, monkeypatch) -> Iterator[Lake]:
    yield from empty_lake(request.param, tmp_path, monkeypatch)


def contents(lake: Lake, prefix: str) -> dict[str, bytes]:
    return {o.key: lake.read_bytes(o.key) for o in lake.list(prefix)}


def test_copy_keeps_the_source(lake):
    lake.write_bytes("a/one.bin", b"\x00one")
    lake.copy("a/one.bin", "b/two.bin")
    assert contents(lake, "") == {"a/one.bin": b"\x00one", "b/two.bin": b"\x00one"}


def test_replace_prefix_from_keys_copies_then_removes_only_the_stale_objects(lake):
    lake.write_bytes(TARGET + "part-00007-old-uuid.snappy.parquet", b"old")
    lake.write_bytes(TARGET + "part-00000.snappy.parquet", b"old 0")
    lake.write_bytes(NEIGHBOUR, b"the next day")
    sources = [STAGED + "part-00000-abc.c000.snappy.parquet", STAGED + "part-00001-abc.c000.snappy.parquet"]
    lake.write_bytes(sources[0], b"new 0")
    lake.write_bytes(sources[1], b"new 1")

    names = ["part-00000.snappy.parquet", "part-00001.snappy.parquet"]
    written = lake.replace_prefix_from_keys(sources, TARGET, names=names)
    assert written == [TARGET + n for n in names]
    assert contents(lake, TARGET) == {TARGET + names[0]: b"new 0", TARGET + names[1]: b"new 1"}
    assert lake.read_bytes(NEIGHBOUR) == b"the next day"  # other days are never touched
    assert [o.key for o in lake.list(STAGED)] == sources  # copies: the staging stays until deleted

    # a rerun with fewer files leaves exactly those (no duplicates, no leftovers)
    assert lake.replace_prefix_from_keys(sources[1:], TARGET, names=names[:1]) == [TARGET + names[0]]
    assert contents(lake, TARGET) == {TARGET + names[0]: b"new 1"}
    # default names: the sources' own
    assert lake.replace_prefix_from_keys(sources[:1], TARGET) == [
        TARGET + "part-00000-abc.c000.snappy.parquet"
    ]
    assert lake.replace_prefix_from_keys([], TARGET) == [] and lake.list(TARGET) == []

    with pytest.raises(ValueError, match="must end with '/'"):
        lake.replace_prefix_from_keys(sources, TARGET.rstrip("/"))
    with pytest.raises(ValueError, match="one distinct name per source"):
        lake.replace_prefix_from_keys(sources, TARGET, names=["same", "same"])


def test_replace_prefix_from_folder(lake, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "part-00000.snappy.parquet").write_bytes(b"new")
    lake.write_bytes(TARGET + "part-00003.snappy.parquet", b"stale")
    assert lake.replace_prefix_from_folder(folder, TARGET) == [TARGET + "part-00000.snappy.parquet"]
    assert contents(lake, TARGET) == {TARGET + "part-00000.snappy.parquet": b"new"}


def test_a_missing_lake_is_named(tmp_path, monkeypatch):
    with pytest.raises(LakeNotFoundError, match="does not exist"):
        Lake.from_url(tmp_path / "nowhere").ensure_exists()
    with MotoS3(bucket="tt-present") as s3:
        for key, value in s3_env(s3.endpoint).items():
            monkeypatch.setenv(key, value)
        Lake.from_url("s3://tt-present/lake").ensure_exists()  # an empty prefix is an empty lake
        with pytest.raises(LakeNotFoundError) as raised:
            Lake.from_url("s3://tt-absent/lake").ensure_exists()
        assert not isinstance(raised.value, LakeAccessDeniedError)
        assert "s3://tt-absent" in str(raised.value) and "NoSuchBucket" in str(raised.value)


class PolicyGrant:
    """Stands in for AWS IAM, which moto does not evaluate with conditions: an HTTP proxy on
    127.0.0.1 in front of moto's S3 server that answers as AWS does for a role holding one of the
    policies in deploy/iam/: a listing is allowed only if its `prefix` matches an s3:ListBucket
    grant's `s3:prefix` patterns (StringLike), an object read only under an s3:GetObject resource;
    anything else, HeadBucket included, gets 403 AccessDenied. Allowed requests go to moto unchanged."""

    DENIED = (
        b"<?xml version='1.0' encoding='UTF-8'?>"
        b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    )

    def __init__(self, upstream: str, policy: dict):
        self.upstream = urlparse(upstream)
        self.list_grants: list[tuple[str, str]] = []  # (bucket, s3:prefix pattern)
        self.read_grants: list[str] = []  # "bucket/key pattern"
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if "s3:ListBucket" in actions:
                patterns = statement["Condition"]["StringLike"]["s3:prefix"]
                for resource in resources:
                    bucket = resource.removeprefix("arn:aws:s3:::")
                    self.list_grants += [
                        (bucket, p) for p in ([patterns] if isinstance(patterns, str) else patterns)
                    ]
            if "s3:GetObject" in actions:
                self.read_grants += [r.removeprefix("arn:aws:s3:::") for r in resources]

    def allowed(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        bucket, _, key = path.lstrip("/").partition("/")
        if not key:  # bucket-level: only ListObjects with a granted prefix (HeadBucket is refused)
            prefix = query.get("prefix", [""])[0]
            return method == "GET" and any(
                b == bucket and fnmatch.fnmatchcase(prefix, p) for b, p in self.list_grants
            )
        return method in ("GET", "HEAD") and any(
            fnmatch.fnmatchcase(f"{bucket}/{unquote(key)}", r) for r in self.read_grants
        )

    def __enter__(self) -> PolicyGrant:
        grant = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def forward(self) -> None:
                url = urlparse(self.path)
                if not grant.allowed(self.command, url.path, parse_qs(url.query)):
                    self.send_response(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(grant.DENIED)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(grant.DENIED)
                    return
                connection = http.client.HTTPConnection(grant.upstream.hostname, grant.upstream.port)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, headers=headers)
                response = connection.getresponse()
                body = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                # a HEAD answer has no body: its Content-Length is the object's size, as moto sent it
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                connection.close()

            do_GET = do_HEAD = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "policy", ["dagster-host-policy.json", "ingest-host-policy.json", "emr-nodes-policy.json"]
)
def test_the_existence_check_works_under_each_roles_policy(policy, monkeypatch):
    """The policies grant s3:ListBucket only under named prefixes of the lake: HeadBucket (the old
    check) and a listing of the lake's root are refused; the check lists the raw posts prefix."""
    with MotoS3(bucket="tt-lake") as s3:
        s3.client().put_object(Bucket="tt-lake", Key="lake/tweet_raw/2020/11/23/00/h.json", Body=b"{}")
        grant = PolicyGrant(s3.endpoint, json.loads((IAM / policy).read_text()))
        with grant:
            for key, value in s3_env(grant.endpoint).items():
                monkeypatch.setenv(key, value)
            client = boto3.client("s3")
            with pytest.raises(ClientError) as refused:
                client.head_bucket(Bucket="tt-lake")
            assert refused.value.response["Error"]["Code"] == "403"
            with pytest.raises(ClientError, match="AccessDenied"):
                client.list_objects_v2(Bucket="tt-lake", Prefix="lake/", MaxKeys=1)

            lake = Lake.from_url("s3://tt-lake/lake")
            lake.ensure_exists()
            lake.ensure_exists(f"{layout.TMDB_RAW}/")  # a caller about to read another prefix
            assert [o.key for o in lake.list("tweet_raw/")] == ["tweet_raw/2020/11/23/00/h.json"]
            assert lake.read_bytes("tweet_raw/2020/11/23/00/h.json") == b"{}"

            with pytest.raises(LakeAccessDeniedError) as denied:
                Lake.from_url("s3://tt-lake/elsewhere").ensure_exists()
            message = str(denied.value)
            assert "s3://tt-lake/elsewhere/tweet_raw/" in message and "AccessDenied" in message
            assert (
                's3:ListBucket on arn:aws:s3:::tt-lake with s3:prefix like "elsewhere/tweet_raw/*"' in message
            )
            assert isinstance(denied.value, LakeNotFoundError)  # callers handling an unreachable lake
