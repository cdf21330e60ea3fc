package balancer

import (
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/health/healthtest"
)

func TestLatencyPrefersFastTarget(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	m.Apply(upstreamCfg("latency", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	rtt := map[string]time.Duration{"t0": 50 * time.Millisecond, "t1": 5 * time.Millisecond}
	// without history the targets alternate; each answer teaches the EWMA
	counts := map[string]int{}
	for range 200 {
		peer, err := p.Pick(&Request{})
		if err != nil {
			t.Fatal(err)
		}
		counts[peer.TargetID]++
		clock.Advance(rtt[peer.TargetID])
		p.Done(peer, Result{Status: 200})
	}
	if counts["t1"] < 190 {
		t.Fatalf("picks %v: the 10x faster target should take nearly all", counts)
	}
	// the slow target's latency recovers: once t1 slows down, t0 wins again
	rtt["t1"] = 500 * time.Millisecond
	clock.Advance(time.Minute) // old samples decay
	counts = map[string]int{}
	for range 100 {
		peer, _ := p.Pick(&Request{})
		counts[peer.TargetID]++
		clock.Advance(rtt[peer.TargetID])
		p.Done(peer, Result{Status: 200})
	}
	if counts["t0"] < 80 {
		t.Fatalf("after t1 slowed down: %v", counts)
	}
	// a new target starts at the average, not at zero: it does not take
	// every request
	cfg := upstreamCfg("latency", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100})
	cfg.Targets = append(cfg.Targets, &config.Target{ID: "t2", Target: "127.0.0.1:3", Weight: 100, Upstream: &config.Ref{ID: "uid1"}})
	m.Apply(cfg)
	s := m.byID["uid1"].snap.Load()
	now := clock.Now().UnixNano()
	e0, e1, e2 := s.entries[0].t.ewma.score(now), s.entries[1].t.ewma.score(now), s.entries[2].t.ewma.score(now)
	if e2 <= 0 || e2 < min(e0, e1) || e2 > max(e0, e1) {
		t.Fatalf("new target's EWMA %v not between the others' %v and %v", e2, e0, e1)
	}
}
