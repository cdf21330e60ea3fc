//go:build resilience

package scenarios_test

import (
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

// Passive ejection by HTTP failures (Kong's balancer spec: "perform passive
// health checks", http_failures = 1, 2, 3): three services, each with its own
// upstream over mockbin1 and mockbin2 and its own threshold. mockbin1 answers
// 500 to everything from t=1s.
//
// The load runs over ONE client connection: the gateway then sees one request
// at a time and has fed each response's status to the passive counters before
// the next request is picked (Done runs before the handler returns). With more
// connections a second request could be picked for mockbin1 while the n-th
// failure is in flight, and "exactly n" would become "n plus whatever was in
// flight" — a bound that depends on the machine's scheduling, not on the rule.
var _ = Describe("passive checks eject after http_failures", Label("health-checks", "health-passive"), func() {
	It("lets exactly http_failures 500s through, then sends everything to the other target", func(ctx SpecContext) {
		sc := begin(ctx, "passive http_failures", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		thresholds := []int{1, 2, 3}
		var bs []harness.Balanced
		var targets []vegeta.Target
		for _, n := range thresholds {
			configured := n
			if harness.Proving("health-passive") {
				configured = n + 1 // one failure more than the checks below allow
			}
			name := fmt.Sprintf("passive%d", n)
			bs = append(bs, harness.Balanced{
				Service:  stack.ServiceSpec{Name: name, Retries: stack.Int(5)},
				Upstream: stack.UpstreamSpec{Name: name + "-up", Healthchecks: harness.Checks{Passive: &harness.Passive{HTTPFailures: configured}}.Tree()},
				Targets:  []string{m1.Target, m2.Target},
				Path:     "/" + name,
			})
			targets = append(targets, sc.GET("/"+name+"/request"))
		}
		Expect(sc.Configure(ctx, bs...)).To(Succeed())

		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{Status: 500})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-passive", Rate: 150, Duration: 3 * time.Second,
			Targets: targets, Connections: 1},
			chaos.Step{At: time.Second, Fault: fault})
		Expect(err).NotTo(HaveOccurred())
		on, ok := tl.EventOf(fault, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(on.Err).To(BeEmpty())

		for i, n := range thresholds {
			rs := harness.ByURL(run.Results, targets[i].URL)
			GinkgoWriter.Printf("http_failures=%d: %s\n", n, harness.Describe(rs))
			before := load.Between(rs, time.Time{}, on.Started)
			sc.AtLeast(fmt.Sprintf("http_failures=%d: share of mockbin1 before the fault", n),
				harness.Share(load.Instances(before)[m1.Name], len(before)), 0.45, "ratio", "round-robin over 2 equal targets gives 0.5")
			errs := harness.WithStatus(rs, 500)
			sc.Equal(fmt.Sprintf("http_failures=%d: 500s the clients saw", n), float64(len(errs)), float64(n), "",
				"each 500 is one http_failure and is passed through; the n-th ejects mockbin1 (one request at a time)")
			if len(errs) == 0 {
				continue
			}
			lastErr := errs[len(errs)-1]
			after := load.Between(rs, lastErr.Timestamp.Add(time.Nanosecond), time.Time{})
			sc.Equal(fmt.Sprintf("http_failures=%d: share of mockbin2 after the last 500", n),
				harness.Share(load.Instances(after)[m2.Name], len(after)), 1, "ratio", "mockbin1 is ejected: all traffic to the other target")
			if last, ok := harness.LastServedBy(rs, m1.Name); ok {
				// Each route gets rate/3 = 50 rps, one request per 20 ms, and
				// round-robin hands mockbin1 every second one: its n failures
				// take n × 40 ms, plus up to one request interval until the
				// first pick after the fault, plus 50 ms for load pacing and
				// scheduling on a shared machine.
				perRoute := time.Second / 50
				bound := time.Duration(n)*2*perRoute + perRoute + 50*time.Millisecond
				// Premise: the generator kept its schedule through the failover
				// to within half those 50 ms.
				sc.Given(harness.OnSchedule(run, on.Started, on.Started.Add(bound), 25*time.Millisecond)).AtMost(
					fmt.Sprintf("http_failures=%d: failover time (fault start to the last request mockbin1 answered)", n),
					harness.Ms(last.Sub(on.Started)), harness.Ms(bound), "ms", "n × 2 request intervals + 1 interval + 50ms")
			}
			h, err := sc.Stack.Gateway.Admin.TargetHealth(ctx, fmt.Sprintf("passive%d-up", n), m1.Target)
			Expect(err).NotTo(HaveOccurred())
			Expect(h).To(Equal("UNHEALTHY"), "mockbin1 in upstream passive%d-up", n)
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
