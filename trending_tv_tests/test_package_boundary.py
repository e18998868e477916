"""The package boundary: the collector (`ingest_host`) imports nothing of the Dagster code location
or of the sample, the product imports nothing of the sample, and the built wheel carries the sample
generator only as its own top-level package `trending_tv_sample`."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("trending_tv", "ingest_host")
SAMPLE = "trending_tv_sample"


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a source file imports (statements anywhere, and
    `importlib.import_module("...")` with a literal name)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def imports_of(package: str, forbidden: set[str]) -> dict[str, list[str]]:
    """{module file: forbidden modules it imports} over every module of the package."""
    sources = sorted((ROOT / package).rglob("*.py"))
    assert len(sources) > 5, sources  # the package is where we think it is
    offending = {}
    for path in sources:
        bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in forbidden)
        if bad:
            offending[path.relative_to(ROOT).as_posix()] = bad
    return offending


def test_imported_modules_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import a.b\nfrom c import d\nfrom . import e\n"
        "def f():\n    from trending_tv import g\n    importlib.import_module('trending_tv_sample.x')\n"
    )
    assert imported_modules(source) == {"a.b", "c", "trending_tv", "trending_tv_sample.x"}


def test_ingest_host_imports_neither_the_code_location_nor_the_sample():
    assert imports_of("ingest_host", {"trending_tv", SAMPLE}) == {}


def test_the_product_does_not_import_the_sample():
    assert imports_of("trending_tv", {SAMPLE}) == {}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    """The wheel built from a copy of the sources (offline, with the environment's setuptools; the copy
    keeps setuptools' build/ and egg-info out of the working tree)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for package in (*PRODUCT, SAMPLE, "trending_tv_tests"):
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    out = work / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    subprocess.run([*build, "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    (path,) = out.glob("trending_tv-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_product_packages_hold_no_sample_generator(wheel):
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {*PRODUCT, SAMPLE}
    # the sample is whole in its own top-level package: every module and its data
    sample_files = {n.removeprefix(SAMPLE + "/") for n in names if n.startswith(SAMPLE + "/")}
    expected = {p.name for p in (ROOT / SAMPLE).glob("*.py")}
    expected |= {f"data/{p.name}" for p in (ROOT / SAMPLE / "data").iterdir()}
    assert sample_files == expected and "generator.py" in expected
    product = [n for n in names if n.split("/")[0] in PRODUCT]
    assert len(product) > 20
    assert [n for n in product if "sample_lake" in n or n.endswith("/demo.py")] == []
    # no sample module or data file under a product package, by its name in the sample
    sample_only = sample_files - {"__init__.py", "cli.py", "replay.py"}
    assert [n for n in product if n.split("/", 1)[1] in sample_only] == []


def test_the_wheel_product_modules_define_no_sample_generator(wheel):
    """Nothing under trending_tv/ or ingest_host/ in the wheel defines the generator's entry points
    or imports the sample."""
    generator_names = {"generate_sample_lake", "iter_stream_messages", "expected_tweet_stat", "load_catalog"}
    checked = 0
    for name in wheel.namelist():
        if name.split("/")[0] in PRODUCT and name.endswith(".py"):
            tree = ast.parse(wheel.read(name))
            defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
            assert not defined & generator_names, name
            assert not any(
                isinstance(n, ast.ImportFrom)
                and (n.module or "").split(".")[0] == SAMPLE
                or isinstance(n, ast.Import)
                and any(a.name.split(".")[0] == SAMPLE for a in n.names)
                for n in ast.walk(tree)
            ), name
            checked += 1
    assert checked > 20
