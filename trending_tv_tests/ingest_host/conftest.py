"""Fixtures: an isolated environment (settings, tracked list, short backoffs) per test."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ingest_host.config import CONTRACT
from trending_tv_tests.ingest_host.servers import BEARER, TMDB_KEY

TRACKED = (
    "id,name,hashtags,aliases\n"
    "82856,The Mandalorian,#TheMandalorian|#Mandalorian,\n"
    "1399,Game of Thrones,#GameOfThrones|#GoT,GoT\n"
    '2734,Law & Order: Special Victims Unit,#SVU,"Law & Order: SVU|Law and Order SVU"\n'
)

# Every setting the ingest host reads (its contract names, plus any TRENDING_TV_/TMDB_ variable):
# cleared so the developer's own environment never leaks in.
_VARS = set(CONTRACT)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings for one test, set in os.environ (for in-process calls) and returned (for subprocesses)."""
    for name in list(os.environ):
        if name.startswith(("TRENDING_TV_", "TMDB_")) or name in _VARS:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    tracked = tmp_path / "tracked_shows.csv"
    tracked.write_text(TRACKED)
    (tmp_path / "lake").mkdir()
    values = {
        "TRENDING_TV_LAKE": str(tmp_path / "lake"),
        "TRENDING_TV_BUFFER": str(tmp_path / "buffer.sqlite3"),
        "TRENDING_TV_TRACKED_SHOWS": str(tracked),
        "X_BEARER_TOKEN": BEARER,
        "TMDB_API_KEY": TMDB_KEY,
        "TRENDING_TV_RETRY_ATTEMPTS": "4",
        "TRENDING_TV_RETRY_WAIT": "0.02",
        "TRENDING_TV_RETRY_WAIT_MAX": "0.1",
        "TRENDING_TV_STREAM_READ_TIMEOUT": "2",
        "TRENDING_TV_STOP_TIMEOUT": "3",
        "TRENDING_TV_HTTP_TIMEOUT": "1",
        "TRENDING_TV_TMDB_REQUESTS_PER_SECOND": "0",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def ingest_host_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ingest_host.cli", *args]


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`ingest-host ARGS` in a subprocess with exactly the given settings (plus PATH/HOME)."""
    return subprocess.run(
        ingest_host_cmd(*args), env=child_env(env), capture_output=True, text=True, timeout=timeout
    )


def run_cli_on_tmpfs(
    env: dict[str, str], folder: Path, size: str, args: list[str], then: str
) -> subprocess.CompletedProcess:
    """`ingest-host ARGS` with a tmpfs of `size` (e.g. "64k") mounted over `folder`: a full disk without
    root, in a private user and mount namespace, so nothing stays mounted. `then` is a shell command
    run after it, before the namespace and its tmpfs go away (to copy out what the tmpfs held); the
    return code is ingest-host's."""
    script = (
        f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(folder))} && "
        f"{shlex.join(ingest_host_cmd(*args))}; rc=$?; {then}; exit $rc"
    )
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def child_env(env: dict[str, str]) -> dict[str, str]:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    base["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return {**base, **env}
