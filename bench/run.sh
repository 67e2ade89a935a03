#!/usr/bin/env bash
# The benchmark in one command: installs what it needs (wrk, the project's virtualenv), makes
# sure PostgreSQL and Redis answer on 127.0.0.1, then runs bench/run.py (arguments pass
# through; --help lists them). A fresh database bench_<timestamp> is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
[ -x .venv/bin/gunicorn ] || make .venv/bin/.installed
if ! pg_isready -q -h 127.0.0.1; then
    service postgresql start >/dev/null 2>&1 || true
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
fi
if [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" != "PONG" ]; then
    service redis-server start >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1
    sleep 1
fi
pg_isready -q -h 127.0.0.1 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
exec .venv/bin/python bench/run.py "$@"
