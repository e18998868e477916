"""Watching the lake's raw prefixes: what landed since the last look, and which days are ready to run.

Pure Python over the shared lake client (a folder or S3, `Lake.list(prefix)`), so the sensors, their
tests and the benchmark all drive the same code with an explicit clock. See README, "Automation and
the UI", for the decisions (cursor, completeness, run keys).

The cursor, in short:
- every object is identified by a token: a hash of (key, size, ETag or last-modified), so a rewritten
  object is a new object and two objects landing in the same second are two tokens;
- `seen` holds the tokens of objects whose last-modified is at or after the horizon `h`; objects older
  than the horizon count as seen. The horizon only moves to (start of the last *completed* sweep
  pass - upload allowance), so an object is compared against `seen` until a whole pass has listed
  its day after it became visible: nothing is missed, nothing is reported twice;
- each tick lists narrow per-day prefixes only: the last few days (every tick), the days waiting to
  run, and a slice of older days (a sweep that walks from the first partition to the window, within a
  time budget, and starts over), which is how late files for old days are found.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time as time_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ingest_host import layout
from ingest_host.lake import Lake, LakeObject
from trending_tv.partitions import FIRST_DAY

CURSOR_VERSION = 1


@dataclass(frozen=True)
class WatchSettings:
    """Knobs of the lake sensors (the `lake_watch` resource, trending_tv.settings)."""

    first_day: date = date.fromisoformat(FIRST_DAY)
    window_days: int = 2  # today and this many days before are listed on every tick
    grace: timedelta = timedelta(hours=3)  # after the day is over, run it even if incomplete
    settle: timedelta = timedelta(minutes=5)  # ... once its newest file is at least this old
    upload_allowance: timedelta = timedelta(hours=1)  # longest upload (last-modified -> visible)
    sweep_seconds: float = 0.5  # listing budget per tick: the window, then older days (at least one)


# ------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class RawSource:
    """One raw prefix of the lake and the asset its objects are recorded on."""

    name: str  # "tweets" | "tmdb" | "counts"
    asset_key: str  # raw_tweets | raw_tmdb | raw_counts
    root: str  # tweet_raw | tmdb_raw | counts_raw

    def day_prefix(self, day: date) -> str:
        return f"{self.root}/{day:%Y/%m/%d}/"

    def day_of_key(self, key: str) -> date | None:
        parts = key.split("/")
        try:
            return date(int(parts[1]), int(parts[2]), int(parts[3]))
        except (IndexError, ValueError):
            return None

    def days_affected(self, key: str) -> list[date]:
        """The partitions whose input includes this object (tweets: hour 00 and hour 23 files also
        feed the neighbouring day: docs/design.md, counting rule 1)."""
        day = self.day_of_key(key)
        if day is None:
            return []
        if self.root != layout.TWEET_RAW:
            return [day]
        hour = key.split("/")[4] if len(key.split("/")) > 5 else ""
        days = [day]
        if hour == "00":
            days.append(day - timedelta(days=1))
        elif hour == "23":
            days.append(day + timedelta(days=1))
        return days


TWEETS = RawSource("tweets", "raw_tweets", layout.TWEET_RAW)
TMDB = RawSource("tmdb", "raw_tmdb", layout.TMDB_RAW)
COUNTS = RawSource("counts", "raw_counts", layout.COUNTS_RAW)
# The table a counts day's run reads besides counts_raw: show_trends needs the day's tracked shows.
COUNTS_RUN_NEEDS = "tvshows"


def token(obj: LakeObject) -> str:
    """48-bit identity of one version of one object (a re-upload with new content is a new token)."""
    version = obj.etag or obj.last_modified.isoformat()
    digest = hashlib.sha1(f"{obj.key}\0{obj.size}\0{version}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:6]).decode()


def fingerprint(objects: Iterable[LakeObject]) -> str:
    digest = hashlib.sha1("\n".join(sorted(token(o) for o in objects)).encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _hour_files(objects: Iterable[LakeObject]) -> list[LakeObject]:
    return [o for o in objects if o.key.endswith((".json", ".json.gz"))]


# ------------------------------------------------------------------------------------- listing
class Listing:
    """Per-tick cache of `Lake.list` calls; a narrower prefix of one already listed is filtered
    locally. `prefixes` records every call made (tests assert they stay per-day)."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.cache: dict[str, list[LakeObject]] = {}
        self.prefixes: list[str] = []

    def list(self, prefix: str) -> list[LakeObject]:
        for listed, objects in self.cache.items():
            if prefix.startswith(listed):
                return [o for o in objects if o.key.startswith(prefix)]
        self.prefixes.append(prefix)
        objects = self.lake.list(prefix)
        self.cache[prefix] = objects
        return objects


