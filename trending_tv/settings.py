"""Settings of the Dagster code location: every TRENDING_TV_* variable it reads, parsed once, here.

- `EnvReader`: small typed readers (text, integer, number, share, choice) whose errors name the
  variable and its value (`TRENDING_TV_X='abc' is not a number`). With `collect=True` a reader
  records every problem and `raise_problems()` reports them all at once (the EMR settings use this).
- `Settings` / `settings()`: the code location's own variables, read once per process when the
  definitions load, so a bad value stops `dagster definitions validate` with the variable named.
- The settings a user tunes while the code location runs are resource config, so the UI shows them
  on the Resources page: `DataQualityResource` (TMDB and counts coverage), `LakeWatchResource` (the lake
  sensors' timing) and `AlertsResource`, whose webhook URL (often carrying a token) is an `EnvVar`:
  the UI and run config show the variable's name, never the value.

Dagster's config system reads strings, integers and booleans from the environment (`EnvVar`,
`EnvVar.int`) but not floats, so numeric settings are parsed here and passed as values; the field
descriptions name their variable.

Each default is written once: `Settings` holds it (`from_env` and the resources' fields read it
there), taken from `WatchSettings` (trending_tv.lake_watch) for the lake sensors' timing and from the
ingest host's settings for the variables the ingest host reads too (the lake, TMDB and counts
coverage).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from ingest_host.config import Settings as IngestHostSettings
from trending_tv.lake_watch import WatchSettings

DEPLOYMENT = "TRENDING_TV_DEPLOYMENT"
LAKE = "TRENDING_TV_LAKE"
TMDB_MIN_COVERAGE = "TRENDING_TV_TMDB_MIN_COVERAGE"  # ingest-host fetch-tmdb reads it too
COUNTS_MIN_COVERAGE = "TRENDING_TV_COUNTS_MIN_COVERAGE"  # ingest-host fetch-counts reads it too
COLLECTION_MIN_COVERAGE = "TRENDING_TV_COLLECTION_MIN_COVERAGE"
ALERT_WEBHOOK_URL = "TRENDING_TV_ALERT_WEBHOOK_URL"
SENSOR_INTERVAL_SECONDS = "TRENDING_TV_SENSOR_INTERVAL_SECONDS"
SENSOR_WINDOW_DAYS = "TRENDING_TV_SENSOR_WINDOW_DAYS"
SENSOR_GRACE_HOURS = "TRENDING_TV_SENSOR_GRACE_HOURS"
SENSOR_SETTLE_SECONDS = "TRENDING_TV_SENSOR_SETTLE_SECONDS"
SENSOR_SWEEP_SECONDS = "TRENDING_TV_SENSOR_SWEEP_SECONDS"
SPARK_REMOTE = "TRENDING_TV_SPARK_REMOTE"  # sc://host:port of a warm Spark Connect server

DEPLOYMENTS = ("local", "emr")


class SettingsError(ValueError):
    """A setting is malformed or missing; the message names the variable."""


class EnvReader:
    """Typed reads of environment variables (default: `os.environ`). A blank value is unset.

    By default the first problem raises `SettingsError`; with `collect=True` each problem is recorded
    in `problems`, the reader returns the default, and `raise_problems()` raises them together."""

    def __init__(self, environ: Mapping[str, str] | None = None, *, collect: bool = False):
        self.environ = os.environ if environ is None else environ
        self.collect = collect
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        if not self.collect:
            raise SettingsError(message)
        self.problems.append(message)

    def raise_problems(self, heading: str = "invalid settings:") -> None:
        if self.problems:
            raise SettingsError("\n".join([heading, *(f"  - {p}" for p in self.problems)]))

    def is_set(self, name: str) -> bool:
        return bool(self.environ.get(name, "").strip())

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, "").strip() or default

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        return self._parse(name, default, int, "an integer", minimum, maximum)

    def number(
        self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        return self._parse(name, default, float, "a number", minimum, maximum)

    def share(self, name: str, default: float) -> float:
        """A share between 0 and 1 (0.95, not 95)."""
        return self._parse(name, default, float, "a number", 0.0, 1.0, hint=" (a share, e.g. 0.95)")

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        """One of `choices`, case-insensitive."""
        value = self.text(name, default).lower()
        if value not in choices:
            self.problem(f"{name}={value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def _parse(self, name, default, kind, what, minimum, maximum, hint=""):
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            self.problem(f"{name}={raw!r} is not {what}{hint}")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            if maximum is None:
                bounds = f"at least {minimum:g}"
            elif minimum is None:
                bounds = f"at most {maximum:g}"
            else:
                bounds = f"between {minimum:g} and {maximum:g}"
            self.problem(f"{name}={raw!r} must be {bounds}{hint}")
            return default
        return value


@dataclass(frozen=True)
class Settings:
    """The code location's variables (the EMR deployment's own are in trending_tv.resources.emr).
    The class attributes are the defaults (`Settings.tmdb_min_coverage`): read them, never repeat them."""

    deployment: str = "local"
    # The ingest host reads these variables too (it lands into this lake; fetch-tmdb and fetch-counts
    # fail below these shares), so both programs take its defaults.
    lake_url: str = IngestHostSettings.lake
    tmdb_min_coverage: float = IngestHostSettings.tmdb_min_coverage
    counts_min_coverage: float = IngestHostSettings.counts_min_coverage
    collection_min_coverage: float = 0.95
    alert_webhook_set: bool = False  # the URL itself is only ever read through EnvVar
    sensor_interval_seconds: int = 30
    sensor_window_days: int = WatchSettings.window_days
    sensor_grace_hours: float = WatchSettings.grace / timedelta(hours=1)
    sensor_settle_seconds: float = WatchSettings.settle.total_seconds()
    sensor_sweep_seconds: float = WatchSettings.sweep_seconds
    spark_remote: str = ""  # blank: each local run starts its own Spark (trending_tv.resources.spark_connect)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every variable, every problem reported at once."""
        env = EnvReader(environ, collect=True)
        settings = cls(
            deployment=env.choice(DEPLOYMENT, cls.deployment, DEPLOYMENTS),
            lake_url=absolute_lake_url(env.text(LAKE, cls.lake_url)),
            tmdb_min_coverage=env.share(TMDB_MIN_COVERAGE, cls.tmdb_min_coverage),
            counts_min_coverage=env.share(COUNTS_MIN_COVERAGE, cls.counts_min_coverage),
            collection_min_coverage=env.share(COLLECTION_MIN_COVERAGE, cls.collection_min_coverage),
            alert_webhook_set=env.is_set(ALERT_WEBHOOK_URL),
            sensor_interval_seconds=env.integer(
                SENSOR_INTERVAL_SECONDS, cls.sensor_interval_seconds, minimum=1
            ),
            sensor_window_days=env.integer(SENSOR_WINDOW_DAYS, cls.sensor_window_days, minimum=0),
            sensor_grace_hours=env.number(SENSOR_GRACE_HOURS, cls.sensor_grace_hours, minimum=0),
            sensor_settle_seconds=env.number(SENSOR_SETTLE_SECONDS, cls.sensor_settle_seconds, minimum=0),
            sensor_sweep_seconds=env.number(SENSOR_SWEEP_SECONDS, cls.sensor_sweep_seconds, minimum=0),
            spark_remote=env.text(SPARK_REMOTE, cls.spark_remote),
        )
        env.raise_problems("trending-tv settings are invalid:")
        return settings


