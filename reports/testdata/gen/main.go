// Command gen writes the fixture records under reports/testdata/records from a
// seeded simulation of three scenarios, so the fixtures are reproducible and
// internally consistent (the series sum to the totals, the quantiles come from
// the same requests). Run from the module root:
//
//	go run ./reports/testdata/gen reports/testdata/records
package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/reports"
)

// req is one simulated request, as the harness sees a vegeta result.
type req struct {
	sent    time.Duration // after the attack start
	latency time.Duration
	code    int
	target  string // X-Mockbin-Instance of the answer, "" if the gateway answered
	err     string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen DIR")
		os.Exit(2)
	}
	for _, r := range []*reports.Record{failover(), rateLimit(), readTimeout()} {
		if err := r.WriteFile(os.Args[1]); err != nil {
			slog.Error("write fixture", "err", err)
			os.Exit(1)
		}
	}
}

var base = time.Date(2026, 11, 26, 23, 10, 0, 0, time.UTC)

func lognormal(rng *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
}

func failover() *reports.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	start := base
	killAt, restartAt := 10*time.Second+4*time.Millisecond, 20*time.Second+412*time.Millisecond
	healthyAgain := 22 * time.Second // the active prober's next success after the restart
	var reqs []req
	const rate, dur = 200, 30 * time.Second
	bFailures := 0
	for i := range int(rate * dur.Seconds()) {
		sent := time.Duration(i) * time.Second / rate
		target := "mockbin-a"
		if i%2 == 1 {
			target = "mockbin-b"
		}
		r := req{sent: sent, latency: lognormal(rng, 2*time.Millisecond, 0.45), code: 200, target: target}
		bDown := sent >= killAt && sent < healthyAgain
		if target == "mockbin-b" && bDown {
			// Passive health checks trip after 5 failures (tcp_failures=5);
			// the gateway retries the first ones on mockbin-a, the rest fail.
			bFailures++
			switch {
			case bFailures <= 5:
				r.latency += 3 * time.Millisecond
				r.target = "mockbin-a"
				if bFailures > 3 {
					r.code, r.target, r.err = 502, "", "502 Bad Gateway"
				}
			default:
				r.target = "mockbin-a"
			}
		}
		reqs = append(reqs, r)
	}
	rec := build("Failover: kill one of two targets", start, reqs, dur, time.Second)
	rec.Labels = []string{"failover", "health-checks"}
	rec.Stack = reports.StackContainers
	rec.Gateway = "gauntlet/gateway:dev"
	rec.GatewayConfig = json.RawMessage(`{"_format_version":"3.0","services":[{"name":"echo","host":"echo-upstream","retries":5,"connect_timeout":1000,"read_timeout":2000,"routes":[{"name":"echo","paths":["/echo"]}]}],"upstreams":[{"name":"echo-upstream","healthchecks":{"passive":{"unhealthy":{"tcp_failures":5,"http_failures":5}},"active":{"http_path":"/status/200","healthy":{"interval":1,"successes":1},"unhealthy":{"interval":1,"tcp_failures":1}}},"targets":[{"target":"mockbin-a:8080","weight":100},{"target":"mockbin-b:8080","weight":100}]}]}`)
	rec.Faults = []reports.Fault{{
		Name: "kill mockbin-b", Kind: "kill", Target: "mockbin-b",
		PlannedOffset: 10 * time.Second, PlannedDuration: 10 * time.Second,
		Start: start.Add(killAt), End: start.Add(restartAt),
	}}
	rec.Load = reports.Load{Rate: rate, Duration: dur, Timeout: 2 * time.Second, Connections: 64,
		Targets: []string{"GET http://127.0.0.1:32768/echo"}}
	failed := rec.Totals.Requests - uint64(rec.Totals.StatusCodes["200"])
	rec.Assertions = []reports.Assertion{
		{Name: "failed requests during failover", Bound: "<= 10", Measured: float64(failed), Unit: "requests", Pass: failed <= 10},
		{Name: "traffic back on mockbin-b after restart", Bound: "share >= 40% within 5s", Measured: 50, Unit: "%", Pass: true},
	}
	rec.Logs = []reports.Log{
		{Container: "gateway", Tail: "time=2026-11-26T23:10:10.006Z level=WARN msg=\"passive health: target unhealthy\" upstream=echo-upstream target=mockbin-b:8080 tcp_failures=5\ntime=2026-11-26T23:10:22.001Z level=INFO msg=\"active health: target healthy\" upstream=echo-upstream target=mockbin-b:8080"},
		{Container: "mockbin-a", Tail: "time=2026-11-26T23:09:59.812Z level=INFO msg=listening addr=:8080 instance=mockbin-a"},
		{Container: "mockbin-b", Tail: "time=2026-11-26T23:10:20.401Z level=INFO msg=listening addr=:8080 instance=mockbin-b"},
	}
	rec.Verdict = verdict(rec.Assertions)
	return rec
}

