"""The seeded, deterministic sample lake: raw posts (X API v2 messages and v1.1 statuses), daily
TMDB pulls and tracked-show lists for 2020-11-23..2020-12-01, shaped by the 2020 project's
published figures, with the exact expected `tweet_stat` and parse counts written beside them under
`sample_truth/` (see `generator` for the rules and the line-kind definitions).

Only the standard library and `ingest_host` are imported here, so the ingest host can replay the
sample (`trending-tv-sample-lake replay`, `iter_stream_messages`) on a box without Dagster or Spark.
The package stands apart from the product packages `trending_tv` and `ingest_host`, which never
import it.
"""

from trending_tv_sample.catalog import FIRST_DAY, LAST_DAY
from trending_tv_sample.generator import (
    DEFAULT_GZIP_HOURS,
    DEFAULT_SCALE,
    DEFAULT_SEED,
    FULL_SIZE_SCALE,
    TRUTH_PREFIX,
    Adjustment,
    DayParseCounts,
    FileParseCounts,
    SampleLakeSummary,
    StreamMessage,
    TweetStatRow,
    expected_tweet_stat,
    family_of_hour,
    generate_sample_lake,
    iter_stream_messages,
    lake_is_empty,
)
from trending_tv_sample.model import scaled_count, target_split

__all__ = [
    "DEFAULT_GZIP_HOURS",
    "DEFAULT_SCALE",
    "DEFAULT_SEED",
    "FIRST_DAY",
    "FULL_SIZE_SCALE",
    "LAST_DAY",
    "TRUTH_PREFIX",
    "Adjustment",
    "DayParseCounts",
    "FileParseCounts",
    "SampleLakeSummary",
    "StreamMessage",
    "TweetStatRow",
    "expected_tweet_stat",
    "family_of_hour",
    "generate_sample_lake",
    "iter_stream_messages",
    "lake_is_empty",
    "scaled_count",
    "target_split",
]
