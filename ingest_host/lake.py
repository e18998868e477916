"""One client for the lake, whether it is a local folder or `s3://bucket/prefix`.

Keys are always relative to the lake root and use `/`. S3 endpoints come from boto3's own settings
(`AWS_ENDPOINT_URL_S3` points tests at a local S3 server); credentials never pass through here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

from ingest_host import layout

# What the existence check of an S3 lake lists by default: see S3Lake.ensure_exists.
PROBE_PREFIX = f"{layout.TWEET_RAW}/"


class LakeNotFoundError(FileNotFoundError):
    """The configured lake root does not exist (a folder that is missing, a bucket that is not there)."""


class LakeAccessDeniedError(LakeNotFoundError, PermissionError):
    """The lake root may exist but these credentials may not list it. A LakeNotFoundError too, so a
    caller that treats an unreachable lake as one case keeps doing so; the message says which."""


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int
    last_modified: datetime
    etag: str | None = None


class Lake:
    """Common interface; use `Lake.from_url`."""

    url: str

    @staticmethod
    def from_url(url: str | os.PathLike[str]) -> Lake:
        text = os.fspath(url)
        if text.startswith("s3://"):
            return S3Lake(text)
        if "://" in text and not text.startswith("file://"):
            raise ValueError(f"Unsupported lake URL {text!r}: use a folder path or s3://bucket/prefix")
        return LocalLake(text.removeprefix("file://"))

    # -- to be provided by subclasses
    def ensure_exists(self, prefix: str | None = None) -> None: ...
    def list(self, prefix: str = "") -> list[LakeObject]: ...
    def exists(self, key: str) -> bool: ...
    def open_read(self, key: str) -> IO[bytes]: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def upload_file(self, path: str | os.PathLike[str], key: str) -> None: ...
    def download_file(self, key: str, path: str | os.PathLike[str]) -> None: ...
    def copy(self, source: str, target: str) -> None: ...
    def delete(self, keys: Iterable[str]) -> None: ...
    def head(self, key: str) -> LakeObject | None: ...
    def uri(self, key: str) -> str: ...

    # -- shared
    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as handle:
            return handle.read()

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))

    def delete_prefix(self, prefix: str) -> int:
        objects = self.list(prefix)
        self.delete(o.key for o in objects)
        return len(objects)

    def replace_prefix_from_folder(self, folder: str | os.PathLike[str], prefix: str) -> list[str]:
        """Make `prefix` hold exactly the files of a local folder: write the new objects, then remove
        the objects that are not among them. A reader never sees the prefix empty."""
        _check_prefix(prefix)
        folder = Path(folder)
        new_keys = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(folder).as_posix()
            self.upload_file(path, key)
            new_keys.append(key)
        self._delete_all_but(prefix, new_keys)
        return new_keys

    def replace_prefix_from_keys(
        self, sources: Sequence[str], prefix: str, names: Sequence[str] | None = None
    ) -> list[str]:
        """Make `prefix` hold exactly copies of the objects `sources` of this lake (server-side on S3),
        named `names` (default: each source's last path segment): copy first, then remove the objects
        that are not among the copies. A reader never sees the prefix empty; a rerun leaves no
        duplicates."""
        _check_prefix(prefix)
        names = [key.rsplit("/", 1)[-1] for key in sources] if names is None else list(names)
        if len(names) != len(sources) or len(set(names)) != len(names):
            raise ValueError(f"need one distinct name per source: {len(sources)} sources, names {names}")
        new_keys = []
        for source, name in zip(sources, names, strict=True):
            self.copy(source, prefix + name)
            new_keys.append(prefix + name)
        self._delete_all_but(prefix, new_keys)
        return new_keys

    def _delete_all_but(self, prefix: str, keep: Iterable[str]) -> None:
        keep = set(keep)
        self.delete([o.key for o in self.list(prefix) if o.key not in keep])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _check_prefix(prefix: str) -> None:
    if not prefix.endswith("/"):
        raise ValueError(f"prefix must end with '/': {prefix!r}")


class LocalLake(Lake):
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)

    def ensure_exists(self, prefix: str | None = None) -> None:
        """The lake folder exists (`prefix` is for S3 lakes: a folder has no grants to honour)."""
        if not self.root.is_dir():
            raise LakeNotFoundError(
                f"Lake folder {self.root} does not exist. Set TRENDING_TV_LAKE to an existing lake "
                "folder or s3://bucket/prefix (`make demo` creates ./lake with sample data)."
            )

    def path(self, key: str) -> Path:
        return self.root / layout.check_key(key)

    def list(self, prefix: str = "") -> list[LakeObject]:
        self.ensure_exists()
        base_dir = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base_dir
        if not start.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if not key.startswith(prefix) or ".tmp-" in name:
                    continue
                stat = os.stat(os.path.join(dirpath, name))
                found.append(LakeObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC)))
        return sorted(found, key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def head(self, key: str) -> LakeObject | None:
        path = self.path(key)
        if not path.is_file():
            return None
        stat = path.stat()
        return LakeObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC))

    def open_read(self, key: str) -> IO[bytes]:
        return self.path(key).open("rb")

    def _atomic_write(self, key: str, writer) -> None:
        """Write a temporary file beside the target, fsync it, rename it over the target, then fsync
        the folder: after a crash the key holds the old bytes or the new, whole and durable."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                writer(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; lake files are for other readers too
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)  # the rename itself is durable only once the folder is
        finally:
            os.close(folder)

    def write_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda handle: handle.write(data))

    def upload_file(self, path: str | os.PathLike[str], key: str) -> None:
        def copy(handle: IO[bytes]) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle, 1 << 20)

        self._atomic_write(key, copy)

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path(key), path)

    def copy(self, source: str, target: str) -> None:
        self.upload_file(self.path(source), target)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        return str(self.path(key))


