//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
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

// The cluster scenarios: three gateway nodes sharing PostgreSQL (and Redis
// for the rate-limit counters), HAProxy in front, two mockbins, under
// constant load through HAProxy. Timing settings: stack.ClusterEnv.

var _ = Describe("cluster: a change on one node reaches every node", Label("cluster", "cluster-propagation"), func() {
	It("serves routes created on gateway1 from gateways 2 and 3 within a second, failing no request", func(ctx SpecContext) {
		const (
			changes = 100
			// A change not seen within this long is counted as lost: the
			// polling fallback (2 s) has had two chances.
			lost = 4 * time.Second
		)
		sc := begin(ctx, "cluster propagation", clusterOptions(false))
		Expect(clusterBaseline(ctx, sc)).To(Succeed())
		gw1, others := sc.Stack.Nodes[0], sc.Stack.Nodes[1:]
		if harness.Proving("cluster-propagation") {
			// Cut gateways 2 and 3 off the database: no change can reach them.
			for _, n := range others {
				Expect(n.DBLink.Disconnect(ctx)).To(Succeed())
			}
		}
		var (
			times  []time.Duration // per change, until the last other node served it
			missed int
		)
		changer := harness.Action(fmt.Sprintf("%d route changes on gateway1", changes), "admin", "gateway1", func(ctx context.Context) error {
			for i := range changes {
				path := fmt.Sprintf("/p%d", i)
				if _, err := gw1.Admin.CreateRoute(ctx, "base", stack.RouteSpec{Name: fmt.Sprintf("p%d", i), Paths: []string{path}}); err != nil {
					return err
				}
				written := time.Now() // the 201: committed and notified
				seen := make([]time.Time, len(others))
				var wg sync.WaitGroup
				for j, n := range others {
					wg.Add(1)
					go func() {
						defer wg.Done()
						seen[j], _ = awaitAnswer(ctx, n.ProxyURL+path+"/request", lost)
					}()
				}
				wg.Wait()
				if slices.ContainsFunc(seen, time.Time.IsZero) {
					if missed++; missed == 3 {
						return nil // the rest would be lost the same way; 3 show it
					}
					continue
				}
				last := slices.MaxFunc(seen, func(a, b time.Time) int { return a.Compare(b) })
				times = append(times, last.Sub(written))
			}
			return nil
		})
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "cluster-propagation", Rate: 150, Duration: 6 * time.Second,
			Targets: []vegeta.Target{viaLB(sc, "/base/request")}},
			chaos.Step{At: time.Second, Fault: changer})
		Expect(err).NotTo(HaveOccurred())
		ev := eventOf(tl, changer, chaos.ActionInject)
		GinkgoWriter.Println("load:", harness.Describe(run.Results))

		sc.Equal("changes served by gateways 2 and 3", float64(len(times)), changes, "",
			fmt.Sprintf("every route created on gateway1 answers on every node (lost: not within %v)", lost))
		slices.Sort(times)
		q := func(p float64) float64 {
			if len(times) == 0 {
				return math.Inf(1)
			}
			return harness.Ms(times[min(len(times)-1, int(math.Ceil(p*float64(len(times))))-1)])
		}
		sc.Note("propagation p50", q(0.5), "ms")
		// LISTEN/NOTIFY delivers a change at its commit; the poll every
		// db_update_frequency only repairs a missed notification. p99 over 100
		// changes lets one change take the fallback.
		// Premise: the harness's own polls run on time (a stalled machine
		// delays the poll that sees the change, not the change).
		sc.Given(harness.LagQuantile(run, ev.Started, ev.Ended, 0.99, 100*time.Millisecond)).AtMost(
			"propagation p99", q(0.99), 1000, "ms", "sub-second: NOTIFY at commit, never the 2 s poll")
		sc.AtMost("propagation max", q(1), harness.Ms(stack.ClusterUpdateFrequency+500*time.Millisecond), "ms",
			"a missed notification is repaired by the next poll (db_update_frequency 2 s) + 500 ms")
		sc.Given(checksOnTime(ctx, sc, "")).Equal("failed requests through HAProxy", float64(load.Failures(run.Results)), 0, "",
			"a configuration change never fails a request (the router is swapped, not rebuilt in place)")
		verify(sc)
	}, NodeTimeout(4*time.Minute))
})

