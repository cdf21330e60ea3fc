#!/usr/bin/env bash
# make bench: gateway (DB-less, embedded store, PostgreSQL) vs nginx vs HAProxy vs Caddy vs a naive Go proxy vs direct, in one run on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt-ensure.sh nginx:nginx haproxy:haproxy caddy:caddy wrk:wrk pg_ctlcluster:postgresql
make --no-print-directory build
# Debian starts nginx, haproxy, caddy and postgresql as services on install; they would compete for the CPU.
for svc in nginx haproxy caddy; do
  if pgrep -x "$svc" >/dev/null 2>&1 && command -v service >/dev/null; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
# Debian's cluster by its service, not by process name: the benchmark's own throwaway PostgreSQL (and the
# tests') are named postgres too.
if command -v service >/dev/null && service postgresql status >/dev/null 2>&1; then service postgresql stop >/dev/null 2>&1 || true; fi
go run ./bench -bin bin -out bench/out "$@"
