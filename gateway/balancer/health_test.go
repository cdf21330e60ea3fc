package balancer

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/health"
	"github.com/gauntlet-dev/gauntlet/gateway/health/healthtest"
)

func passiveHC(httpFailures, timeouts, tcpFailures int) config.Healthchecks {
	hc := config.DefaultHealthchecks()
	hc.Passive.Unhealthy.HTTPFailures = httpFailures
	hc.Passive.Unhealthy.Timeouts = timeouts
	hc.Passive.Unhealthy.TCPFailures = tcpFailures
	return hc
}

func TestPassiveEjection(t *testing.T) {
	// Kong's balancer spec: with http_failures = N the client sees exactly N
	// failures from the sick target, then all traffic goes to the other one.
	for _, n := range []int{1, 2, 3} {
		t.Run(string(rune('0'+n)), func(t *testing.T) {
			m := newTestManager(t, Options{})
			m.Apply(upstreamCfg("round-robin", passiveHC(n, 0, 0), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
			p := m.Picker("u1")
			failures := 0
			for range 200 {
				peer, err := p.Pick(&Request{})
				if err != nil {
					t.Fatal(err)
				}
				status := 200
				if peer.TargetID == "t0" {
					status = 500
					failures++
				}
				p.Done(peer, Result{Status: status})
			}
			if failures != n {
				t.Fatalf("client saw %d 500s, want %d", failures, n)
			}
			if h := m.TargetsHealth("uid1"); h["t0"] != health.Unhealthy || h["t1"] != health.Healthy {
				t.Fatalf("TargetsHealth = %v", h)
			}
		})
	}
}

func TestPassiveTimeoutsAndTCPFailures(t *testing.T) {
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("round-robin", passiveHC(0, 2, 1), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	peer := Peer{TargetID: "t0"} // Done also accepts a peer without its internal pointer
	first, _ := p.Pick(&Request{})
	p.Done(first, Result{Status: 200})
	p.Done(peer, Result{Timeout: true})
	if h := m.TargetsHealth("uid1")["t0"]; h != health.Healthy {
		t.Fatalf("after 1 of 2 timeouts: %s", h)
	}
	p.Done(peer, Result{Status: 404}) // in neither list: changes nothing
	p.Done(peer, Result{Timeout: true})
	if h := m.TargetsHealth("uid1")["t0"]; h != health.Unhealthy {
		t.Fatalf("after 2 of 2 timeouts: %s", h)
	}
	p.Done(Peer{TargetID: "t1"}, Result{TCPFailure: true})
	if h := m.TargetsHealth("uid1")["t1"]; h != health.Unhealthy {
		t.Fatalf("after a tcp failure with tcp_failures=1: %s", h)
	}
	if _, err := p.Pick(&Request{}); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("all ejected: err = %v", err)
	}
	// passive checks alone never re-enable a target
	for range 10 {
		p.Done(Peer{TargetID: "t1"}, Result{Status: 200})
	}
	if h := m.TargetsHealth("uid1")["t1"]; h != health.Unhealthy {
		t.Fatalf("passive-only successes re-enabled the target: %s", h)
	}
	// the Admin API can
	if err := m.SetTargetHealth("uid1", "t1", true); err != nil {
		t.Fatal(err)
	}
	peer, err := p.Pick(&Request{})
	if err != nil || peer.TargetID != "t1" {
		t.Fatalf("after PUT healthy: %v %v", peer.TargetID, err)
	}
	p.Done(peer, Result{Status: 200})
	if err := m.SetTargetHealth("uid1", "nope", true); err == nil {
		t.Fatal("unknown target accepted")
	}
	if err := m.SetTargetHealth("nope", "t1", true); err == nil {
		t.Fatal("unknown upstream accepted")
	}
}

func TestBalancerHealthThreshold(t *testing.T) {
	// 4 equal targets marked unhealthy one by one: the balancer is healthy
	// while available/total*100 > threshold.
	tests := []struct {
		threshold float64
		// healthy after marking 0, 1, 2, 3, 4 targets down
		want [5]bool
	}{
		{0, [5]bool{true, true, true, true, false}},
		{25, [5]bool{true, true, true, false, false}},
		{75, [5]bool{true, false, false, false, false}},
		{100, [5]bool{false, false, false, false, false}},
	}
	for _, tc := range tests {
		m := newTestManager(t, Options{})
		hc := passiveHC(1, 0, 0)
		hc.Threshold = tc.threshold
		m.Apply(upstreamCfg("round-robin", hc, tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100},
			tgt{"127.0.0.1:3", 100}, tgt{"127.0.0.1:4", 100}))
		for down := 0; down <= 4; down++ {
			if down > 0 {
				_ = m.SetTargetHealth("uid1", "t"+string(rune('0'+down-1)), false)
			}
			h, details := m.BalancerHealth("uid1")
			want := health.Unhealthy
			if tc.want[down] {
				want = health.Healthy
			}
			w := details["weight"].(map[string]any)
			if h != want || details["healthy"] != tc.want[down] || w["available"] != 400-100*down || w["total"] != 400 {
				t.Errorf("threshold %v, %d down: health %s details %v, want %s", tc.threshold, down, h, details, want)
			}
			// Kong's getPeer refuses to balance an unhealthy balancer even
			// when some targets are still up.
			_, err := m.Picker("u1").Pick(&Request{})
			if tc.want[down] != (err == nil) {
				t.Errorf("threshold %v, %d down: Pick error %v, want balanced=%v", tc.threshold, down, err, tc.want[down])
			}
		}
	}
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("round-robin", passiveHC(1, 0, 0)))
	if h, _ := m.BalancerHealth("uid1"); h != health.Unhealthy {
		t.Errorf("no targets: %s, want UNHEALTHY", h)
	}
	m.Apply(upstreamCfg("round-robin", passiveHC(1, 0, 0), tgt{"127.0.0.1:1", 0}))
	if h, _ := m.BalancerHealth("uid1"); h != health.Unhealthy {
		t.Errorf("total weight 0: %s, want UNHEALTHY", h)
	}
	m.Apply(upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 10}))
	if h, d := m.BalancerHealth("uid1"); h != health.Healthy || d["healthy"] != true {
		t.Errorf("checks off: %s %v, want the weight rule's HEALTHY", h, d)
	}
	if h, d := m.BalancerHealth("nope"); h != "" || d != nil {
		t.Errorf("unknown upstream: %q %v", h, d)
	}
}

