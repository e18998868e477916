"""What a run ships to EMR: the code folder the launcher zips, the pinned runtime and the bootstrap
script that installs it on every node."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from trending_tv.resources.emr.settings import CLUSTER_PYTHON, CLUSTER_VENV, EmrSettingsError

# Packages whose code goes into the per-run code zip: the Dagster project and the shared contracts it
# imports from the ingest host. Nothing else (no tests, no sample generator, no .venv, no .git, no lake).
CODE_PACKAGES = ("trending_tv", "ingest_host")
SOURCE_ROOT = Path(__file__).resolve().parents[3]
# The lock file (pip-compile style, every extra): the versions the nodes install. It sits beside the
# source, so the code must run from a checkout or an editable install (deploy/install.sh installs the
# Dagster host editable and checks that this file is found); an installed wheel has none.
LOCK_FILE = SOURCE_ROOT / "requirements" / "lock.txt"

# The extras of pyproject.toml whose packages the nodes install.
RUNTIME_EXTRAS = ("ingest", "pipeline")
# The cluster provides Spark itself (PySpark from /usr/lib/spark/python). The web UI and the
# PostgreSQL instance storage are the host's: a step on a node runs on an ephemeral instance.
NOT_INSTALLED_ON_CLUSTER = {"pyspark", "dagster-webserver", "dagster-postgres", "trending-tv"}
# Installed without their dependencies, so pip does not pull a second PySpark next to the cluster's.
NO_DEPS_ON_CLUSTER = {"dagster-pyspark", "dagster-spark"}


def runtime_pins(extras: tuple[str, ...] = RUNTIME_EXTRAS, lock_file: Path | None = None) -> dict[str, str]:
    """The project's runtime dependencies (pyproject extras) pinned, so the cluster runs the same
    Dagster, dagster-aws, boto3... as the host that pickles the step.

    The versions come from the lock file (`LOCK_FILE`, the one place versions are bumped) when it
    exists, else from the versions installed here. With a lock, the host's own Dagster packages must
    be the locked ones too: the nodes unpickle what this host pickles."""
    lock_file = LOCK_FILE if lock_file is None else lock_file
    names = runtime_names(extras)
    if not lock_file.is_file():
        pins = {}
        for name in names:
            try:
                pins[name] = version(name)
            except PackageNotFoundError as error:
                raise EmrSettingsError(f"{name} is a runtime dependency but is not installed here") from error
        return pins
    locked = lock_pins(lock_file, extras)
    missing = [name for name in names if canonicalize_name(name) not in locked]
    if missing:
        raise EmrSettingsError(
            f"{lock_file} pins no version of {', '.join(missing)}, which the EMR nodes install: "
            "regenerate it with every extra of pyproject.toml"
        )
    pins = {name: locked[canonicalize_name(name)] for name in names}
    differ = {}
    for name, pinned in pins.items():
        if name.startswith("dagster"):
            try:
                installed = version(name)
            except PackageNotFoundError:
                installed = "not installed"
            if installed != pinned:
                differ[name] = f"{name} {installed} (locked: {pinned})"
    if differ:
        raise EmrSettingsError(
            f"this host runs {', '.join(differ.values())}: the EMR nodes install the versions of "
            f"{lock_file} and must unpickle what this host pickles; install from the lock file "
            "(make install) or update it"
        )
    return pins


def runtime_names(extras: tuple[str, ...] = RUNTIME_EXTRAS) -> list[str]:
    """The distributions the nodes install: the extras' requirements, minus what the cluster provides
    or only the host uses, plus the ones installed without their dependencies."""
    names: set[str] = set(NO_DEPS_ON_CLUSTER)
    for text in requires("trending-tv") or []:
        requirement, _, marker = text.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if not extra or extra.group(1) not in extras:
            continue
        name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower()
        if name not in NOT_INSTALLED_ON_CLUSTER:
            names.add(name)
    return sorted(names)


def lock_pins(lock_file: Path, sections: tuple[str, ...] | None = None) -> dict[str, str]:
    """The `name==version` lines of a lock file, by normalized name; comments, options, `--hash`
    continuations and environment markers are skipped. With `sections`, only the lines under those
    `# --- <section>: ...` headers (requirements/lock.py writes one per extra); a file without
    headers (pip-compile output) is read whole."""
    text = lock_file.read_text(encoding="utf-8").replace("\\\n", " ")
    has_sections = bool(re.search(r"^# --- [\w-]+:", text, re.MULTILINE))
    pins: dict[str, str] = {}
    section = None
    for number, raw in enumerate(text.splitlines(), start=1):
        header = re.match(r"# --- ([\w-]+):", raw)
        if header:
            section = header.group(1)
        line = raw.split("#", 1)[0].split(" --", 1)[0].split(";", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if sections is not None and has_sections and section not in sections:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise EmrSettingsError(f"{lock_file}:{number} is not a requirement: {raw.strip()!r}") from error
        if requirement.url:  # a direct reference (`name @ url`) has no version to pin
            continue
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if len(exact) != 1:
            raise EmrSettingsError(f"{lock_file}:{number} does not pin one version: {raw.strip()!r}")
        pins[canonicalize_name(requirement.name)] = exact[0]
    return pins


def lock_constraints(
    extras: tuple[str, ...] = RUNTIME_EXTRAS, lock_file: Path | None = None
) -> dict[str, str]:
    """Every pin of the lock file's sections for `extras` (transitive dependencies included), for
    pip's `-c` on the nodes; empty without a lock file."""
    lock_file = LOCK_FILE if lock_file is None else lock_file
    return lock_pins(lock_file, extras) if lock_file.is_file() else {}


