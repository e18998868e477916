"""`ingest-host stream`: the X API v2 filtered stream (tweepy `StreamingClient`) into the buffer.

- Rules are synced on start (rules.py).
- `on_data` is overridden: the raw line is committed to the buffer first, then nothing else can
  end the stream (tweepy's own parsing ends it on a missing rule tag, a created_at without
  milliseconds, a post without text or a line that is not JSON: we never call it).
- 401/403 stop the process at once with a clear message (tweepy would retry forever); 429 and
  network errors are left to tweepy's backoff (X's published waits); an unexpected exception that
  ends tweepy's loop is followed by a reconnect with our own backoff.
- The hourly cap comes from money: TRENDING_TV_STREAM_BUDGET_USD a month at
  TRENDING_TV_PRICE_PER_POST_READ, spread evenly over the month's hours left, within the monthly
  limit shared with fetch-counts (whose planned spend is set aside first). It is spread over the
  hour: the hour is cut into slices and the stream pauses (disconnects) once a slice's share is
  used, resuming at the next slice. Minutes connected are recorded per hour, and so are the
  minutes the cap keeps it paused (a slice's share or the hour's cap used, or nothing left to
  spend: cap 0): a sample by design, covered, not an outage.
- A buffer that cannot store a line (a full disk) stops the stream: StorageError, raised from the
  buffer's error, so the CLI can tell a full disk (exit 4) from other failures.
- SIGTERM/SIGINT (the `stop` event) disconnect and return cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import requests
import tweepy
from requests.adapters import HTTPAdapter
from tenacity import Retrying, before_sleep_log, retry_if_exception_type, stop_after_attempt, wait_exponential

from ingest_host.budget import SpendLedger, counts_cost_per_day, month_bounds, month_spend, stream_reads_left
from ingest_host.buffer import DUPLICATE, HOUR_MS, POST, Buffer, hour_dt, hour_of, now_ms
from ingest_host.config import Settings
from ingest_host.rules import build_rules, sync_rules
from ingest_host.shows import load_tracked_shows

log = logging.getLogger("ingest_host.stream")

TWITTER_HOST = "https://api.twitter.com"
EXPANSIONS = ["referenced_tweets.id"]
TWEET_FIELDS = ["created_at", "entities", "note_tweet", "referenced_tweets", "lang"]


class AuthError(RuntimeError):
    """X refused the bearer token (401) or the app's access (403)."""


class StorageError(RuntimeError):
    """The buffer could not store a line: stop rather than pay for posts we cannot keep."""


class _RewriteAdapter(HTTPAdapter):
    """Send requests for `https://api.twitter.com` to the configured base URL, with a timeout."""

    def __init__(self, base: str, timeout: float):
        super().__init__()
        self.base = base
        self.default_timeout = timeout

    def send(self, request, **kwargs):  # type: ignore[override]
        if request.url.startswith(TWITTER_HOST) and self.base != TWITTER_HOST:
            request.url = self.base + request.url[len(TWITTER_HOST) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)


def mount_base_url(session: requests.Session, base: str, timeout: float) -> None:
    session.mount(TWITTER_HOST, _RewriteAdapter(base.rstrip("/"), timeout))


