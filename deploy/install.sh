#!/usr/bin/env bash
# Install the trending-tv Dagster host on a fresh Debian 12+ / Ubuntu 24.04+ server (Python >= 3.11):
# code server, daemon and UI as systemd units over a PostgreSQL instance.
#
#   sudo ./deploy/install.sh [--external-postgres] [--no-start]
#
# Run from a checkout of the repository. It creates the system user `trending-tv`, the virtualenv
# /opt/trending-tv-dagster/venv with the `pipeline` extra at the versions of requirements/lock.txt,
# DAGSTER_HOME /var/lib/trending-tv-dagster/home with deploy/dagster/dagster.yaml, the settings file
# /etc/trending-tv/dagster.env (mode 640, never overwritten) and /etc/trending-tv/workspace.yaml.
# Without --external-postgres it installs PostgreSQL on this server and creates the `dagster` role
# and database with a random password written into the settings file. Then it migrates the instance
# schema and installs and starts the units. Re-running it upgrades the code and keeps the settings.
set -euo pipefail

EXTERNAL_PG=0
START=1
for arg in "$@"; do
  case "$arg" in
    --external-postgres) EXTERNAL_PG=1 ;;
    --no-start) START=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
[ -f "$REPO/pyproject.toml" ] && [ -f "$REPO/requirements/lock.txt" ] || {
  echo "run from a checkout of the repository" >&2; exit 1; }

USER_NAME=trending-tv
PREFIX=/opt/trending-tv-dagster
STATE=/var/lib/trending-tv-dagster
CONF=/etc/trending-tv
ENV_FILE="$CONF/dagster.env"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
packages=(python3 python3-venv python3-pip ca-certificates openjdk-17-jre-headless)
[ "$EXTERNAL_PG" -eq 1 ] || packages+=(postgresql)
apt-get install -y -q "${packages[@]}"

python3 - <<'PY' || { echo "Python >= 3.11 is required (Debian 12+, Ubuntu 24.04+)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

id -u "$USER_NAME" >/dev/null 2>&1 || \
  useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin "$USER_NAME"
install -d -o "$USER_NAME" -g "$USER_NAME" -m 750 "$STATE" "$STATE/home" "$STATE/compute_logs"
install -d -o root -g "$USER_NAME" -m 750 "$CONF"
install -d -m 755 "$PREFIX"

# a copy of the source (the units run deploy/dagster/*.py from it) and the virtualenv at the locked
# versions. Editable: the code runs from this copy, where the EMR launcher finds requirements/lock.txt
# and pins every node to it (trending_tv/resources/emr/packaging.py; an installed copy has no lock file).
rm -rf "$PREFIX/src.new"
mkdir -p "$PREFIX/src.new"
tar -C "$REPO" --exclude=.venv --exclude=.git --exclude=lake --exclude=.dagster_home --exclude=.demo \
  --exclude=artifacts -cf - . | tar -C "$PREFIX/src.new" -xf -
rm -rf "$PREFIX/src" && mv "$PREFIX/src.new" "$PREFIX/src"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q -c "$PREFIX/src/requirements/lock.txt" -e "$PREFIX/src[pipeline]"
"$PREFIX/venv/bin/python" -I -c "from trending_tv.resources.emr.packaging import LOCK_FILE as f; \
assert f.is_file(), f'the EMR bootstrap would find no lock file at {f}'"
# Spark's classes recorded once for this virtualenv: cold local runs start ~4 s faster (optional).
"$PREFIX/venv/bin/python" -m trending_tv.resources.spark_classes \
  || echo "install.sh: continuing without a Spark class archive" >&2

new_env=0
if [ ! -f "$ENV_FILE" ]; then
  install -m 640 -o root -g "$USER_NAME" "$HERE/dagster/dagster.env.example" "$ENV_FILE"
  new_env=1
  if [ "$EXTERNAL_PG" -eq 0 ]; then
    password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
    sed -i "s|^DAGSTER_PG_PASSWORD=.*|DAGSTER_PG_PASSWORD=$password|" "$ENV_FILE"
    runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -v pw="$password" <<'SQL'
SELECT format('CREATE ROLE dagster LOGIN PASSWORD %L', :'pw')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dagster') \gexec
SELECT 'CREATE DATABASE dagster OWNER dagster'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dagster') \gexec
SQL
  fi
fi
install -m 644 "$HERE/dagster/workspace.yaml" "$CONF/workspace.yaml"
install -m 644 -o "$USER_NAME" -g "$USER_NAME" "$HERE/dagster/dagster.yaml" "$STATE/home/dagster.yaml"

UNITS="dagster-code-server.service dagster-daemon.service dagster-webserver.service \
trending-tv-purge-runs.service trending-tv-purge-runs.timer trending-tv-spark-connect.service"
for unit in $UNITS; do
  install -m 644 "$HERE/systemd/$unit" "/etc/systemd/system/$unit"
done
systemctl daemon-reload
systemctl enable dagster-code-server.service dagster-daemon.service dagster-webserver.service \
  trending-tv-purge-runs.timer
# The warm Spark (a 3g JVM) only where the local deployment is told to use it.
if grep -q '^TRENDING_TV_SPARK_REMOTE=' "$ENV_FILE"; then
  systemctl enable trending-tv-spark-connect.service
fi

if [ "$new_env" -eq 1 ]; then
  echo "wrote $ENV_FILE: fill in the lake, EMR and compute-log settings (and the database if external),"
  echo "then run this script again to migrate the instance and start the units."
  exit 0
fi

# create or upgrade the instance's tables (a no-op when they are current)
runuser -u "$USER_NAME" -- env -C "$STATE" bash -c \
  "set -a; . '$ENV_FILE'; set +a; '$PREFIX/venv/bin/dagster' instance migrate"
runuser -u "$USER_NAME" -- env -C "$STATE" bash -c \
  "set -a; . '$ENV_FILE'; set +a; '$PREFIX/venv/bin/dagster' definitions validate -m trending_tv.definitions"

if [ "$START" -eq 1 ]; then
  if grep -q '^TRENDING_TV_SPARK_REMOTE=' "$ENV_FILE"; then
    systemctl restart trending-tv-spark-connect.service
  fi
  systemctl restart dagster-code-server.service
  systemctl restart dagster-daemon.service dagster-webserver.service
  systemctl start trending-tv-purge-runs.timer
fi

cat <<MSG
installed. The UI listens on 127.0.0.1:3000 only; put the authenticating proxy in front of it:
  apt-get install nginx apache2-utils && htpasswd -B -c /etc/nginx/trending-tv.htpasswd <you>
  cp $PREFIX/src/deploy/proxy/nginx-dagster.conf /etc/nginx/sites-available/trending-tv-dagster  # edit names
  ln -s ../sites-available/trending-tv-dagster /etc/nginx/sites-enabled/ && nginx -t && systemctl reload nginx
  journalctl -u dagster-daemon -f
MSG
