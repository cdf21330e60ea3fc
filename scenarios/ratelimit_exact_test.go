//go:build resilience

package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Exact rate limiting under load: two routes limited to R requests per second,
// one counting in the gateway (policy local), one in Redis (policy redis), each
// offered 3R for 10 s at the same time. Kong counts after the fact and admits
// more than R under concurrency; this gateway must admit exactly R per window.
var _ = Describe("rate-limiting is exact under load", Label("rate-limiting", "ratelimit-exact"), func() {
	It("admits R per second with policy local and policy redis, and rejects the rest as Kong does", func(ctx SpecContext) {
		const (
			r        = 50 // the limit, per second
			k        = 3  // offered load = k × R per route
			duration = 10 * time.Second
		)
		sc := begin(ctx, "rate-limiting exact", stack.Options{Mockbins: 1, Redis: true})
		m := sc.Stack.Mockbin("mockbin1")
		red := sc.Stack.Redis
		configured := r
		if harness.Proving("ratelimit-exact") {
			configured = 2 * r // the checks below still expect r
		}
		admin := sc.Stack.Gateway.Admin
		policies := []struct {
			name   string
			config map[string]any
		}{
			{"local", map[string]any{"second": configured, "policy": "local", "limit_by": "ip"}},
			{"redis", map[string]any{"second": configured, "policy": "redis", "limit_by": "ip",
				"redis": map[string]any{"host": red.Host, "port": red.Port}}},
		}
		applied := map[string]any{}
		var targets []vegeta.Target
		for _, p := range policies {
			name := "rl-" + p.name
			Expect(rlService(ctx, sc, name, "/"+name, m)).To(Succeed())
			_, err := admin.CreatePlugin(ctx, "/routes/"+name+"-route", stack.PluginSpec{Name: "rate-limiting", Config: p.config})
			Expect(err).NotTo(HaveOccurred())
			applied[name] = p.config
			targets = append(targets, sc.GET("/"+name+"/request"))
		}
		sc.SetGatewayConfig(applied)

		// The static targeter alternates the two routes: k×R each.
		run, _, err := sc.Attack(ctx, load.Attack{Name: "ratelimit-exact", Rate: len(targets) * k * r, Duration: duration, Targets: targets})
		Expect(err).NotTo(HaveOccurred())
		first, end := wholeSeconds(run)
		for i, p := range policies {
			label := "policy " + p.name
			rs := harness.ByURL(run.Results, targets[i].URL)
			GinkgoWriter.Printf("%s: %s\n", label, harness.Describe(rs))
			secs := perSecond(rs, first, end)
			noteSeconds(sc, label, secs, run.Start)
			checkRate(sc, label, secs, r)
			// 10 s cover at least 9 whole seconds; the windows at both edges may
			// merge with partial ones, so at least 7 complete windows remain.
			checkExactWindows(sc, label, rs, r, k, int(duration/time.Second)-3)
			checkRejections(sc, label, rs)
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
