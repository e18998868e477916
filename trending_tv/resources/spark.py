"""Spark settings for local runs (tests, the demo, `dagster dev`)."""

from __future__ import annotations

import os
import sys


def local_spark_config(
    cores: int | str = "*", shuffle_partitions: int = 8, *, long_running: bool = False
) -> dict[str, str]:
    """A local[*] session: UI off, UTC, few shuffle partitions (the tables are small; AQE merges the rest).

    A session that lives for one run (`long_running=False`) compiles with the JVM's quick compiler
    only: a run is over before the optimising compiler pays for itself (measured on a full-size day:
    session start 5.3 -> 4.5 s, tweet_stat 17 -> 14 s; four days 32 -> 29 s). A long-running server
    (the warm Spark Connect path) keeps the JVM's default."""
    short_lived = {} if long_running else {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"}
    return short_lived | {
        "spark.master": f"local[{cores}]",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.driver.memory": "3g",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.compression.codec": "snappy",
        # Output files are renamed by the lake writer; Spark's own _SUCCESS marker is noise there.
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    }


def use_this_python_for_workers() -> None:
    """PySpark starts Python workers with $PYSPARK_PYTHON, else `python3` from PATH, which in a venv
    that is not activated lacks pyspark's own dependencies. Point it at this interpreter."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