func rateLimit() *reports.Record {
	rng := rand.New(rand.NewPCG(3, 4))
	start := base.Add(2 * time.Minute)
	const rate, dur, limit = 300, 20 * time.Second, 100
	var reqs []req
	admitted := map[int]int{}
	for i := range int(rate * dur.Seconds()) {
		sent := time.Duration(i) * time.Second / rate
		sec := int(sent / time.Second)
		// The second-window counter lags across one boundary: a few extra
		// requests get through there, which the assertion catches.
		allowed := limit
		if sec == 7 || sec == 13 {
			allowed = limit + 34
		}
		r := req{sent: sent, latency: lognormal(rng, 1500*time.Microsecond, 0.35)}
		if admitted[sec] < allowed {
			admitted[sec]++
			r.code, r.target = 200, "mockbin-a"
		} else {
			r.code, r.err, r.latency = 429, "429 Too Many Requests", r.latency/3
		}
		reqs = append(reqs, r)
	}
	rec := build("Rate limit admits the configured rate", start, reqs, dur, time.Second)
	rec.Labels = []string{"rate-limiting"}
	rec.Stack = reports.StackContainers
	rec.Gateway = "gauntlet/gateway:dev"
	rec.GatewayConfig = json.RawMessage(`{"_format_version":"3.0","services":[{"name":"echo","url":"http://mockbin-a:8080","routes":[{"name":"echo","paths":["/echo"]}],"plugins":[{"name":"rate-limiting","config":{"second":100,"policy":"local"}}]}]}`)
	rec.Load = reports.Load{Rate: rate, Duration: dur, Timeout: 2 * time.Second, Connections: 32,
		Targets: []string{"GET http://127.0.0.1:32771/echo"}}
	admittedRate := float64(rec.Totals.StatusCodes["200"]) / dur.Seconds()
	rec.Assertions = []reports.Assertion{
		{Name: "admitted rate", Bound: "<= 102 rps", Measured: math.Round(admittedRate*100) / 100, Unit: "rps", Pass: admittedRate <= 102},
		{Name: "rejections answer 429", Bound: "all non-2xx are 429", Measured: float64(rec.Totals.StatusCodes["429"]), Unit: "responses", Pass: true},
	}
	rec.Verdict = verdict(rec.Assertions)
	rec.Failure = fmt.Sprintf("admitted rate %.2f rps exceeds the bound of 102 rps", admittedRate)
	return rec
}

func readTimeout() *reports.Record {
	rng := rand.New(rand.NewPCG(5, 6))
	start := base.Add(4 * time.Minute)
	from, to := 5*time.Second+21*time.Millisecond, 15*time.Second+9*time.Millisecond
	const rate, dur = 100, 20 * time.Second
	var reqs []req
	for i := range int(rate * dur.Seconds()) {
		sent := time.Duration(i) * time.Second / rate
		r := req{sent: sent, latency: lognormal(rng, 2500*time.Microsecond, 0.4), code: 200, target: "mockbin-a"}
		if sent >= from && sent < to {
			// Toxiproxy holds every response for 3s; the gateway gives up at
			// its 1000 ms read timeout.
			r.latency = time.Second + lognormal(rng, 2*time.Millisecond, 0.5)
			r.code, r.target, r.err = 504, "", "504 Gateway Timeout"
		}
		reqs = append(reqs, r)
	}
	rec := build("504 within the read timeout", start, reqs, dur, time.Second)
	rec.Labels = []string{"timeouts", "toxiproxy"}
	rec.Stack = reports.StackProcesses
	rec.Gateway = "bin/gateway"
	rec.GatewayConfig = json.RawMessage(`{"_format_version":"3.0","services":[{"name":"slow","url":"http://127.0.0.1:21001","read_timeout":1000,"retries":0,"routes":[{"name":"slow","paths":["/slow"]}]}]}`)
	rec.Faults = []reports.Fault{{
		Name: "latency 3s on mockbin-a", Kind: "latency", Target: "toxiproxy:mockbin-a",
		PlannedOffset: 5 * time.Second, PlannedDuration: 10 * time.Second,
		Start: start.Add(from), End: start.Add(to),
	}}
	rec.Load = reports.Load{Rate: rate, Duration: dur, Timeout: 5 * time.Second, Connections: 128,
		Targets: []string{"GET http://127.0.0.1:8000/slow"}}
	var slowest time.Duration
	for _, r := range reqs {
		if r.code == 504 {
			slowest = max(slowest, r.latency)
		}
	}
	rec.Assertions = []reports.Assertion{
		{Name: "slowest 504", Bound: "< 1100ms", Measured: float64(slowest.Microseconds()) / 1000, Unit: "ms", Pass: slowest < 1100*time.Millisecond},
		{Name: "non-2xx during the fault are 504", Bound: "== 100%", Measured: 100, Unit: "%", Pass: true},
	}
	rec.Logs = []reports.Log{{Container: "gateway", Tail: "time=2026-11-26T23:14:06.024Z level=WARN msg=\"upstream read timeout\" service=slow timeout=1s"}}
	rec.Verdict = verdict(rec.Assertions)
	return rec
}

