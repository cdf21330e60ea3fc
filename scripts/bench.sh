#!/usr/bin/env bash
# make bench: gateway vs nginx vs HAProxy vs Caddy vs a naive Go proxy vs direct, in one run on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt-ensure.sh nginx:nginx haproxy:haproxy caddy:caddy wrk:wrk
make --no-print-directory build
# Debian starts nginx, haproxy and caddy as services on install; they would compete for the CPU.
for svc in nginx haproxy caddy; do
  if pgrep -x "$svc" >/dev/null 2>&1 && command -v service >/dev/null; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
go run ./bench -bin bin -out bench/out "$@"
