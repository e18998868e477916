"""moto's S3 server in its own process for the benchmarks (as S3 is for the code under test: its
figures are then our work plus HTTP round trips, not moto's request handling under our GIL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from trending_tv_tests.ingest_host.servers import s3_env


@contextmanager
def moto_s3_bucket(bucket: str) -> Iterator[object]:
    """A moto S3 server on a free 127.0.0.1 port with `bucket` created and this process's AWS settings
    pointed at it; yields a boto3 S3 client. The server is stopped and the settings restored on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = s3_env(f"http://127.0.0.1:{port}")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        client = boto3.client("s3")
        for _ in range(100):  # the server takes a moment to listen
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:
                time.sleep(0.1)
        yield client
    finally:
        server.terminate()
        server.wait(10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
