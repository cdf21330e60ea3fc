//go:build resilience

package scenarios_test

import (
	"fmt"
	"net/http"
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

		run, ready := killAndRestart(ctx, sc, "gateway-restart", "/gw/request")
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

		checkResumed(sc, run, ready)
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})

// The gateway DB-less (--database off, the kong.yml given at start), killed
// and restarted as above: it must come back with the file's configuration.
// The proving switch starts it on an empty kong.yml and loads the same
// configuration through POST /config, which lives in memory only: the
// mistake of a DB-less node configured at run time, gone after a restart.
var _ = Describe("DB-less gateway killed and restarted", Label("gateway-restart", "gateway-restart-dbless"), func() {
	It("serves the kong.yml it was started with again", func(ctx SpecContext) {
		kongYML := func(ms []*stack.Mockbin) string {
			return fmt.Sprintf(`_format_version: "3.0"
upstreams:
- name: gw-up
  targets:
  - target: %s
  - target: %s
services:
- name: gw
  host: gw-up
  port: 80
  retries: 5
  connect_timeout: 250
  routes:
  - name: gw-route
    paths: [/gw]
`, ms[0].Target, ms[1].Target)
		}
		proving := harness.Proving("gateway-restart-dbless")
		opts := stack.Options{Mockbins: 2, Declarative: kongYML}
		if proving {
			opts.Declarative = func([]*stack.Mockbin) string { return "_format_version: \"3.0\"\n" }
		}
		sc := begin(ctx, "DB-less gateway killed and restarted", opts)
		admin := sc.Stack.Gateway.Admin
		conf := kongYML(sc.Stack.Mockbins)
		if proving {
			Expect(admin.Do(ctx, http.MethodPost, "/config", map[string]any{"config": conf}, nil)).To(Succeed())
		}
		sc.SetGatewayConfig(map[string]any{"database": "off", "kong.yml": conf})
		// Checked, not required: a gateway that ignored the file must still
		// go through the run, so the record shows what it served.
		svcBefore, err := admin.GetService(ctx, "gw")
		sc.Equal("service of the kong.yml missing before the kill", b2f(err != nil), 0, "", "the file is loaded at start")

		run, ready := killAndRestart(ctx, sc, "gateway-restart-dbless", "/gw/request")
		sc.Equal("failed requests before the kill", float64(load.Failures(load.Between(run.Results, run.Start, run.Start.Add(killAt)))), 0, "",
			"the kong.yml's route serves from the start")
		svcAfter, err := admin.GetService(ctx, "gw")
		// Kong gives a declarative entity without an id a stable one (a v5
		// UUID of its endpoint key), so the id survives the restart too.
		same := err == nil && svcAfter.ID == svcBefore.ID && svcAfter.Host == svcBefore.Host &&
			svcAfter.Retries == svcBefore.Retries && svcAfter.ConnectTimeout == svcBefore.ConnectTimeout
		sc.Check("service after restart as in kong.yml", b2f(same), "", same, "= 1 (same id, host, retries, timeouts)", 1)
		checkResumed(sc, run, ready)
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})

// killAt and downFor are the restart scenarios' timeline: SIGKILL at 3 s,
// started again 1 s later, in 9 s of 200 rps.
const (
	killAt  = 3 * time.Second
	downFor = time.Second
)

// killAndRestart runs load on path while the gateway is killed and started
// again, and returns the run and when the gateway answered /status again.
func killAndRestart(ctx SpecContext, sc *harness.Scenario, name, path string) (*load.Run, time.Time) {
	run, tl, err := sc.Attack(ctx, load.Attack{Name: name, Rate: 200, Duration: 9 * time.Second,
		Targets: []vegeta.Target{sc.GET(path)}},
		chaos.Step{At: killAt, Fault: chaos.Kill(sc.Stack.Gateway.Node), Hold: downFor})
	Expect(err).NotTo(HaveOccurred())
	evs := tl.Events()
	Expect(evs).To(HaveLen(2), "kill and restart both ran")
	Expect(evs[1].Err).To(BeEmpty())
	GinkgoWriter.Println("all:", harness.Describe(run.Results))
	return run, evs[1].Ended // GET /status answers again
}

// checkResumed checks traffic came back after the restart: the first
// success soon after the gateway was ready, and no failure from 1 s on.
func checkResumed(sc *harness.Scenario, run *load.Run, ready time.Time) {
	rs := run.Results
	sc.Note("failed requests while the gateway was down", float64(load.Failures(load.Between(rs, run.Start.Add(killAt), ready))), "")
	first, ok := harness.FirstOK(rs, ready)
	back := run.End.Sub(ready)
	if ok {
		back = first.Sub(ready)
	}
	// The proxy listens before /status answers; a new client connection
	// needs one dial: 1 s is generous.
	sc.AtMost("time from ready to the first success", harness.Ms(back), 1000, "ms", "listener up when /status answers")
	sc.Equal("failed requests from 1 s after the restart", float64(load.Failures(run.Since(ready.Add(time.Second)))), 0, "",
		"the stored configuration serves as before")
}

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
