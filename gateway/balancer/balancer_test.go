package balancer

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

func TestWeightedRoundRobinDistribution(t *testing.T) {
	tests := []struct {
		name    string
		targets []tgt
		want    []float64 // expected share per target id t0, t1, ...
	}{
		{"equal", []tgt{{"127.0.0.1:1", 100}, {"127.0.0.1:2", 100}}, []float64{0.5, 0.5}},
		{"4:2:1 with a drained target", []tgt{{"127.0.0.1:1", 400}, {"127.0.0.1:2", 200}, {"127.0.0.1:3", 100}, {"127.0.0.1:4", 0}},
			[]float64{4.0 / 7, 2.0 / 7, 1.0 / 7, 0}},
		{"coprime weights", []tgt{{"127.0.0.1:1", 97}, {"127.0.0.1:2", 13}, {"127.0.0.1:3", 1}},
			[]float64{97.0 / 111, 13.0 / 111, 1.0 / 111}},
		{"huge wheel is scaled", []tgt{{"127.0.0.1:1", 65535}, {"127.0.0.1:2", 65534}, {"127.0.0.1:3", 32767}},
			[]float64{65535.0 / 163836, 65534.0 / 163836, 32767.0 / 163836}},
	}
	for _, algo := range []string{"round-robin", "consistent-hashing"} {
		for _, tc := range tests {
			t.Run(algo+"/"+tc.name, func(t *testing.T) {
				m := newTestManager(t, Options{})
				m.Apply(upstreamCfg(algo, config.DefaultHealthchecks(), tc.targets...))
				const n = 10000
				counts := pickN(t, m.Picker("u1"), n, nil)
				for i, want := range tc.want {
					got := float64(counts[fmt.Sprintf("t%d", i)]) / n
					if math.Abs(got-want) > 0.02 {
						t.Errorf("t%d share = %.4f, want %.4f ± 0.02 (counts %v)", i, got, want, counts)
					}
				}
				if tc.want[len(tc.want)-1] == 0 && counts[fmt.Sprintf("t%d", len(tc.want)-1)] != 0 {
					t.Errorf("drained target picked %d times", counts[fmt.Sprintf("t%d", len(tc.want)-1)])
				}
			})
		}
	}
}

func TestSmoothRoundRobinInterleaves(t *testing.T) {
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 200}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	// smooth WRR never sends more than two in a row to the weight-2 target
	run, maxRun := 0, 0
	for range 300 {
		peer, _ := p.Pick(&Request{})
		p.Done(peer, Result{Status: 200})
		if peer.TargetID == "t0" {
			run++
			maxRun = max(maxRun, run)
		} else {
			run = 0
		}
	}
	if maxRun > 2 {
		t.Fatalf("longest run on the heavy target = %d, want <= 2", maxRun)
	}
}

func TestLeastConnectionsPrefersIdle(t *testing.T) {
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("least-connections", config.DefaultHealthchecks(),
		tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}, tgt{"127.0.0.1:3", 200}))
	p := m.Picker("u1")
	// hold picks open: scores (active+1)/weight keep the heavy target busiest
	held := map[string]int{}
	var peers []Peer
	for range 8 {
		peer, err := p.Pick(&Request{})
		if err != nil {
			t.Fatal(err)
		}
		held[peer.TargetID]++
		peers = append(peers, peer)
	}
	if held["t2"] != 4 || held["t0"] != 2 || held["t1"] != 2 {
		t.Fatalf("in-flight per target = %v, want t2:4 t0:2 t1:2", held)
	}
	// release everything held on t0: it is now the idle one and must win
	for _, peer := range peers {
		if peer.TargetID == "t0" {
			p.Done(peer, Result{Status: 200})
		}
	}
	for range 2 {
		peer, _ := p.Pick(&Request{})
		if peer.TargetID != "t0" {
			t.Fatalf("picked %s, want the idle t0", peer.TargetID)
		}
		defer p.Done(peer, Result{Status: 200})
	}
}

