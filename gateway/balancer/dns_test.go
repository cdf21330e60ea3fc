package balancer

import (
	"context"
	"fmt"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/health"
	"github.com/gauntlet-dev/gauntlet/gateway/health/healthtest"
)

// fakeDNS answers from a table the test edits.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   int
}

func (f *fakeDNS) lookup(_ context.Context, host string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if a, ok := f.answers[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

func (f *fakeDNS) set(host string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ips == nil {
		delete(f.answers, host)
		return
	}
	f.answers[host] = ips
}

func (f *fakeDNS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestDNSRefreshAndRecovery(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	dns := &fakeDNS{answers: map[string][]string{"mockbin1": {"10.1.0.1", "10.1.0.2"}}}
	m.lookup = dns.lookup
	hc := passiveHC(1, 0, 0)
	m.Apply(upstreamCfg("round-robin", hc, tgt{"mockbin1:8080", 100}, tgt{"mockbin2:8080", 100}))
	if h := m.TargetsHealth("uid1"); h["t0"] != health.Healthy || h["t1"] != health.DNSError {
		t.Fatalf("after Apply: %v", h)
	}
	p := m.Picker("u1")
	addrs := map[string]int{}
	for range 10 {
		peer, err := p.Pick(&Request{})
		if err != nil {
			t.Fatal(err)
		}
		addrs[peer.Addr]++
		p.Done(peer, Result{Status: 200})
	}
	if addrs["10.1.0.1:8080"] != 5 || addrs["10.1.0.2:8080"] != 5 {
		t.Fatalf("addresses of a multi-address target: %v", addrs)
	}
	// within the TTL nothing is looked up again
	calls := dns.count()
	pickN(t, p, 10, nil)
	if dns.count() != calls {
		t.Fatalf("DNS looked up %d times within the TTL", dns.count()-calls)
	}
	// mockbin2 appears and mockbin1 changes address: after the TTL a pick
	// triggers a background refresh, and the next picks see both
	dns.set("mockbin2", "10.2.0.1")
	dns.set("mockbin1", "10.1.0.9")
	clock.Advance(dnsTTL)
	pickN(t, p, 1, nil)
	eventually(t, "mockbin2 resolved", func() bool { return m.TargetsHealth("uid1")["t1"] == health.Healthy })
	got := map[string]int{}
	for range 10 {
		peer, _ := p.Pick(&Request{})
		got[peer.Addr]++
		p.Done(peer, Result{Status: 200})
	}
	if got["10.1.0.9:8080"] != 5 || got["10.2.0.1:8080"] != 5 {
		t.Fatalf("after refresh: %v", got)
	}
	// a name that stops resolving becomes DNS_ERROR and is skipped; it is
	// retried sooner than the TTL
	dns.set("mockbin2")
	clock.Advance(dnsTTL)
	pickN(t, p, 1, nil)
	eventually(t, "mockbin2 DNS_ERROR", func() bool { return m.TargetsHealth("uid1")["t1"] == health.DNSError })
	eventually(t, "refresh finished", func() bool { return !m.byID["uid1"].dnsBusy.Load() })
	if c := pickN(t, p, 20, nil); c["t1"] != 0 {
		t.Fatalf("DNS_ERROR target picked: %v", c)
	}
	dns.set("mockbin2", "10.2.0.2")
	clock.Advance(dnsRetry)
	pickN(t, p, 1, nil)
	eventually(t, "mockbin2 back", func() bool { return m.TargetsHealth("uid1")["t1"] == health.Healthy })
	// a re-resolved target is an ordinary one for the health checks
	p.Done(Peer{TargetID: "t1"}, Result{Status: 500})
	if h := m.TargetsHealth("uid1")["t1"]; h != health.Unhealthy {
		t.Fatalf("passive ejection: %s", h)
	}
}

func TestTargetsData(t *testing.T) {
	m := newTestManager(t, Options{})
	dns := &fakeDNS{answers: map[string][]string{"mockbin1": {"10.1.0.1", "10.1.0.2"}}}
	m.lookup = dns.lookup
	m.Apply(upstreamCfg("round-robin", passiveHC(1, 0, 0), tgt{"mockbin1:8080", 100}, tgt{"127.0.0.1:9", 5}, tgt{"nope:1", 1}))
	d := m.TargetsData("uid1")
	a0 := d["t0"]["addresses"].([]any)
	a1 := d["t1"]["addresses"].([]any)
	if len(a0) != 2 || len(a1) != 1 || len(d["t2"]["addresses"].([]any)) != 0 {
		t.Fatalf("TargetsData = %v", d)
	}
	first := a0[0].(map[string]any)
	if first["ip"] != "10.1.0.1" || first["port"] != 8080 || first["health"] != health.Healthy || first["weight"] != 100 {
		t.Fatalf("address = %v", first)
	}
	if m.TargetsData("nope") != nil {
		t.Fatal("unknown upstream has data")
	}
}

func TestDNSRefreshNotPostponedByApply(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	dns := &fakeDNS{answers: map[string][]string{"mockbin1": {"10.1.0.1"}}}
	m.lookup = dns.lookup
	cfg := upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"mockbin1:8080", 100})
	m.Apply(cfg)
	calls := dns.count()
	// config changes every second must not keep the cache alive forever
	for range 5 {
		clock.Advance(time.Second)
		m.Apply(cfg)
	}
	pickN(t, m.Picker("u1"), 1, nil)
	eventually(t, "refresh", func() bool { return dns.count() > calls })
}
