#!/usr/bin/env bash
# make run: the tutorial topology in containers, so the tutorial's curl
# commands (KONG-REFERENCE.md, "Seed topology") work verbatim:
#   gateway on 127.0.0.1:8000 (proxy) and 127.0.0.1:8001 (Admin API),
#   mockbin1 and mockbin2 (mockbin1 also as "mockbin") on port 8080.
#
#   scripts/run.sh [up]     build static binaries and FROM scratch images, start, wait until ready
#   scripts/run.sh down     stop and remove the containers and the gateway's data volume
#   scripts/run.sh logs     follow the logs
#   scripts/run.sh ps       show the containers
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -p gauntlet -f scripts/compose.yaml "$@"
  else
    docker-compose -p gauntlet -f scripts/compose.yaml "$@"
  fi
}

images=bin/images
build() {
  for name in gateway mockbin; do
    mkdir -p "$images/$name"
    CGO_ENABLED=0 go build -trimpath -o "$images/$name/$name" "./$name"
    # No shell and no base image: the binary is the whole container.
    printf 'FROM scratch\nCOPY %s /%s\nENTRYPOINT ["/%s"]\n' "$name" "$name" "$name" >"$images/$name/Dockerfile"
  done
}

wait_ready() {
  local deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null http://127.0.0.1:8001/status; do
    if [ $SECONDS -ge $deadline ]; then
      echo "the gateway did not answer http://127.0.0.1:8001/status within 60s; its logs:" >&2
      compose logs --tail 50 gateway >&2
      exit 1
    fi
    sleep 0.2
  done
}

case "${1:-up}" in
  up)
    build
    # The classic builder: FROM scratch needs no pull, BuildKit would try to resolve it.
    DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0 compose up -d --build
    wait_ready
    cat <<'MSG'
Gauntlet is up: proxy http://localhost:8000, Admin API http://localhost:8001.
Try the tutorial:
  curl -i -X POST --url http://localhost:8001/services --data "name=mockbin-service" --data "url=http://mockbin:8080"
  curl -i -X POST --url http://localhost:8001/services/mockbin-service/routes --data "name=mockbin-route" --data "paths[]=/mockbin"
  curl http://localhost:8000/mockbin
Stop with: scripts/run.sh down
MSG
    ;;
  down) compose down -v --remove-orphans --rmi all ;;
  logs) compose logs -f ;;
  ps) compose ps ;;
  *) echo "usage: $0 [up|down|logs|ps]" >&2; exit 2 ;;
esac
