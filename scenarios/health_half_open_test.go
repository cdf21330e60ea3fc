//go:build resilience

package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Half-open recovery for passive-only checks (Gauntlet's extension
// healthchecks.half_open.cooldown; Kong never re-enables a passively ejected
// target): mockbin1 answers 500 from t=0.5s to t=2s, cooldown 1 s,
// http_failures = 1. Expected: ejected at ~0.5 s; one trial at ~1.5 s meets
// the fault (one more 500) and restarts the cooldown; the trial at ~2.5 s
// succeeds and mockbin1 is back. Each trial has ≥ 0.5 s of margin to the
// fault's edges. One client connection, so the gateway sees one request at a
// time and the 500 count is exact (see health_passive_test.go).
var _ = Describe("half-open recovery", Label("health-checks", "health-half-open"), func() {
	It("lets one trial through per cooldown and re-enables the target on success", func(ctx SpecContext) {
		sc := begin(ctx, "half-open recovery", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		const cooldown = time.Second
		checks := harness.Checks{Passive: &harness.Passive{HTTPFailures: 1}, HalfOpenCooldown: cooldown.Seconds()}
		if harness.Proving("health-half-open") {
			checks.HalfOpenCooldown = 0 // Kong's behaviour: ejected for good
		}
		Expect(sc.Configure(ctx, harness.Balanced{
			Service:  stack.ServiceSpec{Name: "halfopen", Retries: stack.Int(5)},
			Upstream: stack.UpstreamSpec{Name: "halfopen-up", Healthchecks: checks.Tree()},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/halfopen",
		})).To(Succeed())

		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{Status: 500})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-half-open", Rate: 100, Duration: 4500 * time.Millisecond,
			Targets: []vegeta.Target{sc.GET("/halfopen/request")}, Connections: 1},
			chaos.Step{At: 500 * time.Millisecond, Fault: fault, Hold: 1500 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		off, ok := tl.EventOf(fault, chaos.ActionRevert)
		Expect(ok).To(BeTrue())
		Expect(off.Err).To(BeEmpty())
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		errs := harness.WithStatus(rs, 500)
		sc.Equal("500s the client saw", float64(len(errs)), 2, "",
			"the ejecting failure + one trial during the 1.5 s fault: one trial per 1 s cooldown")
		// The next request picked after the cooldown is the trial: 10 ms
		// apart at 100 rps, the gap is cooldown + up to one request interval +
		// the first response's latency; 90 ms for scheduling.
		const slack = 100 * time.Millisecond
		// vegeta stamps a request before it waits for the one client
		// connection, so a stamp can be up to one response (a few ms) earlier
		// than the gateway sees the request: 20 ms off the lower bounds.
		const early = 20 * time.Millisecond
		if len(errs) >= 2 {
			gap := errs[1].Timestamp.Sub(errs[0].Timestamp)
			sc.AtLeast("time from the ejecting 500 to the first trial", harness.Ms(gap), harness.Ms(cooldown-early), "ms",
				"no trial before the cooldown: cooldown − 20ms")
			sc.AtMost("time from the ejecting 500 to the first trial, upper bound", harness.Ms(gap), harness.Ms(cooldown+slack), "ms",
				"cooldown + 100ms")
			between := load.Between(rs, harness.Done(errs[0]), errs[1].Timestamp)
			sc.Equal("requests mockbin1 answered during the cooldown", float64(load.Instances(between)[m1.Name]), 0, "",
				"ejected: only the trial may go through")
		}
		if len(errs) == 0 {
			verify(sc)
			Fail("mockbin1 never answered 500: the fault did not take")
		}
		last := errs[len(errs)-1]
		back, ok := harness.FirstServedAfter(rs, m1.Name, last.Timestamp)
		wait := run.End.Sub(last.Timestamp)
		if ok {
			wait = back.Timestamp.Sub(last.Timestamp)
		}
		sc.AtMost("time from the failed trial to mockbin1's first success", harness.Ms(wait), harness.Ms(cooldown+slack), "ms",
			"a failed trial restarts the cooldown; the next trial (fault gone) succeeds: cooldown + 100ms")
		sc.AtLeast("time from the failed trial to mockbin1's first success, lower bound", harness.Ms(wait), harness.Ms(cooldown-early), "ms",
			"no trial before the restarted cooldown: cooldown − 20ms")
		after := run.Since(last.Timestamp.Add(cooldown + slack + 10*time.Millisecond))
		sc.AtLeast("share of mockbin1 once re-enabled", harness.Share(load.Instances(after)[m1.Name], len(after)), 0.45, "ratio",
			"a successful trial re-enables it: back in the round-robin at 0.5")
		sc.Equal("failed requests once re-enabled", float64(load.Failures(after)), 0, "", "both targets healthy")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
