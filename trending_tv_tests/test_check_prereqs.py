"""scripts/check_prereqs.sh, which `make demo` and `make test` run before installing anything: quiet
on this machine (it runs the suite), and on a machine without what is needed it stops with the exact
install command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_prereqs.sh"


def check(mode: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), mode], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def fake_java(tmp_path: Path, version_line: str) -> str:
    """A JAVA_HOME whose bin/java prints `version_line` as `java -version` does (on stderr)."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return str(java.parent.parent)


def test_this_machine_has_everything_the_suite_needs():
    for mode in ("demo", "test-fast", "test"):
        result = check(mode)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""


def test_missing_python_and_old_java_stop_with_the_install_command(tmp_path):
    result = check(
        "demo",
        PYTHON=str(tmp_path / "no-python3"),
        VENV=str(tmp_path / "no-venv"),
        JAVA_HOME=fake_java(tmp_path, 'openjdk version "11.0.2" 2019-01-15'),
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Missing for 'make demo':"
    assert any("Python 3.11+" in line and "no-python3" in line for line in lines)
    assert any("Java 17+" in line and "11.0.2" in line for line in lines)
    assert lines[-1].endswith("apt-get install -y python3 python3-venv openjdk-17-jre-headless")


def test_java_versions_are_read_in_both_formats(tmp_path):
    old = check("demo", JAVA_HOME=fake_java(tmp_path / "8", 'java version "1.8.0_292"'))
    assert old.returncode == 1 and "1.8.0_292" in old.stderr and "openjdk-17-jre-headless" in old.stderr
    new = check("demo", JAVA_HOME=fake_java(tmp_path / "21", 'openjdk version "21" 2023-09-19'))
    assert new.returncode == 0, new.stderr


def test_an_unknown_target_is_a_usage_error():
    result = check("deploy")
    assert result.returncode == 2 and "usage" in result.stderr
