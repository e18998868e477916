"""The warm Spark path: a long-running local Spark Connect server that the local deployment's runs
share (TRENDING_TV_SPARK_REMOTE), instead of each run starting its own JVM.

- `server_command` / `server_environment`: how the server is started, with the local session's
  settings (trending_tv.resources.spark) and this interpreter for the Python UDF workers.
- `SparkConnectServer`: a server as a child process (tests, scripts), stopped on exit.
- `SparkConnectResource`: the `pyspark` resource that hands assets a Connect session.
- `python -m trending_tv.resources.spark_connect [--port N]`: the server in the foreground, for
  `make spark-server` and deploy/systemd/trending-tv-spark-connect.service (SIGTERM or Ctrl-C
  stops it). Restart it after a code change: its Python workers are reused and keep the modules
  they imported.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from trending_tv.resources.spark import local_spark_config
from trending_tv.settings import settings

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 15002


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package (bin/spark-submit, jars/)."""
    import pyspark

    return Path(pyspark.__file__).parent


def server_command(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> list[str]:
    """spark-submit of the Connect server in the foreground, with the local session's settings (so a
    Connect run computes what a local run does). The gRPC port and the driver's own ports (RPC,
    block manager) listen on `host` only."""
    settings = local_spark_config(long_running=True) | {
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.bindAddress": host,
        "spark.driver.host": host,
    }
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS]
    command += ["--name", "trending-tv Spark Connect"]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return command


def server_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: its Python UDF workers run this interpreter (the venv, where
    trending_tv and its matcher are installed), and SPARK_HOME is pyspark's own distribution."""
    env = dict(os.environ if base is None else base)
    env["PYSPARK_PYTHON"] = sys.executable
    env["SPARK_HOME"] = str(spark_home())
    return env


def remote_address(remote: str) -> tuple[str, int]:
    """(host, port) of an `sc://host:port` URL; anything else is refused with the URL named."""
    parsed = urlparse(remote)
    if parsed.scheme != "sc" or not parsed.hostname or parsed.port is None:
        raise ValueError(f"{remote!r} is not a Spark Connect URL such as sc://127.0.0.1:{DEFAULT_PORT}")
    return parsed.hostname, parsed.port


def wait_until_listening(
    host: str, port: int, timeout: float, process: subprocess.Popen | None = None
) -> None:
    """Return once the gRPC port accepts connections (the server binds it only after its
    SparkContext is up); fail early if `process` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the Spark Connect server exited with code {process.returncode} before serving"
            )
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no Spark Connect server on {host}:{port} after {timeout:.0f} s"
                ) from None
            time.sleep(0.5)


class SparkConnectServer:
    """A Connect server as a child process in its own process group, for a `with` block: started
    and waited for on entry, stopped (SIGTERM, then SIGKILL) on exit, failure included."""

    def __init__(self, port: int, host: str = DEFAULT_HOST, log_path: Path | None = None):
        self.host, self.port, self.log_path = host, port, log_path
        self.process: subprocess.Popen | None = None

    @property
    def remote(self) -> str:
        return f"sc://{self.host}:{self.port}"

    def __enter__(self) -> SparkConnectServer:
        output = open(self.log_path, "ab") if self.log_path else contextlib.nullcontext(subprocess.DEVNULL)
        with output as log:
            self.process = subprocess.Popen(
                server_command(self.port, self.host),
                env=server_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_listening(self.host, self.port, timeout=180, process=self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # spark-submit runs the JVM as a child: signal the whole group
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class SparkConnectResource(ConfigurableResource):
    """The `pyspark` resource for a running Spark Connect server: assets read `spark_session` as
    from LazyPySparkResource. Each run gets its own server-side session (created on first use) and
    releases it at the end, so temporary views, SQL settings and UDFs of one run never reach the
    next; the server's Spark settings apply to every session."""

    remote: str = Field(description="The server's URL, sc://host:port (TRENDING_TV_SPARK_REMOTE).")
    _session: Any = PrivateAttr(default=None)

    @property
    def spark_session(self) -> Any:
        if self._session is None:
            from pyspark.sql import SparkSession

            remote_address(self.remote)  # a malformed URL named here, not deep in the gRPC client
            # create(), not getOrCreate(): a fresh session, never one left active in this process
            self._session = SparkSession.builder.remote(self.remote).create()
        return self._session

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._session is not None:
            self._session.stop()  # releases the server-side session
            self._session = None


def main(argv: list[str] | None = None) -> None:
    remote = settings().spark_remote
    default_port = remote_address(remote)[1] if remote else DEFAULT_PORT
    parser = argparse.ArgumentParser(description="The local Spark Connect server (TRENDING_TV_SPARK_REMOTE).")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        help="gRPC port (default: TRENDING_TV_SPARK_REMOTE's, else 15002)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="start nothing: wait until the server listens (systemd's ExecStartPost)",
    )
    args = parser.parse_args(argv)
    if args.wait is not None:
        wait_until_listening(args.host, args.port, timeout=args.wait)
        return
    command = server_command(args.port, args.host)
    # exec: the JVM gets this process's signals (systemd's SIGTERM, Ctrl-C)
    os.execve(command[0], command, server_environment())


if __name__ == "__main__":
    main()
