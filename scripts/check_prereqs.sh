#!/usr/bin/env bash
# What `make demo` and `make test` need from the machine, checked in seconds before anything is
# installed: stops with the exact install command (Debian 12 package names) when something is missing.
#
#   scripts/check_prereqs.sh demo        # Python 3.11+ with venv, Java 17+ (Spark), make
#   scripts/check_prereqs.sh test-fast   # the same (the tests below are `slow` ones)
#   scripts/check_prereqs.sh test        # the same, plus Chromium for the UI test (and PostgreSQL for
#                                        # the production-instance test, when that test is present)
#
# PYTHON (default python3) is the interpreter the Makefile builds .venv with; VENV (default .venv).
set -uo pipefail
cd "$(dirname "$0")/.."

what="${1:-test}"
case "$what" in demo | test-fast | test) ;; *) echo "usage: $0 demo|test-fast|test" >&2; exit 2 ;; esac
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

problems=()
packages=()
need() { # need "<what is missing and why>" [debian packages...]
  problems+=("$1")
  shift
  packages+=("$@")
}

# Python 3.11+: the venv's interpreter once it exists, else the one it will be built with.
if [ -x "$VENV/bin/python" ]; then
  py="$VENV/bin/python"
else
  py="$PYTHON"
fi
if ! command -v "$py" >/dev/null 2>&1; then
  need "Python 3.11+: '$py' not found" python3 python3-venv
elif ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  found="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo '?')"
  need "Python 3.11+: '$py' is $found (Debian 12's python3 is 3.11; or run make with PYTHON=/path/to/python3.11)" \
    python3 python3-venv
elif [ ! -x "$VENV/bin/python" ] && ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
  need "Python's venv module (to create $VENV): '$py -m venv' cannot install pip" python3-venv
fi

# Java 17+ for Spark 4 (the java Spark starts: $JAVA_HOME/bin/java, else java on PATH).
java="java"
if [ -n "${JAVA_HOME:-}" ]; then java="$JAVA_HOME/bin/java"; fi
if ! command -v "$java" >/dev/null 2>&1; then
  need "Java 17+ (Spark): '$java' not found" openjdk-17-jre-headless
else
  version="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  major="${version%%.*}"
  if [ "$major" = "1" ]; then major="$(echo "$version" | cut -d. -f2)"; fi
  if ! [ "${major:-0}" -ge 17 ] 2>/dev/null; then
    need "Java 17+ (Spark): '$java' is version ${version:-unknown}" openjdk-17-jre-headless
  fi
fi

command -v make >/dev/null 2>&1 || need "make" make

if [ "$what" = test ]; then
  # Playwright drives Debian's Chromium at this path in the UI test (no browser download).
  [ -x /usr/bin/chromium ] || need "Chromium at /usr/bin/chromium (the UI end-to-end test)" chromium
  if [ -f trending_tv_tests/test_production_instance.py ] \
    && ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null && ! command -v pg_ctl >/dev/null 2>&1; then
    need "PostgreSQL server binaries, initdb and pg_ctl (the production-instance test)" postgresql
  fi
fi

if [ ${#problems[@]} -eq 0 ]; then
  exit 0
fi
{
  echo "Missing for 'make $what':"
  for problem in "${problems[@]}"; do echo "  - $problem"; done
  if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo "; fi
    unique="$(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++' | tr '\n' ' ')"
    echo "Install (Debian/Ubuntu):"
    echo "  ${sudo}apt-get update && ${sudo}apt-get install -y ${unique% }"
  fi
} >&2
exit 1
