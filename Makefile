# Gauntlet: the two commands a user runs are `make test` and `make test-resilience`.
# Every target installs or builds what it needs itself (Go modules, Debian packages, local images).
SHELL := /bin/bash
export GOFLAGS := -buildvcs=false
BIN ?= bin

.PHONY: all build gateway mockbin test test-conformance-postgres fuzz test-resilience bench run report report-diff deps-test soak mutate staticcheck lint

all: build

build: gateway mockbin

gateway:
	CGO_ENABLED=0 go build -o $(BIN)/gateway ./gateway

mockbin:
	CGO_ENABLED=0 go build -o $(BIN)/mockbin ./mockbin

# Unit tests: everything but the container suites (those carry the `resilience` build tag),
# then the conformance suite (embedded store, then PostgreSQL) followed by staticcheck, beside
# every fuzz target (FUZZTIME, default 5s each; the proxy's FuzzLoopRequest 30s): the suite
# waits on the database more than on the CPU, and a fuzz target runs for a fixed wall-clock
# time (its build is the CPU's), so together they take about the longer of the two instead of
# the sum (in CI the fuzzers, about 10 min, outlast the suite and staticcheck). Any of them
# failing fails the target.
#
# The conformance suite is an HTTP black box over a whole in-process gateway whose packages
# have their own -race tests; under -race it took 112 s of CI's 25 min, so it runs without it.
test: deps-test
	go test -race -count=1 $$(go list ./... | grep -v '/gateway/conformance$$')
	@scripts/fuzz.sh & fuzz=$$!; rc=0; \
	  go test -count=1 -parallel 8 ./gateway/conformance/ || rc=$$?; \
	  $(MAKE) test-conformance-postgres || rc=$$?; \
	  $(MAKE) --no-print-directory staticcheck || rc=$$?; \
	  wait $$fuzz || { echo "make test: a fuzz target failed" >&2; rc=1; }; exit $$rc

# The Kong conformance suite again with every non-DB-less case on the postgres store
# (a schema each on a throwaway server): the Admin API, kong.yml and the proxy must
# behave exactly as on the embedded store. Cases wait on the database more than on the
# CPU, hence -parallel 8; no -race, since gateway/store's own tests run the postgres
# store under the race detector. ~4.5 min on a shared 2-core machine.
test-conformance-postgres: deps-test
	GAUNTLET_CONFORMANCE_DATABASE=postgres go test -count=1 -timeout 20m -parallel 8 ./gateway/conformance/

fuzz:
	scripts/fuzz.sh

# staticcheck, pinned in go.mod as a tool: once plain and once with the `resilience` tag, so the
# container suites and their helpers are checked too.
staticcheck:
	go tool staticcheck ./...
	go tool staticcheck -tags resilience ./...

lint: staticcheck

# Debian packages the unit tests use for real: redis-server for the redis rate-limit
# policy, postgresql for the postgres store (tests start throwaway servers with its
# initdb; pg_ctlcluster is the package's command on PATH, initdb is not), chromium for
# the report checks (so none is ever skipped).
deps-test:
	@scripts/apt-ensure.sh redis-server:redis-server pg_ctlcluster:postgresql chromium:chromium

# The main job: builds binaries and images, runs the scenario suites, writes reports/out/.
test-resilience:
	scripts/test-resilience.sh

# Soak: SOAK_DURATION (default 10m) of mixed load and periodic faults, the gateway's RSS,
# goroutines and fds sampled every 10 s and tested for an upward trend. Not part of
# test-resilience (whose default filter is '!soak'); writes reports/out/soak/.
soak:
	LABELS=soak GINKGO_TIMEOUT=$${GINKGO_TIMEOUT:-60m} GAUNTLET_OUT=$${GAUNTLET_OUT:-reports/out/soak} scripts/test-resilience.sh

# Mutation testing: each mutant of scenarios/mutants planted in a copy of HEAD, built, and run
# through test-resilience on its labels; writes reports/out/mutate/ (mutants.md, .json, index.html).
# MUTANTS=id1,id2 runs a subset. ~1.5 min a mutant; not part of CI.
mutate:
	go run ./scenarios/mutants/cmd/mutate

# BENCH_ARGS go to bench/main.go, e.g. BENCH_ARGS="-path /request" or "-ab -a old -b new".
bench:
	scripts/bench.sh $(BENCH_ARGS)

run:
	scripts/run.sh

report:
	go run ./reports/cmd/reports render reports/out

# gauntlet check against your own configuration: lint, then the fault battery
# (docs/gauntlet.md). make check CONFIG=kong.yml [ENV=kong.env] [OUT=dir]
.PHONY: check
check:
	@test -n "$(CONFIG)" || { echo "usage: make check CONFIG=path/to/kong.yml [ENV=path/to/kong.env] [OUT=dir]" >&2; exit 2; }
	go run ./cmd/gauntlet check $(CONFIG) $(if $(ENV),--env-file $(ENV)) --out $(or $(OUT),reports/out/check)

report-diff:
	go run ./reports/cmd/reports diff $(BASE) $(NEW)
