//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Configuration churn: 50 Admin writes/s for 10 s while load runs through
// one service: PATCHes of that service's tags, its targets' weights (both
// stay in rotation), and other services and routes created and deleted. A
// router rebuilt on every change must swap atomically: not one proxied
// request may fail, and nothing may pile up.
var _ = Describe("configuration churn", Label("operations", "config-churn"), func() {
	It("keeps every proxied request working through 500 Admin writes", func(ctx SpecContext) {
		sc := begin(ctx, "configuration churn", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		Expect(sc.Configure(ctx, harness.Balanced{
			Service: stack.ServiceSpec{Name: "churn", Retries: stack.Int(0), ConnectTimeout: stack.Int(1000),
				ReadTimeout: stack.Int(5000), WriteTimeout: stack.Int(5000)},
			Upstream: stack.UpstreamSpec{Name: "churn-up"}, Targets: []string{m1.Direct, m2.Direct}, Path: "/churn",
		})).To(Succeed())
		legit := sc.GET("/churn/request")
		warmLegit(ctx, sc, legit)
		rest := settledResources(ctx, sc)
		proving := harness.Proving("config-churn")

		// 5 writers × 10 writes/s = 50 writes/s; each writer cycles through its
		// own names, so the creates and deletes never collide.
		const writers, perWriter, churnFor = 5, 10, 10 * time.Second
		admin := sc.Stack.Gateway.Admin
		var mu sync.Mutex
		var took []time.Duration
		var failed []string
		do := func(ctx context.Context, method, path string, body any) {
			start := time.Now()
			err := admin.Do(ctx, method, path, body, nil)
			mu.Lock()
			defer mu.Unlock()
			took = append(took, time.Since(start))
			if err != nil {
				failed = append(failed, err.Error())
			}
		}
		writer := func(ctx context.Context, w int) {
			steps := []func(k int){
				func(k int) {
					do(ctx, http.MethodPost, "/services", map[string]any{"name": fmt.Sprintf("other-%d-%d", w, k), "host": "example.test"})
				},
				func(k int) {
					do(ctx, http.MethodPost, fmt.Sprintf("/services/other-%d-%d/routes", w, k),
						map[string]any{"name": fmt.Sprintf("other-%d-%d-r", w, k), "paths": []string{fmt.Sprintf("/other-%d-%d", w, k)}})
				},
				// An unrelated field of the proxied service.
				func(k int) {
					do(ctx, http.MethodPatch, "/services/churn", map[string]any{"tags": []string{fmt.Sprintf("rev-%d-%d", w, k)}})
				},
				// Weights between 50 and 149: both targets keep traffic.
				func(k int) {
					t := []string{m1.Direct, m2.Direct}[k%2]
					do(ctx, http.MethodPatch, "/upstreams/churn-up/targets/"+url.PathEscape(t), map[string]any{"weight": 50 + (w*31+k*17)%100})
				},
				func(k int) { do(ctx, http.MethodDelete, fmt.Sprintf("/routes/other-%d-%d-r", w, k), nil) },
				func(k int) { do(ctx, http.MethodDelete, fmt.Sprintf("/services/other-%d-%d", w, k), nil) },
			}
			if proving {
				// Delete and re-create the proxied route itself: requests between
				// the two writes find no route (404), and the check must see them.
				steps = append(steps,
					func(k int) { do(ctx, http.MethodDelete, "/routes/churn-route", nil) },
					func(k int) {
						do(ctx, http.MethodPost, "/services/churn/routes", map[string]any{"name": "churn-route", "paths": []string{"/churn"}})
					})
				if w > 0 {
					steps = steps[:len(steps)-2] // one writer owns the proxied route
				}
			}
			t := time.NewTicker(time.Second / perWriter)
			defer t.Stop()
			end := time.Now().Add(churnFor)
			for i := 0; time.Now().Before(end); i++ {
				steps[i%len(steps)](i / len(steps))
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}
		churn := attacker(fmt.Sprintf("config churn %d writes/s", writers*perWriter), func(ctx context.Context) {
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() { defer wg.Done(); writer(ctx, w) }()
			}
			wg.Wait()
		})
		peak := peakSampler(ctx, sc)
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "config-churn", Rate: 300, Duration: 13 * time.Second,
			Targets: []vegeta.Target{legit}},
			attackStep(2*time.Second, churn))
		peakRes := peak()
		Expect(err).NotTo(HaveOccurred())
		w := oneWindow(tl)

		during := load.Between(run.Results, w.From, w.Until)
		GinkgoWriter.Println("load during the churn:", harness.Describe(during))
		for i, f := range failed {
			if i < 5 {
				GinkgoWriter.Println("failed Admin write:", f)
			}
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		sc.Note("Admin writes", float64(len(took)), "")
		if len(took) > 0 {
			sc.Note("Admin write p99", harness.Ms(took[len(took)*99/100]), "ms")
		}
		// The churn is only real if it ran at its rate: 50/s for 10 s, less
		// the ticks a write slower than 100 ms skipped (10% allowed).
		sc.AtLeast("Admin writes per second", float64(len(took))/w.Until.Sub(w.From).Seconds(), 45, "",
			"50 writes/s offered, 90% sustained")
		sc.Equal("failed Admin writes", float64(len(failed)), 0, "", "every write is valid in order")
		sc.Equal("failed proxied requests", float64(load.Failures(run.Results)), 0, "",
			"the proxied service keeps its route and two weighted, healthy targets throughout")
		sc.AtLeast("mockbin2's share during the churn", harness.Share(load.Instances(during)[m2.Name], len(during)), 0.2, "ratio",
			"weights 50–149 on both targets: each keeps ≥ 50/(50+149) ≈ 25% of picks")
		// No goroutine or memory growth: the same bounds as after an attack;
		// each write's snapshot must be released when the next replaces it.
		checkBackToRest(ctx, sc, rest, peakRes, run, rssSlackMiB,
			"pages come back after the next GC cycle; 500 retained config snapshots would grow with every repeat")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
