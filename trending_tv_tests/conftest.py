"""Shared fixtures: one local Spark session for the whole test run (starting a JVM costs seconds)."""

from __future__ import annotations

import pytest

from trending_tv.resources.spark import local_spark_config, use_this_python_for_workers


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    use_this_python_for_workers()

    builder = SparkSession.builder.appName("trending-tv-tests")
    for key, value in local_spark_config(cores=2, shuffle_partitions=4).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