@functools.cache
def settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings.from_env()


def absolute_lake_url(url: str) -> str:
    """A lake URL with a relative folder made absolute (the code server's working directory is not
    always the user's); s3:// and file:// URLs are kept as they are."""
    return url if "://" in url else str(Path(url).expanduser().absolute())


# ------------------------------------------------------------------- settings shown in the UI
class DataQualityResource(ConfigurableResource):
    """Thresholds of the asset checks."""

    tmdb_min_coverage: float = Field(
        default=Settings.tmdb_min_coverage,
        ge=0.0,
        le=1.0,
        description=(
            f"{TMDB_MIN_COVERAGE}: below this share of tracked shows with a TMDB record on a day, "
            "tmdb_coverage is an ERROR (ingest-host fetch-tmdb fails below the same share)"
        ),
    )
    counts_min_coverage: float = Field(
        default=Settings.counts_min_coverage,
        ge=0.0,
        le=1.0,
        description=(
            f"{COUNTS_MIN_COVERAGE}: below this share of (tracked show, query) pairs in a day's "
            "counts_raw file, raw_counts' raw_data_landed is an ERROR (ingest-host fetch-counts fails "
            "below the same share)"
        ),
    )
    collection_min_coverage: float = Field(
        default=Settings.collection_min_coverage,
        ge=0.0,
        le=1.0,
        description=(
            f"{COLLECTION_MIN_COVERAGE}: below this share of a day's 1,440 minutes covered by the "
            "collector (the ingest host's day coverage file), raw_tweets' collection_coverage warns, "
            "naming the missing and partial hours"
        ),
    )


class LakeWatchResource(ConfigurableResource):
    """Timing of the lake sensors (how often they tick is TRENDING_TV_SENSOR_INTERVAL_SECONDS, fixed
    when the definitions load)."""

    window_days: int = Field(
        default=Settings.sensor_window_days,
        ge=0,
        description=f"{SENSOR_WINDOW_DAYS}: today and this many days before are listed every tick",
    )
    grace_hours: float = Field(
        default=Settings.sensor_grace_hours,
        ge=0,
        description=f"{SENSOR_GRACE_HOURS}: after a day is over, run it even if incomplete",
    )
    settle_seconds: float = Field(
        default=Settings.sensor_settle_seconds,
        ge=0,
        description=f"{SENSOR_SETTLE_SECONDS}: ... once its newest file is at least this old",
    )
    sweep_seconds: float = Field(
        default=Settings.sensor_sweep_seconds,
        ge=0,
        description=f"{SENSOR_SWEEP_SECONDS}: listing budget of a tick for days older than the window",
    )

    def watch_settings(self) -> WatchSettings:
        return WatchSettings(
            window_days=self.window_days,
            grace=timedelta(hours=self.grace_hours),
            settle=timedelta(seconds=self.settle_seconds),
            sweep_seconds=self.sweep_seconds,
        )


class AlertsResource(ConfigurableResource):
    """Where the run-failure alert posts (Slack-compatible JSON); unset: the alert is only logged."""

    webhook_url: str | None = Field(
        default=None, description=f"{ALERT_WEBHOOK_URL} (read from the environment; often carries a token)"
    )


def settings_resources(current: Settings | None = None) -> dict[str, ConfigurableResource]:
    """The settings resources of every deployment, from `current` (default: this process's)."""
    current = current or settings()
    return {
        "data_quality": DataQualityResource(
            tmdb_min_coverage=current.tmdb_min_coverage,
            counts_min_coverage=current.counts_min_coverage,
            collection_min_coverage=current.collection_min_coverage,
        ),
        "lake_watch": LakeWatchResource(
            window_days=current.sensor_window_days,
            grace_hours=current.sensor_grace_hours,
            settle_seconds=current.sensor_settle_seconds,
            sweep_seconds=current.sensor_sweep_seconds,
        ),
        "alerts": AlertsResource(
            webhook_url=EnvVar(ALERT_WEBHOOK_URL) if current.alert_webhook_set else None
        ),
    }
