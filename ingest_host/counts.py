"""`ingest-host fetch-counts`: exact hourly X post counts per tracked show for one UTC day.

Per show, three queries built from the same tracked list and terms as the stream rules (rules.py):
its hashtags; its name and aliases as exact phrases; either. Each goes through tweepy's
`Client.get_recent_tweets_count` (granularity hour, the day's window, `next_token` pages). A query
longer than TRENDING_TV_COUNTS_QUERY_MAX_CHARS is split into disjoint parts whose counts add up
exactly, or refused when that cannot be done (rules.split_exact); a refused query is missing.

Landed as received: `counts_raw/YYYY/MM/DD/YYYY-MM-DD.json`, one JSON line per show and query with
the query, its parts, the window, every response body as the exact text received, and the
requests and cost it took. A rerun keeps every line already landed and fetches only the missing
pairs, so a day only ever gains lines (never a worse file). Coverage, missing shows, requests and
spend go to `ingest_meta/counts_raw/YYYY/MM/DD/YYYY-MM-DD.json`; each request is also recorded in
the local spend ledger (budget.py) against the monthly limit shared with the stream.

429 waits until X's `x-rate-limit-reset` (and a response saying none are left waits before the
next request); 5xx, network errors and malformed bodies are retried with exponential backoff
(tenacity). A pair still failing after the retries stops the run (X is probably down; the next
run resumes); 400 (query refused by X) marks that pair missing and goes on; 401/403 stop at once.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import requests
import tweepy
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ingest_host.budget import SpendLedger, SpendLimitReached, month_spend
from ingest_host.buffer import Buffer
from ingest_host.config import Settings
from ingest_host.lake import Lake
from ingest_host.layout import counts_day_key, counts_day_stats_key
from ingest_host.rules import COUNTS_QUERY_KINDS, CountsQuery, QueryTooLong, counts_queries
from ingest_host.shows import load_tracked_shows
from ingest_host.stream import AuthError, mount_base_url
from ingest_host.upload import durable_write, verify_object

log = logging.getLogger("ingest_host.counts")

Clock = Callable[[], datetime]
GRANULARITY = "hour"
WINDOW_DAYS = 7  # GET /2/tweets/counts/recent covers the last seven days
END_MARGIN = timedelta(seconds=30)  # X wants end_time at least 10 s in the past
RESET_WAIT_MAX = 16 * 60.0  # one 15-minute rate-limit window, and a margin


class _NextTokenNotice(logging.Filter):
    """Drops tweepy's "Unexpected parameter: next_token" warning (see CountsFetcher._request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Unexpected parameter: next_token" not in record.getMessage()


logging.getLogger("tweepy.client").addFilter(_NextTokenNotice())


class MalformedCounts(ValueError):
    """A 2xx answer whose body is not a counts response."""


class DayOutOfRange(ValueError):
    """The day is not finished yet, or older than the endpoint's seven days."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def fetchable_days(now: datetime) -> list[date]:
    """Finished UTC days whose whole window is still inside the endpoint's seven days, oldest first."""
    days = []
    day = (now - END_MARGIN).date() - timedelta(days=1)
    while True:
        start, _ = day_window(day)
        if start < now - timedelta(days=WINDOW_DAYS):
            break
        days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def check_fetchable(day: date, now: datetime) -> None:
    start, end = day_window(day)
    if end + END_MARGIN > now:
        raise DayOutOfRange(f"{day} is not over yet (it ends {_iso(end)}; now {_iso(now)})")
    if start < now - timedelta(days=WINDOW_DAYS):
        raise DayOutOfRange(
            f"{day} starts more than {WINDOW_DAYS} days ago: GET /2/tweets/counts/recent covers the last "
            f"{WINDOW_DAYS} days only (fetchable now: {', '.join(map(str, fetchable_days(now))) or 'none'})"
        )


