//go:build resilience

package scenarios_test

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Passive counters under mixed traffic: five services, each over its own
// faulted mockbin (mockbin1..5) and the shared healthy mockbin6, round-robin.
// Each faulted mockbin answers a mix of 500s and successes, a fixed pattern
// or a seeded failure_rate, from the load's start.
//
// The checks replay each faulted mockbin's answers, in the order it saw them
// (its X-Mockbin-Fault-Seq header), through Kong's counter rules
// (lua-resty-healthcheck's incr_counter, KONG-REFERENCE.md's health section):
//
//   - a status in the unhealthy list (500) adds an http failure; the target is
//     ejected when the failures reach http_failures;
//   - a status in the healthy list (200) clears the failure counters, but only
//     when passive.healthy.successes > 0: a counter whose threshold is 0 is
//     disabled, so with Kong's default (successes 0) a success is ignored and
//     failures add up across successes.
//
// The replay predicts the request at which the target is ejected, or that it
// never is; the gateway must eject it at exactly that request and never
// otherwise. The load runs over one client connection (as in
// health_passive_test.go): each response is fed to the counters before the
// next request is picked, so the counts are exact.
var _ = Describe("passive counters under mixed traffic", Label("health-checks", "passive-mixed"), func() {
	It("ejects exactly when Kong's counter rules say, and never otherwise", func(ctx SpecContext) {
		sc := begin(ctx, "passive counters under mixed traffic", stack.Options{Mockbins: 6})
		healthy := sc.Stack.Mockbin("mockbin6")
		seed := func(v uint64) *uint64 { return &v }
		type mixCase struct {
			name         string
			fault        chaos.MockbinFault
			httpFailures int
			successes    int // passive.healthy.successes
		}
		cases := []mixCase{
			{"alternating, successes counter off", chaos.MockbinFault{Pattern: []int{500, 0}}, 3, 0},
			{"fail fail ok, successes counter on", chaos.MockbinFault{Pattern: []int{500, 500, 0}}, 3, 1},
			{"burst of 3 after a reset", chaos.MockbinFault{Pattern: []int{500, 0, 500, 500, 500, 0}}, 3, 1},
			{"failure_rate 0.3", chaos.MockbinFault{FailureRate: 0.3, Seed: seed(7)}, 3, 1},
			{"failure_rate 0.6", chaos.MockbinFault{FailureRate: 0.6, Seed: seed(11)}, 4, 1},
		}
		var bs []harness.Balanced
		var targets []vegeta.Target
		var steps []chaos.Step
		for i, c := range cases {
			m := sc.Stack.Mockbin(fmt.Sprintf("mockbin%d", i+1))
			configured := c.httpFailures
			if harness.Proving("passive-mixed") {
				configured = c.httpFailures - 1 // one failure fewer than the replay assumes
			}
			name := fmt.Sprintf("mixed%d", i+1)
			bs = append(bs, harness.Balanced{
				Service: stack.ServiceSpec{Name: name, Retries: stack.Int(5)},
				Upstream: stack.UpstreamSpec{Name: name + "-up", Healthchecks: harness.Checks{
					Passive: &harness.Passive{HTTPFailures: configured, Successes: c.successes}}.Tree()},
				Targets: []string{m.Target, healthy.Target},
				Path:    "/" + name,
			})
			targets = append(targets, sc.GET("/"+name+"/request"))
			steps = append(steps, chaos.Step{At: 0, Fault: chaos.Mockbin(m.Name, m.URL, c.fault)})
		}
		Expect(sc.Configure(ctx, bs...)).To(Succeed())

		// 200 rps over one connection for 5 s: 200 requests per service,
		// about 100 of them to the faulted target until it is ejected.
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "passive-mixed", Rate: 200, Duration: 5 * time.Second,
			Targets: targets, Connections: 1}, steps...)
		Expect(err).NotTo(HaveOccurred())
		for _, st := range steps {
			ev, ok := tl.EventOf(st.Fault, chaos.ActionInject)
			Expect(ok).To(BeTrue())
			Expect(ev.Err).To(BeEmpty())
		}

		for i, c := range cases {
			m := sc.Stack.Mockbin(fmt.Sprintf("mockbin%d", i+1))
			rs := harness.ByURL(run.Results, targets[i].URL)
			GinkgoWriter.Printf("%s: %s\n", c.name, harness.Describe(rs))
			// The faulted target's answers in the order it saw them.
			type answer struct {
				seq  int
				code uint16
			}
			var seen []answer
			for _, x := range harness.ServedBy(rs, m.Name) {
				if n, err := strconv.Atoi(x.Headers.Get("X-Mockbin-Fault-Seq")); err == nil {
					seen = append(seen, answer{n, x.Code})
				}
			}
			slices.SortFunc(seen, func(a, b answer) int { return a.seq - b.seq })
			codes := make([]int, len(seen))
			gaps := 0
			for k, a := range seen {
				codes[k] = int(a.code)
				if a.seq != k+1 {
					gaps++
				}
			}
			sc.Equal(c.name+": answers of the faulted target missing from the client's view", float64(gaps), 0, "",
				"a 5xx answer is final, never retried: the client sees every one, numbered 1..n")
			eject := predictEjection(codes, c.httpFailures, c.successes)
			GinkgoWriter.Printf("%s: %d answers %v, predicted ejection at %d\n", c.name, len(codes), codes, eject)
			if eject > 0 {
				sc.Equal(c.name+": requests the faulted target answered", float64(len(codes)), float64(eject), "",
					fmt.Sprintf("Kong's counters reach http_failures=%d at its answer %d (replayed); one connection: no request in flight past it", c.httpFailures, eject))
			} else {
				// Never ejected: it keeps its round-robin half to the end.
				last := load.Between(rs, run.End.Add(-time.Second), time.Time{})
				sc.AtLeast(c.name+": share of the faulted target in the last second (never ejected)",
					harness.Share(load.Instances(last)[m.Name], len(last)), 0.45, "ratio",
					fmt.Sprintf("no run of %d counted failures in %d answers: 0 ejections, round-robin keeps 50%%", c.httpFailures, len(codes)))
				sc.AtLeast(c.name+": answers replayed without an ejection", float64(len(codes)), 50, "",
					"about half of 200 requests; enough to hold many failure runs below the threshold")
			}
			h, err := sc.Stack.Gateway.Admin.TargetHealth(ctx, fmt.Sprintf("mixed%d-up", i+1), m.Target)
			Expect(err).NotTo(HaveOccurred())
			want := "HEALTHY"
			if eject > 0 {
				want = "UNHEALTHY"
			}
			sc.Equal(fmt.Sprintf("%s: target reads %s (1 = yes)", c.name, want), boolNum(h == want), 1, "",
				"the Admin API's health agrees with the replay, read "+h)
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})

// predictEjection replays answers through Kong's passive counter rules and
// returns the 1-based answer at which http_failures is reached, 0 if never.
func predictEjection(codes []int, httpFailures, successes int) int {
	unhealthy := map[int]bool{429: true, 500: true, 503: true} // Kong's passive defaults
	healthyList := func(c int) bool { return c >= 200 && c <= 208 || c == 226 || c >= 300 && c <= 308 }
	failures := 0
	for i, c := range codes {
		switch {
		case unhealthy[c]:
			failures++
			if failures >= httpFailures {
				return i + 1
			}
		case healthyList(c) && successes > 0:
			failures = 0
		}
	}
	return 0
}

func boolNum(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
