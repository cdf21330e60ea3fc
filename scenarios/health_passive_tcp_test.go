//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Passive ejection by TCP failures (Kong's passive unhealthy.tcp_failures =
// 1, 2, 3; active checks off): three services, each with its own upstream
// over mockbin1 (through its Toxiproxy proxy) and mockbin2 (direct), retries
// 0. At t=1s the Toxiproxy proxy in front of mockbin1 is disabled: Toxiproxy
// closes its listener and every open link, so a connect to mockbin1's target
// is refused at once.
//
// Why each request that meets the fault is exactly one tcp_failure: the
// gateway counts a connection error that is not a deadline as a TCP failure
// (a connect timeout would count as a timeout, which is why the target is
// refused rather than killed: a killed container's address stops answering
// ARP and the dial times out). A pooled connection to mockbin1 was closed by
// Toxiproxy; the gateway's liveness check drops it and dials afresh, and the
// refused dial is the try's one failure. If the close lands after the check,
// the write fails on the stale connection and the gateway re-dials the same
// peer without counting it, so the refused dial is still the one failure. A
// request in flight at the disable has its link cut (a receive error): also
// one TCP failure. retries 0, so each failure reaches the client as 502.
//
// One client connection, as in health_passive_test.go: the gateway sees one
// request at a time and has fed each outcome to the counters before the next
// pick, so the count is exact, not "n plus whatever was in flight".
var _ = Describe("passive checks eject after tcp_failures", Label("health-checks", "passive-tcp"), func() {
	It("lets exactly tcp_failures refused connections through, then sends everything to the other target", func(ctx SpecContext) {
		sc := begin(ctx, "passive tcp_failures", stack.Options{Mockbins: 2, Toxiproxy: true})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		thresholds := []int{1, 2, 3}
		var bs []harness.Balanced
		var targets []vegeta.Target
		for _, n := range thresholds {
			configured := n
			if harness.Proving("passive-tcp") {
				configured = n + 1 // one failure more than the checks below allow
			}
			name := fmt.Sprintf("tcp%d", n)
			bs = append(bs, harness.Balanced{
				Service: stack.ServiceSpec{Name: name, Retries: stack.Int(0), ConnectTimeout: stack.Int(1000)},
				Upstream: stack.UpstreamSpec{Name: name + "-up",
					Healthchecks: harness.Checks{Passive: &harness.Passive{TCPFailures: configured}}.Tree()},
				// mockbin2 direct: Toxiproxy only in front of the target it faults.
				Targets: []string{m1.Target, m2.Direct},
				Path:    "/" + name,
			})
			targets = append(targets, sc.GET("/"+name+"/request"))
		}
		Expect(sc.Configure(ctx, bs...)).To(Succeed())

		refuse := chaos.Custom("refuse connections to "+m1.Name, "refuse", m1.Name,
			func(context.Context) error { return m1.Proxy.Disable() },
			func(context.Context) error { return m1.Proxy.Enable() })
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "passive-tcp", Rate: 150, Duration: 3 * time.Second,
			Targets: targets, Connections: 1},
			chaos.Step{At: time.Second, Fault: refuse})
		Expect(err).NotTo(HaveOccurred())
		on, ok := tl.EventOf(refuse, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(on.Err).To(BeEmpty())

		for i, n := range thresholds {
			rs := harness.ByURL(run.Results, targets[i].URL)
			GinkgoWriter.Printf("tcp_failures=%d: %s\n", n, harness.Describe(rs))
			before := load.Between(rs, time.Time{}, on.Started)
			sc.AtLeast(fmt.Sprintf("tcp_failures=%d: share of mockbin1 before the fault", n),
				harness.Share(load.Instances(before)[m1.Name], len(before)), 0.45, "ratio", "round-robin over 2 equal targets gives 0.5")
			var failed []vegeta.Result
			for _, x := range rs {
				if !load.OK(x) {
					failed = append(failed, x)
				}
			}
			sc.Equal(fmt.Sprintf("tcp_failures=%d: failed requests the client saw", n), float64(len(failed)), float64(n), "",
				"each refused connect is one tcp_failure and one 502 (retries 0); the n-th ejects mockbin1 (one request at a time)")
			sc.Equal(fmt.Sprintf("tcp_failures=%d: failures other than 502", n), float64(len(failed)-len(harness.WithStatus(failed, 502))), 0, "",
				"a refused connect with mockbin2 still healthy is 502, never 503 (no peer) or 504 (no deadline involved)")
			if len(failed) == 0 {
				continue
			}
			last := failed[len(failed)-1]
			after := load.Between(rs, last.Timestamp.Add(time.Nanosecond), time.Time{})
			sc.AtLeast(fmt.Sprintf("tcp_failures=%d: requests after the last failure", n), float64(len(after)), 50, "",
				"50 rps per route for the ≥ 1.5 s left of the attack, less a third for pacing")
			sc.Equal(fmt.Sprintf("tcp_failures=%d: share of mockbin2 after the last failure", n),
				harness.Share(load.Instances(after)[m2.Name], len(after)), 1, "ratio", "mockbin1 is ejected: all traffic to the other target")
			// Each route gets rate/3 = 50 rps, one request per 20 ms, and
			// round-robin hands mockbin1 every second one: its n failures
			// take n × 40 ms, plus up to one request interval until the
			// first pick after the fault, plus 50 ms for load pacing and
			// scheduling on a shared machine.
			perRoute := time.Second / 50
			bound := time.Duration(n)*2*perRoute + perRoute + 50*time.Millisecond
			sc.AtMost(fmt.Sprintf("tcp_failures=%d: failover time (fault in place to the last failure sent)", n),
				harness.Ms(last.Timestamp.Sub(on.Ended)), harness.Ms(bound), "ms", "n × 2 request intervals + 1 interval + 50ms")
		}
		verify(sc)
		for _, n := range thresholds {
			// Passive-only checks never re-enable an ejected target.
			h, err := sc.Stack.Gateway.Admin.TargetHealth(ctx, fmt.Sprintf("tcp%d-up", n), m1.Target)
			Expect(err).NotTo(HaveOccurred())
			Expect(h).To(Equal("UNHEALTHY"), "mockbin1 in upstream tcp%d-up", n)
		}
	}, NodeTimeout(2*time.Minute))
})