def validate_body(text: str) -> dict:
    """The parsed body, or MalformedCounts: an object whose `data` (absent when nothing matched) is
    a list of {start, end, tweet_count} buckets."""
    try:
        body = json.loads(text)
    except ValueError as error:
        raise MalformedCounts(f"not JSON: {text[:80]!r}") from error
    if not isinstance(body, dict) or not isinstance(body.get("meta", {}), dict):
        raise MalformedCounts(f"not a counts object: {text[:80]!r}")
    data = body.get("data", [])
    if not isinstance(data, list) or not all(
        isinstance(b, dict)
        and isinstance(b.get("start"), str)
        and isinstance(b.get("end"), str)
        and isinstance(b.get("tweet_count"), int)
        for b in data
    ):
        raise MalformedCounts(f"data is not a list of count buckets: {text[:80]!r}")
    if "data" not in body and "errors" in body:
        raise MalformedCounts(f"errors without data: {text[:200]!r}")
    return body


@dataclass
class CountsReport:
    day: date
    key: str = ""
    shows: int = 0
    pairs_expected: int = 0
    pairs_present: int = 0
    fetched: int = 0  # pairs landed by this run
    kept: int = 0  # pairs already landed, not fetched again
    missing: dict[str, str] = field(default_factory=dict)  # "show_id:kind" -> reason
    attempts: int = 0
    billed: int = 0
    cost_usd: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None
    wrote: bool = False

    @property
    def coverage(self) -> float:
        return self.pairs_present / self.pairs_expected if self.pairs_expected else 0.0

    @property
    def missing_shows(self) -> list[int]:
        return sorted({int(k.split(":")[0]) for k in self.missing})