var _ = Describe("cluster: PostgreSQL killed under load", Label("cluster", "cluster-postgres-kill"), func() {
	It("keeps proxying on every node, refuses writes with 503 while it is down, and propagates writes once it is back", func(ctx SpecContext) {
		opts := clusterOptions(false)
		const pgTimeout = stack.ClusterPGTimeout
		proving := harness.Proving("cluster-postgres-kill")
		if proving {
			// A database timeout longer than the outage (the checks still
			// expect 1 s). A killed server's connections fail at once
			// whatever the timeout, so the prove freezes it instead: every
			// write then hangs rather than answering 503.
			opts.NodeEnv = map[string]string{"KONG_PG_TIMEOUT": "30000"}
		}
		sc := begin(ctx, "cluster postgres killed", opts)
		Expect(clusterBaseline(ctx, sc)).To(Succeed())
		pg := sc.Stack.Postgres
		var cacheReads, cacheMisses int
		var slowestStatus time.Duration
		readCache := harness.Action("read /services/base and /status on every node", "admin", "every node", func(ctx context.Context) error {
			for _, n := range sc.Stack.Nodes {
				cacheReads++
				if _, err := n.Admin.GetService(ctx, "base"); err != nil {
					cacheMisses++
					GinkgoWriter.Printf("%s: read during the outage: %v\n", n.Name, err)
				}
				// HAProxy's check: a /status that waits on the dead database
				// takes the node out (or, slow, times out its check).
				start := time.Now()
				if _, err := n.Admin.Status(ctx); err != nil {
					slowestStatus = time.Hour
					GinkgoWriter.Printf("%s: /status during the outage: %v\n", n.Name, err)
				}
				slowestStatus = max(slowestStatus, time.Since(start))
			}
			return nil
		})
		kill := chaos.Kill(pg.Node)
		if proving {
			kill = chaos.Pause(pg.Node)
		}
		w := startAdminWriter(ctx, sc, "consumer", 200*time.Millisecond)
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "cluster-postgres-kill", Rate: 150, Duration: 14 * time.Second,
			Targets: []vegeta.Target{viaLB(sc, "/base/request")}},
			chaos.Step{At: 3 * time.Second, Fault: kill, Hold: 5 * time.Second},
			chaos.Step{At: 5 * time.Second, Fault: readCache})
		writes := w.Stop()
		Expect(err).NotTo(HaveOccurred())
		killed := eventOf(tl, kill, chaos.ActionInject)
		back := eventOf(tl, kill, chaos.ActionRevert)
		rs := run.Results
		GinkgoWriter.Println("load:", harness.Describe(rs))

		sc.Equal("5xx answered by a gateway node", float64(gatewayErrors(rs)), 0, "",
			"the request path never touches the database: a node proxies on its last configuration")
		sc.Given(checksOnTime(ctx, sc, "")).Equal("failed requests through HAProxy", float64(load.Failures(rs)), 0, "",
			"no node fails its /status check for a dead database, so HAProxy takes none out")
		sc.Equal("reads during the outage not answered from the node's cache", float64(cacheMisses), 0, "",
			fmt.Sprintf("Admin reads answer from the node's cache (%d reads)", cacheReads))
		// The check-timeout premise above leaves a /status that hangs on the
		// dead database to this bound (HAProxy's check timeout, 250 ms).
		sc.AtMost("slowest /status during the outage", harness.Ms(slowestStatus), harness.Ms(stack.DefaultHAProxyCheck.Timeout), "ms",
			"HAProxy's check timeout: /status answers from the node itself, never waiting on the database")

		// Writes sent once the database was dead, and early enough that it
		// could not be back before their pg_timeout ran out.
		during := sentBetween(writes, killed.Ended, back.Started.Add(-pgTimeout))
		sc.Given(harness.AtLeastPremise("writes sent during the outage", float64(len(during)), 5, "",
			"one write every 200 ms over 5 s − pg_timeout")).Equal("writes during the outage not answered 503",
			float64(countWrites(during, func(w adminWrite) bool { return w.Status != http.StatusServiceUnavailable })), 0, "",
			"a write the database cannot take answers 503 within pg_timeout (1 s)")
		sc.AtMost("slowest write during the outage", harness.Ms(slowest(during)), harness.Ms(pgTimeout+500*time.Millisecond), "ms",
			"pg_timeout + 500 ms: the node gives up on the dead database, it does not hang")
		// The restarted server's address may be new: a node's pooled
		// connections to the old one fail once, within pg_timeout.
		after := sentBetween(writes, back.Ended.Add(pgTimeout+500*time.Millisecond), time.Now())
		sc.Given(harness.AtLeastPremise("writes sent after recovery", float64(len(after)), 5, "",
			"one write every 200 ms over the last 4.5 s")).Equal("writes after recovery not answered 201",
			float64(countWrites(after, func(w adminWrite) bool { return w.Status != http.StatusCreated })), 0, "",
			"writes work again once the database is back (+ pg_timeout + 500 ms for dead pooled connections)")

		// Every write after recovery is on every node; no refused write is
		// anywhere.
		notPropagated, leftovers := 0, 0
		for _, wr := range after {
			for _, n := range sc.Stack.Nodes {
				if _, err := awaitConsumer(ctx, n, wr.Name, true, stack.ClusterUpdateFrequency+500*time.Millisecond); err != nil {
					notPropagated++
					GinkgoWriter.Printf("%s: %v\n", n.Name, err)
				}
			}
		}
		for _, wr := range writes {
			if wr.Status == http.StatusServiceUnavailable {
				if found, _ := awaitConsumer(ctx, sc.Stack.Nodes[0], wr.Name, false, 0); found {
					leftovers++
				}
			}
		}
		sc.Equal("writes after recovery missing on a node", float64(notPropagated), 0, "",
			"each reaches every node within db_update_frequency + 500 ms")
		sc.Equal("refused (503) writes found after recovery", float64(leftovers), 0, "",
			"a refused write writes nothing")
		verify(sc)
	}, NodeTimeout(4*time.Minute))
})

