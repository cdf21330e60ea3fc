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

// Active recovery (Kong's balancer spec: "perform active health checks --
// automatic recovery", healthy.successes = 1 and 3): two upstreams over
// mockbin1 and mockbin2, probing every 0.25 s, one ejecting at the first
// failed probe. mockbin1's health path fails from t=0.5s to t=2s; once it
// answers again, each upstream takes mockbin1 back after `successes` good
// probes.
var _ = Describe("active checks: recovery", Label("health-checks", "health-active-recovery"), func() {
	It("returns traffic within interval × successes + one interval", func(ctx SpecContext) {
		sc := begin(ctx, "active recovery", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		const interval = 250 * time.Millisecond
		successes := []int{1, 3}
		var bs []harness.Balanced
		var targets []vegeta.Target
		for _, n := range successes {
			configured := n
			if harness.Proving("health-active-recovery") {
				configured = 10 // needs 2.5 s of good probes, far past the bounds below
			}
			name := fmt.Sprintf("arec%d", n)
			bs = append(bs, harness.Balanced{
				Service: stack.ServiceSpec{Name: name, Retries: stack.Int(5)},
				Upstream: stack.UpstreamSpec{Name: name + "-up", Healthchecks: harness.Checks{Active: &harness.Active{
					Interval: interval.Seconds(), Path: healthPath, Timeout: 0.5, Successes: configured, HTTPFailures: 1}}.Tree()},
				Targets: []string{m1.Target, m2.Target},
				Path:    "/" + name,
			})
			targets = append(targets, sc.GET("/"+name+"/request"))
		}
		Expect(sc.Configure(ctx, bs...)).To(Succeed())

		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{Status: 500, Paths: []string{healthPath}})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-active-recovery", Rate: 200, Duration: 4500 * time.Millisecond,
			Targets: targets},
			chaos.Step{At: 500 * time.Millisecond, Fault: fault, Hold: 1500 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		on, ok := tl.EventOf(fault, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		off, ok := tl.EventOf(fault, chaos.ActionRevert)
		Expect(ok).To(BeTrue())
		Expect(on.Err + off.Err).To(BeEmpty())

		for i, n := range successes {
			rs := harness.ByURL(run.Results, targets[i].URL)
			GinkgoWriter.Printf("successes=%d: %s\n", n, harness.Describe(rs))
			sc.Equal(fmt.Sprintf("successes=%d: failed requests", n), float64(load.Failures(rs)), 0, "",
				"only the health path fails; proxied requests always succeed")
			// Ejected at the first failing probe: at most one interval after
			// the fault, plus one interval of slack.
			ejected := load.Between(rs, on.Started.Add(2*interval), off.Started)
			sc.Equal(fmt.Sprintf("successes=%d: requests mockbin1 answered while its health path failed", n),
				float64(load.Instances(ejected)[m1.Name]), 0, "", "ejected within unhealthy.http_failures × interval + interval")
			back, ok := harness.FirstServedAfter(rs, m1.Name, off.Started)
			recovery := run.End.Sub(off.Started)
			if ok {
				recovery = back.Timestamp.Sub(off.Started)
			}
			// The first good probe comes within one interval of the revert, the
			// n-th (n−1) intervals later; one more interval is the slack the
			// checklist allows for the probe round and the next request.
			bound := time.Duration(n)*interval + interval
			// Premise: the generator kept its schedule through the recovery
			// to within half the interval of slack.
			sc.Given(harness.OnSchedule(run, off.Started, off.Started.Add(bound), interval/2)).AtMost(
				fmt.Sprintf("successes=%d: time from the health path healing to mockbin1's first answer", n),
				harness.Ms(recovery), harness.Ms(bound), "ms", "healthy.successes × interval + interval")
			if n > 1 && ok {
				sc.AtLeast(fmt.Sprintf("successes=%d: recovery time, lower bound", n), harness.Ms(back.Timestamp.Sub(off.Ended)),
					harness.Ms(time.Duration(n-1)*interval-50*time.Millisecond), "ms",
					"(successes − 1) × interval − 50ms: fewer good probes do not bring it back")
			}
			late := run.Since(off.Started.Add(bound))
			sc.AtLeast(fmt.Sprintf("successes=%d: share of mockbin1 after recovery", n),
				harness.Share(load.Instances(late)[m1.Name], len(late)), 0.45, "ratio", "back in the round-robin: 0.5")
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
