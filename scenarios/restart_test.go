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

// Target restarted: mockbin1 is killed at t=2s and started again 3 s later;
// active health checks (1 s interval, 1 success) must bring it back.
var _ = Describe("target restarted", Label("restart"), func() {
	It("gets traffic again within the health check bound", func(ctx SpecContext) {
		sc := begin(ctx, "target restarted", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		interval := 1.0 // seconds between active probes
		if harness.Proving("restart") {
			interval = 0 // passive checks only: Kong never re-enables the target
		}
		Expect(sc.Configure(ctx, harness.Balanced{
			Service: stack.ServiceSpec{Name: "restart", Retries: stack.Int(5),
				ConnectTimeout: stack.Int(250), ReadTimeout: stack.Int(5000)},
			Upstream: stack.UpstreamSpec{Name: "restart-up", Healthchecks: harness.HealthChecks(interval, "/__mockbin/health")},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/restart",
		})).To(Succeed())

		// 12 s: mockbin1 is started again at 5 s, ready after 1–3 s (a
		// container start on a busy machine), due back 2.5 s later: the share
		// check below keeps 1.5 s or more.
		const dur = 12 * time.Second
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "restart", Rate: 300, Duration: dur,
			Targets: []vegeta.Target{sc.GET("/restart/request")}},
			chaos.Step{At: 2 * time.Second, Fault: chaos.Kill(m1.Node), Hold: 3 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		evs := tl.Events()
		Expect(evs).To(HaveLen(2), "kill and restart both ran")
		Expect(evs[1].Err).To(BeEmpty())
		ready := evs[1].Ended // the restarted mockbin answers its health check
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		sc.Equal("failed requests", float64(load.Failures(rs)), 0, "", "retries cover the dead target; passive checks eject it")
		// Back within one probe interval × 1 success, plus up to one interval
		// for the probe's phase, plus 0.5 s for the probe and the next pick.
		bound := 2*time.Second + 500*time.Millisecond
		first, ok := harness.FirstServedBy(rs, m1.Name, ready)
		back := run.End.Sub(ready)
		if ok {
			back = first.Sub(ready)
		}
		// Premise: the generator sent on time while mockbin1 came back, to
		// within half the 500 ms of slack; a late sender makes the first
		// answer late by its own lag.
		sc.Given(harness.OnSchedule(run, ready, ready.Add(bound), 250*time.Millisecond)).AtMost(
			"time from restart to first response from mockbin1", harness.Ms(back), harness.Ms(bound), "ms",
			"healthy.interval × successes + interval + 500ms")
		// The share once mockbin1 is due back (ready + the bound above) to the
		// end: 1.5–3.5 s of requests. A start slower than 3 s leaves too little
		// of the run to measure a share: at least 1 s of requests is the
		// premise.
		tail := run.Since(ready.Add(bound))
		sc.Given(harness.MinRequests("after mockbin1 was due back", tail, 300)).AtLeast(
			"share of mockbin1 once due back", harness.Share(load.Instances(tail)[m1.Name], len(tail)), 0.4,
			"ratio", "round-robin's 50% once healthy again, −10 points")
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})
