//go:build resilience

package scenarios_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-dev/gauntlet/scenarios/attack"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Slow POST: attackers send a request head with Content-Length: 100, ten
// bytes of body, then silence, while legitimate GETs run through the same
// gateway. The gateway must drop each attacker at its client body timeout
// (408 if it answers at all) without tying up the upstream, and the
// legitimate load must not notice.
var _ = Describe("slow POST", Label("hostile", "slow-post"), func() {
	It("drops stalled bodies at the body timeout and keeps the upstream free", func(ctx SpecContext) {
		bodyTimeout := hostileTimeout
		if harness.Proving("slow-post") {
			bodyTimeout = 0 // no body timeout: every attacker is held as long as it likes
		}
		sc := begin(ctx, "slow POST", stack.Options{Mockbins: 2, GatewayArgs: hostileArgs(bodyTimeout, hostileTimeout)})
		configureLegit(ctx, sc)
		m2 := sc.Stack.Mockbin("mockbin2")
		legit := sc.GET("/legit/request")
		warmLegit(ctx, sc, legit)
		rest := settledResources(ctx, sc)

		// 50 attackers: five times the five that pinned five upstream requests
		// in the issue, well under the connection counts the gateway serves.
		const conns = 50
		// Each gives up after two body timeouts + the margin: long enough that a
		// gateway without the timeout shows as held past the bound.
		giveUp := 2*hostileTimeout + closeMargin
		var cs []attack.Conn
		slow := attacker("slow POST ×50", func(ctx context.Context) {
			cs = attack.SlowPOST{Addr: proxyAddr(sc), Path: "/attack/slowpost", Conns: conns,
				ContentLength: 100, Send: 10, Max: giveUp}.Run(ctx)
		})
		watch := watchUpstream(ctx, m2)
		peak := peakSampler(ctx, sc)
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "slow-post", Rate: legitRate + controlRate, Duration: 8 * time.Second,
			Targets: legitTargets(sc, legit)},
			attackStep(2*time.Second, slow))
		peakRes := peak()
		watch.Stop()
		Expect(err).NotTo(HaveOccurred())
		w := oneWindow(tl)

		checkLegit(sc, run, w)
		checkHeld(sc, "slow POST", cs, func(c attack.Conn) time.Time { return c.Silent }, hostileTimeout+closeMargin,
			"client_body_timeout (2s) + 1s margin from the last body byte")
		var other int
		for _, c := range cs {
			if c.Status != 0 && c.Status != 408 {
				other++
			}
		}
		sc.Equal("slow POST: answers other than 408", float64(other), 0, "", "a timed-out body is 408 Request Timeout, as nginx answers")
		// The upstream (mockbin2 serves only /attack) must not hold attacker
		// requests past the body timeout: at most body timeout + margin after
		// the attack started, nothing of theirs is in flight there, until the
		// load ends.
		released := w.From.Add(hostileTimeout + closeMargin)
		pinned, samples := watch.MaxInFlight(released, run.End)
		most, _ := watch.MaxInFlight(w.From, run.End)
		sc.Note("attacker requests in flight on the upstream at most", float64(most), "")
		Expect(samples).To(BeNumerically(">", 0), "upstream samples after the body timeout")
		sc.Equal("attacker requests in flight on the upstream after the body timeout", float64(pinned), 0, "",
			"a stalled body must not pin an upstream request")
		st, err := mockbinStats(ctx, m2)
		Expect(err).NotTo(HaveOccurred())
		sc.Note("attacker requests that reached the upstream at all", float64(st.Paths["/slowpost"]), "")
		checkBackToRest(ctx, sc, rest, peakRes, run, rssSlackMiB, rssWhy)
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
