#!/usr/bin/env bash
# PostgreSQL server binaries for the shared-study test (tests/test_sweep_postgres.py):
# the test starts its own throwaway server on 127.0.0.1 with initdb + pg_ctl.
# Installs Debian's `postgresql` package when they are missing (CI runs as root
# on a fresh machine); the cluster Debian creates is not used and is stopped.
set -euo pipefail
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
if have_pg; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "postgres: initdb/pg_ctl not found; install PostgreSQL (Debian: apt-get install postgresql)" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# the package starts a default cluster where an init system runs; the test does not need it
if command -v pg_ctlcluster >/dev/null 2>&1; then
    for conf in /etc/postgresql/*/main; do
        [ -d "$conf" ] || continue
        v=$(basename "$(dirname "$conf")")
        pg_ctlcluster "$v" main stop >/dev/null 2>&1 || true
    done
fi
have_pg || { echo "postgres: the postgresql package installed no initdb" >&2; exit 2; }