class CountsFetcher:
    """tweepy's real Client (raw `requests.Response` kept) with retries, rate-limit waits and the
    spend limit checked before every request."""

    def __init__(
        self,
        settings: Settings,
        ledger: SpendLedger,
        spent_before_usd: float,
        clock: Clock,
        sleep: Callable[[float], None],
        report: CountsReport,
    ):
        self.settings = settings
        self.ledger = ledger
        self.spent_before = spent_before_usd
        self.clock = clock
        self.sleep = sleep
        self.report = report
        self.client = tweepy.Client(
            settings.require("x_bearer_token"), return_type=requests.Response, wait_on_rate_limit=False
        )
        mount_base_url(self.client.session, settings.x_api_url, settings.http_timeout)
        self._backoff = wait_exponential(multiplier=settings.retry_wait, max=settings.retry_wait_max)

    # -- waits
    def _wait(self, retry_state) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, tweepy.TooManyRequests) and error.reset_time is not None:
            return min(RESET_WAIT_MAX, max(0.0, error.reset_time - self.clock().timestamp()) + 1.0)
        return self._backoff(retry_state)

    def _before_sleep(self, retry_state) -> None:
        error = retry_state.outcome.exception()
        log.warning(
            "counts request failed (%s: %s); retry %d in %.2f s",
            type(error).__name__,
            str(error)[:200],
            retry_state.attempt_number,
            retry_state.next_action.sleep if retry_state.next_action else 0.0,
        )

    # -- one request
    def _record(self, status: int | None, billed: bool, day: date, show_id: int, kind: str) -> None:
        price = self.settings.price_per_counts_request
        self.ledger.record(
            self.clock(),
            status=status,
            billed=billed,
            cost_usd=price,
            day=day,
            show_id=show_id,
            query_kind=kind,
        )
        self.report.attempts += 1
        label = str(status) if status is not None else "network"
        self.report.by_status[label] = self.report.by_status.get(label, 0) + 1
        if billed:
            self.report.billed += 1
            self.report.cost_usd += price

    def _request(
        self,
        query: str,
        start: datetime,
        end: datetime,
        token: str | None,
        day: date,
        show_id: int,
        kind: str,
    ) -> tuple[requests.Response, dict]:
        price = self.settings.price_per_counts_request
        limit = self.settings.monthly_spend_limit_usd
        if self.spent_before + self.report.cost_usd + price > limit + 1e-9:
            raise SpendLimitReached(
                f"the next counts request would take this month's X spend to "
                f"${self.spent_before + self.report.cost_usd + price:,.3f}, above "
                f"TRENDING_TV_MONTHLY_SPEND_LIMIT_USD ${limit:,.2f}"
            )
        params: dict[str, object] = {"granularity": GRANULARITY, "start_time": start, "end_time": end}
        if token:
            # X documents next_token for this endpoint; tweepy 4.17 does not list it (it logs a
            # warning and sends it as given), and its Paginator would send pagination_token.
            params["next_token"] = token
        try:
            with warnings.catch_warnings():
                # tweepy warns about next_token with the deprecated Logger.warn (see above)
                warnings.simplefilter("ignore", DeprecationWarning)
                response = self.client.get_recent_tweets_count(query, **params)
        except tweepy.HTTPException as error:
            self._record(error.response.status_code, False, day, show_id, kind)
            raise
        except (requests.ConnectionError, requests.Timeout):
            self._record(None, False, day, show_id, kind)
            raise
        self._record(response.status_code, True, day, show_id, kind)
        try:
            text = response.content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedCounts(f"body is not UTF-8: {error}") from error
        body = validate_body(text)
        self._respect_remaining(response)
        return response, body

    def _respect_remaining(self, response: requests.Response) -> None:
        remaining = (response.headers.get("x-rate-limit-remaining") or "").strip()
        reset = (response.headers.get("x-rate-limit-reset") or "").strip()
        if remaining == "0" and reset.isdigit():
            wait = min(RESET_WAIT_MAX, max(0.0, int(reset) - self.clock().timestamp()) + 1.0)
            log.info("rate limit window used up: waiting %.0f s for its reset", wait)
            self.sleep(wait)

    def request(self, *args) -> tuple[requests.Response, dict]:
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retry_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(
                (
                    tweepy.TooManyRequests,
                    tweepy.TwitterServerError,
                    requests.ConnectionError,
                    requests.Timeout,
                    MalformedCounts,
                )
            ),
            before_sleep=self._before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._request, *args)

    # -- one show and query
    def fetch(self, cq: CountsQuery, name: str, day: date) -> bytes:
        """The landed line for one (show, query): every page of every part, bodies as received."""
        start, end = day_window(day)
        billed_before = self.report.billed
        parts = []
        for part in cq.parts:
            pages = []
            token: str | None = None
            seen_tokens: set[str] = set()
            while True:
                response, body = self.request(part, start, end, token, day, cq.show_id, cq.kind)
                pages.append(
                    {
                        "next_token": token,
                        "status": response.status_code,
                        "body": response.content.decode("utf-8"),
                    }
                )
                token = body.get("meta", {}).get("next_token")
                if not token:
                    break
                if token in seen_tokens:
                    raise MalformedCounts(f"next_token {token!r} repeats")
                seen_tokens.add(token)
            parts.append({"query": part, "pages": pages})
        requests_made = self.report.billed - billed_before
        line = {
            "show_id": cq.show_id,
            "name": name,
            "query_kind": cq.kind,
            "query": cq.query,
            "combine": "single" if len(cq.parts) == 1 else "sum_of_disjoint_parts",
            "granularity": GRANULARITY,
            "start_time": _iso(start),
            "end_time": _iso(end),
            "parts": parts,
            "requests": requests_made,
            "price_per_request_usd": self.settings.price_per_counts_request,
            "cost_usd": round(requests_made * self.settings.price_per_counts_request, 6),
            "fetched_at": _iso(self.clock()),
        }
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def line_key(raw: bytes) -> tuple[int, str] | None:
    """(show_id, query_kind) of a landed line, or None for a line that is not one of ours."""
    try:
        obj = json.loads(raw)
        return int(obj["show_id"]), str(obj["query_kind"])
    except (ValueError, KeyError, TypeError):
        return None


def _existing_lines(lake: Lake, key: str) -> list[bytes]:
    if not lake.exists(key):
        return []
    return [line for line in lake.read_bytes(key).split(b"\n") if line.strip()]


