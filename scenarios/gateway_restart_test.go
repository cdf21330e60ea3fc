//go:build resilience

package scenarios_test

import (
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Gateway killed and restarted: SIGKILL at t=3s, started again 1 s later. Its
// configuration must come back from the embedded store and traffic resume.
var _ = Describe("gateway killed and restarted", Label("gateway-restart"), func() {
	It("keeps its configuration and resumes traffic", func(ctx SpecContext) {
		opts := stack.Options{Mockbins: 2}
		if harness.Proving("gateway-restart") {
			opts.EphemeralData = true // the data dir does not survive the restart: nothing to recover
		}
		sc := begin(ctx, "gateway killed and restarted", opts)
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		Expect(sc.Configure(ctx, harness.Balanced{
			Service:  stack.ServiceSpec{Name: "gw", Retries: stack.Int(5), ConnectTimeout: stack.Int(250)},
			Upstream: stack.UpstreamSpec{Name: "gw-up"},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/gw",
		})).To(Succeed())
		admin := sc.Stack.Gateway.Admin
		svcBefore, err := admin.GetService(ctx, "gw")
		Expect(err).NotTo(HaveOccurred())
		targetsBefore := targetSet(ctx, admin)

		run, tl, err := sc.Attack(ctx, load.Attack{Name: "gateway-restart", Rate: 200, Duration: 9 * time.Second,
			Targets: []vegeta.Target{sc.GET("/gw/request")}},
			chaos.Step{At: 3 * time.Second, Fault: chaos.Kill(sc.Stack.Gateway.Node), Hold: time.Second})
		Expect(err).NotTo(HaveOccurred())
		evs := tl.Events()
		Expect(evs).To(HaveLen(2), "kill and restart both ran")
		Expect(evs[1].Err).To(BeEmpty())
		ready := evs[1].Ended // GET /status answers again
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		svcAfter, err := admin.GetService(ctx, "gw")
		same := err == nil && svcAfter.ID == svcBefore.ID && svcAfter.Host == svcBefore.Host &&
			svcAfter.Retries == svcBefore.Retries && svcAfter.ConnectTimeout == svcBefore.ConnectTimeout
		sc.Check("service unchanged after restart", b2f(same), "", same, "= 1 (same id, host, retries, timeouts)", 1)
		targetsAfter := targetSet(ctx, admin)
		sameTargets := len(targetsAfter) == len(targetsBefore)
		for i := 0; sameTargets && i < len(targetsAfter); i++ {
			sameTargets = targetsAfter[i] == targetsBefore[i]
		}
		sc.Check("targets unchanged after restart", float64(len(targetsAfter)), "", sameTargets,
			"= the 2 targets configured before", float64(len(targetsBefore)))

		sc.Note("failed requests while the gateway was down", float64(load.Failures(load.Between(rs, evs[0].Started, ready))), "")
		first, ok := harness.FirstOK(rs, ready)
		back := run.End.Sub(ready)
		if ok {
			back = first.Sub(ready)
		}
		// The proxy listens before /status answers; a new client connection
		// needs one dial: 1 s is generous.
		sc.AtMost("time from ready to the first success", harness.Ms(back), 1000, "ms", "listener up when /status answers")
		resumed := run.Since(ready.Add(time.Second))
		sc.Equal("failed requests from 1 s after the restart", float64(load.Failures(resumed)), 0, "",
			"the stored configuration serves as before")
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})

func targetSet(ctx SpecContext, admin *stack.Admin) []string {
	ts, err := admin.Targets(ctx, "gw-up")
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.ID+" "+t.Target)
	}
	sort.Strings(out)
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
