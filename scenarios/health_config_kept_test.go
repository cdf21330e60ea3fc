//go:build resilience

package scenarios_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Health state across an unrelated config change (beats Kong, whose
// balancers are rebuilt with fresh health on config changes, #7835):
// mockbin1 answers 500 from t=0.5s for good and is ejected by passive
// http_failures=1. At t=2s a new service and route are added through the
// Admin API. The ejected target must stay ejected: after the change the
// client sees no 500 and mockbin1 no request. One client connection, so the
// 500 count is exact (see health_passive_test.go).
var _ = Describe("health kept across a config change", Label("health-checks", "health-config-kept"), func() {
	It("keeps an ejected target ejected when an unrelated service is added", func(ctx SpecContext) {
		sc := begin(ctx, "health kept across config change", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		const up = "kept-up"
		Expect(sc.Configure(ctx, harness.Balanced{
			Service:  stack.ServiceSpec{Name: "kept", Retries: stack.Int(5)},
			Upstream: stack.UpstreamSpec{Name: up, Healthchecks: harness.Checks{Passive: &harness.Passive{HTTPFailures: 1}}.Tree()},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/kept",
		})).To(Succeed())

		admin := sc.Stack.Gateway.Admin
		var stateAfter string
		change := harness.Action("add service and route", "config", "gateway", func(ctx context.Context) error {
			if harness.Proving("health-config-kept") {
				// Deleting and re-adding the target is a change that does
				// reset its health (a new target): the checks below must see it.
				if err := admin.Do(ctx, http.MethodDelete, "/upstreams/"+up+"/targets/"+m1.Target, nil, nil); err != nil {
					return err
				}
				if err := admin.AddTarget(ctx, up, m1.Target, 0); err != nil {
					return err
				}
			} else {
				if _, err := admin.CreateService(ctx, stack.ServiceSpec{Name: "unrelated", URL: "http://" + m2.Direct}); err != nil {
					return err
				}
				if _, err := admin.CreateRoute(ctx, "unrelated", stack.RouteSpec{Name: "unrelated-route", Paths: []string{"/unrelated"}}); err != nil {
					return err
				}
			}
			s, err := admin.TargetHealth(ctx, up, m1.Target)
			stateAfter = s
			return err
		})
		fault := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{Status: 500})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-config-kept", Rate: 100, Duration: 4 * time.Second,
			Targets: []vegeta.Target{sc.GET("/kept/request")}, Connections: 1},
			chaos.Step{At: 500 * time.Millisecond, Fault: fault},
			chaos.Step{At: 2 * time.Second, Fault: change})
		Expect(err).NotTo(HaveOccurred())
		changed, ok := tl.EventOf(change, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(changed.Err).To(BeEmpty())
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		// The new route is live: the change really reached the proxy.
		if !harness.Proving("health-config-kept") {
			resp, err := harness.Client.Get(sc.Stack.Gateway.ProxyURL + "/unrelated/request")
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK), "the unrelated route answers")
		}

		// Premise: the fault was in place well before the change (planned
		// 1.5 s at 100 rps), so mockbin1 met requests and was ejected first.
		faulted, ok := tl.EventOf(fault, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		sc.Given(harness.MinRequests("the window from the fault to the change", load.Between(rs, faulted.Ended, changed.Started), 50)).Equal(
			"500s before the change", float64(len(harness.WithStatus(load.Between(rs, time.Time{}, changed.Started), 500))), 1, "",
			"passive http_failures = 1: the first 500 ejects mockbin1")
		after := run.Since(changed.Started)
		// Premise: the window after the change is there to judge (planned 2 s
		// at 100 rps); "no 500 after it" of a handful proves little.
		judged := sc.Given(harness.MinRequests("the window after the change", after, 100))
		judged.Equal("500s after the change", float64(len(harness.WithStatus(after, 500))), 0, "",
			"health survives a change that keeps the target (Kong resets it and would let mockbin1's 500s through again)")
		judged.Equal("requests mockbin1 answered after the change", float64(load.Instances(after)[m1.Name]), 0, "",
			"still ejected: passive checks alone never bring it back")
		isUnhealthy := 0.0
		if stateAfter == "UNHEALTHY" {
			isUnhealthy = 1
		}
		GinkgoWriter.Println("mockbin1 health right after the change:", stateAfter)
		sc.Equal("mockbin1 reads UNHEALTHY right after the change (1 = yes)", isUnhealthy, 1, "",
			"GET /upstreams/{u}/health keeps the ejection (Kong: HEALTHY again)")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
