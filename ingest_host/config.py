"""Settings of the ingest host, from the environment or a `.env` file (docs/design.md, "The ingest host").

The variable names in `CONTRACT` are a contract shared with deploy scripts and external tests.
The others are this package's own tuning knobs (all prefixed `TRENDING_TV_`). Secrets are held in
`Secret`, whose repr never shows the value, and `scrub()` removes them from any text we print.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values

log = logging.getLogger("ingest_host")

CONTRACT = (
    "TRENDING_TV_LAKE",
    "TRENDING_TV_BUFFER",
    "X_BEARER_TOKEN",
    "TMDB_API_KEY",
    "TRENDING_TV_X_API_URL",
    "TRENDING_TV_TMDB_API_URL",
    "TRENDING_TV_TRACKED_SHOWS",
    "TRENDING_TV_MAX_POSTS_PER_HOUR",
    "TRENDING_TV_RETENTION_DAYS",
    "AWS_ENDPOINT_URL_S3",
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable (never a secret's value)."""


class Secret:
    """A secret string that never shows itself in repr/str/logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


_KNOWN_SECRETS: set[str] = set()
_URL_KEY = re.compile(r"(?i)((?:api_key|apikey|access_token|bearer_token|token)=)[^&\s'\"]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9%._~+/=-]+")


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _KNOWN_SECRETS.add(value)


def scrub(text: str) -> str:
    """Remove every known secret value, `api_key=...` query values and bearer tokens from text."""
    for secret in sorted(_KNOWN_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_KEY.sub(r"\1***", text)
    return _BEARER.sub(r"\1***", text)


class ScrubFilter(logging.Filter):
    """Rewrites every log record (message, args and traceback) through `scrub`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = scrub(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr with secrets scrubbed from every record, including third-party loggers."""
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubFilter())
    for old in list(root.handlers):
        if getattr(old, "_ingest_host", False):
            root.removeHandler(old)
    handler._ingest_host = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        for noisy in ("urllib3", "botocore", "boto3", "s3transfer", "tweepy", "tmdbv3api"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError as error:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from error
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError as error:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from error
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    """An API base URL: https, or plain http only to a loopback host (local test servers). A secret
    travels with every request, so it never crosses a network in clear text."""
    from ipaddress import ip_address
    from urllib.parse import urlsplit

    raw = (env.get(name) or default).strip().rstrip("/")
    parts = urlsplit(raw)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(f"{name} must be an https:// URL, got {raw!r}")
    if parts.scheme == "http":
        try:
            loopback = host == "localhost" or ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(
                f"{name} uses plain http to {host}: the API key or token would travel in clear text. "
                "Use https:// (plain http is accepted only for 127.0.0.1, ::1 or localhost)"
            )
    return raw


@dataclass(frozen=True)
class Settings:
    # -- the contract (docs/design.md, "The ingest host")
    lake: str = "./lake"
    buffer: str = "./ingest_buffer.sqlite3"
    x_bearer_token: Secret = field(default_factory=lambda: Secret(""))
    tmdb_api_key: Secret = field(default_factory=lambda: Secret(""))
    x_api_url: str = "https://api.twitter.com"
    tmdb_api_url: str = "https://api.themoviedb.org/3"
    tracked_shows: str = ""  # resolved to <lake>/config/tracked_shows.csv when empty
    max_posts_per_hour: int = 5000
    retention_days: int = 7
    # -- this package's own knobs
    # Spending (X pay-per-use list prices; check the Developer Console for yours).
    stream_budget_usd: float = 30.0  # the stream's dollars a month, spread evenly over the hours
    price_per_post_read: float = 0.005  # a post read (each post billed once per UTC day)
    price_per_counts_request: float = 0.005  # one GET /2/tweets/counts/recent request (one page)
    monthly_read_cap: int = 2_000_000  # self-serve post reads per month
    monthly_spend_limit_usd: float = 110.0  # fetch-counts and the stream together, per calendar month
    counts_query_max_chars: int = 512  # recent search/counts query length limit
    counts_min_coverage: float = 0.95  # fetch-counts fails below this share of (show, query) pairs
    slices_per_hour: int = 12  # the hourly cap is spread over this many equal slices
    rule_limit: int = 1000  # tier limits (pay-per-use / Pro)
    rule_max_chars: int = 1024
    stream_read_timeout: float = 21.0  # X sends a keep-alive at least every 20 s
    stop_timeout: float = 25.0  # how long SIGTERM waits for the stream thread
    sqlite_synchronous: str = "FULL"  # FULL also survives power loss; NORMAL only process crashes
    upload_grace_minutes: int = 5
    upload_gzip: bool = False
    retry_attempts: int = 5
    retry_wait: float = 2.0  # first backoff, doubled each try
    retry_wait_max: float = 60.0
    http_timeout: float = 15.0
    tmdb_min_coverage: float = 0.95
    tmdb_requests_per_second: float = 4.0
    popular_top_n: int = 160
    show_overrides: str = ""  # resolved to the checked-in ingest_host/data/tracked_shows_overrides.csv

    @property
    def stream_reads_per_month(self) -> int:
        """Post reads the stream's dollar budget buys in a month."""
        return int(self.stream_budget_usd / self.price_per_post_read + 1e-9)

    @property
    def tracked_shows_url(self) -> str:
        if self.tracked_shows:
            return self.tracked_shows
        return self.lake.rstrip("/") + "/config/tracked_shows.csv"

    @property
    def show_overrides_path(self) -> Path:
        if self.show_overrides:
            return Path(self.show_overrides)
        return Path(__file__).parent / "data" / "tracked_shows_overrides.csv"

    def require(self, name: str) -> str:
        """The value of a secret setting, or a clear ConfigError naming the variable."""
        secret = getattr(self, name)
        if not secret:
            raise ConfigError(f"{name.upper()} is not set (environment or .env)")
        return secret.get()

    def describe(self) -> dict[str, object]:
        """All settings, secrets shown only as set/unset: safe to print."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = ("set" if value else "unset") if isinstance(value, Secret) else value
        out["tracked_shows_url"] = self.tracked_shows_url
        return out


_REPLACED = {
    "TRENDING_TV_MONTHLY_POST_BUDGET": (
        "the stream's budget is now dollars a month, TRENDING_TV_STREAM_BUDGET_USD "
        "(at TRENDING_TV_PRICE_PER_POST_READ), within TRENDING_TV_MONTHLY_SPEND_LIMIT_USD"
    ),
}


def check_budget(settings: Settings) -> None:
    """Refuse budgets that cannot be bought or that break the shared monthly limit (names the setting)."""
    reads = settings.stream_reads_per_month
    if reads > settings.monthly_read_cap:
        raise ConfigError(
            f"TRENDING_TV_STREAM_BUDGET_USD ${settings.stream_budget_usd:,.2f} a month buys {reads:,} post "
            f"reads at ${settings.price_per_post_read} (TRENDING_TV_PRICE_PER_POST_READ), above the "
            f"monthly read cap of {settings.monthly_read_cap:,} (TRENDING_TV_MONTHLY_READ_CAP)"
        )
    if settings.stream_budget_usd > settings.monthly_spend_limit_usd:
        raise ConfigError(
            f"TRENDING_TV_STREAM_BUDGET_USD ${settings.stream_budget_usd:,.2f} is above "
            f"TRENDING_TV_MONTHLY_SPEND_LIMIT_USD ${settings.monthly_spend_limit_usd:,.2f}, the limit "
            "the stream shares with fetch-counts"
        )


def load_settings(env_file: str | os.PathLike[str] | None = None, **overrides: object) -> Settings:
    """Read settings: explicit overrides (CLI options) > environment > `.env` file > defaults.

    The `.env` file is read without touching os.environ (tmdbv3api also reads os.environ, and we
    set what it needs ourselves)."""
    env: dict[str, str] = {}
    path = Path(env_file) if env_file else Path(".env")
    if path.is_file():
        env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    elif env_file:
        raise ConfigError(f"env file {path} does not exist")
    env.update(os.environ)
    # AWS_ENDPOINT_URL_S3 is boto3's own variable: a value from .env must reach boto3.
    if "AWS_ENDPOINT_URL_S3" in env and "AWS_ENDPOINT_URL_S3" not in os.environ:
        os.environ["AWS_ENDPOINT_URL_S3"] = env["AWS_ENDPOINT_URL_S3"]

    for old, new in _REPLACED.items():
        if (env.get(old) or "").strip():
            raise ConfigError(f"{old} is no longer read: {new}")
    d = Settings()  # the defaults have one home: the dataclass
    sync = (
        env.get("TRENDING_TV_SQLITE_SYNCHRONOUS", d.sqlite_synchronous).strip().upper()
        or d.sqlite_synchronous
    )
    if sync not in ("NORMAL", "FULL"):
        raise ConfigError(f"TRENDING_TV_SQLITE_SYNCHRONOUS must be NORMAL or FULL, got {sync!r}")
    values: dict[str, object] = dict(
        lake=env.get("TRENDING_TV_LAKE") or d.lake,
        buffer=env.get("TRENDING_TV_BUFFER") or d.buffer,
        x_bearer_token=Secret(env.get("X_BEARER_TOKEN", "").strip()),
        tmdb_api_key=Secret(env.get("TMDB_API_KEY", "").strip()),
        x_api_url=_base_url(env, "TRENDING_TV_X_API_URL", d.x_api_url),
        tmdb_api_url=_base_url(env, "TRENDING_TV_TMDB_API_URL", d.tmdb_api_url),
        tracked_shows=env.get("TRENDING_TV_TRACKED_SHOWS", d.tracked_shows),
        max_posts_per_hour=_int(env, "TRENDING_TV_MAX_POSTS_PER_HOUR", d.max_posts_per_hour),
        retention_days=_int(env, "TRENDING_TV_RETENTION_DAYS", d.retention_days),
        stream_budget_usd=_float(env, "TRENDING_TV_STREAM_BUDGET_USD", d.stream_budget_usd),
        price_per_post_read=_float(
            env, "TRENDING_TV_PRICE_PER_POST_READ", d.price_per_post_read, minimum=1e-6
        ),
        price_per_counts_request=_float(
            env, "TRENDING_TV_PRICE_PER_COUNTS_REQUEST", d.price_per_counts_request
        ),
        monthly_read_cap=_int(env, "TRENDING_TV_MONTHLY_READ_CAP", d.monthly_read_cap),
        monthly_spend_limit_usd=_float(env, "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD", d.monthly_spend_limit_usd),
        counts_query_max_chars=_int(
            env, "TRENDING_TV_COUNTS_QUERY_MAX_CHARS", d.counts_query_max_chars, minimum=32
        ),
        counts_min_coverage=_float(env, "TRENDING_TV_COUNTS_MIN_COVERAGE", d.counts_min_coverage),
        slices_per_hour=_int(env, "TRENDING_TV_SLICES_PER_HOUR", d.slices_per_hour, minimum=1),
        rule_limit=_int(env, "TRENDING_TV_RULE_LIMIT", d.rule_limit, minimum=1),
        rule_max_chars=_int(env, "TRENDING_TV_RULE_MAX_CHARS", d.rule_max_chars, minimum=16),
        stream_read_timeout=_float(
            env, "TRENDING_TV_STREAM_READ_TIMEOUT", d.stream_read_timeout, minimum=0.1
        ),
        stop_timeout=_float(env, "TRENDING_TV_STOP_TIMEOUT", d.stop_timeout),
        sqlite_synchronous=sync,
        upload_grace_minutes=_int(env, "TRENDING_TV_UPLOAD_GRACE_MINUTES", d.upload_grace_minutes),
        upload_gzip=_bool(env, "TRENDING_TV_UPLOAD_GZIP", d.upload_gzip),
        retry_attempts=_int(env, "TRENDING_TV_RETRY_ATTEMPTS", d.retry_attempts, minimum=1),
        retry_wait=_float(env, "TRENDING_TV_RETRY_WAIT", d.retry_wait),
        retry_wait_max=_float(env, "TRENDING_TV_RETRY_WAIT_MAX", d.retry_wait_max),
        http_timeout=_float(env, "TRENDING_TV_HTTP_TIMEOUT", d.http_timeout, minimum=0.1),
        tmdb_min_coverage=_float(env, "TRENDING_TV_TMDB_MIN_COVERAGE", d.tmdb_min_coverage),
        tmdb_requests_per_second=_float(
            env, "TRENDING_TV_TMDB_REQUESTS_PER_SECOND", d.tmdb_requests_per_second
        ),
        popular_top_n=_int(env, "TRENDING_TV_POPULAR_TOP_N", d.popular_top_n, minimum=1),
        show_overrides=env.get("TRENDING_TV_SHOW_OVERRIDES", d.show_overrides),
    )
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)  # type: ignore[arg-type]
    check_budget(settings)
    register_secret(settings.x_bearer_token.get())
    register_secret(settings.tmdb_api_key.get())
    return settings