def bootstrap_script(pins: Mapping[str, str], constraints: Mapping[str, str] | None = None) -> str:
    """The bootstrap action, run as hadoop on every node before it joins the cluster: a venv with the
    pinned runtime (and, with a lock file, every transitive dependency constrained to its version),
    then an assertion that the versions are exactly the pins (dagster-io/dagster#4785: a missing or
    different Dagster otherwise fails later with a confusing error)."""
    with_deps = " ".join(f"'{n}=={v}'" for n, v in pins.items() if n not in NO_DEPS_ON_CLUSTER)
    no_deps = " ".join(f"'{n}=={v}'" for n, v in pins.items() if n in NO_DEPS_ON_CLUSTER)
    expected = ", ".join(f"{n!r}: {v!r}" for n, v in pins.items())
    pip = f"sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir"
    constrain = ""
    if constraints:
        constraints_file = f"{Path(CLUSTER_VENV).parent}/constraints.txt"
        lines = "\n".join(f"{n}=={v}" for n, v in sorted(constraints.items()))
        constrain = f"sudo tee {constraints_file} >/dev/null <<'PINS'\n{lines}\nPINS\n"
        pip += f" -c {constraints_file}"
    return f"""#!/bin/bash
# trending-tv EMR bootstrap (generated from the pinned versions; do not edit by hand)
set -euxo pipefail
PY=$(command -v python3.11 || command -v python3.12 || true)
if [ -z "$PY" ]; then sudo dnf install -y python3.11 python3.11-pip; PY=$(command -v python3.11); fi
sudo mkdir -p {Path(CLUSTER_VENV).parent}
{constrain}sudo "$PY" -m venv {CLUSTER_VENV}
sudo {CLUSTER_VENV}/bin/pip install --quiet --no-cache-dir --upgrade pip
{pip} {with_deps}
{pip} --no-deps {no_deps}
{CLUSTER_PYTHON} - <<'EOF'
from importlib.metadata import version
expected = {{{expected}}}
wrong = {{n: (version(n), v) for n, v in expected.items() if version(n) != v}}
assert not wrong, f"bootstrap installed other versions than pinned: {{wrong}}"
import dagster, dagster_aws, dagster_pyspark  # noqa: F401
print("trending-tv runtime OK:", expected)
EOF
"""


@contextmanager
def code_folder(source_root: Path = SOURCE_ROOT) -> Iterator[Path]:
    """A copy of only CODE_PACKAGES (no caches) for the upstream launcher to zip (it zips the whole
    tree under `local_job_package_path`), removed afterwards.

    The folder is private: made by mkdtemp (mode 0700, an unpredictable name), so no other local user
    can place code in it that the cluster would run. It stays under the system temp dir rather than
    DAGSTER_HOME because the upstream zip drops every file whose absolute path matches `pytest`,
    `/venv/` or `/logs/`, which a DAGSTER_HOME may contain."""
    with tempfile.TemporaryDirectory(prefix="trending-tv-emr-code-") as tmp:
        folder = Path(tmp)
        for package in CODE_PACKAGES:
            for path in sorted((source_root / package).rglob("*")):
                rel = path.relative_to(source_root).as_posix()
                if path.is_file() and "__pycache__" not in rel and not rel.endswith((".pyc", ".pyo")):
                    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, folder / rel)
        yield folder
