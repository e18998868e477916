"""`trending-tv-sample-lake`: write the seeded sample lake and its ground truth into a lake.

trending-tv-sample-lake --lake ./lake                # 9 days, ~3,300 lines a day, a few seconds
trending-tv-sample-lake --lake s3://bucket/prefix --full-size --force
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime

import click
from tqdm import tqdm

from ingest_host.lake import Lake
from trending_tv_sample.generator import (
    DEFAULT_END,
    DEFAULT_SCALE,
    DEFAULT_SEED,
    DEFAULT_START,
    generate_sample_lake,
    lake_is_empty,
)


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lake",
    default=lambda: os.environ.get("TRENDING_TV_LAKE", "./lake"),
    show_default="$TRENDING_TV_LAKE or ./lake",
    help="Lake root: a folder or s3://bucket/prefix.",
)
@click.option(
    "--start", type=click.DateTime(["%Y-%m-%d"]), default=DEFAULT_START.isoformat(), show_default=True
)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=DEFAULT_END.isoformat(), show_default=True)
@click.option(
    "--scale",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help=f"Fraction of the published daily figures to generate [default: {DEFAULT_SCALE}].",
)
@click.option(
    "--full-size",
    is_flag=True,
    help="Full days: scale 1.0, ~120,000 posts (~0.6 GB) a day, complete v1.1/v2 objects; minutes.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Same seed, same bytes.")
@click.option("--force", is_flag=True, help="Write into a lake that already holds objects.")
def main(
    lake: str, start: datetime, end: datetime, scale: float | None, full_size: bool, seed: int, force: bool
) -> None:
    """Write the sample lake (raw posts, TMDB pulls, tracked lists) and sample_truth/ into LAKE."""
    target = Lake.from_url(lake)
    first, last = _day(start), _day(end)
    if last < first:
        raise click.BadParameter(f"--end {last} is before --start {first}", param_hint="--end")
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


if __name__ == "__main__":
    main()
