"""`trending-tv-sample-lake`: write the seeded sample lake and its ground truth into a lake, or replay
the sample's stream into the ingest host's buffer.

trending-tv-sample-lake write --lake ./lake            # 9 days, ~3,300 lines a day, a few seconds
trending-tv-sample-lake write --lake s3://bucket/prefix --full-size --force
trending-tv-sample-lake replay --start 2020-11-27 --end 2020-11-28   # then: ingest-host upload --now ...
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime

import click

from ingest_host.lake import Lake
from trending_tv_sample.catalog import FIRST_DAY, LAST_DAY
from trending_tv_sample.generator import (
    DEFAULT_SCALE,
    DEFAULT_SEED,
    generate_sample_lake,
    lake_is_empty,
)

_DAY = click.DateTime(["%Y-%m-%d"])
# The sample's days and size, the same for `write` and `replay` (same arguments, same posts).
_START = click.option("--start", type=_DAY, default=FIRST_DAY.isoformat(), show_default=True)
_END = click.option("--end", type=_DAY, default=LAST_DAY.isoformat(), show_default=True)
_SCALE = click.option(
    "--scale",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help=f"Fraction of the published daily figures [default: {DEFAULT_SCALE}, ~3,300 lines a day].",
)


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    first, last = _day(start), _day(end)
    if last < first:
        raise click.BadParameter(f"--end {last} is before --start {first}", param_hint="--end")
    return first, last


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The project's seeded sample: a lake with its ground truth, or the stream behind its posts."""


@main.command()
@click.option(
    "--lake",
    default=lambda: os.environ.get("TRENDING_TV_LAKE", "./lake"),
    show_default="$TRENDING_TV_LAKE or ./lake",
    help="Lake root: a folder or s3://bucket/prefix.",
)
@_START
@_END
@_SCALE
@click.option(
    "--full-size",
    is_flag=True,
    help="Full days: scale 1.0, ~120,000 posts (~0.6 GB) a day, complete v1.1/v2 objects; minutes.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Same seed, same bytes.")
@click.option("--force", is_flag=True, help="Write into a lake that already holds objects.")
def write(
    lake: str, start: datetime, end: datetime, scale: float | None, full_size: bool, seed: int, force: bool
) -> None:
    """Write the sample lake (raw posts, TMDB pulls, tracked lists) and sample_truth/ into LAKE."""
    from tqdm import tqdm  # the pipeline's dependency: `replay` runs on an ingest-only install

    target = Lake.from_url(lake)
    first, last = _days(start, end)
    if full_size and scale is not None and scale != 1.0:
        raise click.BadParameter("--full-size generates scale 1.0; drop --scale", param_hint="--scale")
    try:
        empty = lake_is_empty(target)
    except Exception as error:  # an unreachable bucket, missing credentials, ...
        raise click.ClickException(f"cannot list the lake {target.url}: {error}") from error
    if not empty and not force:
        raise click.ClickException(
            f"the lake {target.url} already holds objects; the sample would replace its raw files for "
            f"{first}..{last}, config/tracked_shows.csv and sample_truth/. Pass --force to do so, or "
            "choose an empty --lake."
        )
    files = ((last - first).days + 1) * 25  # 24 hour files and one TMDB pull a day
    started = time.monotonic()  # only for the duration printed below, never in the data
    with tqdm(total=files, unit="file", desc="sample lake", disable=None) as bar:
        summary = generate_sample_lake(
            target,
            start=first,
            end=last,
            scale=scale,
            full_size=full_size,
            seed=seed,
            progress=lambda _key: bar.update(),
        )
    click.echo(f"{summary.describe()} ({time.monotonic() - started:.1f} s)")


@main.command()
@click.option(
    "--env-file", type=click.Path(dir_okay=False), default=None, help="ingest-host settings file (./.env)."
)
@_START
@_END
@_SCALE
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Same seed, same lines.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Replay rate relative to the messages' own clock (0: as fast as possible).",
)
def replay(
    env_file: str | None, start: datetime, end: datetime, scale: float | None, seed: int, speed: float
) -> None:
    """Feed the ingest host's buffer (TRENDING_TV_BUFFER) with the sample's X API v2 stream: posts,
    redeliveries, notices, junk lines and keep-alives, each at its receipt time, through the path
    `ingest-host stream` uses. Then `ingest-host upload --now <after the sample>` files the hours."""
    from ingest_host.config import ConfigError, load_settings
    from trending_tv_sample.replay import replay_sample

    first, last = _days(start, end)
    try:
        settings = load_settings(env_file)
    except ConfigError as error:
        raise click.UsageError(f"configuration error: {error}") from error
    report = replay_sample(settings, first, last, scale=scale, seed=seed, speed=speed)
    click.echo("replayed: " + json.dumps(report.by_kind, sort_keys=True))


if __name__ == "__main__":
    main()
