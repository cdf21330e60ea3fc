package plugins

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// TestScopePrecedence configures rate-limiting at every scope combination, each
// with its own minute limit, and removes them most specific first: the limit the
// response advertises names the configuration that ran. Kong's order:
// route+service+consumer > route+consumer > service+consumer > route+service >
// consumer > route > service > global.
func TestScopePrecedence(t *testing.T) {
	scopes := []struct {
		name  string
		sc    scope
		limit int
	}{
		{"route+service+consumer", scope{route: "route-1", service: "svc-1", consumer: "cons-alice"}, 11},
		{"route+consumer", scope{route: "route-1", consumer: "cons-alice"}, 12},
		{"service+consumer", scope{service: "svc-1", consumer: "cons-alice"}, 13},
		{"route+service", scope{route: "route-1", service: "svc-1"}, 14},
		{"consumer", scope{consumer: "cons-alice"}, 15},
		{"route", scope{route: "route-1"}, 16},
		{"service", scope{service: "svc-1"}, 17},
		{"global", scope{}, 18},
	}
	alice := call{header: http.Header{"Apikey": {"alice-key"}}}
	bob := call{header: http.Header{"Apikey": {"bob-key"}}}
	for drop := range scopes {
		f := newFixture()
		f.plugin("ka", "key-auth", scope{}, nil)
		for _, s := range scopes[drop:] {
			f.plugin("rl-"+s.name, "rate-limiting", s.sc, map[string]any{"minute": s.limit, "hour": 1000})
		}
		m := newTestManager(t, newFakeClock(t0))
		m.Apply(f.cfg)
		want := scopes[drop]
		if got := f.do(m, f.route, alice).ctx.ResponseHeader.Get("X-RateLimit-Limit-Minute"); got != strconv.Itoa(want.limit) {
			t.Errorf("most specific left is %s: alice on route-1 got limit %q, want %d", want.name, got, want.limit)
		}
		// Bob has no consumer-scoped config: the best non-consumer one applies.
		wantBob := ""
		for _, s := range scopes[drop:] {
			if s.sc.consumer == "" {
				wantBob = strconv.Itoa(s.limit)
				break
			}
		}
		if got := f.do(m, f.route, bob).ctx.ResponseHeader.Get("X-RateLimit-Limit-Minute"); got != wantBob {
			t.Errorf("most specific left is %s: bob got limit %q, want %q", want.name, got, wantBob)
		}
	}
}

func TestScopesDoNotLeak(t *testing.T) {
	f := newFixture()
	f.plugin("rl-r1", "rate-limiting", scope{route: "route-1"}, map[string]any{"minute": 1})
	f.plugin("rl-s2", "rate-limiting", scope{service: "svc-2"}, map[string]any{"minute": 2})
	f.plugin("rl-r2-alice", "rate-limiting", scope{route: "route-2", consumer: "cons-alice"}, map[string]any{"minute": 3})
	f.plugin("ka", "key-auth", scope{}, map[string]any{"anonymous": "bob"})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	alice := http.Header{"Apikey": {"alice-key"}}
	tests := []struct {
		route *config.Route
		c     call
		limit string
	}{
		{f.route, call{}, "1"},
		{f.route2, call{}, ""}, // no plugin for bob on route-2
		{f.route2, call{header: alice}, "3"},
		{f.route3, call{}, "2"},
		{f.route3, call{header: alice}, "2"},
		{nil, call{}, ""}, // no route: only global plugins, and there are none
	}
	for i, tt := range tests {
		if got := f.do(m, tt.route, tt.c).ctx.ResponseHeader.Get("X-RateLimit-Limit-Minute"); got != tt.limit {
			t.Errorf("case %d: limit %q, want %q", i, got, tt.limit)
		}
	}
}

func TestDisabledPluginSkipped(t *testing.T) {
	f := newFixture()
	f.plugin("rl-global", "rate-limiting", scope{}, map[string]any{"minute": 7})
	p := f.plugin("rl-route", "rate-limiting", scope{route: "route-1"}, map[string]any{"minute": 3})
	ka := f.plugin("ka", "key-auth", scope{}, nil)
	m := newTestManager(t, newFakeClock(t0))
	p.Enabled, ka.Enabled = false, false
	m.Apply(f.cfg)
	r := f.do(m, f.route, call{})
	// The disabled route plugin does not shadow the global one; the disabled
	// key-auth does not ask for a key.
	if r.exit != nil || r.ctx.ResponseHeader.Get("X-RateLimit-Limit-Minute") != "7" {
		t.Fatalf("exit %+v limit %q, want proxied with the global limit 7", r.exit, r.ctx.ResponseHeader.Get("X-RateLimit-Limit-Minute"))
	}
	// Enabled again without a restart: Apply picks it up.
	p.Enabled, ka.Enabled = true, true
	m.Apply(f.cfg)
	r = f.do(m, f.route, call{header: http.Header{"Apikey": {"bob-key"}}})
	if r.exit != nil || r.ctx.ResponseHeader.Get("X-RateLimit-Limit-Minute") != "3" {
		t.Fatalf("after enabling: exit %+v limit %q, want 3", r.exit, r.ctx.ResponseHeader.Get("X-RateLimit-Limit-Minute"))
	}
}

func TestPriorityOrderAuthBeforeRateLimit(t *testing.T) {
	f := newFixture()
	// Declared before key-auth on purpose: the order comes from priority.
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{"minute": 1, "limit_by": "ip"})
	f.plugin("ka", "key-auth", scope{}, nil)
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	// Rejected by key-auth before rate-limiting runs: not counted, no headers.
	for range 3 {
		r := f.do(m, f.route, call{})
		if r.status() != 401 || len(r.ctx.ResponseHeader) != 0 {
			t.Fatalf("unauthenticated: status %d headers %v", r.status(), r.ctx.ResponseHeader)
		}
	}
	alice := call{header: http.Header{"Apikey": {"alice-key"}}}
	if s := f.do(m, f.route, alice).status(); s != 200 {
		t.Fatalf("first authenticated request: %d", s)
	}
	if s := f.do(m, f.route, alice).status(); s != 429 {
		t.Fatalf("second authenticated request: %d, want 429", s)
	}
	if got := Available(); len(got) != 2 || got[0].Name != "key-auth" || got[0].Priority != 1250 || got[1].Priority != 910 {
		t.Errorf("Available() = %+v", got)
	}
}

func TestPluginProtocols(t *testing.T) {
	f := newFixture()
	p := f.plugin("ka", "key-auth", scope{}, nil)
	p.Protocols = []string{"https"}
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	if s := f.do(m, f.route, call{}).status(); s != 200 {
		t.Errorf("http request: %d, want 200 (plugin is https-only)", s)
	}
	req := httptest.NewRequest("GET", "https://gw/r1", nil)
	req.TLS = &tls.ConnectionState{}
	exit := m.Access(&Context{Request: req, ClientIP: "192.0.2.1", Route: f.route, Service: f.service})
	if exit == nil || exit.Status != 401 {
		t.Errorf("https request: %+v, want 401", exit)
	}
}

func TestBrokenPluginFailsClosed(t *testing.T) {
	f := newFixture()
	// A config that bypassed validation (here: a longer period with a lower limit
	// is allowed by the parser, but redis without a host is not buildable).
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{"minute": 1, "policy": "redis", "redis": map[string]any{}})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	if r := f.do(m, f.route, call{}); r.status() != 500 {
		t.Fatalf("status %d, want 500 from the unbuildable plugin", r.status())
	}
}
