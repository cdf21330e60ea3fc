//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Unequal weights under load, for the three weighted algorithms at once: three
// upstreams over the same mockbin1..3, weighted 1 : 3 : 6, each behind its own
// route. At t=3s every upstream's weights change live to 6 : 3 : 1; at t=6s
// mockbin2's weight goes to 0 (6 : 0 : 1). Each phase's shares are checked
// against the weights then in force, over the requests sent after the Admin
// writes returned (the store applies a write to the balancers before it
// answers, and the scenario reads the weights back before it goes on).
//
//   - round-robin: plain GETs;
//   - least-connections: GETs of /delay/250, so every target has the same
//     latency and ~50 requests are in flight, which is what the algorithm
//     balances;
//   - consistent-hashing on header X-Key, a fresh key per request: the share
//     of requests is the share of keys each target owns.
var _ = Describe("weighted balancing", Label("weights"), func() {
	It("splits traffic by weight, follows a live change and gives weight 0 nothing", func(ctx SpecContext) {
		sc := begin(ctx, "weighted balancing", stack.Options{Mockbins: 3})
		ms := []*stack.Mockbin{sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2"), sc.Stack.Mockbin("mockbin3")}
		admin := sc.Stack.Gateway.Admin

		// The weights the checks expect, per phase.
		phases := [][]int{{100, 300, 600}, {600, 300, 100}, {600, 0, 100}}
		configured := phases
		if harness.Proving("weights") {
			// Equal weights throughout, and 1 where the scenario claims 0:
			// every share check and the exact-0 check must miss.
			configured = [][]int{{100, 100, 100}, {100, 100, 100}, {100, 1, 100}}
		}
		const slots = 10000 // Kong's default upstream.slots
		const lcDelay = 250 * time.Millisecond
		type algo struct{ name, upstream, path string }
		algos := []algo{
			{"round-robin", "w-rr-up", "/w-rr/request"},
			{"least-connections", "w-lc-up", fmt.Sprintf("/w-lc/delay/%d", lcDelay.Milliseconds())},
			{"consistent-hashing", "w-hash-up", "/w-hash/request"},
		}
		for _, a := range algos {
			up := map[string]any{"name": a.upstream, "algorithm": a.name, "slots": slots}
			if a.name == "consistent-hashing" {
				up["hash_on"], up["hash_on_header"] = "header", "X-Key"
			}
			Expect(admin.Do(ctx, http.MethodPost, "/upstreams", up, nil)).To(Succeed())
			for i, m := range ms {
				Expect(admin.AddTarget(ctx, a.upstream, m.Target, configured[0][i])).To(Succeed())
			}
			svc := a.upstream[:len(a.upstream)-3]
			_, err := admin.CreateService(ctx, stack.ServiceSpec{Name: svc, Host: a.upstream, Port: 80, Retries: stack.Int(0)})
			Expect(err).NotTo(HaveOccurred())
			_, err = admin.CreateRoute(ctx, svc, stack.RouteSpec{Name: svc + "-route", Paths: []string{"/" + svc}})
			Expect(err).NotTo(HaveOccurred())
		}
		sc.SetGatewayConfig(map[string]any{"algorithms": algos, "weights": configured, "slots": slots})

		// setWeights PATCHes every upstream's targets, then reads them back
		// until the Admin API shows the new weights: the phase starts when
		// this returns.
		setWeights := func(ws []int) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				for _, a := range algos {
					for i, m := range ms {
						if err := admin.Do(ctx, http.MethodPatch, "/upstreams/"+a.upstream+"/targets/"+url.PathEscape(m.Target),
							map[string]any{"weight": ws[i]}, nil); err != nil {
							return err
						}
					}
				}
				deadline := time.Now().Add(2 * time.Second)
				for _, a := range algos {
					for {
						ts, err := admin.Targets(ctx, a.upstream)
						if err != nil {
							return err
						}
						got := map[string]int{}
						for _, t := range ts {
							got[t.Target] = t.Weight
						}
						ok := true
						for i, m := range ms {
							ok = ok && got[m.Target] == ws[i]
						}
						if ok {
							break
						}
						if time.Now().After(deadline) {
							return fmt.Errorf("upstream %s: weights %v, want %v", a.upstream, got, ws)
						}
						time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
					}
				}
				return nil
			}
		}

		var seq atomic.Uint64
		proxy := sc.Stack.Gateway.ProxyURL
		targeter := func(t *vegeta.Target) error {
			n := seq.Add(1)
			a := algos[n%uint64(len(algos))]
			*t = vegeta.Target{Method: http.MethodGet, URL: proxy + a.path}
			if a.name == "consistent-hashing" {
				t.Header = http.Header{"X-Key": {"key-" + strconv.FormatUint(n*2654435761, 36)}}
			}
			return nil
		}
		const rate, phase = 600, 3 * time.Second
		change := harness.Action("weights 6:3:1", "admin", "gateway", setWeights(configured[1]))
		zero := harness.Action("weight 0 on mockbin2", "admin", "mockbin2", setWeights(configured[2]))
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "weights", Rate: rate, Duration: 3 * phase, Targeter: targeter,
			Targets: []vegeta.Target{sc.GET(algos[0].path), sc.GET(algos[1].path), sc.GET(algos[2].path)}},
			chaos.Step{At: phase, Fault: change}, chaos.Step{At: 2 * phase, Fault: zero})
		Expect(err).NotTo(HaveOccurred())
		evChange, ok := tl.EventOf(change, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(evChange.Err).To(BeEmpty())
		evZero, ok := tl.EventOf(zero, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(evZero.Err).To(BeEmpty())

		// Phase windows: from when the weights were in force (the Admin
		// writes returned) to when the next change began.
		windows := [][2]time.Time{{run.Start, evChange.Started}, {evChange.Ended, evZero.Started}, {evZero.Ended, run.End}}
		sc.Equal("failed requests", float64(load.Failures(run.Results)), 0, "", "healthy targets, light load")

		for _, a := range algos {
			rs := harness.ByURL(run.Results, proxy+a.path)
			GinkgoWriter.Printf("%s: %s\n", a.name, harness.Describe(rs))
			for p, w := range windows {
				ws := phases[p]
				from := w[0]
				if a.name == "least-connections" {
					// In-flight requests of the previous weights distort the
					// counts the algorithm balances until they have ended.
					from = from.Add(lcDelay + 50*time.Millisecond)
				}
				in := load.Between(rs, from, w[1])
				n := len(in)
				counts := load.Instances(in)
				W := 0
				nonZero := 0
				for _, x := range ws {
					W += x
					if x > 0 {
						nonZero++
					}
				}
				var inFlight float64 // least-connections: Little's law, rate × mean latency
				if n > 0 {
					var sum time.Duration
					for _, x := range in {
						sum += x.Latency
					}
					inFlight = float64(n) / w[1].Sub(from).Seconds() * (sum / time.Duration(n)).Seconds()
				}
				for i, m := range ms {
					label := fmt.Sprintf("%s, phase %d (%d:%d:%d): share of %s", a.name, p+1, ws[0]/100, ws[1]/100, ws[2]/100, m.Name)
					share := harness.Share(counts[m.Name], n)
					if ws[i] == 0 {
						sc.Equal(label+" at weight 0", float64(counts[m.Name]), 0, "",
							"weight 0 takes a target out of every algorithm's rotation once the write returned")
						continue
					}
					want := float64(ws[i]) / float64(W)
					var bound float64
					var why string
					switch a.name {
					case "round-robin":
						// Deterministic: smooth weighted round-robin repeats a
						// wheel of L = Σw/gcd picks (10, 10, then 7 here), so
						// any run of n picks is within L of n·w/W for each
						// target; plus 2 requests at each window edge whose
						// picks may be reordered against their send times.
						L := 0
						g := 0
						for _, x := range ws {
							g = gcdInt(g, x)
						}
						for _, x := range ws {
							L += x / g
						}
						bound = float64(L+4) / float64(n)
						why = fmt.Sprintf("w/W ± (L + 4)/n, L = %d, n = %d", L, n)
					case "least-connections":
						// Kong's rule picks the lowest (active+1)/weight, so
						// in flight a_i + 1 ∝ w_i and the share a_i/A is
						// w_i/W shifted by |N·w_i − W| / (W·A) (N targets with
						// weight, A in flight, by Little's law). The counts
						// stay within ±1 of that balance: ± 2/A more.
						bias := math.Abs(float64(nonZero*ws[i]-W)) / (float64(W) * inFlight)
						bound = bias + 2/inFlight
						why = fmt.Sprintf("w/W ± (|N·w−W|/(W·A) + 2/A), A = %.1f in flight", inFlight)
					default:
						// A fresh key lands in a uniform slot; weighted
						// rendezvous gives each slot to target i with
						// probability w_i/W. Both the n keys and the 10,000
						// slots are draws: σ = sqrt(p(1−p)(1/n + 1/slots)),
						// and 4σ fails a correct ring 1 time in 16,000.
						sigma := math.Sqrt(want * (1 - want) * (1/float64(n) + 1.0/slots))
						bound = 4 * sigma
						why = fmt.Sprintf("w/W ± 4σ, σ = √(p(1−p)(1/n + 1/slots)), n = %d", n)
					}
					sc.AtLeast(label, share, want-bound, "ratio", why)
					sc.AtMost(label+" (upper)", share, want+bound, "ratio", why)
				}
			}
		}

		// Phase 4, the retry fallback of least-connections: with 6:0:1 in
		// force, mockbin1 and mockbin3 drop every connection and w-lc
		// retries twice. A request fails on both weighted targets and then
		// falls back to one it already tried, as Kong's balancer does, so
		// every answer is an error and mockbin2, at weight 0, sees none. A
		// balancer that keeps weight-0 targets eligible sends the first retry
		// to mockbin2, which answers 200. One connection, 20 rps for 2 s: 40
		// requests, each ≤ 3 tries of a dropped connection (milliseconds).
		Expect(admin.Do(ctx, http.MethodPatch, "/services/w-lc", map[string]any{"retries": 2}, nil)).To(Succeed())
		for _, m := range []*stack.Mockbin{ms[0], ms[2]} {
			drop := chaos.Mockbin(m.Name, m.URL, chaos.MockbinFault{DropRate: 1})
			Expect(drop.Inject(ctx)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(drop.Revert(ctx)).To(Succeed()) }, NodeTimeout(30*time.Second))
		}
		fb, _, err := sc.Attack(ctx, load.Attack{Name: "weights-fallback", Rate: 20, Duration: 2 * time.Second,
			Targets: []vegeta.Target{sc.GET(algos[1].path)}, Connections: 1})
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("least-connections fallback: %s\n", harness.Describe(fb.Results))
		sc.AtLeast("least-connections fallback: requests sent", float64(len(fb.Results)), 40, "",
			"20 rps × 2 s on one connection")
		sc.Equal("least-connections fallback: requests answered by mockbin2 at weight 0",
			float64(load.Instances(fb.Results)[ms[1].Name]), 0, "",
			"a weight-0 target is never picked, not even as the retry of a request whose weighted targets all failed")
		sc.Equal("least-connections fallback: requests that did not fail", float64(len(fb.Results)-load.Failures(fb.Results)), 0, "",
			"every weighted target drops the connection, so every request exhausts its tries")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})

func gcdInt(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
