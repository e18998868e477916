"""A class-data-sharing archive of the classes a local Spark run loads (JDK 17 AppCDS).

A cold local run spends seconds loading and verifying Spark's classes from its jars: the JVM and
session start, then the planner, the Python runner and the code generator on first use. Java can
record those classes once in an archive that later JVMs map instead (`-XX:SharedArchiveFile`):
measured on a full-size day, session start 4.3 -> 2.2 s and tweet_stat's compute 14 -> 12 s.

`python -m trending_tv.resources.spark_classes` (run by `make install` and deploy/install.sh)
records the archive for this environment once: a small run of the real transforms in a child
process whose JVM writes the archive at exit, then a session started with it to prove it works,
then an atomic rename. A half-written or unusable archive is never installed (the JVM can crash
on a truncated one). The archive's name carries a key of the Java binary, PySpark's version and
its jars, so after an upgrade the old one is simply not found (and removed by the next build);
`local_spark_config` uses the archive only when it exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ARCHIVE_DIR = Path(sys.prefix) / "share" / "trending-tv"
# Part of the archive's key: raise it when the recorded workload changes what a run loads (e.g. a new
# plan for tweet_stat), so that the next install records the new classes.
WORKLOAD_VERSION = 3


def _java() -> Path | None:
    java_home = os.environ.get("JAVA_HOME")
    found = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


def archive_path() -> Path | None:
    """Where this environment's archive lives (it may not exist yet); None without Java."""
    java = _java()
    if java is None:
        return None
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    listing = sorted(p.name for p in jars.glob("*.jar")) if jars.is_dir() else []
    key_text = "\n".join(
        [str(WORKLOAD_VERSION), str(java), str(java.stat().st_mtime_ns), pyspark.__version__, *listing]
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    return ARCHIVE_DIR / f"spark-classes-{key}.jsa"


def installed_archive() -> Path | None:
    path = archive_path()
    return path if path is not None and path.is_file() else None


def _session(java_options: str, app_name: str):
    from pyspark.sql import SparkSession

    from trending_tv.resources.spark import local_spark_config, use_this_python_for_workers

    use_this_python_for_workers()
    settings = local_spark_config(class_archive=False) | {"spark.driver.extraJavaOptions": java_options}
    return SparkSession.builder.appName(app_name).config(map=settings).getOrCreate()


def _stop_and_wait_for_jvm(spark) -> None:
    """Stop the session and let its JVM exit normally (it writes the archive on exit): PySpark's
    gateway JVM exits when its stdin closes."""
    process = spark.sparkContext._gateway.proc  # the JVM PySpark started (pyspark.java_gateway)
    spark.stop()
    process.stdin.close()
    process.wait(timeout=300)


def _record(archive: Path) -> None:
    """The workload whose classes are archived: tweet_stat's transform on a few lines of each kind by
    both plans (a line only Spark's parser classifies included), and a Parquet write and read (what the
    other Spark assets do)."""
    from ingest_host.tracked_shows import TrackedShow
    from trending_tv.transforms.tweet_stat import compute_tweet_stat

    spark = _session(
        f"-XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit={archive}", "trending-tv-class-archive"
    )
    with tempfile.TemporaryDirectory(prefix="trending-tv-classes-") as tmp:
        lines = Path(tmp) / "lines.json"
        lines.write_text(
            "\n".join(
                [
                    '{"data":{"id":"1","text":"Watching Dark","created_at":"2020-11-27T10:00:00.000Z",'
                    '"entities":{"hashtags":[{"tag":"Dark"}]}}}',
                    '{"id_str":"2","created_at":"Fri Nov 27 11:00:00 +0000 2020","text":"dark again"}',
                    '{"limit":{"track":3}}',
                    "",
                    "{not json",
                ]
            )
        )
        shows = {date(2020, 11, 27): [TrackedShow(id=1, name="Dark", hashtags=("#Dark",))]}
        for plan in ("fast", "exact"):
            compute_tweet_stat(spark, [str(lines)], shows, plan=plan)
        table = spark.createDataFrame([(1, date(2020, 11, 27))], "id long, date date")
        table.write.mode("overwrite").partitionBy("date").parquet(str(Path(tmp) / "table"))
        spark.read.parquet(str(Path(tmp) / "table")).collect()
    _stop_and_wait_for_jvm(spark)


def _check(archive: Path) -> None:
    """Start a session with the archive and run a job: the JVM must start and use it."""
    # An unusable archive can crash the JVM: its crash report goes next to the archive, not the cwd.
    crash_report = archive.parent / "hs_err_check_%p.log"
    options = f"-XX:TieredStopAtLevel=1 -XX:SharedArchiveFile={archive} -XX:ErrorFile={crash_report}"
    spark = _session(options, "trending-tv-class-archive-check")
    spark.range(10).count()
    _stop_and_wait_for_jvm(spark)


def _child(mode: str, archive: Path, timeout: float) -> subprocess.CompletedProcess | None:
    """Run this module as `--record` or `--check` on `archive`; None when it timed out."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "trending_tv.resources.spark_classes", f"--{mode}", str(archive)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        print(f"Spark class archive: --{mode} did not finish in {timeout:.0f} s", file=sys.stderr)
        return None


def usable(archive: Path) -> bool:
    """True when a Spark session starts with `archive` and the JVM maps it without complaint."""
    check = _child("check", archive, timeout=300)
    if check is None:
        return False
    if check.returncode == 0 and "Unable to use shared archive" not in check.stdout + check.stderr:
        return True
    print(f"Spark class archive: a session with it failed:\n{check.stderr[-1500:]}", file=sys.stderr)
    return False


def build(target: Path) -> bool:
    """Record, check and install the archive at `target`; False (nothing installed) if any step fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.{os.getpid()}.partial")
    try:
        recorded = _child("record", partial, timeout=600)
        if recorded is None:
            return False
        if recorded.returncode != 0 or not partial.is_file():
            print(f"Spark class archive: recording failed:\n{recorded.stderr[-2000:]}", file=sys.stderr)
            return False
        if not usable(partial):
            return False
        partial.replace(target)
        return True
    finally:
        partial.unlink(missing_ok=True)
        for crash_report in target.parent.glob("hs_err_check_*.log"):
            crash_report.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trending_tv.resources.spark_classes", description=__doc__
    )
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)  # the child that writes the archive
    parser.add_argument("--check", type=Path, help=argparse.SUPPRESS)  # the child that proves it works
    args = parser.parse_args(argv)
    if args.record:
        _record(args.record)
        return 0
    if args.check:
        _check(args.check)
        return 0
    target = archive_path()
    if target is None:
        print("Spark class archive: no java found; local Spark runs start without one")
        return 0
    for stale in target.parent.glob("spark-classes-*.jsa"):
        if stale != target:
            stale.unlink()
    if target.exists():
        print(f"Spark class archive: {target} (present)")
        return 0
    print("Spark class archive: recording the classes a local run loads (once, ~30 s)", flush=True)
    if not build(target):
        print("Spark class archive: not built; local Spark runs start without one", file=sys.stderr)
        return 1
    print(f"Spark class archive: {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
