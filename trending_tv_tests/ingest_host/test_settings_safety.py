"""Settings that protect the collector: API base URLs in clear text only on loopback, and a buffer
that survives power loss by default."""

from __future__ import annotations

import os
from dataclasses import fields

import pytest

from ingest_host.buffer import Buffer
from ingest_host.config import ConfigError, Settings, load_settings
from trending_tv_tests.ingest_host.conftest import run_cli


@pytest.mark.parametrize(
    ("name", "field"), [("TRENDING_TV_X_API_URL", "x_api_url"), ("TRENDING_TV_TMDB_API_URL", "tmdb_api_url")]
)
def test_plain_http_base_urls_are_refused_except_on_loopback(env, monkeypatch, name, field):
    for url in ("http://127.0.0.1:8080", "http://127.8.0.1/3", "http://localhost:9/3", "http://[::1]:80"):
        monkeypatch.setenv(name, url)
        assert getattr(load_settings(), field) == url
    monkeypatch.setenv(name, "https://api.example.com/3/")
    assert getattr(load_settings(), field) == "https://api.example.com/3"
    for url in ("http://api.example.com", "http://10.0.0.8:8080", "http://127.0.0.1.example.com", "ftp://x/"):
        monkeypatch.setenv(name, url)
        with pytest.raises(ConfigError, match=name):
            load_settings()
    result = run_cli({**env, name: "http://api.themoviedb.org/3"}, "status")
    assert result.returncode == 2
    assert f"{name} uses plain http to api.themoviedb.org" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_buffer_syncs_fully_by_default(env, monkeypatch):
    settings = load_settings()
    assert settings.sqlite_synchronous == "FULL"
    with Buffer(settings.buffer, settings.sqlite_synchronous) as buffer:
        assert buffer.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with Buffer(settings.buffer) as buffer:
        assert buffer.db.execute("PRAGMA synchronous").fetchone()[0] == 2
    monkeypatch.setenv("TRENDING_TV_SQLITE_SYNCHRONOUS", "normal")
    with Buffer(settings.buffer, load_settings().sqlite_synchronous) as buffer:
        assert buffer.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, when asked


def test_lake_keys_that_could_leave_a_staging_folder_are_refused():
    from ingest_host.layout import check_key, tweet_day_coverage_key, tweet_hour_key
    from trending_tv_tests.ingest_host.servers import utc

    for key in (
        tweet_hour_key(utc(2024, 1, 1, 10)),
        tweet_day_coverage_key(utc(2024, 1, 1).date()),
        "a/b..c",
    ):
        assert check_key(key) == key
    for key in ("../etc/passwd", "tweet_raw/../../x", "/abs/key", "tweet_raw/./x", "a\\..\\b", "", "a\0b"):
        with pytest.raises(ValueError, match="Invalid lake key"):
            check_key(key)


def test_unset_variables_take_the_dataclass_defaults(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("TRENDING_TV_", "TMDB_", "X_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    loaded, defaults = load_settings(), Settings()
    assert {f.name: getattr(loaded, f.name) for f in fields(Settings) if f.type != "Secret"} == {
        f.name: getattr(defaults, f.name) for f in fields(Settings) if f.type != "Secret"
    }
