"""The code location's settings (trending_tv.settings): each TRENDING_TV_* variable parsed once, errors
naming the variable, every problem reported together, and the tunable ones reaching the UI as resource
config, with the alert webhook URL (a secret) only ever as an EnvVar."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_host.config import load_settings
from trending_tv.lake_watch import WatchSettings
from trending_tv.settings import (
    ALERT_WEBHOOK_URL,
    COUNTS_MIN_COVERAGE,
    LAKE,
    TMDB_MIN_COVERAGE,
    DataQualityResource,
    EnvReader,
    LakeWatchResource,
    Settings,
    SettingsError,
    settings_resources,
)


def test_defaults_and_values():
    assert Settings.from_env({}) == Settings(lake_url=str(Path("./lake").absolute()))
    got = Settings.from_env(
        {
            "TRENDING_TV_DEPLOYMENT": " EMR ",
            "TRENDING_TV_LAKE": "s3://bucket/lake",
            "TRENDING_TV_TMDB_MIN_COVERAGE": "0.8",
            "TRENDING_TV_SENSOR_INTERVAL_SECONDS": "60",
            "TRENDING_TV_SENSOR_WINDOW_DAYS": "3",
            "TRENDING_TV_SENSOR_GRACE_HOURS": "1.5",
            "TRENDING_TV_SENSOR_SETTLE_SECONDS": "",  # blank is unset
            "TRENDING_TV_SENSOR_SWEEP_SECONDS": "2",
        }
    )
    assert (got.deployment, got.lake_url, got.tmdb_min_coverage) == ("emr", "s3://bucket/lake", 0.8)
    assert (got.sensor_interval_seconds, got.sensor_window_days) == (60, 3)
    assert (got.sensor_grace_hours, got.sensor_settle_seconds, got.sensor_sweep_seconds) == (1.5, 300.0, 2.0)


def test_every_bad_value_is_named_with_its_variable_at_once():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(
            {
                "TRENDING_TV_DEPLOYMENT": "prod",
                "TRENDING_TV_TMDB_MIN_COVERAGE": "95",
                "TRENDING_TV_SENSOR_INTERVAL_SECONDS": "0.5",
                "TRENDING_TV_SENSOR_WINDOW_DAYS": "-1",
                "TRENDING_TV_SENSOR_GRACE_HOURS": "abc",
            }
        )
    assert str(raised.value).splitlines() == [
        "trending-tv settings are invalid:",
        "  - TRENDING_TV_DEPLOYMENT='prod' is not one of local, emr",
        "  - TRENDING_TV_TMDB_MIN_COVERAGE='95' must be between 0 and 1 (a share, e.g. 0.95)",
        "  - TRENDING_TV_SENSOR_INTERVAL_SECONDS='0.5' is not an integer",
        "  - TRENDING_TV_SENSOR_WINDOW_DAYS='-1' must be at least 0",
        "  - TRENDING_TV_SENSOR_GRACE_HOURS='abc' is not a number",
    ]


def test_a_reader_raises_on_the_first_problem_unless_it_collects():
    with pytest.raises(SettingsError, match=r"^TRENDING_TV_X='abc' is not a number$"):
        EnvReader({"TRENDING_TV_X": "abc"}).number("TRENDING_TV_X", 1.0)
    reader = EnvReader({"A": "x", "B": "200"}, collect=True)
    assert reader.integer("A", 7) == 7 and reader.integer("B", 5, maximum=100) == 5
    assert reader.problems == ["A='x' is not an integer", "B='200' must be at most 100"]
    with pytest.raises(SettingsError, match="^EMR:\n  - A="):
        reader.raise_problems("EMR:")


def test_tunable_settings_are_resource_config_and_the_webhook_url_only_an_env_var(monkeypatch):
    resources = settings_resources(
        Settings(tmdb_min_coverage=0.9, sensor_window_days=4, sensor_settle_seconds=0, alert_webhook_set=True)
    )
    assert resources["data_quality"].tmdb_min_coverage == 0.9
    watch = resources["lake_watch"].watch_settings()
    assert (watch.window_days, watch.settle.total_seconds(), watch.first_day.isoformat()) == (
        4,
        0,
        "2020-11-23",
    )
    # what Dagster stores and shows as the resource's config: the variable's name, not its value
    monkeypatch.setenv(ALERT_WEBHOOK_URL, "https://hooks.example/T0KEN")
    config = resources["alerts"].get_resource_definition().config_schema.default_value
    assert config == {"webhook_url": {"env": ALERT_WEBHOOK_URL}}
    assert settings_resources(Settings(alert_webhook_set=False))["alerts"].webhook_url is None


def test_an_unset_variable_means_the_same_default_everywhere_it_is_read():
    """The resources' own field defaults (what the UI shows for an unset field), what `from_env` gives
    for an empty environment and the lake sensors' `WatchSettings` agree."""
    unset = settings_resources(Settings.from_env({}))
    assert unset["data_quality"] == DataQualityResource()
    assert unset["lake_watch"] == LakeWatchResource()
    assert LakeWatchResource().watch_settings() == WatchSettings()


def test_the_variables_shared_with_the_ingest_host_default_alike_in_both_programs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env file
    for name in (LAKE, TMDB_MIN_COVERAGE, COUNTS_MIN_COVERAGE):
        monkeypatch.delenv(name, raising=False)
    ingest_host, code_location = load_settings(), Settings.from_env({})
    assert str(Path(ingest_host.lake).absolute()) == code_location.lake_url
    assert ingest_host.tmdb_min_coverage == code_location.tmdb_min_coverage
    assert ingest_host.counts_min_coverage == code_location.counts_min_coverage
