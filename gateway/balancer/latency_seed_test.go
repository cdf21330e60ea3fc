package balancer

import (
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/health/healthtest"
)

// Targets added one by one (as the Admin API does) before any traffic: the
// second must not be seeded from the first's empty history, or its first
// sample is discounted and a slow target reads as a fast one
// (07-latency_spec.lua:64).
func TestLatencySeedIgnoresTargetsWithoutHistory(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	m.Apply(upstreamCfg("latency", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}))
	clock.Advance(time.Second)
	m.Apply(upstreamCfg("latency", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	rtt := map[string]time.Duration{"t0": 100 * time.Millisecond, "t1": time.Second}
	// one request on each, then a burst: it must go to the fast one
	var first []Peer
	for range 2 {
		peer, _ := p.Pick(&Request{})
		first = append(first, peer)
	}
	if first[0].TargetID == first[1].TargetID {
		t.Fatalf("without history the first picks should spread: %v", first)
	}
	clock.Advance(time.Second)
	for _, pe := range first {
		// Done's time minus the pick time is the sample; replay each rtt
		pe.start = clock.Now().Add(-rtt[pe.TargetID]).UnixNano()
		p.Done(pe, Result{Status: 200})
	}
	counts := map[string]int{}
	for range 50 {
		peer, _ := p.Pick(&Request{})
		counts[peer.TargetID]++
	}
	if counts["t0"] != 50 {
		t.Fatalf("burst after one sample each: %v, want all on the 100 ms target t0", counts)
	}
}
