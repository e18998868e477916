"""trending-tv: the Dagster code location (entry point: trending_tv.definitions)."""

import warnings

# Backfills run as one run per range (one Spark job for all its days); `backfill_policy=` is beta in
# Dagster 1.13. Silence that one warning, nothing else.
warnings.filterwarnings(
    "ignore", message=r"Parameter `backfill_policy` of function `asset` is currently in beta"
)