var _ = Describe("cluster: one gateway node killed under load", Label("cluster", "cluster-node-kill"), func() {
	It("loses only the requests HAProxy sent it before its check failed, and rejoins with the current configuration", func(ctx SpecContext) {
		opts := clusterOptions(false)
		check := stack.DefaultHAProxyCheck // what the bounds below expect
		if harness.Proving("cluster-node-kill") {
			// A check too slow for the outage: the dead node stays in.
			opts.LBCheck = &stack.HAProxyCheck{Interval: 4 * time.Second, Timeout: time.Second, Fall: 3, Rise: 1}
		}
		const rate = 210
		sc := begin(ctx, "cluster node killed", opts)
		Expect(clusterBaseline(ctx, sc)).To(Succeed())
		gw1, gw2 := sc.Stack.Nodes[0], sc.Stack.Nodes[1]
		kill := chaos.Kill(gw2.Node)
		lateRoute := harness.Action("create /late on gateway1", "admin", "gateway1", func(ctx context.Context) error {
			_, err := gw1.Admin.CreateRoute(ctx, "base", stack.RouteSpec{Name: "late", Paths: []string{"/late"}})
			return err
		})
		stopWatch := watchServing(ctx, sc.Stack.LB, gw2.Name)
		stopLate := watchRoute(ctx, gw2.ProxyURL+"/late/request")
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "cluster-node-kill", Rate: rate, Duration: 12 * time.Second,
			Targets: []vegeta.Target{viaLB(sc, "/base/request")}},
			chaos.Step{At: 3 * time.Second, Fault: kill, Hold: 3 * time.Second},
			chaos.Step{At: 4 * time.Second, Fault: lateRoute})
		changes := stopWatch()
		Expect(err).NotTo(HaveOccurred())
		killed := eventOf(tl, kill, chaos.ActionInject)
		restarted := eventOf(tl, kill, chaos.ActionRevert)
		rs := run.Results
		GinkgoWriter.Println("load:", harness.Describe(rs), "haproxy:", changes)

		detect := time.Duration(check.Fall)*check.Interval + check.Timeout
		down, ok := firstChange(changes, false, killed.Started)
		if !ok {
			down = run.End
		}
		sc.AtMost("time from the kill to HAProxy taking gateway2 out", harness.Ms(down.Sub(killed.Started)),
			harness.Ms(detect+2*statsPoll+100*time.Millisecond), "ms",
			"fall × inter + timeout check (HAProxy's check) + two stats polls + 100 ms")
		// Before it is out, HAProxy sends gateway2 a third of the requests;
		// each may fail (one in flight when killed, or cut by
		// shutdown-sessions). Connect failures are redispatched.
		bound := math.Ceil(float64(rate) / clusterNodes * detect.Seconds())
		sc.AtMost("failed requests while gateway2 was still in", float64(load.Failures(load.Between(rs, time.Time{}, down.Add(100*time.Millisecond)))),
			bound, "", fmt.Sprintf("rate/3 × (fall × inter + timeout) = %d/3 × %v", rate, detect))
		out := load.Between(rs, down.Add(100*time.Millisecond), time.Time{})
		sc.Given(checksOnTime(ctx, sc, "gateway2")).Equal("failed requests once gateway2 was out", float64(load.Failures(out)), 0, "",
			"out of the rotation, a dead node gets nothing (+100 ms for the sessions it closes)")
		// Before it is out, a request HAProxy sends the dead node waits for
		// its connect timeout (1 s) and is redispatched: slow, not failed.
		// After, none waits on it.
		sc.Given(harness.OnSchedule(run, down, time.Time{}, 100*time.Millisecond)).AtMost(
			"slowest request once gateway2 was out", harness.Ms(load.MaxLatency(out)), 300, "ms",
			"no request meets the dead node's connect timeout (1 s); 300 ms for scheduling on 2 cores")

		// gateway2 comes back with what was written while it was dead: it
		// reads the database at start, before it answers /status.
		lateAt := stopLate()
		lateAfter := math.Inf(1)
		if !lateAt.IsZero() {
			lateAfter = harness.Ms(lateAt.Sub(restarted.Ended))
		}
		// Premise: the machine ran the harness's polls on time around the
		// restart (a loaded machine delayed one by 600 ms).
		sc.Given(harness.OnSchedule(run, restarted.Started, restarted.Ended.Add(time.Second), 100*time.Millisecond)).AtMost(
			"time from gateway2 ready to serving the route created while it was dead", lateAfter, 500, "ms",
			"a node loads the current configuration before it reports ready")
		up, ok := firstChange(changes, true, restarted.Ended)
		upAfter := run.End.Sub(restarted.Ended)
		if ok {
			upAfter = up.Sub(restarted.Ended)
		}
		sc.AtMost("time from gateway2 ready to HAProxy sending it requests", harness.Ms(upAfter),
			harness.Ms(time.Duration(check.Rise)*check.Interval+time.Second+500*time.Millisecond), "ms",
			"rise × inter + 1 s to resolve a new address (hold valid) + 500 ms")
		tail := load.Between(rs, run.End.Add(-2*time.Second), time.Time{})
		sc.AtLeast("share of gateway2 in the last 2 s", harness.Share(len(byNode(tail)[gw2.Name]), len(tail)), 0.25, "ratio",
			"round-robin over 3 nodes: 1/3, less noise")
		verify(sc)
	}, NodeTimeout(4*time.Minute))
})

