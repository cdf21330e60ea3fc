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

// Active detection of a target that is down before any traffic (Kong's
// balancer spec: "perform active health checks -- can detect before any
// proxy traffic"): mockbin1 is frozen (paused: the kernel still accepts its
// connections, nothing answers) before the upstream exists. The active
// checker's first probe times out and ejects it, so when load starts no
// request ever waits on it.
//
// A frozen target rather than a killed one: Docker drops a dead container's
// name from its DNS, and the gateway would report DNS_ERROR without any probe.
var _ = Describe("active checks: target down before traffic", Label("health-checks", "health-active-predown"), func() {
	It("ejects it before the first request", func(ctx SpecContext) {
		sc := begin(ctx, "active detection before traffic", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		pause := chaos.Pause(m1.Node)
		Expect(pause.Inject(ctx)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(pause.Revert(ctx)).To(Succeed()) }, NodeTimeout(30*time.Second))

		const interval, probeTimeout = 250 * time.Millisecond, 200 * time.Millisecond
		const readTimeout = 1000 // ms: a request sent to the frozen target waits this long before its retry
		hc := harness.Checks{Active: &harness.Active{Interval: interval.Seconds(), Path: healthPath,
			Timeout: probeTimeout.Seconds(), Successes: 1, TCPFailures: 1, Timeouts: 1}}.Tree()
		if harness.Proving("health-active-predown") {
			hc = nil // no checks: round-robin sends every second request to the frozen target
		}
		configured := time.Now()
		Expect(sc.Configure(ctx, harness.Balanced{
			Service: stack.ServiceSpec{Name: "predown", Retries: stack.Int(5),
				ConnectTimeout: stack.Int(500), ReadTimeout: stack.Int(readTimeout)},
			Upstream: stack.UpstreamSpec{Name: "predown-up", Healthchecks: hc},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/predown",
		})).To(Succeed())
		// The first probe round starts one interval after the prober, and a
		// frozen target's probe ends at the probe timeout; one more interval
		// for the round to report and the 10 ms polling.
		bound := interval + probeTimeout + interval
		detected, err := sc.Stack.Gateway.Admin.AwaitTargetHealth(ctx, "predown-up", m1.Target, "UNHEALTHY", bound+2*time.Second)
		detection := bound + 2*time.Second
		if err == nil {
			detection = detected.Sub(configured)
		} else {
			GinkgoWriter.Println("detection:", err)
		}
		sc.AtMost("time from configuration to mockbin1 reading UNHEALTHY", harness.Ms(detection), harness.Ms(bound), "ms",
			"interval + probe timeout + interval")

		run, _, err := sc.Attack(ctx, load.Attack{Name: "health-active-predown", Rate: 100, Duration: 3 * time.Second,
			Targets: []vegeta.Target{sc.GET("/predown/request")}})
		Expect(err).NotTo(HaveOccurred())
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))
		sc.Equal("failed requests", float64(load.Failures(rs)), 0, "", "mockbin2 serves everything")
		sc.Equal("share of mockbin2", harness.Share(load.Instances(rs)[m2.Name], len(rs)), 1, "ratio", "mockbin1 is frozen")
		// A request picked for the frozen target would wait read_timeout and
		// then be retried; one that never meets it takes a few ms.
		// Premise: the machine's stalls, as the generator saw them, stay well
		// inside that quarter (half of it), so only a wait on the frozen
		// target can reach it.
		sc.Given(harness.OnSchedule(run, time.Time{}, time.Time{}, readTimeout/8*time.Millisecond)).AtMost(
			"max latency", harness.Ms(load.MaxLatency(rs)), float64(readTimeout)/4, "ms",
			"read_timeout / 4: no request waited on the frozen target")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
