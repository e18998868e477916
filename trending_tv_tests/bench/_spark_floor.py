"""Spark's own floor, one mode per cold process (`python -m trending_tv_tests.bench._spark_floor MODE
[FILE ...]`): `start` builds the session the Dagster resource builds and stops it; `scan` also reads
the given files with tweet_stat's explicit schema and counts the rows."""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession

from trending_tv.resources.spark import local_spark_config, use_this_python_for_workers
from trending_tv.transforms.posts import RAW_LINE


def main(argv: list[str]) -> None:
    mode, paths = argv[0], argv[1:]
    use_this_python_for_workers()
    builder = SparkSession.builder.appName(f"bench-floor-{mode}")
    for key, value in local_spark_config().items():  # what the local `pyspark` resource uses
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if mode == "scan":
        print(spark.read.schema(RAW_LINE).json(paths).count())
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
