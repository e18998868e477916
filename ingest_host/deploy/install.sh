#!/usr/bin/env bash
# Install the trending-tv ingest host on a fresh Debian 12+ / Ubuntu 24.04+ box (Python >= 3.11).
#
#   sudo ./ingest_host/deploy/install.sh [--cron] [--no-start]
#
# Run from a checkout of the repository. It creates the system user `trending-tv`, a virtualenv
# in /opt/trending-tv/venv with the `ingest` extra only (no Dagster, no Spark) at the versions of
# requirements/lock.txt, the state folder /var/lib/trending-tv (SQLite buffer, logs), and
# /etc/trending-tv/ingest.env (settings and secrets, mode 640, never overwritten). Then it installs
# the systemd units (default) or the crontab (--cron). Re-running it upgrades the package and keeps
# the settings.
set -euo pipefail

MODE=systemd
START=1
for arg in "$@"; do
  case "$arg" in
    --cron) MODE=cron ;;
    --no-start) START=0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
[ -f "$REPO/pyproject.toml" ] && [ -f "$REPO/requirements/lock.txt" ] || {
  echo "run from a checkout of the repository" >&2; exit 1; }

USER_NAME=trending-tv
PREFIX=/opt/trending-tv
STATE=/var/lib/trending-tv
CONF=/etc/trending-tv
ENV_FILE="$CONF/ingest.env"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q python3 python3-venv python3-pip sqlite3 ca-certificates psmisc util-linux

python3 - <<'PY' || { echo "Python >= 3.11 is required (Debian 12+, Ubuntu 24.04+)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

id -u "$USER_NAME" >/dev/null 2>&1 || \
  useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin "$USER_NAME"
install -d -o "$USER_NAME" -g "$USER_NAME" -m 750 "$STATE"
install -d -o root -g "$USER_NAME" -m 750 "$CONF"
install -d -m 755 "$PREFIX"

# a copy of the source (the units' Documentation= points at its README) and the virtualenv at the
# versions of requirements/lock.txt (its constraints pin only what the `ingest` extra installs)
rm -rf "$PREFIX/src.new"
mkdir -p "$PREFIX/src.new"
tar -C "$REPO" --exclude=.venv --exclude=.git --exclude=lake --exclude='*.sqlite3*' -cf - . | tar -C "$PREFIX/src.new" -xf -
rm -rf "$PREFIX/src" && mv "$PREFIX/src.new" "$PREFIX/src"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q -c "$PREFIX/src/requirements/lock.txt" "$PREFIX/src[ingest]"
"$PREFIX/venv/bin/python" -I -c "import ingest_host.cli, sys; assert 'dagster' not in sys.modules"

if [ ! -f "$ENV_FILE" ]; then
  cat > "$ENV_FILE" <<'ENV'
# trending-tv ingest host settings (names and defaults: ingest_host/README.md, "Settings"). Secrets live here only.
X_BEARER_TOKEN=
TMDB_API_KEY=
TRENDING_TV_LAKE=s3://CHANGE-ME-bucket/lake
TRENDING_TV_BUFFER=/var/lib/trending-tv/ingest_buffer.sqlite3
# TRENDING_TV_TRACKED_SHOWS defaults to <lake>/config/tracked_shows.csv
TRENDING_TV_MAX_POSTS_PER_HOUR=5000
TRENDING_TV_RETENTION_DAYS=7
# TRENDING_TV_STREAM_BUDGET_USD=30
# TRENDING_TV_MONTHLY_SPEND_LIMIT_USD=110
# AWS credentials: prefer an instance role; else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY here.
# AWS_DEFAULT_REGION=us-east-1
ENV
  chown root:"$USER_NAME" "$ENV_FILE"
  chmod 640 "$ENV_FILE"
  echo "wrote $ENV_FILE: fill in X_BEARER_TOKEN, TMDB_API_KEY and TRENDING_TV_LAKE"
  START=0
fi

UNITS="ingest-host-stream.service ingest-host-upload.service ingest-host-upload.timer \
ingest-host-fetch-tmdb.service ingest-host-fetch-tmdb.timer \
ingest-host-refresh-shows.service ingest-host-refresh-shows.timer \
ingest-host-fetch-counts.service ingest-host-fetch-counts.timer"

if [ "$MODE" = systemd ]; then
  for unit in $UNITS; do
    install -m 644 "$HERE/systemd/$unit" "/etc/systemd/system/$unit"
  done
  # systemd < 254 ignores RestartSteps/RestartMaxDelaySec: back off with a fixed 60 s there instead
  SYSTEMD_VERSION="$(systemctl --version | awk 'NR == 1 { print $2 }')"
  if [ "${SYSTEMD_VERSION%%.*}" -lt 254 ] 2>/dev/null; then
    install -d -m 755 /etc/systemd/system/ingest-host-stream.service.d
    printf '[Service]\nRestartSec=60s\n' > /etc/systemd/system/ingest-host-stream.service.d/backoff.conf
  else
    rm -f /etc/systemd/system/ingest-host-stream.service.d/backoff.conf
  fi
  systemctl daemon-reload
  systemctl enable ingest-host-stream.service ingest-host-upload.timer \
    ingest-host-fetch-tmdb.timer ingest-host-refresh-shows.timer ingest-host-fetch-counts.timer
  if [ "$START" -eq 1 ]; then
    systemctl restart ingest-host-stream.service
    systemctl start ingest-host-upload.timer ingest-host-fetch-tmdb.timer ingest-host-refresh-shows.timer \
      ingest-host-fetch-counts.timer
  fi
else
  [ "$(date +%Z)" = UTC ] || echo "warning: the clock is not UTC; crontab.txt times assume UTC" >&2
  crontab -u "$USER_NAME" "$HERE/crontab.txt"
fi

cat <<MSG
installed ($MODE). Next:
  sudoedit $ENV_FILE                      # secrets and lake
  sudo -u $USER_NAME $PREFIX/venv/bin/ingest-host --env-file $ENV_FILE refresh-shows
  sudo systemctl restart ingest-host-stream   # (systemd) or wait a minute (cron)
  journalctl -u ingest-host-stream -f         # (systemd) or tail $STATE/stream.log (cron)
MSG
