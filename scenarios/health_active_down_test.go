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

// Active up→down (Kong's balancer spec: "perform active health checks -- up
// then down"): from t=1.5s only mockbin1's health path fails (500); its proxied
// paths keep working. Active probes every 0.25 s with unhealthy.http_failures=2
// eject it, and no client sees a failure on the way.
var _ = Describe("active checks: up then down", Label("health-checks", "health-active-down"), func() {
	It("moves all traffic to the healthy target with zero client failures", func(ctx SpecContext) {
		sc := begin(ctx, "active up then down", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		const interval, failures = 250 * time.Millisecond, 2
		active := &harness.Active{Interval: interval.Seconds(), Path: healthPath, Timeout: 0.5, Successes: 1, HTTPFailures: failures}
		if harness.Proving("health-active-down") {
			active.HTTPFailures = 0 // probes run, but a failing probe ejects nothing
			active.TCPFailures = 1
		}
		Expect(sc.Configure(ctx, harness.Balanced{
			Service:  stack.ServiceSpec{Name: "adown", Retries: stack.Int(5)},
			Upstream: stack.UpstreamSpec{Name: "adown-up", Healthchecks: harness.Checks{Active: active}.Tree()},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/adown",
		})).To(Succeed())

		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{Status: 500, Paths: []string{healthPath}})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-active-down", Rate: 100, Duration: 4 * time.Second,
			Targets: []vegeta.Target{sc.GET("/adown/request")}},
			chaos.Step{At: 1500 * time.Millisecond, Fault: fault})
		Expect(err).NotTo(HaveOccurred())
		on, ok := tl.EventOf(fault, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(on.Err).To(BeEmpty())
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		before := load.Between(rs, time.Time{}, on.Started)
		sc.AtLeast("share of mockbin1 before the fault", harness.Share(load.Instances(before)[m1.Name], len(before)), 0.45, "ratio",
			"round-robin over 2 equal targets gives 0.5")
		sc.Equal("failed requests", float64(load.Failures(rs)), 0, "",
			"only the health path fails: proxied requests to mockbin1 still succeed until it is ejected")
		last, ok := harness.LastServedBy(rs, m1.Name)
		Expect(ok).To(BeTrue())
		failover := last.Sub(on.Started)
		// The first failing probe comes at most one interval after the fault,
		// the failures-th one (failures−1) intervals later; one more interval
		// covers the probe round's own time and the last request's send time.
		bound := time.Duration(failures)*interval + interval
		// Premise: the generator kept its schedule through the failover to
		// within half the interval of slack; a late sender moves the last
		// request mockbin1 answered.
		sc.Given(harness.OnSchedule(run, on.Started, on.Started.Add(bound), interval/2)).AtMost(
			"failover time (fault start to the last request mockbin1 answered)", harness.Ms(failover), harness.Ms(bound), "ms",
			"unhealthy.http_failures × interval + interval")
		// It takes two failing probes one interval apart: not ejected at the first.
		sc.AtLeast("failover time, lower bound", harness.Ms(failover), harness.Ms(time.Duration(failures-1)*interval-50*time.Millisecond), "ms",
			"(http_failures − 1) × interval − 50ms: one failing probe is not enough")
		after := run.Since(on.Started.Add(bound))
		sc.Equal("share of mockbin2 once detected", harness.Share(load.Instances(after)[m2.Name], len(after)), 1, "ratio",
			"mockbin1 is ejected by the active checker")
		h, err := sc.Stack.Gateway.Admin.TargetHealth(ctx, "adown-up", m1.Target)
		Expect(err).NotTo(HaveOccurred())
		Expect(h).To(Equal("UNHEALTHY"))
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