# --------------------------------------------------------------------------------- readiness
@dataclass
class DayStatus:
    day: date
    ready: bool
    reason: str
    fingerprint: str = ""
    has_own_data: bool = True
    hours_present: int = 0


def counts_day_status(listing: Listing, day: date, now: datetime, settings: WatchSettings) -> DayStatus:
    """Is the counts run of `day` (raw_counts, show_volume and show_trends after them) ready? The
    day's counts file has landed and settled, and the day's tvshows partition exists (the posts and
    TMDB run of the day wrote it; show_trends needs the day's names). The fingerprint covers the
    counts file only: a rewritten file (fetch-counts resumed a partial day) is a new run."""
    counts = _hour_files(listing.list(COUNTS.day_prefix(day)))
    status = DayStatus(day, False, "", fingerprint(counts), bool(counts))
    if not counts:
        status.reason = "no counts landed"
        return status
    newest = max(o.last_modified for o in counts)
    tvshows = [
        o
        for o in listing.list(layout.table_partition_prefix(COUNTS_RUN_NEEDS, day))
        if o.key.endswith(".parquet")
    ]
    if settings.settle and now - newest < settings.settle:
        status.reason = f"counts still landing (newest {newest:%H:%M:%S})"
    elif not tvshows:
        status.reason = f"waiting for the day's {COUNTS_RUN_NEEDS} (the day's posts and TMDB run)"
    else:
        status.ready, status.reason = True, "counts landed and the day's tracked shows are in the lake"
    return status


def day_status(listing: Listing, source: RawSource, day: date, now: datetime, settings: WatchSettings):
    """Is `day` ready to run? (The counts source has its own run: `counts_day_status`.) Both sources
    of the day's run are needed by its assets, so both are checked:

    - posts: at least one hourly file, and either all 24 hours plus hour 00 of the next day, or the
      day over for `grace` and its newest file older than `settle` (an upload still in progress is
      waited for);
    - TMDB: the day's details file and tracked-show list.

    The fingerprint covers every input of the day (its 24 hours, hour 23 of the day before, hour 00
    of the day after, the TMDB files), so it changes exactly when the day's inputs change."""
    if source is COUNTS:
        return counts_day_status(listing, day, now, settings)
    tweets = _hour_files(listing.list(TWEETS.day_prefix(day)))
    before = _hour_files(listing.list(f"{TWEETS.day_prefix(day - timedelta(days=1))}23/"))
    after = _hour_files(listing.list(f"{TWEETS.day_prefix(day + timedelta(days=1))}00/"))
    tmdb = listing.list(TMDB.day_prefix(day))
    hours = {o.key.split("/")[4] for o in tweets}
    own = tweets if source is TWEETS else tmdb
    status = DayStatus(day, False, "", fingerprint([*tweets, *before, *after, *tmdb]), bool(own), len(hours))
    tmdb_keys = {o.key for o in tmdb}
    if not tweets:
        status.reason = "no posts landed"
    elif not {layout.tmdb_day_key(day), layout.tracked_shows_day_key(day)} <= tmdb_keys:
        status.reason = "waiting for the TMDB details file and tracked-show list"
    elif len(hours) == 24 and after:
        status.ready, status.reason = True, "complete: 24 hours and hour 00 of the next day"
    else:
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        newest = max(o.last_modified for o in [*tweets, *before, *after, *tmdb])
        if now < day_end + settings.grace:
            status.reason = (
                f"day open: {len(hours)}/24 hours, waiting until {day_end + settings.grace:%Y-%m-%d %H:%M}"
            )
        elif settings.settle and now - newest < settings.settle:
            status.reason = f"{len(hours)}/24 hours; files still landing (newest {newest:%H:%M:%S})"
        else:
            status.ready = True
            status.reason = f"day over plus grace: {len(hours)}/24 hours" + (
                "" if after else ", no hour 00 of D+1"
            )
    return status


# ---------------------------------------------------------------------------------- evaluation
@dataclass
class WatchState:
    horizon: float = 0.0  # objects last-modified before this count as seen
    seen: dict[str, int] = field(default_factory=dict)  # token -> last-modified (epoch s, floored)
    sweep_next: str | None = None  # next old day the sweep lists; None: start a new pass
    pass_started: float | None = None
    last_pass: float | None = None  # start of the last completed pass; None until the first completes
    pending: list[str] = field(default_factory=list)  # days with new inputs, not yet run

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "h": self.horizon,
                "s": self.seen,
                "sw": self.sweep_next,
                "ps": self.pass_started,
                "lp": self.last_pass,
                "p": self.pending,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def load(cls, cursor: str | None) -> WatchState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"lake sensor cursor version {data.get('v')!r} is not {CURSOR_VERSION}")
        return cls(data["h"], data["s"], data["sw"], data["ps"], data["lp"], data["p"])


