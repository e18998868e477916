"""The fast plan reads raw files in Python (posts.raw_file_lines): it must give exactly the lines
Spark's text reader gives (the exact plan reads them that way), from a folder, a .gz and S3, and
spread the files over few tasks."""

from __future__ import annotations

import gzip
import random

from trending_tv.transforms.posts import raw_file_lines
from trending_tv.transforms.tweet_stat import _files_by_task, _task_slots
from trending_tv_tests.emr_standin import MotoAws

PIECES = [b"a", b"{x}", b"caf\xc3\xa9", b"\xff", b"  ", b"\t", b"\r", b"\n", b"\r\n", b"\n\r", b"\r\r\n", b""]


def _bodies(count: int) -> list[bytes]:
    rng = random.Random(7)
    bodies = [b"", b"\n", b"\r", b"\r\n", b"a", b"a\n", b"a\r\n\r\n", b"\n\na", b"a\rb\nc\r\nd"]
    while len(bodies) < count:
        bodies.append(b"".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40))))
    return bodies


def _lines(uri: str, chunk_bytes: int) -> list[bytes]:
    return [line for chunk in raw_file_lines(uri, chunk_bytes) for line in chunk]


def test_lines_are_the_text_readers_lines_whatever_the_chunk_size(spark, tmp_path):
    bodies = _bodies(60)
    paths = []
    for number, body in enumerate(bodies):
        path = tmp_path / f"{number:03d}.json"
        path.write_bytes(body)
        paths.append(path)
    # Spark's text reader, as the exact plan reads raw files (empty files give no rows).
    lines = spark.read.text([str(p) for p in paths]).selectExpr(
        "_metadata.file_name AS f", "monotonically_increasing_id() AS n", "CAST(value AS BINARY) AS v"
    )
    by_file: dict[str, list[bytes]] = {}
    for row in sorted(lines.collect(), key=lambda r: (r["f"], r["n"])):
        by_file.setdefault(row["f"], []).append(bytes(row["v"]))
    for path, body in zip(paths, bodies, strict=True):
        expected = by_file.get(path.name, [])
        for chunk_bytes in (1, 2, 3, 7, 1 << 20):
            assert _lines(str(path), chunk_bytes) == expected, (body, chunk_bytes)
        assert _lines(path.as_uri(), 1 << 20) == expected


def test_gzip_files_and_s3_objects_are_read_whole(tmp_path):
    body = b"".join(b'{"n":%d}\r\n' % n for n in range(5000)) + b"last"
    expected = body.splitlines()
    gz = tmp_path / "2020-11-23-10.json.gz"
    gz.write_bytes(gzip.compress(body[:20000]) + gzip.compress(body[20000:]))  # two gzip members
    assert _lines(str(gz), 4096) == expected
    with MotoAws() as aws:
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="tt-raw-lines")
        s3.put_object(Bucket="tt-raw-lines", Key="lake/h.json", Body=body)
        s3.put_object(Bucket="tt-raw-lines", Key="lake/h.json.gz", Body=gz.read_bytes())
        assert _lines("s3://tt-raw-lines/lake/h.json", 4096) == expected
        assert _lines("s3a://tt-raw-lines/lake/h.json.gz", 1 << 20) == expected  # EMR's other scheme


def test_files_are_spread_over_the_tasks_by_size(tmp_path):
    sizes = [50, 10, 10, 10, 10, 10, 30, 20]
    paths = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"{number}.json"
        path.write_bytes(b"x" * size)
        paths.append(str(path))
    tasks = _files_by_task(paths, 3)
    assert sorted(file for task in tasks for file in task) == list(enumerate(paths))  # each file once
    loads = sorted(sum(sizes[number] for number, _ in task) for task in tasks)
    assert loads == [50, 50, 50]
    assert _files_by_task(paths, None) == [[(n, p)] for n, p in enumerate(paths)]  # unknown: one per file
    assert _files_by_task(paths[:2], 4) == [[(0, paths[0])], [(1, paths[1])]]


def test_files_are_grouped_only_in_a_local_session(spark):
    # Locally two tasks a core; on a cluster (executors may not be up when the plan is made) one per file.
    assert _task_slots(spark) == spark.sparkContext.defaultParallelism >= 1

    class Cluster:
        class sparkContext:  # noqa: N801 (the attribute a SparkSession has)
            master, defaultParallelism = "yarn", 2

    assert _task_slots(Cluster()) is None