var _ = Describe("cluster: rate limits shared through Redis", Label("cluster", "cluster-ratelimit"), func() {
	It("admits R per second across three nodes offered 3R through HAProxy", func(ctx SpecContext) {
		const (
			r        = 50
			k        = 3
			duration = 10 * time.Second
		)
		sc := begin(ctx, "cluster rate-limiting", clusterOptions(true))
		m := sc.Stack.Mockbin("mockbin1")
		red := sc.Stack.Redis
		policy := "redis"
		if harness.Proving("cluster-ratelimit") {
			policy = "local" // each node counts alone: 3 nodes admit 3R
		}
		cfg := map[string]any{"second": r, "policy": policy, "limit_by": "ip",
			"redis": map[string]any{"host": red.Host, "port": red.Port}}
		Expect(rlService(ctx, sc, "rl", "/rl", m)).To(Succeed())
		p, err := sc.Stack.Gateway.Admin.CreatePlugin(ctx, "/routes/rl-route", stack.PluginSpec{Name: "rate-limiting", Config: cfg})
		Expect(err).NotTo(HaveOccurred())
		sc.SetGatewayConfig(map[string]any{"rl": cfg, "nodes": clusterNodes})
		// Every node holds the plugin before the load (each node's Admin
		// API reads its own cache).
		for _, n := range sc.Stack.Nodes {
			Eventually(func() error { return n.Admin.Do(ctx, http.MethodGet, "/plugins/"+p.ID, nil, nil) }).
				WithTimeout(5*time.Second).WithPolling(pollEvery).Should(Succeed(), n.Name)
		}
		target := viaLB(sc, "/rl/request")
		run, _, err := sc.Attack(ctx, load.Attack{Name: "cluster-ratelimit", Rate: k * r, Duration: duration, Targets: []vegeta.Target{target}})
		Expect(err).NotTo(HaveOccurred())
		rs := run.Results
		GinkgoWriter.Println("load:", harness.Describe(rs))
		for _, n := range sc.Stack.Nodes {
			sc.AtLeast("share of the load on "+n.Name, harness.Share(len(byNode(rs)[n.Name]), len(rs)), 0.30, "ratio",
				"HAProxy round-robin: 1/3 each, so every node decides on a third")
		}
		first, end := wholeSeconds(run)
		secs := perSecond(rs, first, end)
		noteSeconds(sc, "3 nodes", secs, run.Start)
		checkRate(sc, "3 nodes", secs, r)
		checkExactWindows(sc, "3 nodes", rs, r, k, int(duration/time.Second)-3)
		checkRejections(sc, "3 nodes", rs)
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})

var _ = Describe("cluster: one node cut off PostgreSQL", Label("cluster", "cluster-partition"), func() {
	It("keeps serving its last configuration and catches up once the link is back", func(ctx SpecContext) {
		sc := begin(ctx, "cluster node partitioned from postgres", clusterOptions(false))
		Expect(clusterBaseline(ctx, sc)).To(Succeed())
		gw1, gw3 := sc.Stack.Nodes[0], sc.Stack.Nodes[2]
		cut := chaos.Partition(gw3.DBLink)
		hold := 5 * time.Second
		if harness.Proving("cluster-partition") {
			hold = 0 // never healed during the run: gateway3 cannot catch up
		}
		during := harness.Action("create /during on gateway1", "admin", "gateway1", func(ctx context.Context) error {
			_, err := gw1.Admin.CreateRoute(ctx, "base", stack.RouteSpec{Name: "during", Paths: []string{"/during"}})
			return err
		})
		stopWatch := watchRoute(ctx, gw3.ProxyURL+"/during/request")
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "cluster-partition", Rate: 150, Duration: 13 * time.Second,
			Targets: []vegeta.Target{viaLB(sc, "/base/request")}},
			chaos.Step{At: 3 * time.Second, Fault: cut, Hold: hold},
			chaos.Step{At: 4 * time.Second, Fault: during})
		Expect(err).NotTo(HaveOccurred())
		cutEv := eventOf(tl, cut, chaos.ActionInject)
		healed, healedOK := tl.EventOf(cut, chaos.ActionRevert)
		// A partition healed within the run leaves 4 s to catch up; a
		// watch that saw nothing by the end of the load has failed.
		seen := stopWatch()
		rs := run.Results
		GinkgoWriter.Println("load:", harness.Describe(rs))
		early := 0 // answers while cut off
		if healedOK && !seen.IsZero() && seen.Before(healed.Started) {
			early = 1
		}
		sc.Given(harness.AtMostPremise("gateway3 served /during while cut off", float64(early), 0, "",
			"the partition took effect: gateway3 could not read the change"), checksOnTime(ctx, sc, "")).Equal(
			"failed requests through HAProxy", float64(load.Failures(rs)), 0, "",
			"a node cut off its database keeps proxying on its last configuration, and /status keeps it in")
		sc.Equal("5xx answered by a gateway node", float64(gatewayErrors(rs)), 0, "", "the request path never touches the database")
		cutOff := load.Between(rs, cutEv.Ended, healed.Started)
		if !healedOK {
			cutOff = load.Between(rs, cutEv.Ended, time.Time{})
		}
		sc.AtLeast("share of gateway3 while cut off", harness.Share(len(byNode(cutOff)[gw3.Name]), len(cutOff)), 0.30, "ratio",
			"it stays in HAProxy's rotation: 1/3")
		catchUp := math.Inf(1)
		if healedOK && !seen.IsZero() {
			catchUp = harness.Ms(seen.Sub(healed.Ended))
		}
		sc.AtMost("time from the link back to gateway3 serving /during", catchUp,
			harness.Ms(stack.ClusterPGTimeout+stack.ClusterUpdateFrequency+time.Second), "ms",
			"pg_timeout (a query begun while cut off fails) + db_update_frequency (the next poll) + 1 s")
		verify(sc)
	}, NodeTimeout(4*time.Minute))
})