@dataclass
class RunToRequest:
    day: date
    run_key: str
    status: DayStatus


@dataclass
class Evaluation:
    arrivals: dict[date, list[LakeObject]]  # newly seen objects by the day of their key
    runs: list[RunToRequest]
    waiting: dict[date, str]  # pending days and why they wait
    cursor: str
    prefixes: list[str]  # every prefix listed this tick
    baseline_days: list[date]  # history adopted on the first pass (recorded, not run)
    swept: tuple[date, date] | None  # the old days listed this tick (first, last)
    pass_completed: bool = False


def evaluate(
    lake: Lake,
    source: RawSource,
    cursor: str | None,
    now: datetime,
    settings: WatchSettings = WatchSettings(),
    already_requested: Callable[[str], bool] | None = None,
    last_partition: date | None = None,
) -> Evaluation:
    """One sensor tick for `source`: list, record arrivals, decide which days run."""
    state = WatchState.load(cursor)
    listing = Listing(lake)
    today = now.astimezone(UTC).date()
    last_partition = last_partition or today - timedelta(days=1)
    window_start = max(settings.first_day, today - timedelta(days=settings.window_days))
    sweep_end = today - timedelta(days=settings.window_days + 1)

    # which days to list: the window on every tick, then old days within the tick's time budget
    started = time_module.perf_counter()
    window = [window_start + timedelta(days=i) for i in range((today - window_start).days + 1)]
    for window_day in window:
        listing.list(source.day_prefix(window_day))
    swept: list[date] = []
    pass_completed = False
    first_pass = state.last_pass is None
    if state.sweep_next is None:
        state.sweep_next, state.pass_started = settings.first_day.isoformat(), _epoch(now)
    day = date.fromisoformat(state.sweep_next)
    while day <= sweep_end:  # at least one old day per tick, so every pass ends
        swept.append(day)
        listing.list(source.day_prefix(day))
        day += timedelta(days=1)
        if time_module.perf_counter() - started > settings.sweep_seconds:
            break
    if day > sweep_end:
        pass_completed = True
        state.last_pass, state.sweep_next, state.pass_started = state.pass_started, None, None
    else:
        state.sweep_next = day.isoformat()

    # arrivals: objects not seen before, on every listed day
    arrivals: dict[date, list[LakeObject]] = {}
    pending = set(state.pending)
    baseline: set[date] = set()
    for listed_day in [*swept, *window]:
        adopt = first_pass and listed_day < window_start
        for obj in listing.list(source.day_prefix(listed_day)):
            tok = token(obj)
            lm = _epoch(obj.last_modified)
            if lm < state.horizon or tok in state.seen:
                continue
            state.seen[tok] = int(lm)
            arrivals.setdefault(listed_day, []).append(obj)
            if adopt:
                baseline.add(listed_day)
                continue
            pending.update(d.isoformat() for d in source.days_affected(obj.key) if settings.first_day <= d)

    # pending days: run the ready ones, drop the ones without data of this source
    runs: list[RunToRequest] = []
    waiting: dict[date, str] = {}
    checked = 0
    for pending_day in sorted(pending, reverse=True):  # newest first: recent days are never starved
        day = date.fromisoformat(pending_day)
        if day > last_partition:
            waiting[day] = "the day is not over"
            continue
        if checked and time_module.perf_counter() - started > 2 * settings.sweep_seconds:
            waiting[day] = "not checked this tick (time budget spent)"  # many stuck days: next tick
            continue
        checked += 1
        status = day_status(listing, source, day, now, settings)
        if status.ready:
            pending.discard(pending_day)
            run_key = f"{day.isoformat()}:{status.fingerprint}"
            if already_requested is None or not already_requested(run_key):
                runs.append(RunToRequest(day, run_key, status))
        elif not status.has_own_data:
            pending.discard(pending_day)
        else:
            waiting[day] = status.reason
    state.pending = sorted(pending)
    runs.sort(key=lambda r: r.day)

    if pass_completed and state.last_pass is not None:
        state.horizon = max(state.horizon, state.last_pass - settings.upload_allowance.total_seconds())
        state.seen = {t: lm for t, lm in state.seen.items() if lm >= int(state.horizon)}
    return Evaluation(
        arrivals=arrivals,
        runs=runs,
        waiting=waiting,
        cursor=state.dump(),
        prefixes=listing.prefixes,
        baseline_days=sorted(baseline),
        swept=(swept[0], swept[-1]) if swept else None,
        pass_completed=pass_completed,
    )
