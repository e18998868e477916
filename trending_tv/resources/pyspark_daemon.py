"""PySpark's Python worker daemon, run from the installed pyspark package (`spark.python.daemon.module`
in local sessions: trending_tv/resources/spark.py).

Spark puts its own copy of PySpark (`pyspark/python/lib/pyspark.zip`, and py4j's zip) first on the
workers' path. Python compiles modules imported from a zip from source every time, and re-reads
the zip's index whenever import caches are cleared, which PySpark does in every worker: a local run
paid ~1.5 CPU seconds at its first Python task before reading a row (first Python job 1.2 -> 0.6 s).
A pip-installed pyspark is the same version as its zip, with compiled modules, so the workers
import that one; where no installed package is found (a Spark distribution), the path is kept.
"""

import os
import sys


def _is_spark_zip(entry: str) -> bool:
    name = os.path.basename(entry)
    return name == "pyspark.zip" or (name.startswith("py4j-") and name.endswith("-src.zip"))


def _installed_pyspark(path: list[str]) -> bool:
    return any(os.path.isfile(os.path.join(entry, "pyspark", "daemon.py")) for entry in path)


_without_zips = [entry for entry in sys.path if not _is_spark_zip(entry)]
if _installed_pyspark(_without_zips):
    sys.path[:] = _without_zips

from pyspark import daemon  # noqa: E402  (imported from the path chosen above)

if __name__ == "__main__":
    daemon.manager()
