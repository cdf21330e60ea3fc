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

// healthPath is mockbin's own health endpoint, the active checks' http_path.
const healthPath = "/__mockbin/health"

// Health checks off (Kong's balancer spec: "no healthchecks"): mockbin1
// answers 500 to everything from t=1s. With Kong's default healthchecks tree
// nothing observes traffic, so every 500 reaches the client and mockbin1 keeps
// its round-robin share.
var _ = Describe("health checks off", Label("health-checks", "health-off"), func() {
	It("passes a target's 500s through and ejects nothing", func(ctx SpecContext) {
		sc := begin(ctx, "health checks off", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		var hc map[string]any // none: Kong's defaults, every check off
		if harness.Proving("health-off") {
			hc = harness.Checks{Passive: &harness.Passive{HTTPFailures: 1}}.Tree() // mockbin1 ejected at its first 500
		}
		Expect(sc.Configure(ctx, harness.Balanced{
			Service:  stack.ServiceSpec{Name: "off", Retries: stack.Int(5)},
			Upstream: stack.UpstreamSpec{Name: "off-up", Healthchecks: hc},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/off",
		})).To(Succeed())

		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{Status: 500})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-off", Rate: 100, Duration: 4 * time.Second,
			Targets: []vegeta.Target{sc.GET("/off/request")}},
			chaos.Step{At: time.Second, Fault: fault})
		Expect(err).NotTo(HaveOccurred())
		on, ok := tl.EventOf(fault, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(on.Err).To(BeEmpty())
		GinkgoWriter.Println("all:", harness.Describe(run.Results))

		after := run.Since(on.Ended)
		fromM1 := harness.ServedBy(after, m1.Name)
		// Smooth weighted round-robin over two equal weights alternates, so
		// mockbin1 gets every second pick: 0.5 of the requests, give or take one
		// at each end of the window.
		// Premise: the window after the fault is there to judge (planned 3 s
		// at 100 rps: 300); a share of a handful is noise.
		judged := sc.Given(harness.MinRequests("the window after the fault", after, 100))
		judged.AtLeast("share of mockbin1 after the fault", harness.Share(len(fromM1), len(after)), 0.45, "ratio",
			"round-robin over 2 equal targets gives 0.5 when nothing is ejected")
		judged.Equal("share of mockbin1's answers that reached the client as 500", harness.Share(len(harness.WithStatus(fromM1, 500)), len(fromM1)), 1, "ratio",
			"a 5xx is never retried (Kong retries connection errors and timeouts only): it passes through")
		sc.Equal("500s not from mockbin1", float64(len(harness.WithStatus(after, 500))-len(harness.WithStatus(fromM1, 500))), 0, "",
			"mockbin2 is healthy and the gateway makes no 500 of its own")

		hs, err := sc.Stack.Gateway.Admin.Health(ctx, "off-up")
		Expect(err).NotTo(HaveOccurred())
		notOff := 0
		for _, h := range hs {
			if h.Health != "HEALTHCHECKS_OFF" {
				notOff++
			}
		}
		Expect(hs).To(HaveLen(2))
		sc.Equal("targets not reading HEALTHCHECKS_OFF after the load", float64(notOff), 0, "",
			"checking is on only with a non-zero active interval or passive unhealthy threshold")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
