"""The code location's one entry point: `dagster dev`, `dagster asset materialize -m
trending_tv.definitions` and the EMR step all load `defs` from here."""

from dagster import Definitions

from trending_tv.assets.dimensions import tvshows
from trending_tv.assets.facts import tweet_stat
from trending_tv.assets.raw import raw_tmdb, raw_tweets
from trending_tv.deployment import resources_for

defs = Definitions(
    assets=[raw_tweets, raw_tmdb, tvshows, tweet_stat],
    resources=resources_for(),
)
