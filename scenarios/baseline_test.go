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

// Baseline: steady load through the gateway onto two round-robin targets, and
// the same load straight at one mockbin, so the gateway's p99 is read beside
// the upstream's own.
var _ = Describe("baseline", Label("baseline"), func() {
	It("proxies steady load without a single failure", func(ctx SpecContext) {
		sc := begin(ctx, "baseline", stack.Options{Mockbins: 2})
		targets := []string{sc.Stack.Mockbin("mockbin1").Target, sc.Stack.Mockbin("mockbin2").Target}
		retries := stack.Int(5)
		if harness.Proving("baseline") {
			// A target nobody listens on, and no retries: some requests must fail.
			targets, retries = append(targets, "127.0.0.1:9"), stack.Int(0)
		}
		Expect(sc.Configure(ctx, harness.Balanced{
			Service:  stack.ServiceSpec{Name: "baseline", Retries: retries},
			Upstream: stack.UpstreamSpec{Name: "baseline-up"},
			Targets:  targets,
			Path:     "/baseline",
		})).To(Succeed())

		const rate, dur = 300, 5 * time.Second
		direct, _, err := sc.Attack(ctx, load.Attack{Name: "baseline-direct", Rate: rate, Duration: dur,
			Targets: []vegeta.Target{{Method: "GET", URL: sc.Stack.Mockbin("mockbin1").URL + "/request"}}})
		Expect(err).NotTo(HaveOccurred())
		run, _, err := sc.Attack(ctx, load.Attack{Name: "baseline", Rate: rate, Duration: dur,
			Targets: []vegeta.Target{sc.GET("/baseline/request")}})
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Println("direct:", harness.Describe(direct.Results))
		GinkgoWriter.Println("gateway:", harness.Describe(run.Results))

		rs := run.Results
		// A healthy stack at 300 rps (a sixth of what one core proxies) fails nothing.
		sc.Equal("failed requests through the gateway", float64(load.Failures(rs)), 0, "", "healthy upstreams, light load")
		sc.Equal("failed requests direct to mockbin1", float64(load.Failures(direct.Results)), 0, "", "healthy upstream, light load")
		// Round-robin over two equal weights alternates: 50% each, ±5 points for
		// retries and the ends of the run.
		share := harness.Share(load.Instances(rs)["mockbin1"], len(rs))
		sc.AtLeast("share of mockbin1", share, 0.45, "ratio", "round-robin, equal weights: 50% − 5 points")
		sc.AtMost("share of mockbin1 (upper)", share, 0.55, "ratio", "round-robin, equal weights: 50% + 5 points")
		p99d, p99g := load.Percentile(direct.Results, 0.99), load.Percentile(rs, 0.99)
		sc.Note("p99 direct to mockbin1", harness.Ms(p99d), "ms")
		sc.Note("p99 through the gateway", harness.Ms(p99g), "ms")
		// One loopback proxy hop costs well under a millisecond; 100 ms is room
		// for stalls of two cores shared with the load generator (seen up to
		// 70 ms), still below what a retry or a timeout on the hot path costs.
		// Premise: the machine let the generator keep its schedule in both
		// runs, to within half that room at p99. A generator whose p99 send is
		// 50 ms late sits on a machine whose stalls of that size land in both
		// p99s unevenly, and the difference then measures the machine.
		const lagRoom = 50 * time.Millisecond
		sc.Given(
			harness.LagQuantile(direct, time.Time{}, time.Time{}, 0.99, lagRoom),
			harness.LagQuantile(run, time.Time{}, time.Time{}, 0.99, lagRoom),
		).AtMost("p99 added by the gateway", harness.Ms(p99g-p99d), 100, "ms", "one proxy hop + stalls of shared cores")
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})