def fetch_counts(
    settings: Settings,
    day: date | None = None,
    *,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lake: Lake | None = None,
) -> CountsReport:
    """Fetch what is missing of one UTC day (default yesterday), land it, record the spend.

    Raises DayOutOfRange before any request, SpendLimitReached when the planned requests do not
    fit this month's limit (nothing is requested then), AuthError on 401/403 (what was fetched
    before is landed first)."""
    clock = clock or (lambda: datetime.now(UTC))
    now = clock()
    day = day or (now - END_MARGIN).date() - timedelta(days=1)
    check_fetchable(day, now)
    lake = lake or Lake.from_url(settings.lake)
    shows = list(load_tracked_shows(settings))
    report = CountsReport(day, key=counts_day_key(day), shows=len(shows))
    report.pairs_expected = len(shows) * len(COUNTS_QUERY_KINDS)

    existing = _existing_lines(lake, report.key)
    landed = {k for k in map(line_key, existing) if k is not None}
    todo: list[tuple[CountsQuery, str]] = []
    for show in shows:
        for kind, query in counts_queries(show, settings.counts_query_max_chars).items():
            label = f"{show.id}:{kind}"
            if (show.id, kind) in landed:
                report.kept += 1
            elif isinstance(query, QueryTooLong):
                report.missing[label] = f"refused: {query}"
            else:
                todo.append((query, show.name))

    new_lines: list[bytes] = []
    with (
        Buffer(settings.buffer, settings.sqlite_synchronous) as buffer,
        SpendLedger(settings.buffer) as ledger,
    ):
        spend = month_spend(settings, now, buffer, ledger)
        planned = sum(len(q.parts) for q, _ in todo)
        planned_usd = planned * settings.price_per_counts_request
        try:
            if todo and spend.total_usd + planned_usd > settings.monthly_spend_limit_usd + 1e-9:
                for q, _ in todo:
                    report.missing[f"{q.show_id}:{q.kind}"] = "not fetched: monthly spend limit"
                raise SpendLimitReached(
                    f"{planned} counts requests (${planned_usd:,.2f}) would take this month's X spend from "
                    f"${spend.total_usd:,.2f} to ${spend.total_usd + planned_usd:,.2f}, above "
                    f"TRENDING_TV_MONTHLY_SPEND_LIMIT_USD ${settings.monthly_spend_limit_usd:,.2f}"
                )
            fetcher = CountsFetcher(settings, ledger, spend.total_usd, clock, sleep, report)
            _fetch_all(fetcher, todo, day, report, new_lines)
        finally:
            report.fetched = len(new_lines)
            present = landed | {k for k in map(line_key, new_lines) if k is not None}
            for query, _ in todo:  # e.g. SIGTERM: what was not reached is missing, with that reason
                if (query.show_id, query.kind) not in present:
                    report.missing.setdefault(f"{query.show_id}:{query.kind}", "not fetched: run interrupted")
            report.pairs_present = sum(1 for s in shows for k in COUNTS_QUERY_KINDS if (s.id, k) in present)
            final = existing
            if new_lines:
                # read the day again: a line another run landed meanwhile is kept, never replaced
                current = _existing_lines(lake, report.key)
                current_keys = {k for k in map(line_key, current) if k is not None}
                added = [line for line in new_lines if line_key(line) not in current_keys]
                final = current + added
                if added:
                    body = b"".join(line + b"\n" for line in _ordered(final, shows))
                    durable_write(lake, report.key, body)
                    verify_object(lake, report.key, body)
                    report.wrote = True
            month_after = month_spend(settings, clock(), buffer, ledger)
            _write_stats(settings, lake, report, shows, final, month_after.describe(), clock())
    return report


