"""Run every benchmark module in this package (`make bench`); each prints and records its figures.

python -m trending_tv_tests.bench                      # all modules, all sections
python -m trending_tv_tests.bench tweet_stat           # one module
python -m trending_tv_tests.bench tweet_stat --only matcher,seal   # some sections of a module
"""

import argparse
import importlib
import pkgutil
import sys

import trending_tv_tests.bench as bench


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m trending_tv_tests.bench")
    parser.add_argument("modules", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--only", help="comma-separated sections of the module (modules that have sections)")
    args = parser.parse_args()
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("_") or (args.modules and module.name not in args.modules):
            continue
        print(f"== bench: {module.name}", flush=True)
        loaded = importlib.import_module(f"trending_tv_tests.bench.{module.name}")
        if args.only:
            loaded.main(only=args.only.split(","))
        else:
            loaded.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
