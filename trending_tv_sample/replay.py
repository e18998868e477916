"""The sample's posts through the ingest host: its simulated X API v2 stream replayed into an ingest
buffer with `ingest_host.replay`, the same path `ingest-host stream` writes through; `ingest-host
upload` then files them into the lake hour by hour.

Standard library and `ingest_host` only, like the generator: an ingest host without Dagster or
Spark can replay the sample.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date

from ingest_host.config import Settings
from ingest_host.replay import ReplayReport, replay_into_buffer
from trending_tv_sample.catalog import FIRST_DAY, LAST_DAY
from trending_tv_sample.generator import DEFAULT_SEED, StreamMessage, iter_stream_messages


def replay_sample(
    settings: Settings,
    start: date = FIRST_DAY,
    end: date = LAST_DAY,
    *,
    scale: float | None = None,
    seed: int = DEFAULT_SEED,
    speed: float = 0.0,
    stop: threading.Event | None = None,
    on_message: Callable[[StreamMessage], None] | None = None,
) -> ReplayReport:
    """Replay the sample's stream for `start`..`end` into `settings.buffer`, each message at its own
    receipt time; `on_message` sees each message before the buffer takes it (for progress)."""
    messages: Iterator[StreamMessage] = iter_stream_messages(start, end, scale=scale, seed=seed)
    if on_message is not None:
        messages = _observed(messages, on_message)
    return replay_into_buffer(settings, [messages], speed=speed, stop=stop)


def _observed(
    messages: Iterator[StreamMessage], on_message: Callable[[StreamMessage], None]
) -> Iterator[StreamMessage]:
    for message in messages:
        on_message(message)
        yield message
