"""Spark settings: those of every session (local and EMR), and those of local runs (tests, the demo,
`dagster dev`)."""

from __future__ import annotations

import os
import sys

from trending_tv.resources.spark_classes import installed_archive

# Every Spark session of the platform, local or on EMR.
COMMON_SPARK_CONFIG = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "snappy",
    # Output files are renamed by the lake writer; Spark's own _SUCCESS marker is noise there.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    # Rows go to Python 500 at a time (~2.5 MB of raw lines in tweet_stat's exact plan) instead of
    # 10,000: the JVM fills the next batch while Python works on one, and holds less (measured when every
    # plan handed raw lines over: a full-size day's peak 1.8 -> 1.3 GB PSS, nine days 2.2 -> 1.8 GB).
    "spark.sql.execution.arrow.maxRecordsPerBatch": "500",
}


def local_spark_config(
    cores: int | str = "*",
    shuffle_partitions: int = 8,
    *,
    long_running: bool = False,
    class_archive: bool = True,
) -> dict[str, str]:
    """A local[*] session: UI off, UTC, few shuffle partitions (the tables are small; AQE merges the rest).

    A session that lives for one run (`long_running=False`) compiles with the JVM's quick compiler
    only: a run is over before the optimising compiler pays for itself (measured on a full-size day:
    session start 5.3 -> 4.5 s, tweet_stat 17 -> 14 s; four days 32 -> 29 s), and maps the class
    archive `make install` records when there is one (trending_tv/resources/spark_classes.py; start
    4.3 -> 2.2 s). A long-running server (the warm Spark Connect path) keeps the JVM's default."""
    java_options = ["-XX:TieredStopAtLevel=1"]
    archive = installed_archive() if class_archive else None
    if archive is not None:
        java_options.append(f"-XX:SharedArchiveFile={archive}")
    short_lived = {} if long_running else {"spark.driver.extraJavaOptions": " ".join(java_options)}
    return (
        COMMON_SPARK_CONFIG
        | {
            "spark.master": f"local[{cores}]",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(shuffle_partitions),
            # The JVM holds small rows (tweet_stat's Python tasks read the raw files) or Arrow batches of
            # lines: 1g of heap is plenty for a run (a full-size day and a nine-day run held 1.0 and 1.5 GB
            # RSS with it, against 1.1 and 1.9 GB with 3g, in the same time); a server that serves run
            # after run gets headroom.
            "spark.driver.memory": "2g" if long_running else "1g",
            # Python workers import the installed pyspark, not its zip copy (resources/pyspark_daemon.py).
            "spark.python.daemon.module": "trending_tv.resources.pyspark_daemon",
        }
        | short_lived
    )


def use_this_python_for_workers() -> None:
    """PySpark starts Python workers with $PYSPARK_PYTHON, else `python3` from PATH, which in a venv
    that is not activated lacks pyspark's own dependencies. Point it at this interpreter."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