func TestConsistentHashingStableAndMinimalMove(t *testing.T) {
	m := newTestManager(t, Options{})
	cfg := upstreamCfg("consistent-hashing", config.DefaultHealthchecks(),
		tgt{"10.0.0.1:80", 100}, tgt{"10.0.0.2:80", 100}, tgt{"10.0.0.3:80", 100}, tgt{"10.0.0.4:80", 100})
	cfg.Upstreams[0].HashOn = "header"
	h := "X-User"
	cfg.Upstreams[0].HashOnHeader = &h
	m.Apply(cfg)
	p := m.Picker("u1")
	const keys = 10000
	pickKey := func(k int) string {
		peer, err := p.Pick(&Request{HTTP: httpReq("GET", "/", map[string]string{"X-User": fmt.Sprint("user-", k)})})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(peer, Result{Status: 200})
		return peer.Addr
	}
	before := make([]string, keys)
	for k := range keys {
		before[k] = pickKey(k)
		if again := pickKey(k); again != before[k] {
			t.Fatalf("key %d moved between picks: %s then %s", k, before[k], again)
		}
	}
	// add a fifth target: about 1/5 of the keys move, all of them to it
	cfg.Targets = append(cfg.Targets, &config.Target{ID: "t4", Target: "10.0.0.5:80", Weight: 100, Upstream: &config.Ref{ID: "uid1"}})
	m.Apply(cfg)
	moved := 0
	after := make([]string, keys)
	for k := range keys {
		after[k] = pickKey(k)
		if after[k] != before[k] {
			moved++
			if after[k] != "10.0.0.5:80" {
				t.Fatalf("key %d moved between old targets: %s -> %s", k, before[k], after[k])
			}
		}
	}
	if share := float64(moved) / keys; share < 0.17 || share > 0.23 {
		t.Fatalf("moved %.3f of keys on adding a 5th target, want ~0.20", share)
	}
	// ejecting a target moves only its keys; they come back when it recovers
	if err := m.SetTargetHealth("uid1", "t1", false); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		got := pickKey(k)
		if after[k] != "10.0.0.2:80" && got != after[k] {
			t.Fatalf("key %d of a healthy target moved when another was ejected: %s -> %s", k, after[k], got)
		}
		if got == "10.0.0.2:80" {
			t.Fatalf("key %d still sent to the ejected target", k)
		}
	}
	_ = m.SetTargetHealth("uid1", "t1", true)
	for k := range keys {
		if got := pickKey(k); got != after[k] {
			t.Fatalf("key %d did not return to its place after recovery: %s, want %s", k, got, after[k])
		}
	}
}

func TestHashOnInputs(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name  string
		mod   func(u *config.Upstream)
		a, b  *Request // must hash alike
		c     *Request // differs from a (checked over several keys)
		check func(t *testing.T, r *Request)
	}{
		{name: "ip", mod: func(u *config.Upstream) { u.HashOn = "ip" },
			a: &Request{ClientIP: "192.0.2.1"}, b: &Request{ClientIP: "192.0.2.1", HTTP: httpReq("GET", "/x", nil)}},
		{name: "consumer then credential", mod: func(u *config.Upstream) { u.HashOn = "consumer" },
			a: &Request{ConsumerID: "c1"}, b: &Request{ConsumerID: "c1", CredentialID: "k9"}},
		{name: "path", mod: func(u *config.Upstream) { u.HashOn = "path" },
			a: &Request{HTTP: httpReq("GET", "/a/b?x=1", nil)}, b: &Request{HTTP: httpReq("POST", "/a/b?y=2", nil)}},
		{name: "query_arg", mod: func(u *config.Upstream) { u.HashOn = "query_arg"; u.HashOnQueryArg = str("user") },
			a: &Request{HTTP: httpReq("GET", "/1?user=bob%20x&z=1", nil)}, b: &Request{HTTP: httpReq("GET", "/2?z=2&user=bob+x", nil)}},
		{name: "uri_capture", mod: func(u *config.Upstream) { u.HashOn = "uri_capture"; u.HashOnURICapture = str("id") },
			a: &Request{URICaptures: map[string]string{"id": "42"}}, b: &Request{URICaptures: map[string]string{"id": "42", "x": "1"}}},
		{name: "header falls back to ip", mod: func(u *config.Upstream) {
			u.HashOn, u.HashOnHeader, u.HashFallback = "header", str("x-tenant"), "ip"
		}, a: &Request{ClientIP: "192.0.2.7", HTTP: httpReq("GET", "/", nil)}, b: &Request{ClientIP: "192.0.2.7"}},
		{name: "cookie present", mod: func(u *config.Upstream) { u.HashOn, u.HashOnCookie = "cookie", str("sticky") },
			a: &Request{HTTP: httpReq("GET", "/", map[string]string{"Cookie": "a=1; sticky=abc"})},
			b: &Request{HTTP: httpReq("GET", "/", map[string]string{"Cookie": `sticky="abc"`})},
			check: func(t *testing.T, r *Request) {
				if r.SetCookie != nil {
					t.Errorf("cookie set although the client sent one")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t, Options{})
			cfg := upstreamCfg("consistent-hashing", config.DefaultHealthchecks(),
				tgt{"10.0.0.1:80", 100}, tgt{"10.0.0.2:80", 100}, tgt{"10.0.0.3:80", 100})
			tc.mod(cfg.Upstreams[0])
			m.Apply(cfg)
			p := m.Picker("u1")
			for range 20 { // hashing must not depend on the pick counter
				pa, _ := p.Pick(tc.a)
				pb, _ := p.Pick(tc.b)
				p.Done(pa, Result{})
				p.Done(pb, Result{})
				if pa.Addr != pb.Addr {
					t.Fatalf("same key went to %s and %s", pa.Addr, pb.Addr)
				}
			}
			if tc.check != nil {
				tc.check(t, tc.a)
			}
		})
	}
}

