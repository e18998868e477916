"""Writing a benchmark's section of BENCHMARKS.md (each module owns one `## ` section)."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"


def write_section(heading: str, text: str) -> None:
    """Replace the section that starts with `## heading` by `text` (or append it)."""
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n\nMeasured by `make bench`.\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        current = pattern.sub(lambda _: text, current)
    else:
        current = current.rstrip("\n") + "\n\n" + text
    BENCHMARKS.write_text(current)
