"""Local Spark sessions: the class-data-sharing archive (recorded from a real run, checked with a real
session, never installed when unusable, used only when present) and the Python workers' imports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trending_tv.resources import pyspark_daemon, spark_classes
from trending_tv.resources.spark import local_spark_config


@pytest.mark.slow
def test_an_archive_is_recorded_checked_and_a_truncated_one_refused(tmp_path):
    target = tmp_path / "spark-classes-test.jsa"
    assert spark_classes.build(target)
    assert target.stat().st_size > 10_000_000  # Spark's classes, not an empty shell
    assert list(tmp_path.glob("*.partial")) == []
    truncated = tmp_path / "truncated.jsa"
    truncated.write_bytes(target.read_bytes()[:1_000_000])  # the JVM crashes on such a file
    assert not spark_classes.usable(truncated)
    assert spark_classes.usable(target)
    assert list(Path.cwd().glob("hs_err_pid*.log")) == []  # crash reports go next to the archive


def test_the_local_config_maps_the_archive_only_when_it_exists(tmp_path, monkeypatch):
    archive = tmp_path / "spark-classes-x.jsa"
    monkeypatch.setattr(spark_classes, "archive_path", lambda: archive)
    assert "SharedArchiveFile" not in local_spark_config()["spark.driver.extraJavaOptions"]
    archive.write_bytes(b"recorded")
    options = local_spark_config()["spark.driver.extraJavaOptions"].split()
    assert options == ["-XX:TieredStopAtLevel=1", f"-XX:SharedArchiveFile={archive}"]
    assert "SharedArchiveFile" not in local_spark_config(class_archive=False)["spark.driver.extraJavaOptions"]
    # the long-running server keeps the JVM's defaults
    assert "spark.driver.extraJavaOptions" not in local_spark_config(long_running=True)


def test_python_workers_import_the_installed_pyspark_not_the_zip(spark):
    def origin(_):
        import pyspark

        return pyspark.__file__, [entry for entry in sys.path if pyspark_daemon._is_spark_zip(entry)]

    import pyspark

    assert spark.sparkContext.parallelize([0], 1).map(origin).collect() == [(pyspark.__file__, [])]


def test_the_daemon_keeps_spark_zips_when_no_installed_pyspark_is_found(tmp_path):
    # A Spark distribution has only its zips: they stay on the path there.
    assert pyspark_daemon._is_spark_zip("/opt/spark/python/lib/pyspark.zip")
    assert pyspark_daemon._is_spark_zip("/opt/spark/python/lib/py4j-0.10.9.9-src.zip")
    assert not pyspark_daemon._is_spark_zip("/usr/lib/python311.zip")
    assert not pyspark_daemon._installed_pyspark([str(tmp_path)])
    (tmp_path / "pyspark").mkdir()
    (tmp_path / "pyspark" / "daemon.py").write_text("")
    assert pyspark_daemon._installed_pyspark(["/nowhere", str(tmp_path)])
