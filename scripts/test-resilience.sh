#!/usr/bin/env bash
# make test-resilience: builds the static binaries once, runs the resilience
# suites with the Ginkgo CLI pinned in go.mod, and leaves JUnit, Ginkgo JSON,
# scenario records and raw results in reports/out/ (then renders the reports
# when the reports command exists).
#
#   LABELS=kill,restart make test-resilience      only those scenarios (a Ginkgo label filter)
#   GAUNTLET_PROVE_FAIL=kill make test-resilience  break a scenario on purpose: it must fail
#   GAUNTLET_BIN_DIR=dir make test-resilience      use prebuilt gateway, mockbin, toxiproxy binaries
#   GINKGO_TIMEOUT=40m                             the whole suite's timeout (default 10m; make soak sets it)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false

out=${GAUNTLET_OUT:-reports/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# A run's records describe that run only.
rm -rf "$out/records" "$out/results" "$out/logs" "$out/junit.xml" "$out/report.json"

if [ -n "${GAUNTLET_BIN_DIR:-}" ]; then
  # Prebuilt binaries (gateway, mockbin, toxiproxy), e.g. to test another gateway build.
  bin=$(cd "$GAUNTLET_BIN_DIR" && pwd)
  echo "using prebuilt binaries in $bin"
else
  bin=$(mktemp -d)
  trap 'rm -rf "$bin"' EXIT
  echo "building binaries into $bin"
  CGO_ENABLED=0 go build -trimpath -o "$bin/gateway" ./gateway
  CGO_ENABLED=0 go build -trimpath -o "$bin/mockbin" ./mockbin
  CGO_ENABLED=0 go build -trimpath -o "$bin/toxiproxy" github.com/Shopify/toxiproxy/v2/cmd/server
fi
export GAUNTLET_BIN_DIR=$bin GAUNTLET_OUT=$out

args=(--tags resilience --timeout "${GINKGO_TIMEOUT:-10m}" --poll-progress-after 60s
  --junit-report junit.xml --json-report report.json --output-dir "$out")
# The soak (make soak) runs for minutes; the catalogue leaves it out unless
# LABELS asks for it.
args+=(--label-filter "${LABELS:-!soak}")
rc=0
go tool ginkgo "${args[@]}" ./scenarios || rc=$?

# Render the reports, then open them in headless Chromium: the plots must
# have rendered with no console error (screenshots land next to the index).
go run ./reports/cmd/reports render "$out" || { echo "rendering reports failed" >&2; rc=1; }
if [ -f "$out/index.html" ]; then
  go run ./reports/cmd/reports check "$out" || { echo "the browser check of the reports failed" >&2; rc=1; }
fi
echo "report index: $out/index.html"
exit $rc
