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

// Slow upstream: Toxiproxy adds 1500 ms to mockbin1, above the slow service's
// read_timeout; a second service on mockbin2 shares the gateway.
var _ = Describe("slow upstream", Label("slow"), func() {
	It("answers 504 within read_timeout and keeps the other service fast", func(ctx SpecContext) {
		sc := begin(ctx, "slow upstream", stack.Options{Mockbins: 2, Toxiproxy: true})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		readTimeout := 500 // ms
		if harness.Proving("slow") {
			readTimeout = 5000 // above the toxic's latency: slow answers get through as 200
		}
		const latency = 1500 * time.Millisecond
		// retries=0: a timeout retried on the same single target would take
		// (retries+1) × read_timeout, and the property is about one timeout.
		Expect(sc.Configure(ctx,
			harness.Balanced{
				Service: stack.ServiceSpec{Name: "slow", Retries: stack.Int(0),
					ConnectTimeout: stack.Int(1000), ReadTimeout: stack.Int(readTimeout)},
				Upstream: stack.UpstreamSpec{Name: "slow-up"},
				Targets:  []string{m1.Target},
				Path:     "/slow",
			},
			harness.Balanced{
				Service:  stack.ServiceSpec{Name: "fast", Retries: stack.Int(0), ConnectTimeout: stack.Int(1000), ReadTimeout: stack.Int(5000)},
				Upstream: stack.UpstreamSpec{Name: "fast-up"},
				Targets:  []string{m2.Direct}, // not through Toxiproxy: only the faulted path pays for it
				Path:     "/fast",
			},
		)).To(Succeed())

		slow, fast := sc.GET("/slow/request"), sc.GET("/fast/request")
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "slow", Rate: 200, Duration: 8 * time.Second,
			Targets: []vegeta.Target{slow, fast}},
			chaos.Step{At: 3 * time.Second, Fault: chaos.ToxicOn(m1.Proxy, chaos.Latency(latency, 0))})
		Expect(err).NotTo(HaveOccurred())
		evs := tl.Events()
		Expect(evs).To(HaveLen(1))
		Expect(evs[0].Err).To(BeEmpty())
		// Every request sent once the toxic is in place meets the full 1500 ms.
		on := evs[0].Ended
		rs := run.Results

		slowAfter := harness.ByURL(run.Since(on), slow.URL)
		fastBefore := harness.ByURL(load.Between(rs, time.Time{}, evs[0].Started), fast.URL)
		fastAfter := harness.ByURL(run.Since(on), fast.URL)
		GinkgoWriter.Println("slow service under latency:", harness.Describe(slowAfter))
		GinkgoWriter.Println("fast service before:", harness.Describe(fastBefore))
		GinkgoWriter.Println("fast service during:", harness.Describe(fastAfter))

		// Premises. The window after the toxic holds 5 s × 100 rps = 500
		// planned requests to the slow service; and the bounds' room for
		// machine stalls (100 ms) must hold twice the stalls the generator
		// saw: its worst lag for the maximum, its p99 lag for the fast
		// service (two p99s are compared). Half the room for the maximum: a
		// 504 612 ms after its send (12 ms over) came from a run whose
		// generator was never more than 100 ms late; the gateway's own
		// process can stall longer than the generator's.
		enough := harness.MinRequests("requests to the slow service after the toxic", slowAfter, 100)
		// 1500 ms of latency > read_timeout: every request times out at the gateway.
		sc.Given(enough).Equal("share of 504 on the slow service", harness.Share(load.Codes(slowAfter)[504], len(slowAfter)), 1,
			"ratio", "latency 1500ms > read_timeout")
		sc.Given(enough, harness.OnSchedule(run, on, time.Time{}, 50*time.Millisecond)).AtMost(
			"max latency on the slow service", harness.Ms(load.MaxLatency(slowAfter)), float64(readTimeout+100), "ms",
			"read_timeout + 100ms")
		p99Before, p99After := load.Percentile(fastBefore, 0.99), load.Percentile(fastAfter, 0.99)
		sc.Note("p99 of the fast service before the fault", harness.Ms(p99Before), "ms")
		// Hung upstream requests must not slow the other service: 2× its own
		// baseline, plus 100 ms so a millisecond-scale p99 is not judged on
		// stalls of the two cores shared with the load generator (seen up to
		// 70 ms); a gateway that makes one service wait on another's hung
		// requests costs read_timeout-scale delays (500 ms).
		sc.Given(harness.LagQuantile(run, time.Time{}, time.Time{}, 0.99, 50*time.Millisecond)).AtMost(
			"p99 of the fast service during the fault", harness.Ms(p99After), 2*harness.Ms(p99Before)+100, "ms",
			"2 × baseline p99 + 100ms")
		sc.Equal("failed requests on the fast service", float64(load.Failures(harness.ByURL(rs, fast.URL))), 0, "",
			"its upstream is untouched")
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})
