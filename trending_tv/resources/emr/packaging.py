"""What a run ships to EMR: the code folder the launcher zips, the pinned runtime and the bootstrap
script that installs it on every node."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from trending_tv.resources.emr.settings import CLUSTER_PYTHON, CLUSTER_VENV, EmrSettingsError

# Packages whose code goes into the per-run code zip: the Dagster project and the shared contracts it
# imports from the ingest host. Nothing else (no tests, no sample generator, no .venv, no .git, no lake).
CODE_PACKAGES = ("trending_tv", "ingest_host")
SOURCE_ROOT = Path(__file__).resolve().parents[3]

# The cluster provides Spark itself (PySpark from /usr/lib/spark/python); the web UI is host-only.
NOT_INSTALLED_ON_CLUSTER = {"pyspark", "dagster-webserver", "trending-tv"}
# Installed without their dependencies, so pip does not pull a second PySpark next to the cluster's.
NO_DEPS_ON_CLUSTER = {"dagster-pyspark", "dagster-spark"}


def runtime_pins(extras: tuple[str, ...] = ("ingest", "pipeline")) -> dict[str, str]:
    """The project's runtime dependencies (pyproject extras) pinned to the versions installed here,
    so the cluster runs the same Dagster, dagster-aws, boto3... as the host that pickles the step."""
    names: dict[str, str] = {}
    for text in requires("trending-tv") or []:
        requirement, _, marker = text.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if not extra or extra.group(1) not in extras:
            continue
        name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower()
        if name in NOT_INSTALLED_ON_CLUSTER:
            continue
        names[name] = name
    names.update({n: n for n in NO_DEPS_ON_CLUSTER})
    pins = {}
    for name in sorted(names):
        try:
            pins[name] = version(name)
        except PackageNotFoundError as error:
            raise EmrSettingsError(f"{name} is a runtime dependency but is not installed here") from error
    return pins


def bootstrap_script(pins: Mapping[str, str]) -> str:
    """The bootstrap action, run as hadoop on every node before it joins the cluster: a venv with the
    pinned runtime, then an assertion that the versions are exactly the pins (dagster-io/dagster#4785:
    a missing or different Dagster otherwise fails later with a confusing error)."""
    with_deps = " ".join(f"'{n}=={v}'" for n, v in pins.items() if n not in NO_DEPS_ON_CLUSTER)
    no_deps = " ".join(f"'{n}=={v}'" for n, v in pins.items() if n in NO_DEPS_ON_CLUSTER)
    expected = ", ".join(f"{n!r}: {v!r}" for n, v in pins.items())
    return f"""#!/bin/bash
# trending-tv EMR bootstrap (generated from the host's installed versions; do not edit by hand)
set -euxo pipefail
PY=$(command -v python3.11 || command -v python3.12 || true)
if [ -z "$PY" ]; then sudo dnf install -y python3.11 python3.11-pip; PY=$(command -v python3.11); fi
sudo mkdir -p {Path(CLUSTER_VENV).parent}
sudo "$PY" -m venv {CLUSTER_VENV}
sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir --upgrade pip
sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir {with_deps}
sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir --no-deps {no_deps}
{CLUSTER_PYTHON} - <<'EOF'
from importlib.metadata import version
expected = {{{expected}}}
wrong = {{n: (version(n), v) for n, v in expected.items() if version(n) != v}}
assert not wrong, f"bootstrap installed other versions than pinned: {{wrong}}"
import dagster, dagster_aws, dagster_pyspark  # noqa: F401
print("trending-tv runtime OK:", expected)
EOF
"""


def build_code_folder(source_root: Path = SOURCE_ROOT) -> Path:
    """A clean folder holding only CODE_PACKAGES (no caches), keyed by content, for the upstream
    launcher to zip (it zips the whole tree under `local_job_package_path`)."""
    files: list[tuple[Path, str]] = []
    for package in CODE_PACKAGES:
        for path in sorted((source_root / package).rglob("*")):
            rel = path.relative_to(source_root).as_posix()
            if path.is_file() and "__pycache__" not in rel and not rel.endswith((".pyc", ".pyo")):
                files.append((path, rel))
    digest = hashlib.sha256()
    for path, rel in files:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    # The upstream zip excludes any absolute path matching `pytest`, `/venv/`, `/logs/`: keep the
    # folder under the system temp dir, with a neutral name.
    folder = Path(tempfile.gettempdir()) / f"trending-tv-emr-code-{digest.hexdigest()[:16]}"
    if not folder.is_dir():
        partial = Path(tempfile.mkdtemp(prefix="trending-tv-emr-code-partial-"))
        for path, rel in files:
            (partial / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, partial / rel)
        try:
            partial.rename(folder)
        except OSError:  # another process made it first: same content
            shutil.rmtree(partial, ignore_errors=True)
    return folder
