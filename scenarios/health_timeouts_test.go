//go:build resilience

package scenarios_test

import (
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Passive timeouts with retries (Kong's balancer spec: "perform passive
// health checks -- timeouts"): from t=1s mockbin1 delays every answer by
// 1000 ms, past the service's 300 ms read_timeout. A timed-out try is retried
// on mockbin2 (retries = 2), so no client fails; passive.unhealthy.timeouts=1
// ejects mockbin1 at its first timeout, so from then on nobody waits.
var _ = Describe("passive timeouts with retries", Label("health-checks", "health-timeouts"), func() {
	It("retries the timed-out request on the other target, then ejects the slow one", func(ctx SpecContext) {
		sc := begin(ctx, "passive timeouts with retries", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		const readTimeout = 300 * time.Millisecond
		const rate = 50
		timeouts := 1
		if harness.Proving("health-timeouts") {
			timeouts = 0 // checks off: mockbin1 keeps its share and every second request waits
		}
		const up = "slowtgt-up"
		Expect(sc.Configure(ctx, harness.Balanced{
			Service: stack.ServiceSpec{Name: "slowtgt", Retries: stack.Int(2), ConnectTimeout: stack.Int(1000),
				ReadTimeout: stack.Int(int(readTimeout.Milliseconds())), WriteTimeout: stack.Int(1000)},
			Upstream: stack.UpstreamSpec{Name: up, Healthchecks: harness.Checks{Passive: &harness.Passive{Timeouts: timeouts}}.Tree()},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/slowtgt",
		})).To(Succeed())

		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{LatencyMS: 1000})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-timeouts", Rate: rate, Duration: 4 * time.Second,
			Targets: []vegeta.Target{sc.GET("/slowtgt/request")}},
			chaos.Step{At: time.Second, Fault: fault})
		Expect(err).NotTo(HaveOccurred())
		on, ok := tl.EventOf(fault, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(on.Err).To(BeEmpty())
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		sc.Equal("failed requests", float64(load.Failures(rs)), 0, "",
			"a read timeout is retried on the next target (retries = 2)")
		slow := harness.Slower(run.Since(on.Started), readTimeout)
		sc.AtLeast("requests that met mockbin1's timeout", float64(len(slow)), 1, "",
			"round-robin sends mockbin1 a request within two request intervals of the fault")
		// Until the first timeout is reported (read_timeout after mockbin1's
		// first slow request), round-robin keeps giving it every second
		// request: read_timeout × rate / 2 of them, plus the first. One more
		// turn of mockbin1 (2 / rate) for scheduling slack.
		most := math.Ceil((readTimeout.Seconds()+2.0/rate)*rate/2) + 1
		sc.AtMost("requests that met mockbin1's timeout, upper bound", float64(len(slow)), most, "",
			"(read_timeout + 2/rate) × rate / 2 + 1: only those sent before a timeout ejected it")
		// Ejected at the first timeout: a request sent later never waits. The
		// first slow request goes out within two request intervals (40 ms) of
		// the fault and times out read_timeout later; 100 ms for scheduling.
		ejectedBy := on.Ended.Add(2*time.Second/rate + readTimeout + 100*time.Millisecond)
		sc.Equal("requests sent after the ejection that waited read_timeout", float64(len(harness.Slower(run.Since(ejectedBy), readTimeout))), 0, "",
			"passive timeouts = 1 ejects mockbin1 at its first timeout")
		// One read_timeout on mockbin1, then the retry on mockbin2 (a fast
		// answer); 200 ms for scheduling on a loaded 2-core machine. A timeout
		// on a reused keep-alive connection is not re-sent to the same peer.
		// Premise: the machine's stalls, as the generator saw them, fit twice
		// in the 200 ms of slack.
		sc.Given(harness.OnSchedule(run, time.Time{}, time.Time{}, 100*time.Millisecond)).AtMost(
			"max latency", harness.Ms(load.MaxLatency(rs)), harness.Ms(readTimeout)+200, "ms",
			"read_timeout on mockbin1 + the retry on mockbin2 + 200ms")
		since := run.Since(on.Ended)
		sc.Equal("share of mockbin2 after the fault", harness.Share(load.Instances(since)[m2.Name], len(since)), 1, "ratio",
			"mockbin1's late answers are never delivered: the gateway gave up on them")
		if !harness.Proving("health-timeouts") {
			h, err := sc.Stack.Gateway.Admin.TargetHealth(ctx, up, m1.Target)
			Expect(err).NotTo(HaveOccurred())
			Expect(h).To(Equal("UNHEALTHY"))
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