func TestHashCookieIsGeneratedAndSticks(t *testing.T) {
	m := newTestManager(t, Options{})
	cfg := upstreamCfg("consistent-hashing", config.DefaultHealthchecks(), tgt{"10.0.0.1:80", 100}, tgt{"10.0.0.2:80", 100}, tgt{"10.0.0.3:80", 100})
	name := "sticky"
	cfg.Upstreams[0].HashOn, cfg.Upstreams[0].HashOnCookie, cfg.Upstreams[0].HashOnCookiePath = "cookie", &name, "/app"
	m.Apply(cfg)
	p := m.Picker("u1")
	first := &Request{HTTP: httpReq("GET", "/", nil)}
	peer, err := p.Pick(first)
	if err != nil {
		t.Fatal(err)
	}
	c := first.SetCookie
	if c == nil || c.Name != "sticky" || c.Path != "/app" || len(c.Value) != 32 {
		t.Fatalf("SetCookie = %+v", c)
	}
	// a retry of that first request keeps the cookie it was given
	first.Tried = append(first.Tried, peer)
	retry, _ := p.Pick(first)
	if first.SetCookie != c || retry.Addr == peer.Addr {
		t.Fatalf("retry: cookie %v (was %v), peer %s (first %s)", first.SetCookie, c, retry.Addr, peer.Addr)
	}
	for range 10 {
		next := &Request{HTTP: httpReq("GET", "/", map[string]string{"Cookie": c.String()})}
		got, _ := p.Pick(next)
		if got.Addr != peer.Addr || next.SetCookie != nil {
			t.Fatalf("cookie request went to %s (first %s), SetCookie %v", got.Addr, peer.Addr, next.SetCookie)
		}
	}
}

func TestRetryExcludesTried(t *testing.T) {
	for _, algo := range []string{"round-robin", "least-connections", "consistent-hashing", "latency"} {
		t.Run(algo, func(t *testing.T) {
			m := newTestManager(t, Options{})
			cfg := upstreamCfg(algo, config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}, tgt{"127.0.0.1:3", 100})
			cfg.Upstreams[0].HashOn = "ip"
			m.Apply(cfg)
			p := m.Picker("u1")
			for range 50 {
				req := &Request{ClientIP: "192.0.2.9"}
				seen := map[string]bool{}
				for try := range 3 {
					peer, err := p.Pick(req)
					if err != nil {
						t.Fatal(err)
					}
					if seen[peer.TargetID] {
						t.Fatalf("try %d went back to %s while untried targets exist", try, peer.TargetID)
					}
					seen[peer.TargetID] = true
					p.Done(peer, Result{TCPFailure: true})
					req.Tried = append(req.Tried, peer)
				}
				// all tried: a fourth try still gets a peer rather than 503
				peer, err := p.Pick(req)
				if err != nil {
					t.Fatalf("fourth try: %v", err)
				}
				p.Done(peer, Result{TCPFailure: true})
			}
		})
	}
}

