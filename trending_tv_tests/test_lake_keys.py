"""Lake keys never escape the lake or the staging folder: a key with a `..` segment is refused before
anything is downloaded or written (S3 downloads, Spark's staged inputs, folder-lake writes); folder
writes are fsynced, file and folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ingest_host.lake import Lake
from trending_tv.resources.lake import LakeResource
from trending_tv_tests.ingest_host.servers import MotoS3, s3_env

ESCAPING = ["../outside.json", "tweet_raw/../../outside.json", "tweet_raw/./x.json", "/etc/passwd"]


@pytest.fixture
def s3_lake(monkeypatch):
    with MotoS3(bucket="keys-lake") as s3:
        for name, value in s3_env(s3.endpoint).items():
            monkeypatch.setenv(name, value)
        yield "s3://keys-lake/lake"


@pytest.mark.parametrize("key", ESCAPING)
def test_an_s3_download_refuses_a_key_that_leaves_the_lake(s3_lake, tmp_path, key):
    lake = Lake.from_url(s3_lake)
    with pytest.raises(ValueError, match="Invalid lake key"):
        lake.download_file(key, tmp_path / "staged" / key.lstrip("/"))
    assert not (tmp_path / "staged").exists()


def test_staged_spark_inputs_refuse_a_key_that_leaves_the_staging_folder(s3_lake, tmp_path):
    lake = LakeResource(url=s3_lake)
    lake.client.write_bytes("tweet_raw/2020/11/23/10/2020-11-23-10.json", b"{}\n")
    with lake.local_paths(["tweet_raw/2020/11/23/10/2020-11-23-10.json"]) as paths:
        assert Path(paths[0]).read_bytes() == b"{}\n"
    escaping = lake.local_paths(["tweet_raw/../../../outside.json"])
    with pytest.raises(ValueError, match="Invalid lake key"), escaping:
        pass


@pytest.mark.parametrize("key", ESCAPING)
def test_a_folder_lake_refuses_a_key_that_leaves_it(tmp_path, key):
    (tmp_path / "lake").mkdir()
    lake = Lake.from_url(tmp_path / "lake")
    with pytest.raises(ValueError, match="Invalid lake key"):
        lake.write_bytes(key, b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


def test_a_folder_write_fsyncs_the_file_then_its_folder(tmp_path, monkeypatch):
    (tmp_path / "lake").mkdir()
    lake = Lake.from_url(tmp_path / "lake")
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    lake.write_bytes("manifests/tweet_raw/2020/11/23/manifest.json", b"{}")
    assert synced == ["file", "folder"]
    assert lake.read_bytes("manifests/tweet_raw/2020/11/23/manifest.json") == b"{}"