// countWrites counts the writes for which bad is true.
func countWrites(ws []adminWrite, bad func(adminWrite) bool) int {
	n := 0
	for _, w := range ws {
		if bad(w) {
			n++
		}
	}
	return n
}

// slowest is the longest a write took to be answered.
func slowest(ws []adminWrite) time.Duration {
	var d time.Duration
	for _, w := range ws {
		d = max(d, w.Done.Sub(w.Sent))
	}
	return d
}

// awaitConsumer polls node's Admin API until the consumer exists (want) and
// returns whether it was found; with timeout 0 it asks once.
func awaitConsumer(ctx context.Context, n *stack.Gateway, name string, want bool, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		err := n.Admin.Do(ctx, http.MethodGet, "/consumers/"+name, nil, nil)
		found := err == nil
		if found == want || time.Now().After(deadline) {
			if found != want && want {
				return found, fmt.Errorf("consumer %s not on %s within %v: %v", name, n.Name, timeout, err)
			}
			return found, nil
		}
		select {
		case <-ctx.Done():
			return found, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// eventOf is the timeline's event of fault's action, which must have run.
func eventOf(tl *chaos.Timeline, fault chaos.Fault, act chaos.Action) chaos.Event {
	ev, ok := tl.EventOf(fault, act)
	Expect(ok).To(BeTrue(), "%s of %q on the timeline", act, fault.Name())
	return ev
}
