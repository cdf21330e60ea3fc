package balancer

import (
	"fmt"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/health/healthtest"
)

// TestStressApplyProbePick runs config changes, probe rounds, manual
// overrides and traffic at once (bounded in count), to shake out races and
// lock-order deadlocks between Apply, the probers and the transition
// callbacks. The race detector does the judging; the deadline catches a hang.
func TestStressApplyProbePick(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	a, b := newFlip(t), newFlip(t)
	b.status.Store(500)
	cfg := func(i int) (hcAlgo string, ts []tgt) {
		algos := []string{"round-robin", "least-connections", "consistent-hashing", "latency"}
		return algos[i%len(algos)], []tgt{{a.target(), 100 + i%3}, {b.target(), 100}, {"127.0.0.1:1", i % 2 * 50}}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { // traffic
			defer wg.Done()
			for i := range 3000 {
				p := m.Picker("u1")
				if p == nil {
					continue
				}
				peer, err := p.Pick(&Request{ClientIP: fmt.Sprint(i % 50)})
				if err != nil {
					continue
				}
				status := 200
				if peer.TargetID == "t1" {
					status = 500
				}
				p.Done(peer, Result{Status: status})
			}
		}()
		go func() { // admin overrides
			defer wg.Done()
			for i := range 300 {
				_ = m.SetTargetHealth("uid1", fmt.Sprintf("t%d", i%3), i%2 == 0)
				_ = m.TargetsHealth("uid1")
				_, _ = m.BalancerHealth("uid1")
			}
		}()
		go func() { // time
			defer wg.Done()
			for range 100 {
				clock.Advance(500 * time.Millisecond)
			}
		}()
		for i := range 60 { // config changes, including probe settings
			algo, ts := cfg(i)
			hc := passiveHC(2, 1, 1)
			hc.Active.HTTPPath = "/status"
			hc.Active.Healthy.Interval = float64(1 + i%2)
			hc.Active.Unhealthy.Interval = 1
			hc.Active.Unhealthy.HTTPFailures = 1
			hc.Active.Healthy.Successes = 1
			if i%10 == 9 {
				hc = config.DefaultHealthchecks() // checks off now and then
			}
			m.Apply(upstreamCfg(algo, hc, ts...))
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("stress run did not finish: deadlock?")
	}
	m.Close()
	eventually(t, "timers cleared after Close", func() bool { return clock.Pending() == 0 })
}
