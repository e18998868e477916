"""Run every benchmark module in this package (`make bench`); each prints and records its figures."""

import importlib
import pkgutil
import sys

import trending_tv_tests.bench as bench


def main() -> int:
    selected = set(sys.argv[1:])
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("_") or (selected and module.name not in selected):
            continue
        print(f"== bench: {module.name}", flush=True)
        importlib.import_module(f"trending_tv_tests.bench.{module.name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
