package health_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/health"
	"github.com/gauntlet-dev/gauntlet/gateway/health/healthtest"
)

// flipServer answers its health path with the status it is told to.
type flipServer struct {
	*httptest.Server
	status atomic.Int32
	probes atomic.Int32
	mu     sync.Mutex
	hdr    http.Header
	host   string
}

func newFlipServer(t *testing.T) *flipServer {
	f := &flipServer{}
	f.status.Store(200)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			w.WriteHeader(404)
			return
		}
		f.mu.Lock()
		f.hdr, f.host = r.Header.Clone(), r.Host
		f.mu.Unlock()
		f.probes.Add(1)
		w.WriteHeader(int(f.status.Load()))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *flipServer) addr() string { return strings.TrimPrefix(f.URL, "http://") }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

// advance moves the fake clock once the previous probe rounds are over, so
// no due tick is skipped as overlapping.
func (r *rig) advance(t *testing.T, d time.Duration) {
	t.Helper()
	eventually(t, "probe rounds idle", func() bool { return !r.prober.Busy() })
	r.clock.Advance(d)
}

type rig struct {
	clock  *healthtest.Clock
	policy *health.Policy
	target *health.Target
	pt     health.ProbeTarget
	prober *health.Prober
	trs    chan health.Transition
}

func newRig(t *testing.T, addr string, mod func(*config.Healthchecks)) *rig {
	hc := config.Healthchecks{
		Active: config.ActiveHealthcheck{
			Type: "http", Timeout: 1, Concurrency: 2, HTTPPath: "/status",
			Headers: map[string][]string{"x-probe": {"yes"}},
			Healthy: config.ActiveHealthy{Interval: 1, HTTPStatuses: []int{200, 302}, Successes: 2},
			Unhealthy: config.ActiveUnhealthy{Interval: 0.25, HTTPStatuses: []int{429, 404, 500, 501, 502, 503, 504, 505},
				TCPFailures: 1, Timeouts: 1, HTTPFailures: 3},
		},
	}
	if mod != nil {
		mod(&hc)
	}
	r := &rig{clock: healthtest.NewClock(), policy: health.NewPolicy(hc), trs: make(chan health.Transition, 16)}
	r.target = health.NewTarget(func(tr health.Transition) { r.trs <- tr })
	r.pt = health.ProbeTarget{State: r.target, Addr: addr, Host: "svc.example", Name: "t1"}
	report := func(pt health.ProbeTarget, res health.ProbeResult) {
		pt.State.Observe(r.policy, health.Active, r.policy.ClassifyActive(res), r.clock.Now(), res.Detail)
	}
	r.prober = health.NewProber(r.policy.Probe, r.clock, func() []health.ProbeTarget { return []health.ProbeTarget{r.pt} }, report, nil)
	r.prober.Start()
	t.Cleanup(r.prober.Stop)
	return r
}

// tick advances the fake clock by d and waits until the probe round it
// started has reported (the server counted the probe and the report landed).
func (r *rig) tickAndWait(t *testing.T, d time.Duration, f *flipServer, probesBefore int32) {
	t.Helper()
	r.advance(t, d)
	eventually(t, "probe", func() bool { return f.probes.Load() > probesBefore })
}

func TestProberUpDownUp(t *testing.T) {
	f := newFlipServer(t)
	r := newRig(t, f.addr(), nil)

	// healthy target probed every healthy interval (1 s); no transition
	r.tickAndWait(t, time.Second, f, 0)
	f.mu.Lock()
	if f.hdr.Get("X-Probe") != "yes" || f.host != "svc.example" {
		t.Errorf("probe headers %v host %q", f.hdr, f.host)
	}
	f.mu.Unlock()

	// health path starts failing: 3 http failures eject (http_failures=3)
	f.status.Store(500)
	for i := range 3 {
		before := f.probes.Load()
		r.advance(t, time.Second)
		eventually(t, "probe", func() bool { return f.probes.Load() > before })
		if i < 2 {
			eventually(t, "counter", func() bool { return r.target.Counters().HTTPFailures == i+1 })
		}
	}
	tr := <-r.trs
	if tr.Healthy || tr.Cause != health.CauseActive || !strings.Contains(tr.Detail, "http_failures 3/3") {
		t.Fatalf("transition = %+v", tr)
	}
	// unhealthy targets are probed every unhealthy interval (0.25 s); the
	// healthy class (every 1 s) is not due within the next half second
	before := f.probes.Load()
	f.status.Store(200)
	r.advance(t, 250*time.Millisecond)
	eventually(t, "first recovery probe", func() bool { return r.target.Counters().Successes == 1 })
	if r.target.Healthy() {
		t.Fatal("healthy after 1 success with successes=2")
	}
	r.advance(t, 250*time.Millisecond)
	tr = <-r.trs
	if !tr.Healthy || !strings.Contains(tr.Detail, "successes 2/2") {
		t.Fatalf("recovery transition = %+v", tr)
	}
	if got := f.probes.Load() - before; got != 2 {
		t.Errorf("probes during recovery = %d, want 2", got)
	}
}

func TestProberTCPFailureAndStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	r := newRig(t, addr, func(h *config.Healthchecks) { h.Active.Type = "tcp" })
	r.advance(t, time.Second)
	select {
	case tr := <-r.trs:
		if tr.Healthy || !strings.Contains(tr.Detail, "tcp_failures 1/1") {
			t.Fatalf("transition = %+v", tr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ejection after a refused connection")
	}
	r.prober.Stop()
	if n := r.clock.Pending(); n != 0 {
		t.Fatalf("timers pending after Stop: %d", n)
	}
}

func TestProberTCPSuccess(t *testing.T) {
	f := newFlipServer(t)
	r := newRig(t, f.addr(), func(h *config.Healthchecks) {
		h.Active.Type = "tcp"
		h.Active.Healthy.Successes = 1
	})
	r.target.Set(r.policy, false, health.CauseManual, r.clock.Now())
	<-r.trs
	r.advance(t, 250*time.Millisecond)
	select {
	case tr := <-r.trs:
		if !tr.Healthy {
			t.Fatalf("transition = %+v", tr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tcp probe did not re-enable a listening target")
	}
}

func TestProberTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	r := newRig(t, strings.TrimPrefix(srv.URL, "http://"), func(h *config.Healthchecks) { h.Active.Timeout = 0.05 })
	r.clock.Advance(time.Second)
	select {
	case tr := <-r.trs:
		if tr.Healthy || !strings.Contains(tr.Detail, "timeouts 1/1") {
			t.Fatalf("transition = %+v", tr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled health path was not counted as a timeout")
	}
}

func TestProberConcurrencyBound(t *testing.T) {
	var inFlight, peak atomic.Int32
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-gate
		inFlight.Add(-1)
	}))
	defer srv.Close()
	clock := healthtest.NewClock()
	hc := config.Healthchecks{Active: config.ActiveHealthcheck{Type: "http", Timeout: 5, Concurrency: 2, HTTPPath: "/",
		Healthy: config.ActiveHealthy{Interval: 1, HTTPStatuses: []int{200}}}}
	p := health.NewPolicy(hc)
	var reports atomic.Int32
	var targets []health.ProbeTarget
	for i := range 6 {
		targets = append(targets, health.ProbeTarget{State: health.NewTarget(nil), Addr: strings.TrimPrefix(srv.URL, "http://"), Name: string(rune('a' + i))})
	}
	pr := health.NewProber(p.Probe, clock, func() []health.ProbeTarget { return targets },
		func(health.ProbeTarget, health.ProbeResult) { reports.Add(1) }, nil)
	pr.Start()
	defer pr.Stop()
	clock.Advance(time.Second)
	eventually(t, "two probes in flight", func() bool { return inFlight.Load() == 2 })
	close(gate)
	eventually(t, "all six reported", func() bool { return reports.Load() == 6 })
	if peak.Load() != 2 {
		t.Fatalf("peak concurrent probes = %d, want 2", peak.Load())
	}
}

func TestProberHTTPS(t *testing.T) {
	var sni atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni.Store(r.TLS.ServerName)
		w.WriteHeader(200)
	}))
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	tests := []struct {
		name    string
		verify  bool
		sniConf *string
		want    health.Outcome
		wantSNI string
	}{
		{"no verification, SNI from the target host", false, nil, health.Success, "svc.example"},
		{"https_sni overrides", false, func() *string { s := "api.example"; return &s }(), health.Success, "api.example"},
		{"verification fails on an unknown CA", true, nil, health.TCPFailure, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sni.Store("")
			p := health.NewPolicy(config.Healthchecks{Active: config.ActiveHealthcheck{
				Type: "https", Timeout: 2, HTTPPath: "/", HTTPSVerifyCertificate: tc.verify, HTTPSSNI: tc.sniConf,
				Healthy: config.ActiveHealthy{Interval: 1, HTTPStatuses: []int{200}, Successes: 1},
			}})
			pr := health.NewProber(p.Probe, healthtest.NewClock(), nil, nil, nil)
			r := pr.Check(t.Context(), health.ProbeTarget{Addr: addr, Host: "svc.example:443"})
			if got := p.ClassifyActive(r); got != tc.want {
				t.Fatalf("outcome %v (%s), want %v", got, r.Detail, tc.want)
			}
			if got, _ := sni.Load().(string); got != tc.wantSNI {
				t.Fatalf("SNI = %q, want %q", got, tc.wantSNI)
			}
		})
	}
}
