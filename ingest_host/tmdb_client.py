"""tmdbv3api 1.10 made safe for a daily job: cache off, timeouts, status-aware retries, no key leaks.

tmdbv3api keeps its settings in os.environ, caches responses (errors included) in a process-wide
lru_cache that bypasses the session and has no timeout, never looks at the status code, and puts
the API key in every URL. Here: the cache is switched off (every call goes through one session of
ours, which carries a timeout adapter and a hook that keeps the last raw response), each call's
HTTP status decides retry (429, 5xx, network, malformed body) or not (401, 404), and every
message we raise is scrubbed of the key.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import Retrying, before_sleep_log, retry_if_exception_type, stop_after_attempt, wait_exponential

from ingest_host.config import Settings, scrub

log = logging.getLogger("ingest_host.tmdb")


class TmdbAuthError(RuntimeError):
    """TMDB refused the API key (401): nothing else will work."""


class TmdbNotFound(LookupError):
    """TMDB has no such show (404)."""


class TmdbTransient(RuntimeError):
    """429, 5xx, a network error or a malformed body: worth retrying."""


class TmdbFailed(RuntimeError):
    """Any other refusal (e.g. 400)."""


class TmdbMalformed(TmdbFailed):
    """A body we refuse to keep whatever its status: nested deeper than MAX_JSON_DEPTH (TMDB's own
    bodies are 4 levels deep; a deeper one would break parsers downstream). Skipped, not retried."""


MAX_JSON_DEPTH = 64


def json_depth(value: object) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_JSON_DEPTH:
            break
    return deepest


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float):
        super().__init__()
        self.default_timeout = timeout

    def send(self, request, **kwargs):  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)


class TmdbClient:
    def __init__(self, settings: Settings):
        from tmdbv3api import TMDb

        self.settings = settings
        self.session = requests.Session()
        adapter = _TimeoutAdapter(settings.http_timeout)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.hooks["response"].append(self._remember)
        self._local = threading.local()
        self.tmdb = TMDb(session=self.session)  # class-level session: every TV()/... uses it
        self.tmdb.api_key = settings.require("tmdb_api_key")
        self.tmdb.cache = False  # its lru_cache keeps error responses and ignores our session
        self.tmdb.wait_on_rate_limit = False
        self.tmdb.language = "en-US"
        rate = settings.tmdb_requests_per_second
        self._min_interval = 1.0 / rate if rate else 0.0
        self._last_call = 0.0
        self.retrying = Retrying(
            stop=stop_after_attempt(settings.retry_attempts),
            wait=wait_exponential(multiplier=settings.retry_wait, max=settings.retry_wait_max),
            retry=retry_if_exception_type(TmdbTransient),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.response = response

    def _new(self, cls: type) -> Any:
        obj = cls()
        obj._base = self.settings.tmdb_api_url.rstrip("/")  # __init__ resets it on every instance
        return obj

    def _throttle(self) -> None:
        wait = self._last_call + self._min_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_call = time.monotonic()

    def _once(self, call: Callable[[Any], Any], cls: type) -> tuple[dict, bytes]:
        from tmdbv3api.exceptions import TMDbException

        self._throttle()
        self._local.response = None
        error: BaseException | None = None
        try:
            result = call(self._new(cls))
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TmdbTransient(scrub(f"network error: {type(exc).__name__}")) from None
        except (TMDbException, ValueError) as exc:  # ValueError: a body that is not JSON
            result, error = None, exc
        except RecursionError:  # json or tmdbv3api's AsObj on a deeply nested body
            raise TmdbMalformed(
                f"body nested deeper than Python can parse (> {MAX_JSON_DEPTH} levels)"
            ) from None
        response: requests.Response | None = self._local.response
        status = response.status_code if response is not None else 0
        if status == 401:
            raise TmdbAuthError("TMDB rejected the API key (HTTP 401): check TMDB_API_KEY.")
        if status == 404:
            raise TmdbNotFound("HTTP 404")
        if status == 429 or status >= 500 or status == 0:
            raise TmdbTransient(f"HTTP {status}")
        if error is not None or not 200 <= status < 300:
            detail = scrub(str(error)) if error else ""
            if status == 200:  # a 200 whose body is not the JSON we expect
                raise TmdbTransient(f"malformed body ({detail[:80]})")
            raise TmdbFailed(f"HTTP {status} {detail[:200]}")
        assert response is not None
        payload = getattr(result, "_json", None)
        if not isinstance(payload, dict):
            raise TmdbTransient("malformed body (not a JSON object)")
        if json_depth(payload) > MAX_JSON_DEPTH:
            raise TmdbMalformed(f"body nested deeper than {MAX_JSON_DEPTH} levels")
        return payload, response.content

    def call(self, call: Callable[[Any], Any], cls: type) -> tuple[dict, bytes]:
        """Run one tmdbv3api call with retries; returns the parsed body and the raw bytes."""
        return self.retrying(self._once, call, cls)

    def tv_details(self, tv_id: int) -> tuple[dict, bytes]:
        """`/tv/{id}` as received. Error bodies (with or without `success`) never pass as a show."""
        from tmdbv3api import TV

        payload, raw = self.call(lambda tv: tv.details(tv_id, append_to_response=""), TV)
        if payload.get("id") != tv_id or "name" not in payload:
            # e.g. a 200 carrying {"status_code": 34, ...} without `success`
            raise TmdbNotFound(f"body is not show {tv_id}: {scrub(json.dumps(payload)[:120])}")
        return payload, raw

    def popular(self, page: int) -> dict:
        from tmdbv3api import TV

        payload, _ = self.call(lambda tv: tv.popular(page=page), TV)
        if not isinstance(payload.get("results"), list):
            raise TmdbFailed("popular: body has no results")
        return payload


def one_line(raw: bytes) -> bytes:
    """The body as received when it is one line; else re-serialised compactly onto one line."""
    body = raw.strip()
    if b"\n" in body or b"\r" in body:
        body = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode()
    return body
