//go:build resilience

package scenarios_test

import (
	"context"
	"errors"
	"strings"
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

// kongNoPeer is Kong's body text when the balancer has no healthy target.
const kongNoPeer = "failure to get a peer from the ring-balancer"

// All targets down: both mockbins are killed at t=2s; mockbin1 comes back 3 s
// later. With health checks the gateway answers 503 with Kong's message while
// nothing is healthy, and recovers when a target returns.
var _ = Describe("all targets down", Label("all-down"), func() {
	It("answers 503 with Kong's message and recovers", func(ctx SpecContext) {
		sc := begin(ctx, "all targets down", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		var hc map[string]any = harness.HealthChecks(1, "/__mockbin/health")
		if harness.Proving("all-down") {
			hc = nil // no health checks: every pick still tries a dead target, 502
		}
		Expect(sc.Configure(ctx, harness.Balanced{
			Service: stack.ServiceSpec{Name: "down", Retries: stack.Int(5),
				ConnectTimeout: stack.Int(250), ReadTimeout: stack.Int(5000)},
			Upstream: stack.UpstreamSpec{Name: "down-up", Healthchecks: hc},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/down",
		})).To(Succeed())

		// Both kills in one step, sent at once: a timeline runs its actions one
		// after another, and on a loaded machine one docker kill took 1.2 s,
		// which left the window with both targets dead empty.
		both := chaos.Custom("kill mockbin1+mockbin2", "kill", m1.Name+"+"+m2.Name, func(ctx context.Context) error {
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, n := range []chaos.Node{m1.Node, m2.Node} {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = n.Kill(ctx) }()
			}
			wg.Wait()
			return errors.Join(errs...)
		}, m1.Node.Start) // mockbin1 comes back; mockbin2 stays dead
		const dur = 10 * time.Second
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "all-down", Rate: 200, Duration: dur,
			Targets: []vegeta.Target{sc.GET("/down/request")}},
			chaos.Step{At: 2 * time.Second, Fault: both, Hold: 3 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		var down, upStart, up time.Time
		for _, ev := range tl.Events() {
			Expect(ev.Err).To(BeEmpty(), "%s %s", ev.Action, ev.Fault)
			switch {
			case ev.Action == chaos.ActionInject && ev.Ended.After(down):
				down = ev.Ended
			case ev.Action == chaos.ActionRevert:
				upStart, up = ev.Started, ev.Ended
			}
		}
		Expect(up.IsZero()).To(BeFalse(), "mockbin1 restarted")
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		// Passive checks eject each dead target at its first failed connect and
		// active probes within 1 s, so from 1 s after both died nothing is healthy.
		dark := load.Between(rs, down.Add(time.Second), upStart)
		// Premise: the window is there to judge. Planned, it is 2 s (both dead
		// from 2 s, +1 s to eject, mockbin1 back at 5 s) × 200 rps = 400
		// requests; late kills or a generator that stalled leave fewer, and an
		// empty window makes "100% of its requests" true of nothing. 50 is a
		// quarter of a second of load: enough for a property of every request.
		inDark := sc.Given(harness.MinRequests("the dark window (1 s after both kills to mockbin1's restart)", dark, 50))
		withMsg := 0
		for _, x := range dark {
			if x.Code == 503 && strings.Contains(string(x.Body), kongNoPeer) {
				withMsg++
			}
		}
		inDark.Equal("share of 503 while all targets are down", harness.Share(load.Codes(dark)[503], len(dark)), 1, "ratio",
			"no healthy target: the balancer has no peer")
		inDark.Equal("share of 503s with Kong's message", harness.Share(withMsg, len(dark)), 1, "ratio", `"`+kongNoPeer+`"`)
		first, ok := harness.FirstOK(rs, up)
		back := run.End.Sub(up)
		if ok {
			back = first.Sub(up)
		}
		// One probe interval × 1 success + up to one interval of probe phase + 500ms.
		const bound = 2*time.Second + 500*time.Millisecond
		// Premise: the generator sent on time while the gateway had to find
		// mockbin1 again, to within half the 500 ms of slack; a late sender
		// makes the first success late by its own lag.
		sc.Given(harness.OnSchedule(run, up, up.Add(bound), 250*time.Millisecond)).AtMost(
			"time from restart to the first success", harness.Ms(back), harness.Ms(bound), "ms",
			"healthy.interval × successes + interval + 500ms")
		recovered := run.Since(up.Add(bound))
		sc.Equal("failed requests once recovered", float64(load.Failures(recovered)), 0, "", "one healthy target serves all")
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})
