//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Balancer health threshold (Kong's balancer spec: "#healthchecks.threshold"):
// four upstreams over the same four mockbins, with threshold 0, 25, 75 and
// 100. At t = 1, 2, 3, 4 s one more target is marked unhealthy in all of them
// (PUT .../unhealthy). Kong's rule: the balancer is healthy while
// healthy weight / total weight × 100 > threshold; an unhealthy balancer
// balances nothing, and every request gets 503 "failure to get a peer from
// the ring-balancer". So threshold 0 flips with all 4 out, 25 with 3, 75 with
// 1, and 100 is never healthy, not even with all 4 targets up.
var _ = Describe("balancer health threshold", Label("health-checks", "health-threshold"), func() {
	It("flips balancer health at the right share and answers 503 exactly when unhealthy", func(ctx SpecContext) {
		sc := begin(ctx, "balancer health threshold", stack.Options{Mockbins: 4})
		thresholds := []float64{0, 25, 75, 100}
		var mockbins []*stack.Mockbin
		for i := 1; i <= 4; i++ {
			mockbins = append(mockbins, sc.Stack.Mockbin(fmt.Sprintf("mockbin%d", i)))
		}
		ups := make([]string, len(thresholds))
		var bs []harness.Balanced
		var targets []vegeta.Target
		for i, th := range thresholds {
			configured := th
			if harness.Proving("health-threshold") {
				configured = 0 // every balancer flips only with all targets out
			}
			name := fmt.Sprintf("thr%d", int(th))
			ups[i] = name + "-up"
			var addrs []string
			for _, m := range mockbins {
				addrs = append(addrs, m.Target)
			}
			bs = append(bs, harness.Balanced{
				Service: stack.ServiceSpec{Name: name, Retries: stack.Int(5)},
				// A passive threshold that no 200 ever reaches keeps checking
				// on, so "health" reads HEALTHY/UNHEALTHY, not HEALTHCHECKS_OFF.
				Upstream: stack.UpstreamSpec{Name: ups[i], Healthchecks: harness.Checks{Threshold: configured,
					Passive: &harness.Passive{HTTPFailures: 5}}.Tree()},
				Targets: addrs,
				Path:    "/" + name,
			})
			targets = append(targets, sc.GET("/"+name+"/request"))
		}
		Expect(sc.Configure(ctx, bs...)).To(Succeed())

		admin := sc.Stack.Gateway.Admin
		// read[k][i] is upstream i's balancer health with k targets marked.
		var mu sync.Mutex
		read := make([][]stack.BalancerHealth, len(mockbins)+1)
		readAll := func(ctx context.Context, k int) error {
			row := make([]stack.BalancerHealth, len(ups))
			for i, u := range ups {
				bh, err := admin.BalancerHealth(ctx, u)
				if err != nil {
					return err
				}
				row[i] = bh
			}
			mu.Lock()
			read[k] = row
			mu.Unlock()
			return nil
		}
		Expect(readAll(ctx, 0)).To(Succeed())
		var steps []chaos.Step
		for k, m := range mockbins {
			steps = append(steps, chaos.Step{At: time.Duration(k+1) * time.Second,
				Fault: harness.Action("PUT unhealthy on "+m.Name, "admin", m.Name, func(ctx context.Context) error {
					for _, u := range ups {
						if err := admin.SetTargetHealth(ctx, u, m.Target, false); err != nil {
							return err
						}
					}
					return readAll(ctx, k+1)
				})})
		}
		const rate = 160 // 40 rps per route
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "health-threshold", Rate: rate, Duration: 5 * time.Second,
			Targets: targets}, steps...)
		Expect(err).NotTo(HaveOccurred())
		// Phase k runs from the k-th PUT's end to the next one's start; 50 ms
		// keeps requests already past the pick when a PUT lands out of it.
		from, to := make([]time.Time, len(mockbins)+1), make([]time.Time, len(mockbins)+1)
		from[0] = run.Start
		for k, st := range steps {
			ev, ok := tl.EventOf(st.Fault, chaos.ActionInject)
			Expect(ok).To(BeTrue())
			Expect(ev.Err).To(BeEmpty())
			to[k] = ev.Started
			from[k+1] = ev.Ended.Add(50 * time.Millisecond)
		}

		for i, th := range thresholds {
			rs := harness.ByURL(run.Results, targets[i].URL)
			GinkgoWriter.Printf("threshold %v: %s\n", th, harness.Describe(rs))
			wrongReads, flipAt := 0, -1
			var unhealthyRs, healthyRs []vegeta.Result
			for k := 0; k <= len(mockbins); k++ {
				healthyPct := float64(len(mockbins)-k) * 100 / float64(len(mockbins))
				want := "UNHEALTHY"
				if healthyPct > th {
					want = "HEALTHY"
				}
				got := read[k][i]
				if got.Balancer != want || got.Health != want {
					wrongReads++
					GinkgoWriter.Printf("threshold %v, %d marked: read %+v, want %s\n", th, k, got, want)
				}
				if got.Balancer == "UNHEALTHY" && flipAt < 0 {
					flipAt = k
				}
				phase := load.Between(rs, from[k], to[k])
				if want == "HEALTHY" {
					healthyRs = append(healthyRs, phase...)
				} else {
					unhealthyRs = append(unhealthyRs, phase...)
				}
			}
			// The first k with (4−k) × 25 ≤ threshold.
			wantFlip := 0
			for float64(len(mockbins)-wantFlip)*100/float64(len(mockbins)) > th {
				wantFlip++
			}
			sc.Equal(fmt.Sprintf("threshold %v: targets marked unhealthy when balancer_health first reads UNHEALTHY", th),
				float64(flipAt), float64(wantFlip), "", "healthy ⇔ healthy weight % > threshold")
			sc.Equal(fmt.Sprintf("threshold %v: balancer health reads that differ from the rule", th), float64(wrongReads), 0, "",
				"5 reads, 0 to 4 targets marked")
			// Premise of the two traffic checks: each has requests to judge
			// (a phase is planned 1 s at 40 rps on this route).
			sc.Given(harness.MinRequests(fmt.Sprintf("threshold %v: the unhealthy phases", th), unhealthyRs, 20)).Equal(
				fmt.Sprintf("threshold %v: share of 503s with Kong's message while unhealthy", th),
				harness.Share(harness.CountBody(unhealthyRs, 503, kongNoPeer), len(unhealthyRs)), 1, "ratio",
				"an unhealthy balancer gives no peer at all")
			if th < 100 {
				sc.Given(harness.MinRequests(fmt.Sprintf("threshold %v: the healthy phases", th), healthyRs, 20)).Equal(
					fmt.Sprintf("threshold %v: failed requests while healthy", th), float64(load.Failures(healthyRs)), 0, "",
					"the remaining healthy targets serve everything")
			}
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
