"""The always-on collector: stream posts, buffer them, upload hourly files, pull TMDB.

This package must import and run without Dagster or PySpark (it targets a 1 vCPU / 512 MB box).
Its lake client, key layout, tracked-show list and text normalisation are the shared contracts
that the Dagster code location (`trending_tv`) reuses.
"""