def _fetch_all(
    fetcher: CountsFetcher,
    todo: list[tuple[CountsQuery, str]],
    day: date,
    report: CountsReport,
    out: list[bytes],
) -> None:
    for index, (query, name) in enumerate(todo):
        label = f"{query.show_id}:{query.kind}"
        try:
            out.append(fetcher.fetch(query, name, day))
        except (tweepy.Unauthorized, tweepy.Forbidden) as error:
            _rest_missing(todo[index:], report, "not fetched: credentials refused")
            status = error.response.status_code
            raise AuthError(
                f"X refused the counts request (HTTP {status}): check X_BEARER_TOKEN and that the app's "
                "access includes GET /2/tweets/counts/recent"
            ) from error
        except tweepy.BadRequest as error:
            report.missing[label] = f"refused by X (400): {'; '.join(error.api_messages)[:300]}"
            log.error("show %s %s query refused by X: %s", query.show_id, query.kind, error)
        except SpendLimitReached as error:
            _rest_missing(todo[index:], report, "not fetched: monthly spend limit")
            report.stopped = str(error)
            return
        except Exception as error:  # retries exhausted: X is probably unavailable; resume next run
            _rest_missing(todo[index:], report, f"not fetched: {type(error).__name__}: {str(error)[:200]}")
            report.stopped = f"show {query.show_id} {query.kind}: {type(error).__name__}: {error}"
            log.error("stopping: %s", report.stopped)
            return


def _rest_missing(todo: list[tuple[CountsQuery, str]], report: CountsReport, reason: str) -> None:
    for query, _ in todo:
        report.missing.setdefault(f"{query.show_id}:{query.kind}", reason)


def _ordered(lines: list[bytes], shows: list) -> list[bytes]:
    """Tracked order, then query kind order; lines of shows no longer tracked (or not ours) last."""
    rank = {s.id: i for i, s in enumerate(shows)}
    kinds = {k: i for i, k in enumerate(COUNTS_QUERY_KINDS)}

    def sort_key(item: tuple[int, bytes]) -> tuple[int, int, int]:
        position, line = item
        key = line_key(line)
        if key is None:
            return (len(rank) + 1, 0, position)
        return (rank.get(key[0], len(rank)), kinds.get(key[1], len(kinds)), position)

    return [line for _, line in sorted(enumerate(lines), key=sort_key)]


def _write_stats(
    settings: Settings,
    lake: Lake,
    report: CountsReport,
    shows: list,
    lines: list[bytes],
    month: dict[str, object],
    now: datetime,
) -> None:
    stats_key = counts_day_stats_key(report.day)
    previous_runs: list = []
    if lake.exists(stats_key):
        try:
            previous_runs = list(json.loads(lake.read_bytes(stats_key)).get("runs", []))
        except (ValueError, AttributeError):
            previous_runs = []
    day_requests = 0
    day_cost = 0.0
    for line in lines:
        try:
            obj = json.loads(line)
            day_requests += int(obj.get("requests", 0))
            day_cost += float(obj.get("cost_usd", 0.0))
        except (ValueError, TypeError):
            continue
    start, end = day_window(report.day)
    run = {
        "at": _iso(now),
        "attempts": report.attempts,
        "billed_requests": report.billed,
        "cost_usd": round(report.cost_usd, 6),
        "by_status": report.by_status,
        "fetched_pairs": report.fetched,
        "kept_pairs": report.kept,
        "stopped": report.stopped,
    }
    stats = {
        "date": report.day.isoformat(),
        "key": report.key,
        "window": {"start_time": _iso(start), "end_time": _iso(end), "granularity": GRANULARITY},
        "tracked_show_ids": [s.id for s in shows],
        "shows": report.shows,
        "query_kinds": list(COUNTS_QUERY_KINDS),
        "pairs_expected": report.pairs_expected,
        "pairs_present": report.pairs_present,
        "coverage": round(report.coverage, 4),
        "min_coverage": settings.counts_min_coverage,
        "missing_shows": report.missing_shows,
        "missing": dict(sorted(report.missing.items())),
        "requests": day_requests,
        "cost_usd": round(day_cost, 6),
        "price_per_request_usd": settings.price_per_counts_request,
        "month": month,
        "runs": [*previous_runs, run],
    }
    durable_write(lake, stats_key, (json.dumps(stats, sort_keys=True) + "\n").encode())