func TestNoPeer(t *testing.T) {
	m := newTestManager(t, Options{})
	if p := m.Picker("nope"); p != nil {
		t.Fatalf("Picker for an unknown upstream = %v, want nil interface", p)
	}
	for _, algo := range []string{"round-robin", "least-connections", "consistent-hashing", "latency"} {
		m.Apply(upstreamCfg(algo, config.DefaultHealthchecks()))
		if _, err := m.Picker("u1").Pick(&Request{}); !errors.Is(err, ErrNoPeer) {
			t.Fatalf("%s without targets: err = %v", algo, err)
		}
		m.Apply(upstreamCfg(algo, config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 0}))
		if _, err := m.Picker("u1").Pick(&Request{}); !errors.Is(err, ErrNoPeer) {
			t.Fatalf("%s with only a drained target: err = %v", algo, err)
		}
		m.Apply(upstreamCfg(algo, config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 50}))
		_ = m.SetTargetHealth("uid1", "t0", false)
		_ = m.SetTargetHealth("uid1", "127.0.0.1:2", false)
		if _, err := m.Picker("u1").Pick(&Request{}); !errors.Is(err, ErrNoPeer) {
			t.Fatalf("%s with all targets down: err = %v", algo, err)
		}
	}
}

func TestApplyReweightAddRemove(t *testing.T) {
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	// a request in flight on the old snapshot
	inflight, _ := p.Pick(&Request{})
	m.Apply(upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 300}, tgt{"127.0.0.1:2", 0}, tgt{"127.0.0.1:3", 100}))
	p.Done(inflight, Result{Status: 200}) // completes fine against the new config
	counts := pickN(t, m.Picker("u1"), 4000, nil)
	if counts["t1"] != 0 || counts["t0"] != 3000 || counts["t2"] != 1000 {
		t.Fatalf("after reweight: %v, want t0:3000 t2:1000 and drained t1 unused", counts)
	}
	// renaming the upstream moves the picker to the new name
	cfg := upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100})
	cfg.Upstreams[0].Name = "renamed"
	m.Apply(cfg)
	if m.Picker("u1") != nil || m.Picker("renamed") == nil {
		t.Fatal("rename not reflected in Picker lookup")
	}
	m.Apply(&config.Config{})
	if m.Picker("renamed") != nil || m.TargetsHealth("uid1") != nil {
		t.Fatal("removed upstream still served")
	}
}

func TestConcurrentPickDoneApply(t *testing.T) {
	m := newTestManager(t, Options{})
	hc := config.DefaultHealthchecks()
	hc.Passive.Unhealthy.HTTPFailures = 3
	hc.Passive.Healthy.Successes = 1
	for _, algo := range []string{"round-robin", "least-connections", "consistent-hashing", "latency"} {
		m.Apply(upstreamCfg(algo, hc, tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 2000 {
					p := m.Picker("u1")
					if p == nil {
						continue
					}
					peer, err := p.Pick(&Request{ClientIP: fmt.Sprint(i)})
					if err != nil {
						continue
					}
					status := 200
					if (i+w)%7 == 0 {
						status = 500
					}
					p.Done(peer, Result{Status: status})
				}
			}()
		}
		for i := range 50 {
			m.Apply(upstreamCfg(algo, hc, tgt{"127.0.0.1:1", 100 + i}, tgt{"127.0.0.1:2", 100}))
		}
		wg.Wait()
		s := m.byID["uid1"].snap.Load()
		for _, e := range s.entries {
			if n := e.t.active.Load(); n != 0 {
				t.Fatalf("%s: %s has %d connections counted after all Done", algo, e.t.key, n)
			}
		}
	}
}