class CapGuard:
    """Decides whether the stream may run now: the hourly cap (the month's post reads left, from the
    stream's dollar budget and the limit it shares with fetch-counts, spread evenly over the hours
    left, never above TRENDING_TV_MAX_POSTS_PER_HOUR), and its spread over the hour's slices."""

    def __init__(
        self,
        buffer: Buffer,
        settings: Settings,
        ledger: SpendLedger | None = None,
        counts_per_day_usd: float = 0.0,
    ):
        self.buffer = buffer
        self.settings = settings
        self.ledger = ledger
        self.counts_per_day_usd = counts_per_day_usd
        self.max_per_hour = settings.max_posts_per_hour
        self.slices = settings.slices_per_hour
        self._hour: int | None = None
        self._received = 0
        self._cap = 0

    def _refresh(self, now: int) -> None:
        hour = hour_of(now)
        if hour == self._hour:
            return
        moment = datetime.fromtimestamp(now / 1000, tz=UTC)
        _, month_end = month_bounds(moment)
        spend = month_spend(self.settings, moment, self.buffer, self.ledger, reads_until=hour_dt(hour))
        left = stream_reads_left(self.settings, spend, moment, self.counts_per_day_usd)
        hours_left = max(1, (int(month_end.timestamp() * 1000) - hour) // HOUR_MS)
        self._cap = min(self.max_per_hour, left // hours_left)
        self._hour = hour
        self._received = self.buffer.received_posts(hour, hour + HOUR_MS)

    def cap(self, now: int) -> int:
        self._refresh(now)
        return self._cap

    def note_post(self, now: int) -> None:
        self._refresh(now)
        self._received += 1

    def quota_now(self, now: int) -> int:
        """Posts allowed from the start of the hour to the end of the current slice."""
        self._refresh(now)
        slice_index = min(self.slices - 1, (now - self._hour) * self.slices // HOUR_MS)  # type: ignore[operator]
        return math.ceil(self._cap * (slice_index + 1) / self.slices)

    def resume_at(self, now: int) -> int | None:
        """None when the stream may run now, else when it may resume (epoch ms)."""
        self._refresh(now)
        hour = self._hour
        assert hour is not None
        if self._received >= self._cap:
            # also at cap 0 (nothing left to spend this month): the hour is a sample of nothing by
            # design, recorded as capped and covered, never as missing
            self.buffer.mark_cap_reached(hour, now, self._cap)
            return hour + HOUR_MS
        if self._received >= self.quota_now(now):
            slice_ms = HOUR_MS // self.slices
            return hour + ((now - hour) // slice_ms + 1) * slice_ms
        return None


class XStream(tweepy.StreamingClient):
    """tweepy's StreamingClient with a defensive `on_data` writing to the buffer. `clock` (epoch ms)
    stamps receipts, coverage and cap decisions."""

    def __init__(
        self, settings: Settings, buffer: Buffer, guard: CapGuard, clock: Callable[[], int] = now_ms
    ):
        super().__init__(settings.require("x_bearer_token"), daemon=True, wait_on_rate_limit=False)
        self.settings = settings
        self.buffer = buffer
        self.guard = guard
        self.clock = clock
        self.base = settings.x_api_url.rstrip("/")
        mount_base_url(self.session, self.base, settings.http_timeout)
        self.session.hooks["response"].append(self._remember_response)
        self._response: requests.Response | None = None
        self.reset()

    # -- state shared with the supervising thread
    def reset(self) -> None:
        self.connected = False
        self.pause_requested = False
        self.fatal_status: int | None = None
        self.crashed: BaseException | None = None
        self.storage_error: BaseException | None = None

    def _remember_response(self, response: requests.Response, *args, **kwargs) -> None:
        if response.url.endswith("/stream") or "/stream?" in response.url:
            self._response = response

    def abort(self) -> None:
        """Stop reading now (not at the next keep-alive): close the live response."""
        self.disconnect()
        response = self._response
        if response is not None:
            try:
                response.raw._fp.fp.raw._sock.shutdown(2)  # type: ignore[union-attr]
            except Exception:
                with contextlib.suppress(Exception):
                    response.close()

    def _connect(self, method, endpoint, **kwargs):  # type: ignore[override]
        self.session.headers["Authorization"] = f"Bearer {self.bearer_token}"
        kwargs.setdefault("timeout", self.settings.stream_read_timeout)
        url = f"{self.base}/2/tweets/{endpoint}/stream"
        tweepy.streaming.BaseStream._connect(self, method, url, **kwargs)

    # -- tweepy hooks
    def on_connect(self) -> None:
        self.connected = True
        self._mark()
        log.info("stream connected")

    def _mark(self, at: int | None = None) -> None:
        at = self.clock() if at is None else at
        try:
            self.buffer.mark_minute(at, cap=self.guard.cap(at))
        except Exception:
            log.exception("could not record coverage")

    def on_data(self, raw_data: bytes) -> None:  # type: ignore[override]
        try:
            received = self.clock()
            accepted = self.buffer.accept(raw_data, received)
        except Exception as error:  # the buffer cannot store: stop streaming (nothing else may)
            self.storage_error = error
            self.disconnect()
            return
        try:
            self._mark(received)
            if accepted.kind in (POST, DUPLICATE):
                self.guard.note_post(received)
                if self.guard.resume_at(received) is not None:
                    self.pause_requested = True
                    self.disconnect()
        except Exception:
            log.exception("cap check failed (the line was stored)")

    def on_keep_alive(self) -> None:
        try:
            at = self.clock()
            self.buffer.count_keepalive(at)
            self._mark(at)
        except Exception:
            log.exception("could not count a keep-alive")

    def on_request_error(self, status_code: int) -> None:
        if status_code in (401, 403):
            self.fatal_status = status_code
            self.disconnect()
            return
        log.warning("stream HTTP %s: tweepy backs off and reconnects", status_code)

    def on_connection_error(self) -> None:
        self.connected = False
        if self.running:
            log.warning("stream connection error: reconnecting with backoff")

    def on_closed(self, response) -> None:
        self.connected = False
        log.warning("stream closed by the server: reconnecting")

    def on_exception(self, exception: Exception) -> None:
        self.crashed = exception
        log.error("stream loop ended: %s: %s", type(exception).__name__, exception)

    def on_disconnect(self) -> None:
        self.connected = False


_RETRYABLE = (
    tweepy.TooManyRequests,
    tweepy.TwitterServerError,
    requests.ConnectionError,
    requests.Timeout,
)


def _auth_message(status: int) -> str:
    if status == 401:
        return "X rejected the bearer token (HTTP 401 Unauthorized): check X_BEARER_TOKEN."
    return (
        "X refused access (HTTP 403 Forbidden): the app's access level does not include the "
        "filtered stream, or the app is suspended."
    )


def sync_with_retries(client: XStream, settings: Settings, shows=None) -> None:
    shows = shows if shows is not None else load_tracked_shows(settings)
    desired = build_rules(list(shows), settings.rule_limit, settings.rule_max_chars)
    retrying = Retrying(
        stop=stop_after_attempt(settings.retry_attempts),
        wait=wait_exponential(multiplier=settings.retry_wait, max=settings.retry_wait_max),
        retry=retry_if_exception_type(_RETRYABLE),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    try:
        result = retrying(sync_rules, client, desired)
    except tweepy.Unauthorized as error:
        raise AuthError(_auth_message(401)) from error
    except tweepy.Forbidden as error:
        raise AuthError(_auth_message(403)) from error
    log.info(
        "rules synced for %d shows: %d added, %d deleted, %d kept, %d others' left alone",
        len(shows),
        result.added,
        result.deleted,
        result.kept,
        result.foreign,
    )


def _first_error(error: BaseException) -> BaseException:
    """The error that started `error`'s chain: after a full disk SQLite's own rollback fails too
    ("no transaction is active"), and the disk is the news."""
    for _ in range(20):
        earlier = error.__cause__ or error.__context__
        if earlier is None:
            break
        error = earlier
    return error


def run_stream(settings: Settings, stop: threading.Event, clock: Callable[[], int] = now_ms) -> None:
    """Stream until `stop` is set. Raises AuthError (401/403) or StorageError (raised from the
    buffer's error: a full disk is recognisable with `buffer.is_disk_full`). `clock` gives the time
    in epoch ms (tests pin it; pauses still wait in real time)."""
    shows = load_tracked_shows(settings)
    with (
        Buffer(settings.buffer, settings.sqlite_synchronous) as buffer,
        SpendLedger(settings.buffer) as ledger,
    ):
        guard = CapGuard(buffer, settings, ledger, counts_cost_per_day(settings, len(shows)))
        client = XStream(settings, buffer, guard, clock)
        sync_with_retries(client, settings, shows)
        failures = 0
        while not stop.is_set():
            now = clock()
            resume = guard.resume_at(now)
            if resume is not None:
                # paused by the cap on purpose until `resume`: covered (a sample), not an outage;
                # recorded ahead, as the stream would collect nothing in these minutes anyway
                buffer.mark_paused(now, resume)
                log.info(
                    "cap: %d posts this hour (cap %d); paused until %s",
                    guard._received,
                    guard.cap(now),
                    datetime.fromtimestamp(resume / 1000, tz=UTC).strftime("%H:%M:%S"),
                )
                stop.wait(max(0.05, (resume - now) / 1000))
                continue
            client.reset()
            thread = client.filter(threaded=True, expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS)
            while thread.is_alive() and not stop.is_set():
                if client.pause_requested or client.fatal_status or client.storage_error:
                    break
                if client.connected:
                    client._mark()
                thread.join(0.2)
            client.abort()
            thread.join(settings.stop_timeout)
            if client.fatal_status:
                raise AuthError(_auth_message(client.fatal_status))
            if client.storage_error:
                raise StorageError(
                    f"the buffer ({settings.buffer}) could not store a line: "
                    f"{_first_error(client.storage_error)}; "
                    "the stream stopped rather than pay for posts it cannot keep"
                ) from client.storage_error
            if client.crashed is not None and not stop.is_set():
                failures += 1
                wait = min(settings.retry_wait_max, settings.retry_wait * 2 ** (failures - 1))
                log.warning("reconnecting in %.1f s", wait)
                stop.wait(wait)
            else:
                failures = 0
        log.info("stream stopped")
