#!/bin/sh
# Wait until the code server answers on 127.0.0.1:$DAGSTER_CODE_SERVER_PORT (it listens only once the
# definitions are loaded). ExecStartPre of the daemon and webserver units: a daemon started without the
# code cannot launch run retries (the retry of a run that failed meanwhile is dropped, not postponed).
#   wait_for_code_server.sh [seconds, default 240]     VENV defaults to /opt/trending-tv-dagster/venv
set -u
venv="${VENV:-/opt/trending-tv-dagster/venv}"
deadline=$(( $(date +%s) + ${1:-240} ))
until "$venv/bin/dagster" api grpc-health-check -h 127.0.0.1 -p "$DAGSTER_CODE_SERVER_PORT" >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the code server on 127.0.0.1:$DAGSTER_CODE_SERVER_PORT is not answering" >&2
    exit 1
  fi
  sleep 2
done
