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

// Blackholed upstream: one service's upstream swallows all data (Toxiproxy
// timeout toxic), the other's is frozen (container paused). Clients must get
// a gateway error within the timeouts, and nothing may pile up in the gateway.
var _ = Describe("blackholed upstream", Label("blackhole"), func() {
	It("fails fast within the timeouts and leaks nothing", func(ctx SpecContext) {
		sc := begin(ctx, "blackholed upstream", stack.Options{Mockbins: 2, Toxiproxy: true})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		const connectTimeout, readTimeout = 300, 700 // ms: what the bounds promise
		cfgConnect, cfgRead := connectTimeout, readTimeout
		if harness.Proving("blackhole") {
			// A gateway that ignores the service's timeouts (here: Kong's 60 s
			// defaults): requests hang past the bounds.
			cfgConnect, cfgRead = 60000, 60000
		}
		svc := func(name string) stack.ServiceSpec {
			return stack.ServiceSpec{Name: name, Retries: stack.Int(0),
				ConnectTimeout: stack.Int(cfgConnect), ReadTimeout: stack.Int(cfgRead), WriteTimeout: stack.Int(cfgRead)}
		}
		Expect(sc.Configure(ctx,
			harness.Balanced{Service: svc("hole"), Upstream: stack.UpstreamSpec{Name: "hole-up"}, Targets: []string{m1.Target}, Path: "/hole"},
			harness.Balanced{Service: svc("frozen"), Upstream: stack.UpstreamSpec{Name: "frozen-up"}, Targets: []string{m2.Direct}, Path: "/frozen"},
		)).To(Succeed())
		hole, frozen := sc.GET("/hole/request"), sc.GET("/frozen/request")
		targets := []vegeta.Target{hole, frozen}

		// Warm up so the gateway's upstream pools exist, then read its resting
		// goroutines and connections once the attack's connections are closed.
		_, _, err := sc.Attack(ctx, load.Attack{Name: "blackhole-warmup", Rate: 200, Duration: time.Second, Targets: targets})
		Expect(err).NotTo(HaveOccurred())
		rest := settledStatus(ctx, sc)

		// faults[i] is the fault on targets[i].
		faults := []chaos.Fault{chaos.ToxicOn(m1.Proxy, chaos.Timeout(0)), chaos.Pause(m2.Node)}
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "blackhole", Rate: 200, Duration: 9 * time.Second, Targets: targets},
			chaos.Step{At: 2 * time.Second, Fault: faults[0], Hold: 4 * time.Second},
			chaos.Step{At: 2 * time.Second, Fault: faults[1], Hold: 4 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		ws := tl.Windows()
		Expect(ws).To(HaveLen(2))
		for _, w := range ws {
			Expect(w.Until.IsZero()).To(BeFalse(), "fault %s reverted", w.Fault)
		}
		rs := run.Results
		limit := time.Duration(connectTimeout+readTimeout) * time.Millisecond
		for i, t := range targets {
			var w chaos.Window
			for _, x := range ws {
				if x.Inject.Of(faults[i]) {
					w = x
				}
			}
			// Sent while the fault held and early enough to time out before it
			// was lifted: these can only end in a gateway error.
			doomed := harness.ByURL(load.Between(rs, w.From, w.Until.Add(-limit-50*time.Millisecond)), t.URL)
			inFault := harness.ByURL(load.Between(rs, w.From, w.Until), t.URL)
			GinkgoWriter.Println(w.Fault+":", harness.Describe(inFault))
			// Premise: the doomed window is there to judge; planned, it is
			// 4 s − 1.05 s at 100 rps per target ≈ 295 requests.
			enough := harness.MinRequests("requests that had to time out during "+w.Fault, doomed, 100)
			codes := load.Codes(doomed)
			sc.Given(enough).Equal("share of 502/504 during "+w.Fault, harness.Share(codes[502]+codes[504], len(doomed)), 1, "ratio",
				"no byte comes back, so only the gateway can answer")
			// connect, then wait for a response: the two timeouts are the whole
			// budget; 100 ms for scheduling. Premise: the machine's stalls, as
			// the generator saw them, fit twice in those 100 ms.
			sc.Given(enough, harness.OnSchedule(run, w.From, w.Until, 50*time.Millisecond)).AtMost(
				"max latency during "+w.Fault, harness.Ms(load.MaxLatency(inFault)), harness.Ms(limit)+100, "ms",
				"connect_timeout + read_timeout + 100ms")
		}
		lifted := ws[0].Until
		if ws[1].Until.After(lifted) {
			lifted = ws[1].Until
		}
		recovered := run.Since(lifted.Add(time.Second))
		sc.Equal("failed requests from 1 s after the faults are lifted", float64(load.Failures(recovered)), 0, "",
			"nothing stale survives a read_timeout")

		// Every hung request held a goroutine and a connection: a leak shows as
		// hundreds (200 rps × 4 s). Idle upstream pools may differ by a few.
		after := settledStatus(ctx, sc)
		sc.Note("gateway goroutines at rest before", float64(rest.Server.Goroutines), "")
		sc.AtMost("gateway goroutine growth", float64(after.Server.Goroutines-rest.Server.Goroutines), 50, "",
			"idle pool churn only; a leak is hundreds")
		sc.AtMost("gateway active connections after", float64(after.Server.ConnectionsActive), float64(rest.Server.ConnectionsActive), "",
			"the attack's connections are closed")
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})

// settledStatus polls GET /status until goroutines and active connections stop
// changing (two equal reads 200 ms apart, within 10 s) and returns the last read.
func settledStatus(ctx context.Context, sc *harness.Scenario) (st stackStatus) {
	var prev stackStatus
	Eventually(func(g Gomega) {
		cur, err := sc.Stack.Gateway.Admin.Status(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		same := cur.Server.Goroutines == prev.Server.Goroutines && cur.Server.ConnectionsActive == prev.Server.ConnectionsActive
		prev, st = cur, cur
		g.Expect(same).To(BeTrue(), "gateway status still changing: %+v", cur.Server)
	}).WithContext(ctx).WithTimeout(10 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	return st
}

type stackStatus = stack.Status