class S3Lake(Lake):
    def __init__(self, url: str, client=None):
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"Not an S3 lake URL: {url!r} (expected s3://bucket/prefix)")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3  # imported lazily: local-folder users need no AWS setup

            self._client = boto3.client("s3")
        return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def ensure_exists(self, prefix: str | None = None) -> None:
        """One ListObjectsV2 of at most one key under `prefix` of the lake (default: the raw posts
        prefix). Not HeadBucket, and not a listing of the lake's root: least-privilege policies grant
        s3:ListBucket only with `s3:prefix` under named prefixes of the lake (deploy/iam/), and the raw
        posts prefix is the one every side of the lake may list (the collector writes it, the Dagster
        host and the EMR nodes read it). A caller about to read another prefix passes that one."""
        from botocore.exceptions import ClientError

        probe = self._full(PROBE_PREFIX if prefix is None else prefix)
        listed = f"s3://{self.bucket}/{probe}"
        try:
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=probe, MaxKeys=1)
        except ClientError as error:
            code = error.response["Error"].get("Code")
            if code == "NoSuchBucket":
                raise LakeNotFoundError(
                    f"Lake bucket s3://{self.bucket} does not exist (NoSuchBucket). "
                    "Check TRENDING_TV_LAKE and the AWS account and region."
                ) from error
            if code in ("AccessDenied", "403", "AllAccessDisabled"):
                raise LakeAccessDeniedError(
                    f"Listing the lake at {listed} was denied ({code}): these AWS credentials need "
                    f's3:ListBucket on arn:aws:s3:::{self.bucket} with s3:prefix like "{probe}*" '
                    "(deploy/iam/ has the policy of each role). Check TRENDING_TV_LAKE and the policy "
                    "of this host's role."
                ) from error
            raise LakeNotFoundError(
                f"Lake {listed} is not reachable ({code}). Check TRENDING_TV_LAKE and your AWS settings."
            ) from error

    def iter_list(self, prefix: str = "") -> Iterator[LakeObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix)):
            for item in page.get("Contents", []):
                yield LakeObject(self._rel(item["Key"]), item["Size"], item["LastModified"], item.get("ETag"))

    def list(self, prefix: str = "") -> list[LakeObject]:
        return sorted(self.iter_list(prefix), key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def head(self, key: str) -> LakeObject | None:
        """The object's size, time and ETag, or None when it is missing. S3 answers HeadObject of a
        missing key with 403, not 404, unless the caller may list that key: a 403 is settled with a
        listing of the key itself (the roles in deploy/iam/ list every prefix they read), and raised
        when the key is there or the listing is refused too."""
        from botocore.exceptions import ClientError

        full = self._full(key)
        try:
            meta = self.client.head_object(Bucket=self.bucket, Key=full)
        except ClientError as error:
            code = error.response["Error"].get("Code")
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            if code not in ("403", "AccessDenied"):
                raise
            try:
                listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=full, MaxKeys=1)
            except ClientError:
                raise error from None
            if any(item["Key"] == full for item in listed.get("Contents", [])):
                raise  # there, but not readable with these credentials
            return None
        return LakeObject(key, meta["ContentLength"], meta["LastModified"], meta.get("ETag"))

    def open_read(self, key: str) -> IO[bytes]:
        return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data)

    def upload_file(self, path: str | os.PathLike[str], key: str) -> None:
        self.client.upload_file(os.fspath(path), self.bucket, self._full(key))

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        layout.check_key(key)  # callers build `path` from the key: refuse `..` before anything is written
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, self._full(key), os.fspath(path))

    def copy(self, source: str, target: str) -> None:
        """A server-side copy (multipart above 8 MB: boto3's managed copy)."""
        self.client.copy({"Bucket": self.bucket, "Key": self._full(source)}, self.bucket, self._full(target))

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(self._full(key))
            if len(batch) == 1000:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, full_keys: list[str]) -> None:
        self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in full_keys], "Quiet": True}
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"
