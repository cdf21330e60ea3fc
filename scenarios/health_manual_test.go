//go:build resilience

package scenarios_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Passive ejection and manual recovery (Kong's balancer spec: "perform
// passive health checks -- manual recovery"): mockbin1 answers 500 from t=0.5s
// to t=2s and is ejected after http_failures=2. Healing it changes nothing —
// passive checks alone never re-enable a target — until the operator's
// PUT /upstreams/{u}/targets/{t}/healthy at t=3s puts it back at once.
// One client connection, so the gateway sees one request at a time and the
// 500 count is exact (see health_passive_test.go).
var _ = Describe("passive ejection, manual recovery", Label("health-checks", "health-manual"), func() {
	It("keeps the target out until PUT .../healthy, then serves it right away", func(ctx SpecContext) {
		sc := begin(ctx, "passive ejection and manual recovery", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		const failures = 2
		const up = "manual-up"
		Expect(sc.Configure(ctx, harness.Balanced{
			Service:  stack.ServiceSpec{Name: "manual", Retries: stack.Int(5)},
			Upstream: stack.UpstreamSpec{Name: up, Healthchecks: harness.Checks{Passive: &harness.Passive{HTTPFailures: failures}}.Tree()},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/manual",
		})).To(Succeed())

		admin := sc.Stack.Gateway.Admin
		put := harness.Action("PUT healthy on "+m1.Name, "admin", m1.Name, func(ctx context.Context) error {
			if harness.Proving("health-manual") {
				return nil // no override: the target must stay out
			}
			return admin.SetTargetHealth(ctx, up, m1.Target, true)
		})
		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{Status: 500})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-manual", Rate: 100, Duration: 4500 * time.Millisecond,
			Targets: []vegeta.Target{sc.GET("/manual/request")}, Connections: 1},
			chaos.Step{At: 500 * time.Millisecond, Fault: fault, Hold: 1500 * time.Millisecond},
			chaos.Step{At: 3 * time.Second, Fault: put})
		Expect(err).NotTo(HaveOccurred())
		off, ok := tl.EventOf(fault, chaos.ActionRevert)
		Expect(ok).To(BeTrue())
		healed, ok := tl.EventOf(put, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(off.Err + healed.Err).To(BeEmpty())
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		sc.Equal("500s the client saw", float64(len(harness.WithStatus(rs, 500))), failures, "",
			"http_failures = 2, one request at a time: the second 500 ejects mockbin1")
		// Answered before the PUT started: a request sent just before it
		// (the load and the PUT are both due at exactly 3 s) may be served
		// after the override, rightly.
		healedOnly := load.AnsweredBetween(rs, off.Ended, healed.Started)
		sc.Equal("requests mockbin1 answered after it healed, before the PUT", float64(load.Instances(healedOnly)[m1.Name]), 0, "",
			"passive checks alone never re-enable a target (Kong): it stays out though it answers 200 again")
		back, ok := harness.FirstServedAfter(rs, m1.Name, healed.Ended)
		wait := run.End.Sub(healed.Ended)
		if ok {
			wait = back.Timestamp.Sub(healed.Ended)
		}
		// The override rebuilds the balancer before the 204; round-robin then
		// picks mockbin1 within two requests (20 ms at 100 rps), plus 80 ms
		// for pacing and scheduling.
		// Premise: the generator kept its schedule across that wait to within
		// half the 80 ms of slack; a late sender delays the first pick by its
		// lag.
		sc.Given(harness.OnSchedule(run, healed.Ended, healed.Ended.Add(100*time.Millisecond), 40*time.Millisecond)).AtMost(
			"time from the PUT's 204 to mockbin1's first answer", harness.Ms(wait), 100, "ms",
			"two request intervals + 80ms")
		after := run.Since(healed.Ended.Add(100 * time.Millisecond))
		sc.AtLeast("share of mockbin1 after the PUT", harness.Share(load.Instances(after)[m1.Name], len(after)), 0.45, "ratio",
			"back in the round-robin: 0.5")
		sc.Equal("failed requests after the PUT", float64(load.Failures(run.Since(healed.Started))), 0, "", "both targets healthy")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