func TestHealthchecksOff(t *testing.T) {
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	// a 500 passes through and nothing is ejected
	for range 100 {
		peer, _ := p.Pick(&Request{})
		p.Done(peer, Result{Status: 500})
	}
	h := m.TargetsHealth("uid1")
	if h["t0"] != health.HealthchecksOff || h["t1"] != health.HealthchecksOff {
		t.Fatalf("TargetsHealth = %v", h)
	}
	// a manual ejection is still honoured and shown
	_ = m.SetTargetHealth("uid1", "t0", false)
	counts := pickN(t, p, 50, nil)
	if counts["t0"] != 0 || m.TargetsHealth("uid1")["t0"] != health.Unhealthy {
		t.Fatalf("manual ejection with checks off: counts %v health %v", counts, m.TargetsHealth("uid1"))
	}
	// switching checks off puts passively ejected targets back
	m.Apply(upstreamCfg("round-robin", passiveHC(1, 0, 0), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p.Done(Peer{TargetID: "t1"}, Result{Status: 500})
	m.Apply(upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	if h := m.TargetsHealth("uid1"); h["t0"] != health.HealthchecksOff || h["t1"] != health.HealthchecksOff {
		t.Fatalf("after disabling checks: %v", h)
	}
}

func TestHealthSurvivesApply(t *testing.T) {
	m := newTestManager(t, Options{})
	hc := passiveHC(2, 0, 0)
	m.Apply(upstreamCfg("round-robin", hc, tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	p.Done(Peer{TargetID: "t0"}, Result{Status: 500})
	p.Done(Peer{TargetID: "t0"}, Result{Status: 500})
	p.Done(Peer{TargetID: "t1"}, Result{Status: 500}) // one failure counted on t1

	// unrelated change: new target, other weights, other thresholds, new ids
	hc2 := passiveHC(3, 0, 0)
	hc2.Threshold = 10
	cfg := upstreamCfg("round-robin", hc2, tgt{"127.0.0.1:2", 50}, tgt{"127.0.0.1:1", 70}, tgt{"127.0.0.1:3", 100})
	for i, tg := range cfg.Targets {
		tg.ID = "new" + string(rune('0'+i))
	}
	m.Apply(cfg)
	h := m.TargetsHealth("uid1")
	if h["new1"] != health.Unhealthy || h["new0"] != health.Healthy || h["new2"] != health.Healthy {
		t.Fatalf("health after Apply = %v, want 127.0.0.1:1 (new1) still UNHEALTHY", h)
	}
	if c := m.byID["uid1"].snap.Load().entries[0].t.health.Counters(); c.HTTPFailures != 1 {
		t.Fatalf("counters of the kept target = %+v, want the earlier failure kept", c)
	}
	counts := pickN(t, m.Picker("u1"), 300, nil)
	if counts["new1"] != 0 {
		t.Fatalf("ejected target picked after Apply: %v", counts)
	}
	// removing and re-adding a target starts it fresh
	m.Apply(upstreamCfg("round-robin", hc2, tgt{"127.0.0.1:2", 50}))
	m.Apply(upstreamCfg("round-robin", hc2, tgt{"127.0.0.1:2", 50}, tgt{"127.0.0.1:1", 50}))
	if h := m.TargetsHealth("uid1"); h["t1"] != health.Healthy {
		t.Fatalf("re-added target = %v, want HEALTHY", h)
	}
}

func TestHalfOpenThroughBalancer(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	hc := passiveHC(1, 0, 0)
	hc.HalfOpen = &config.HalfOpen{Cooldown: 10}
	m.Apply(upstreamCfg("round-robin", hc, tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	p := m.Picker("u1")
	p.Done(Peer{TargetID: "t0"}, Result{Status: 503})
	counts := pickN(t, p, 100, nil)
	if counts["t0"] != 0 {
		t.Fatalf("ejected target picked before cooldown: %v", counts)
	}
	clock.Advance(10 * time.Second)
	// exactly one trial goes through while it is in flight
	trial, _ := p.Pick(&Request{})
	if trial.TargetID != "t0" {
		t.Fatalf("first pick after cooldown = %s, want the trial to t0", trial.TargetID)
	}
	counts = pickN(t, p, 100, nil)
	if counts["t0"] != 0 {
		t.Fatalf("more than one trial request: %v", counts)
	}
	// trial fails: another cooldown
	p.Done(trial, Result{Status: 500})
	clock.Advance(9 * time.Second)
	if counts := pickN(t, p, 50, nil); counts["t0"] != 0 {
		t.Fatalf("trial before the second cooldown: %v", counts)
	}
	clock.Advance(time.Second)
	trial, _ = p.Pick(&Request{})
	if trial.TargetID != "t0" {
		t.Fatalf("no second trial: %s", trial.TargetID)
	}
	p.Done(trial, Result{Status: 200})
	if h := m.TargetsHealth("uid1")["t0"]; h != health.Healthy {
		t.Fatalf("after successful trial: %s", h)
	}
	counts = pickN(t, p, 1000, nil)
	if counts["t0"] != 500 {
		t.Fatalf("recovered target share: %v", counts)
	}
}

// flip is a target whose /status answers what the test says.
type flip struct {
	*httptest.Server
	status atomic.Int32
	probes atomic.Int32
}

func newFlip(t *testing.T) *flip {
	f := &flip{}
	f.status.Store(200)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			f.probes.Add(1)
			w.WriteHeader(int(f.status.Load()))
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *flip) target() string { return strings.TrimPrefix(f.URL, "http://") }

// advanceIdle moves the fake clock once every prober's rounds are over, so no
// due tick is skipped as overlapping a round still finishing.
func advanceIdle(t *testing.T, m *Manager, clock *healthtest.Clock, d time.Duration) {
	t.Helper()
	eventually(t, "probe rounds idle", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, u := range m.byID {
			u.mu.Lock()
			busy := u.prober != nil && u.prober.Busy()
			u.mu.Unlock()
			if busy {
				return false
			}
		}
		return true
	})
	clock.Advance(d)
}

func TestActiveChecksThroughManager(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	a, b := newFlip(t), newFlip(t)
	hc := config.DefaultHealthchecks()
	hc.Active.HTTPPath = "/status"
	hc.Active.Healthy.Interval = 1
	hc.Active.Healthy.Successes = 1
	hc.Active.Unhealthy.Interval = 1
	hc.Active.Unhealthy.HTTPFailures = 1
	m.Apply(upstreamCfg("round-robin", hc, tgt{a.target(), 100}, tgt{b.target(), 100}))
	p := m.Picker("u1")

	// advance one interval and wait for both probes to report
	step := func() {
		pa, pb := a.probes.Load(), b.probes.Load()
		advanceIdle(t, m, clock, time.Second)
		eventually(t, "probes", func() bool { return a.probes.Load() > pa && b.probes.Load() > pb })
	}
	a.status.Store(500)
	step()
	eventually(t, "a ejected", func() bool { return m.TargetsHealth("uid1")["t0"] == health.Unhealthy })
	counts := pickN(t, p, 100, nil)
	if counts["t0"] != 0 || counts["t1"] != 100 {
		t.Fatalf("traffic during a's failure: %v", counts)
	}
	a.status.Store(200)
	step()
	eventually(t, "a recovered", func() bool { return m.TargetsHealth("uid1")["t0"] == health.Healthy })
	counts = pickN(t, p, 100, nil)
	if counts["t0"] != 50 {
		t.Fatalf("traffic after recovery: %v", counts)
	}

	// new probe settings on Apply restart the prober; the health state stays
	a.status.Store(500)
	step()
	eventually(t, "a ejected again", func() bool { return m.TargetsHealth("uid1")["t0"] == health.Unhealthy })
	hc.Active.HTTPPath = "/other" // 200 from the catch-all handler, no probe counted
	hc.Active.Healthy.Interval = 2
	m.Apply(upstreamCfg("round-robin", hc, tgt{a.target(), 100}, tgt{b.target(), 100}))
	if h := m.TargetsHealth("uid1")["t0"]; h != health.Unhealthy {
		t.Fatalf("Apply reset the health of a kept target: %s", h)
	}
	before := a.probes.Load() + b.probes.Load()
	advanceIdle(t, m, clock, time.Second)
	eventually(t, "a recovered through /other", func() bool { return m.TargetsHealth("uid1")["t0"] == health.Healthy })
	if n := a.probes.Load() + b.probes.Load(); n != before {
		t.Fatalf("old prober still probing /status: %d probes", n-before)
	}

	// disabling active checks stops the prober: no timers left
	hc.Active.Healthy.Interval, hc.Active.Unhealthy.Interval = 0, 0
	m.Apply(upstreamCfg("round-robin", hc, tgt{a.target(), 100}, tgt{b.target(), 100}))
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers pending with active checks off", n)
	}
	// and so does removing the upstream
	hc.Active.Healthy.Interval = 1
	m.Apply(upstreamCfg("round-robin", hc, tgt{a.target(), 100}))
	if clock.Pending() == 0 {
		t.Fatal("prober not restarted")
	}
	m.Apply(&config.Config{})
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers pending after the upstream was removed", n)
	}
}

func TestActiveDetectsTargetDownBeforeTraffic(t *testing.T) {
	clock := healthtest.NewClock()
	m := newTestManager(t, Options{Clock: clock})
	a := newFlip(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()
	hc := config.DefaultHealthchecks()
	hc.Active.Type = "tcp"
	hc.Active.Healthy.Interval = 1
	hc.Active.Unhealthy.TCPFailures = 2
	m.Apply(upstreamCfg("least-connections", hc, tgt{a.target(), 100}, tgt{deadAddr, 100}))
	dt := m.byID["uid1"].snap.Load().entries[1].t.health
	advanceIdle(t, m, clock, time.Second)
	eventually(t, "first refused probe", func() bool { return dt.Counters().TCPFailures == 1 })
	if h := m.TargetsHealth("uid1")["t1"]; h != health.Healthy {
		t.Fatalf("ejected after 1 of 2 tcp failures: %s", h)
	}
	advanceIdle(t, m, clock, time.Second)
	eventually(t, "dead target ejected", func() bool { return m.TargetsHealth("uid1")["t1"] == health.Unhealthy })
	counts := pickN(t, m.Picker("u1"), 20, nil)
	if counts["t1"] != 0 {
		t.Fatalf("dead target got traffic: %v", counts)
	}
}

func TestDNSTargets(t *testing.T) {
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("round-robin", config.DefaultHealthchecks(), tgt{"localhost:8080", 100}, tgt{"mockbin.invalid:8080", 100}, tgt{"127.0.0.1", 100}))
	h := m.TargetsHealth("uid1")
	if h["t0"] != health.HealthchecksOff || h["t1"] != health.DNSError || h["t2"] != health.HealthchecksOff {
		t.Fatalf("TargetsHealth = %v", h)
	}
	counts := map[string]int{}
	for range 100 {
		peer, err := m.Picker("u1").Pick(&Request{})
		if err != nil {
			t.Fatal(err)
		}
		counts[peer.Addr]++
		if peer.TargetID == "t0" && (peer.Host != "localhost" || peer.Port != 8080) {
			t.Fatalf("peer = %+v", peer)
		}
	}
	if counts["127.0.0.1:8080"] != 50 || counts["127.0.0.1:8000"] != 50 {
		t.Fatalf("addresses picked: %v (default port 8000, DNS_ERROR target skipped)", counts)
	}
	if _, d := m.BalancerHealth("uid1"); d["weight"].(map[string]any)["available"] != 200 {
		t.Fatalf("DNS_ERROR weight counted available: %v", d)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newTestManager(t, Options{Metrics: reg})
	m.Apply(upstreamCfg("round-robin", passiveHC(1, 0, 0), tgt{"127.0.0.1:1", 100}, tgt{"127.0.0.1:2", 100}))
	m.Picker("u1").Done(Peer{TargetID: "t0"}, Result{Status: 500})
	_ = m.SetTargetHealth("uid1", "t0", true)
	// a second manager on the same registry reuses the collectors
	_ = newTestManager(t, Options{Metrics: reg})

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			key := mf.GetName() + labelString(mt.GetLabel())
			if mt.Gauge != nil {
				got[key] = mt.GetGauge().GetValue()
			} else {
				got[key] = mt.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{
		"gauntlet_upstream_target_health{state=healthy,target=127.0.0.1:1,upstream=u1}":                                1,
		"gauntlet_upstream_target_health{state=unhealthy,target=127.0.0.1:1,upstream=u1}":                              0,
		"gauntlet_upstream_target_health{state=healthchecks_off,target=127.0.0.1:2,upstream=u1}":                       0,
		"gauntlet_upstream_target_health{state=healthy,target=127.0.0.1:2,upstream=u1}":                                1,
		"gauntlet_upstream_target_health_transitions_total{cause=passive,target=127.0.0.1:1,to=UNHEALTHY,upstream=u1}": 1,
		"gauntlet_upstream_target_health_transitions_total{cause=manual,target=127.0.0.1:1,to=HEALTHY,upstream=u1}":    1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// a removed target's gauges go away, also when a request that was in
	// flight on it reports a failure afterwards
	var held Peer
	for held.TargetID != "t0" {
		held, _ = m.Picker("u1").Pick(&Request{})
	}
	m.Apply(upstreamCfg("round-robin", passiveHC(1, 0, 0), tgt{"127.0.0.1:2", 100}))
	m.Picker("u1").Done(held, Result{Status: 500})
	mfs, _ = reg.Gather()
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			if mf.GetName() == "gauntlet_upstream_target_health" && strings.Contains(labelString(mt.GetLabel()), "127.0.0.1:1") {
				t.Fatalf("gauge of removed target still exported: %v", mt)
			}
		}
	}
}

func labelString(ls []*dto.LabelPair) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestBalancerHealthHosts(t *testing.T) {
	// Kong's GET /upstreams/{u}/health?balancer_health=1 lists, under
	// details.hosts, each target with its addresses and whether each is
	// healthy (its spec's consistent-hashing health rows read them).
	m := newTestManager(t, Options{})
	m.Apply(upstreamCfg("consistent-hashing", passiveHC(1, 0, 0), tgt{"localhost:8080", 10},
		tgt{"mockbin.invalid:8080", 10}, tgt{"[::1]:9", 5}, tgt{"127.0.0.1:1", 20}))
	if err := m.SetTargetHealth("uid1", "t3", false); err != nil {
		t.Fatal(err)
	}
	_, d := m.BalancerHealth("uid1")
	got, _ := json.Marshal(d["hosts"])
	want := `[` +
		`{"addresses":[{"healthy":true,"ip":"127.0.0.1","port":8080,"weight":10}],"dns":"A","host":"localhost","nodeWeight":10,"port":8080,"weight":{"available":10,"total":10,"unavailable":0}},` +
		`{"addresses":[],"dns":"unknown","host":"mockbin.invalid","nodeWeight":10,"port":8080,"weight":{"available":0,"total":0,"unavailable":0}},` +
		`{"addresses":[{"healthy":true,"ip":"::1","port":9,"weight":5}],"dns":"AAAA","host":"::1","nodeWeight":5,"port":9,"weight":{"available":5,"total":5,"unavailable":0}},` +
		`{"addresses":[{"healthy":false,"ip":"127.0.0.1","port":1,"weight":20}],"dns":"A","host":"127.0.0.1","nodeWeight":20,"port":1,"weight":{"available":0,"total":20,"unavailable":20}}` +
		`]`
	if string(got) != want {
		t.Errorf("details.hosts =\n%s\nwant\n%s", got, want)
	}
}
