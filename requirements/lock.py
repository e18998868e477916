"""Write requirements/lock.txt: the exact installed version of every package the `ingest`, `pipeline` and
`dev` extras of trending-tv pull in (transitively), from the virtualenv this runs in, in three sections.

    .venv/bin/python requirements/lock.py           # `make lock`
    .venv/bin/python requirements/lock.py --check   # exit 1 if the file and the installed set differ

Bumping a version: widen the range in pyproject.toml if needed, `.venv/bin/pip install -U <name>`, run
the tests, then `make lock`. `make install` installs with `-c requirements/lock.txt`, and the EMR
bootstrap pins the `ingest` and `pipeline` sections, so every machine runs these versions.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parent / "lock.txt"
PROJECT = "trending-tv"
SECTIONS = (
    ("ingest", "the ingest host (`pip install '.[ingest]'`)"),
    ("pipeline", "adds the Dagster host and the EMR runtime"),
    ("dev", "adds tests and tools"),
)
HEADER = """\
# Exact versions of everything the ingest, pipeline and dev extras install (CPython 3.11, Linux).
# Generated from the virtualenv by `make lock` (requirements/lock.py); do not edit by hand.
# Bump: pyproject.toml range if needed, `.venv/bin/pip install -U <name>`, tests, `make lock`.
# Used by `make install` / CI (`pip install -c requirements/lock.txt -e '.[dev]'`), deploy/install.sh
# and the EMR bootstrap (the ingest and pipeline sections).
"""


def _requires(name: str, extras: frozenset[str]) -> list[Requirement]:
    """The requirements of an installed distribution that apply here with the given extras."""
    base = default_environment()
    out = []
    for line in distribution(name).requires or []:
        req = Requirement(line)
        if req.marker is None or any(
            req.marker.evaluate({**base, "extra": extra}) for extra in (extras or {""})
        ):
            out.append(req)
    return out


def closure(extra: str) -> dict[str, str]:
    """{canonical name: installed version} of everything `trending-tv[extra]` installs."""
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(PROJECT, frozenset({extra}))]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = distribution(name)
        except PackageNotFoundError as error:
            raise SystemExit(f"{name} is required but not installed: run `make install` first") from error
        if canonicalize_name(name) != PROJECT:
            found[canonicalize_name(name)] = dist.version
        for req in _requires(name, extras):
            todo.append((req.name, frozenset(req.extras)))
    return found


def render() -> str:
    lines = [HEADER]
    previous: dict[str, str] = {}
    for extra, meaning in SECTIONS:
        current = closure(extra)
        added = {name: version for name, version in current.items() if name not in previous}
        lines.append(f"\n# --- {extra}: {meaning} ---\n")
        lines.extend(f"{name}=={added[name]}\n" for name in sorted(added))
        previous = current
    return "".join(lines)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not LOCK.exists() or LOCK.read_text() != text:
            print(f"{LOCK} differs from the installed extras: run `make lock` (or `make install`)")
            return 1
        return 0
    LOCK.write_text(text)
    print(f"wrote {LOCK} ({sum(1 for line in text.splitlines() if '==' in line)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
