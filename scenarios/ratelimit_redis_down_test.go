//go:build resilience

package scenarios_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Redis down under a redis-policy limit with fault_tolerant=true (Kong: "proxy
// requests even if the counter store cannot be reached"). A route limited to R
// per second is offered 3R for 14 s; Redis gets SIGKILL at t=4s and is started
// again 3 s later, empty (no persistence, like a crashed cache). While it is
// down every request must be proxied (no 5xx, nothing limited); once it
// answers again the limit must come back by itself (go-redis reconnects; the
// store's 250 ms breaker then lets requests try Redis again). The seconds in
// between over-admit; how many is the number this scenario reports.
var _ = Describe("rate-limiting with Redis down", Label("rate-limiting", "ratelimit-redis-down"), func() {
	It("proxies everything while Redis is dead and limits again once it is back", func(ctx SpecContext) {
		const (
			r = 50
			k = 3
			// 14 s: 5 s after Redis is due back, so a start that waits for
			// PING 2 s longer (seen under GAUNTLET_STRESS=cpu) still leaves the
			// recovery's 2.5 s to watch.
			duration = 14 * time.Second
			killAt   = 4 * time.Second
			downFor  = 3 * time.Second
			// A whole second counts as "at the limit" up to R+tol admitted: a
			// request in flight across a second boundary is counted by its send
			// time in one second and by the gateway in the next, one request
			// per boundary per ~7 ms of flight at 3R (~1 ms here); 5 leaves room
			// for a scheduling stall. An unlimited second admits 3R = 150.
			tol = 5
			// The store skips a Redis that just failed for this long
			// (gateway/plugins redisBackoff), then tries it again.
			breaker = 250 * time.Millisecond
			// redisTimeout is the plugin's redis.timeout default (Kong's
			// 2000 ms): the longest a call to a dead Redis waits.
			redisTimeout = 2 * time.Second
		)
		sc := begin(ctx, "rate-limiting with Redis down", stack.Options{Mockbins: 1, Redis: true})
		red := sc.Stack.Redis
		faultTolerant := true
		if harness.Proving("ratelimit-redis-down") {
			faultTolerant = false // Redis down then answers 500: the checks below must catch it
		}
		Expect(rlService(ctx, sc, "rl-redis-down", "/rl-redis-down", sc.Stack.Mockbin("mockbin1"))).To(Succeed())
		rl := map[string]any{"second": r, "policy": "redis", "limit_by": "ip", "fault_tolerant": faultTolerant,
			"redis": map[string]any{"host": red.Host, "port": red.Port}}
		_, err := sc.Stack.Gateway.Admin.CreatePlugin(ctx, "/routes/rl-redis-down-route", stack.PluginSpec{Name: "rate-limiting", Config: rl})
		Expect(err).NotTo(HaveOccurred())
		sc.SetGatewayConfig(map[string]any{"rate-limiting": rl})

		kill := chaos.Kill(red.Node)
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "ratelimit-redis-down", Rate: k * r, Duration: duration,
			Targets: []vegeta.Target{sc.GET("/rl-redis-down/request")}},
			chaos.Step{At: killAt, Fault: kill, Hold: downFor})
		Expect(err).NotTo(HaveOccurred())
		down, ok := tl.EventOf(kill, chaos.ActionInject)
		Expect(ok).To(BeTrue())
		Expect(down.Err).To(BeEmpty())
		up, ok := tl.EventOf(kill, chaos.ActionRevert)
		Expect(ok).To(BeTrue())
		Expect(up.Err).To(BeEmpty())
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))
		GinkgoWriter.Printf("redis killed %v..%v, started %v..%v (after the origin)\n",
			down.Started.Sub(run.Start), down.Ended.Sub(run.Start), up.Started.Sub(run.Start), up.Ended.Sub(run.Start))

		first, end := wholeSeconds(run)
		secs := perSecond(rs, first, end)
		noteSeconds(sc, "redis policy", secs, run.Start)
		checkRejections(sc, "whole attack", rs)

		// A second's admitted count by send time is uncertain by the requests
		// in flight across its edges (uncertainty): a machine stall at a
		// boundary moves them into the gateway's next window. Off the limit
		// means off by more than tol plus that.
		off := func(i int) int { return abs(secs[i].Admitted-r) - tol - uncertainty(secs, i) }
		over := func(i int) bool { return secs[i].Admitted-r-tol-uncertainty(secs, i) > 0 }
		// Premise of every check on the limit: the generator offered more than
		// the limit in each whole second it reads (3R planned); a second the
		// generator left short (it fell behind) cannot show the limit at all.
		short := func(from, to time.Time) int {
			n := 0
			for _, c := range secs {
				at := time.Unix(c.Second, 0)
				if !at.Before(from) && (to.IsZero() || !at.Add(time.Second).After(to)) && c.Sent < r+tol {
					n++
				}
			}
			return n
		}

		// Redis dead: nothing can count, so with fault_tolerant every request is
		// proxied. Whole seconds between "killed" and "start begun" only.
		sent, adm, deadSecs := 0, 0, 0
		for _, c := range secs {
			if !time.Unix(c.Second, 0).Before(down.Ended) && !time.Unix(c.Second+1, 0).After(up.Started) {
				sent, adm, deadSecs = sent+c.Sent, adm+c.Admitted, deadSecs+1
			}
		}
		sc.Note("requests sent in whole seconds while Redis was dead", float64(sent), "")
		// Premise of the recovery's checks: Redis answered again early enough
		// for the limit's return to be seen, i.e. the 1.5 s bound below plus
		// one whole second before the attack's last whole second ends. Redis
		// is planned back at 7 s of 14; under GAUNTLET_STRESS=cpu its start
		// (which waits for PING) ended up to 4.4 s late.
		left := time.Unix(end, 0).Sub(up.Ended)
		onTime := harness.AtLeastPremise("load left after Redis answered again", harness.Ms(left), 2500, "ms",
			"1.5 s bound + one whole second to see the limit in")
		dead := sc.Given(
			harness.AtLeastPremise("whole seconds while Redis was dead", float64(deadSecs), 1, "", "a 3 s outage holds at least one"),
			harness.AtMostPremise("whole seconds while Redis was dead offered fewer than R + tol", float64(short(down.Ended, up.Started)), 0, "",
				"3R planned per second"))
		dead.Equal("share admitted while Redis was dead", harness.Share(adm, sent), 1, "ratio",
			"fault_tolerant=true: a request the store cannot count is proxied")

		// Before the kill the limit holds: every whole second at R (± tol ±
		// requests in flight across its edges).
		before, worst := 0, 0
		for i, c := range secs {
			if time.Unix(c.Second+1, 0).After(down.Started) {
				break
			}
			if off(i) > 0 {
				before++
			}
			worst = max(worst, secs[i].Crossing)
		}
		sc.Note("most requests in flight across a second boundary before the kill", float64(worst), "")
		sc.Given(harness.AtMostPremise("whole seconds before the kill offered fewer than R + tol", float64(short(time.Time{}, down.Started)), 0, "",
			"3R planned per second")).Equal("whole seconds off the limit before the kill", float64(before), 0, "",
			fmt.Sprintf("R=%d ± %d ± requests in flight across the second's edges, while Redis counts", r, tol))

		// The over-admission window: first second over the limit to the first
		// second back at it, and the limit must stay back from then on.
		firstOver, back := int64(-1), int64(-1)
		overSecs, overAfter := 0, 0
		for i, c := range secs {
			o := over(i)
			if o {
				overSecs++
			}
			switch {
			case firstOver < 0 && o:
				firstOver = c.Second
			case firstOver >= 0 && back < 0 && !o && !time.Unix(c.Second, 0).Before(up.Ended):
				// Back means a second at the limit with Redis answering: a
				// second of the outage whose requests straddle its edges
				// (dials hang up to redis.timeout) is not provably over, but
				// not back either.
				back = c.Second
			case back >= 0 && o:
				overAfter++
			}
		}
		dead.AtLeast("whole seconds over the limit", float64(overSecs), 1, "",
			"a 3 s outage with fault_tolerant admits 3R in at least one whole second")
		if firstOver >= 0 {
			// A second the generator left short would read as "back at the
			// limit" (nothing over it) without the limiter doing anything.
			after := sc.Given(onTime, harness.AtMostPremise("whole seconds from the first over-limit one offered fewer than R + tol",
				float64(short(time.Unix(firstOver, 0), time.Time{})), 0, "", "3R planned per second"))
			after.Check("limit back at all after the outage", b2f(back >= 0), "", back >= 0,
				"a second at the limit after the first over-limit one", 1)
			if back >= 0 {
				window := time.Duration(back-firstOver) * time.Second
				sc.Note("over-admission window (first over-limit second to the first second back at the limit)", harness.Ms(window), "ms")
				extra := 0
				for _, c := range secs {
					if c.Second >= firstOver && c.Second < back {
						extra += c.Admitted - r
					}
				}
				sc.Note("requests admitted over the limit in that window", float64(extra), "")
				// Once Redis answers PING the next request after the breaker counts
				// again, but a request that began its call while Redis was dead
				// (a dial to the stopped container's address hangs) fails up to
				// redis.timeout later and is admitted, as fault_tolerant says.
				// So the first whole second at the limit starts at most 1 s (the
				// window in progress, which restarts from an empty Redis and so
				// may over-admit) + redis.timeout + 250 ms breaker + 250 ms for
				// the reconnect and scheduling after Redis answered.
				backAt := time.Unix(back, 0)
				after.AtMost("limit back after Redis answered again (start of the first second at the limit − Redis ready)",
					harness.Ms(backAt.Sub(up.Ended)), harness.Ms(time.Second+redisTimeout+breaker+250*time.Millisecond), "ms",
					"1 s window in progress + redis.timeout (2 s) + 250 ms breaker + 250 ms reconnect")
				// The window spans the kill's own second, the outage and the
				// recovery: at most outage + 2.5 s (a partial second at each end,
				// breaker, slack).
				after.AtMost("over-admission window", harness.Ms(window), harness.Ms(up.Ended.Sub(down.Started)+2500*time.Millisecond), "ms",
					"outage (kill to ready) + 1 s per partial window at either end + 0.5 s")
				after.Equal("whole seconds over the limit after it came back", float64(overAfter), 0, "",
					"Redis counts again and the limit stays")
			}
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