func verdict(as []reports.Assertion) string {
	for _, a := range as {
		if !a.Pass {
			return reports.VerdictFail
		}
	}
	return reports.VerdictPass
}

// build turns simulated requests into a record's totals and series the way
// the harness turns vegeta results into them.
func build(name string, start time.Time, reqs []req, dur, width time.Duration) *reports.Record {
	rec := &reports.Record{Schema: reports.SchemaVersion, Scenario: name, Start: start}
	var last time.Duration
	lat := make([]time.Duration, 0, len(reqs))
	codes := map[string]int{}
	errs := map[string]bool{}
	var sum time.Duration
	success := 0
	for _, r := range reqs {
		lat = append(lat, r.latency)
		sum += r.latency
		codes[strconv.Itoa(r.code)]++
		if r.code >= 200 && r.code < 400 {
			success++
		} else if r.err != "" {
			errs[r.err] = true
		}
		last = max(last, r.sent+r.latency)
	}
	slices.Sort(lat)
	lastSent := reqs[len(reqs)-1].sent
	wait := last - lastSent
	t := &rec.Totals
	t.Requests = uint64(len(reqs))
	t.Duration = lastSent
	t.Wait = wait
	t.Rate = float64(len(reqs)) / lastSent.Seconds()
	t.Throughput = float64(success) / (lastSent + wait).Seconds()
	t.Success = float64(success) / float64(len(reqs))
	t.Latencies = reports.Latencies{
		Min: lat[0], Mean: sum / time.Duration(len(lat)), P50: quantile(lat, 0.5), P90: quantile(lat, 0.9),
		P95: quantile(lat, 0.95), P99: quantile(lat, 0.99), P999: quantile(lat, 0.999), Max: lat[len(lat)-1],
	}
	for _, q := range reports.DistributionQuantiles {
		t.Distribution = append(t.Distribution, reports.Quantile{Q: q, Latency: quantile(lat, q)})
	}
	t.StatusCodes = codes
	for e := range errs {
		t.Errors = append(t.Errors, e)
	}
	slices.Sort(t.Errors)
	t.BytesIn = uint64(success) * 312
	t.BytesOut = 0

	for off := time.Duration(0); off < dur; off += width {
		iv := reports.Interval{Offset: off, Width: width, StatusCodes: map[string]int{}, Targets: map[string]int{}}
		var bl []time.Duration
		ok := 0
		for _, r := range reqs {
			if r.sent < off || r.sent >= off+width {
				continue
			}
			iv.Requests++
			bl = append(bl, r.latency)
			iv.StatusCodes[strconv.Itoa(r.code)]++
			if r.target != "" {
				iv.Targets[r.target]++
			}
			if r.code >= 200 && r.code < 400 {
				ok++
			}
		}
		iv.Rate = float64(iv.Requests) / width.Seconds()
		if iv.Requests > 0 {
			slices.Sort(bl)
			iv.Success = float64(ok) / float64(iv.Requests)
			iv.P50, iv.P99 = quantile(bl, 0.5), quantile(bl, 0.99)
		}
		rec.Series = append(rec.Series, iv)
	}
	rec.End = start.Add(last + 150*time.Millisecond)
	return rec
}

// quantile is the nearest-rank quantile of sorted latencies.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
