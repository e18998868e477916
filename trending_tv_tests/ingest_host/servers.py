"""Local HTTP servers on 127.0.0.1 (port 0) that speak enough of the X API v2 filtered stream and
TMDB for the real tweepy and tmdbv3api clients, plus moto's S3 server. Each is a context manager;
the test that starts one stops it."""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

BEARER = "test-bearer-token-0123456789"
TMDB_KEY = "test-tmdb-key-abcdef987654"


def v2_post(
    post_id: int, created: datetime, text: str = "watching #TheMandalorian", tag: str = "82856"
) -> bytes:
    """One X API v2 stream message (created_at with milliseconds, like X sends)."""
    message = {
        "data": {
            "id": str(post_id),
            "text": text,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
            "edit_history_tweet_ids": [str(post_id)],
            "lang": "en",
            "entities": {"hashtags": [{"start": 9, "end": 24, "tag": "TheMandalorian"}]},
        },
        "matching_rules": [{"id": "1", "tag": tag}],
    }
    return json.dumps(message, separators=(",", ":")).encode()


def post_ids_in(lines: list[bytes]) -> list[str]:
    out = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("data"), dict) and obj["data"].get("id"):
            out.append(str(obj["data"]["id"]))
    return out


class _Server:
    handler: type[BaseHTTPRequestHandler]

    def __enter__(self):
        handler = type("Handler", (self.handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.closing = True
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: _Server

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


# ----------------------------------------------------------------------------------------- X API v2
class _XHandler(_Quiet):
    owner: FakeX

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.owner.token}"

    def do_GET(self) -> None:
        x = self.owner
        path = urlparse(self.path)
        x.requests.append(("GET", path.path, parse_qs(path.query)))
        if path.path == "/2/tweets/search/stream/rules":
            status = x.rules_statuses.pop(0) if x.rules_statuses else (200 if self._authorized() else 401)
            if status != 200:
                return self._json(
                    status, {"title": "Unauthorized" if status == 401 else "Error", "status": status}
                )
            data = [
                {"id": rid, "value": v, **({"tag": t} if t is not None else {})}
                for rid, (v, t) in x.rules.items()
            ]
            return self._json(
                200, {"data": data, "meta": {"result_count": len(data)}} if data else {"meta": {}}
            )
        if path.path == "/2/tweets/search/stream":
            x.connects += 1
            status = x.stream_statuses.pop(0) if x.stream_statuses else (200 if self._authorized() else 401)
            if status != 200:
                return self._json(
                    status, {"title": "Unauthorized", "detail": "Unauthorized", "status": status}
                )
            x.params.append(parse_qs(path.query))
            return self._stream()
        self._json(404, {"title": "Not Found"})

    def do_POST(self) -> None:
        x = self.owner
        path = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        x.requests.append(("POST", path.path, body))
        if path.path != "/2/tweets/search/stream/rules":
            return self._json(404, {"title": "Not Found"})
        if not self._authorized():
            return self._json(401, {"title": "Unauthorized"})
        created = []
        for rule in body.get("add", []):
            x.next_rule_id += 1
            rid = str(x.next_rule_id)
            x.rules[rid] = (rule["value"], rule.get("tag"))
            created.append(
                {"id": rid, "value": rule["value"], **({"tag": rule["tag"]} if "tag" in rule else {})}
            )
        for rid in body.get("delete", {}).get("ids", []):
            x.rules.pop(str(rid), None)
        self._json(200, {"data": created, "meta": {"summary": {"created": len(created)}}})

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self) -> None:
        x = self.owner
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while not x.closing:
                try:
                    item = x.lines.get(block=not x.source, timeout=x.keepalive_interval)
                except queue.Empty:
                    source = x.source
                    item = source() if source else b""
                    if item is None:
                        item = b""
                if item == b"__close__":  # the server ends the connection (tweepy reconnects)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if isinstance(item, tuple) and item[0] == "sleep":
                    time.sleep(item[1])
                    continue
                self._chunk(item + b"\r\n")
                if item:
                    x.sent.append(item)
                    x.sent_event.set()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


class FakeX(_Server):
    """X API v2: rules endpoints and the filtered stream (chunked, keep-alives, disconnects).

    Put lines in `lines` (bytes; b"" is a keep-alive; b"__close__" ends the connection); when the
    queue is empty, `source()` (if set) is asked for the next line, else a keep-alive is sent every
    `keepalive_interval` seconds. `sent` records every non-blank line written to a client."""

    handler = _XHandler

    def __init__(self, token: str = BEARER, keepalive_interval: float = 0.05):
        self.token = token
        self.keepalive_interval = keepalive_interval
        self.rules: dict[str, tuple[str, str | None]] = {}
        self.next_rule_id = 1000
        self.rules_statuses: list[int] = []
        self.stream_statuses: list[int] = []
        self.lines: queue.Queue = queue.Queue()
        self.source: Callable[[], bytes | None] | None = None
        self.sent: list[bytes] = []
        self.sent_event = threading.Event()
        self.requests: list[tuple] = []
        self.params: list[dict] = []
        self.connects = 0
        self.closing = False

    def feed(self, *lines: bytes) -> None:
        for line in lines:
            self.lines.put(line)


class PacedPosts:
    """A `FakeX.source` producing unique posts at a steady rate, their created_at spread over
    several hours (including posts exactly on HH:00:00.000)."""

    def __init__(self, start: datetime, rate: float = 300.0, step: timedelta = timedelta(seconds=7.2)):
        self.start = start
        self.interval = 1.0 / rate
        self.step = step
        self.next_id = 1
        self.lock = threading.Lock()
        self._last = 0.0

    def __call__(self) -> bytes | None:
        with self.lock:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
            post_id = self.next_id
            self.next_id += 1
        return v2_post(10_000 + post_id, self.start + self.step * post_id)


# ------------------------------------------------------------------------------------------ TMDB
def tmdb_show(show_id: int, name: str) -> dict:
    return {
        "id": show_id,
        "name": name,
        "original_name": name,
        "original_language": "en",
        "origin_country": ["US"],
        "genres": [{"id": 18, "name": "Drama"}],
        "networks": [{"id": 213, "name": "Netflix", "logo_path": None, "origin_country": "US"}],
        "number_of_seasons": 2,
        "number_of_episodes": 16,
        "vote_count": 864,
        "vote_average": 8.2,
        "popularity": 66.068,
        "first_air_date": "2019-11-12",
    }


class _TmdbHandler(_Quiet):
    owner: FakeTMDB

    def do_GET(self) -> None:
        t = self.owner
        path = urlparse(self.path)
        query = parse_qs(path.query)
        t.requests.append((path.path, query))
        if query.get("api_key", [""])[0] != t.key:
            return self._json(401, {"status_code": 7, "status_message": "Invalid API key.", "success": False})
        match = re.fullmatch(r"/3/tv/(\d+)", path.path)
        if match:
            show_id = int(match.group(1))
            script = t.scripts.get(show_id)
            if script:
                status, body = script.pop(0) if len(script) > 1 else script[0]
                if status == "hang":
                    time.sleep(body)
                    status, body = 200, t.shows.get(show_id)
                return self._json(status, body if isinstance(body, bytes) else json.dumps(body).encode())
            if show_id in t.shows:
                return self._json(200, t.shows[show_id])
            return self._json(404, {"success": False, "status_code": 34, "status_message": "Not found."})
        if path.path == "/3/tv/popular":
            page = int(query.get("page", ["1"])[0])
            per = 20
            ids = t.popular
            results = [
                {"id": i, "name": t.shows[i]["name"], "first_air_date": t.shows[i].get("first_air_date", "")}
                for i in ids[(page - 1) * per : page * per]
            ]
            pages = max(1, -(-len(ids) // per))
            return self._json(
                200, {"page": page, "results": results, "total_pages": pages, "total_results": len(ids)}
            )
        self._json(404, {"success": False, "status_code": 34, "status_message": "Not found."})


class FakeTMDB(_Server):
    """TMDB v3: `/3/tv/{id}` and `/3/tv/popular`. `scripts[id]` is a list of (status, body) answers
    given in order (the last repeats); ("hang", seconds) delays the answer."""

    handler = _TmdbHandler

    def __init__(self, key: str = TMDB_KEY):
        self.key = key
        self.shows: dict[int, dict] = {}
        self.popular: list[int] = []
        self.scripts: dict[int, list] = {}
        self.requests: list[tuple] = []
        self.closing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/3"

    def hits(self, show_id: int) -> int:
        return sum(1 for p, _ in self.requests if p == f"/3/tv/{show_id}")


# ------------------------------------------------------------------------------------------- S3
class MotoS3:
    """moto's S3 server on 127.0.0.1 (a real HTTP endpoint), with a bucket created."""

    def __init__(self, bucket: str = "lake-bucket"):
        self.bucket = bucket

    def __enter__(self):
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # An in-process moto server shares moto's state with every other one in this process:
        # start from an empty S3 so one test's buckets never show up in the next.
        import requests

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def __exit__(self, *exc):
        self.server.stop()

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def keys(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        for page in (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        ):
            out.extend(item["Key"] for item in page.get("Contents", []))
        return out

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()


def s3_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ms(moment: datetime) -> int:
    """Epoch milliseconds, the buffer's and the upload's time unit."""
    return int(moment.timestamp() * 1000)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def iter_lines(body: bytes) -> Iterator[bytes]:
    return iter([line for line in body.split(b"\n") if line])


# ------------------------------------------------------------------------- X API v2 post counts
_TERM = re.compile(r'-?(?:#[^\s()]+|"(?:[^"\\]|\\.)*")')


def _term_key(term: str) -> str:
    return term.replace('\\"', '"').casefold()


def _parse_query(query: str) -> tuple[list[str], list[str]]:
    tokens = _TERM.findall(query)
    positive = [_term_key(t) for t in tokens if not t.startswith("-")]
    negative = [_term_key(t[1:]) for t in tokens if t.startswith("-")]
    return positive, negative


def match_query(query: str, terms: frozenset[str]) -> bool:
    """Does a post carrying `terms` (`#tag` / `"phrase"` strings, casefolded) match a counts query
    of the shapes the ingest host sends: `t1 OR t2 ...` or `(t1 OR t2) -t3 -t4` / `t1 -t3`?"""
    positive, negative = _parse_query(query)
    return any(t in terms for t in positive) and not any(t in terms for t in negative)


class _CountsHandler(_Quiet):
    owner: FakeXCounts

    def setup(self) -> None:
        super().setup()
        # headers and body go out as two writes: without this, Nagle's algorithm and the client's
        # delayed ACK hold each answer back ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        c = self.owner
        path = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(path.query).items()}
        if path.path != "/2/tweets/counts/recent":
            return self._json(404, {"title": "Not Found"})
        if self.headers.get("Authorization") != f"Bearer {c.token}":
            status, body, headers = 401, json.dumps({"title": "Unauthorized", "status": 401}).encode(), {}
        elif c.script and c.script[0] is not None and c.script[0][0] != "hang":
            status, body, headers = c.script.pop(0)
            body = body if isinstance(body, bytes) else json.dumps(body).encode()
        else:
            if c.script and c.script[0] is not None:  # ("hang", seconds, _): answer late
                c.hanging.set()
                time.sleep(float(c.script[0][1]))  # type: ignore[arg-type]
                if c.closing:
                    return
            if c.script:
                c.script.pop(0)
            status, body, headers = 200, c.answer(params), {}
        headers = {
            "x-rate-limit-limit": "300",
            "x-rate-limit-remaining": "299",
            "x-rate-limit-reset": str(int(c.reset_at)),
            **headers,
        }
        c.served.append((params, status, body))
        self._json(status, body, headers)


class FakeXCounts(_Server):
    """X API v2 `GET /2/tweets/counts/recent` (hour buckets, `next_token` pages).

    `posts` are (UTC hour start, terms) pairs, terms as `#tag` / `"phrase"` strings; a query's count
    in an hour is the number of posts there matching it (`match_query`). Every bucket of the window
    is answered, zeros included; `page_hours` buckets a page, then a `next_token`. `script` holds
    (status, body, headers) answers given first, in order, to any request (None: answer as usual;
    ("hang", seconds, {}): answer as usual that late, setting `hanging` on arrival).
    `served` records every
    answer as (params, status, body bytes)."""

    handler = _CountsHandler

    def __init__(self, token: str = BEARER, page_hours: int = 24):
        self.token = token
        self.page_hours = page_hours
        self.posts: list[tuple[datetime, frozenset[str]]] = []
        self.script: list[tuple[int, object, dict[str, str]] | None] = []
        self.served: list[tuple[dict[str, str], int, bytes]] = []
        self.reset_at = 0.0
        self.hanging = threading.Event()
        self.closing = False

    def add_posts(self, hour: datetime, n: int, *terms: str) -> None:
        key = frozenset(_term_key(t) for t in terms)
        self.posts.extend((hour, key) for _ in range(n))

    def count(self, query: str, hour: datetime) -> int:
        positive, negative = _parse_query(query)
        by_terms: dict[frozenset[str], int] = {}
        for at, terms in self.posts:
            if at == hour:
                by_terms[terms] = by_terms.get(terms, 0) + 1
        return sum(
            n
            for terms, n in by_terms.items()
            if any(t in terms for t in positive) and not any(t in terms for t in negative)
        )

    def answer(self, params: dict[str, str]) -> bytes:
        start = datetime.strptime(params["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        end = datetime.strptime(params["end_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert params.get("granularity") == "hour", params
        hours = []
        at = start
        while at < end:
            hours.append(at)
            at += timedelta(hours=1)
        page = int(params.get("next_token", "page0")[4:])  # tokens are "page<N>"
        chunk = hours[page * self.page_hours : (page + 1) * self.page_hours]
        data = [
            {
                "end": (h + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "start": h.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "tweet_count": self.count(params["query"], h),
            }
            for h in chunk
        ]
        meta: dict[str, object] = {"total_tweet_count": sum(b["tweet_count"] for b in data)}
        if (page + 1) * self.page_hours < len(hours):
            meta["next_token"] = f"page{page + 1}"
        return json.dumps({"data": data, "meta": meta}, separators=(",", ":")).encode()

    def requests_for(self, query: str) -> list[tuple[dict[str, str], int, bytes]]:
        return [s for s in self.served if s[0].get("query") == query]
