package plugins

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// fakeClock is an injectable clock that only moves when a test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func strp(s string) *string { return &s }

func ref(id string) *config.Ref {
	if id == "" {
		return nil
	}
	return &config.Ref{ID: id}
}

// fixture is a small gateway config: one service with two routes, two consumers
// with a key each, built up by tests with plugins.
type fixture struct {
	cfg      *config.Config
	service  *config.Service
	service2 *config.Service
	route    *config.Route // on service
	route2   *config.Route // on service
	route3   *config.Route // on service2
	alice    *config.Consumer
	bob      *config.Consumer
}

func newFixture() *fixture {
	f := &fixture{}
	f.service = &config.Service{ID: "svc-1", Name: strp("svc"), Protocol: "http", Host: "upstream", Port: 80, Enabled: true}
	f.service2 = &config.Service{ID: "svc-2", Name: strp("svc2"), Protocol: "http", Host: "upstream2", Port: 80, Enabled: true}
	f.route = &config.Route{ID: "route-1", Name: strp("r1"), Paths: []string{"/r1"}, Service: ref("svc-1")}
	f.route2 = &config.Route{ID: "route-2", Name: strp("r2"), Paths: []string{"/r2"}, Service: ref("svc-1")}
	f.route3 = &config.Route{ID: "route-3", Name: strp("r3"), Paths: []string{"/r3"}, Service: ref("svc-2")}
	f.alice = &config.Consumer{ID: "cons-alice", Username: strp("alice"), CustomID: strp("A-1")}
	f.bob = &config.Consumer{ID: "cons-bob", Username: strp("bob")}
	f.cfg = &config.Config{
		Services:  []*config.Service{f.service, f.service2},
		Routes:    []*config.Route{f.route, f.route2, f.route3},
		Consumers: []*config.Consumer{f.alice, f.bob},
		KeyAuthCredentials: []*config.KeyAuthCredential{
			{ID: "cred-alice", Key: "alice-key", Consumer: ref("cons-alice")},
			{ID: "cred-bob", Key: "bob-key", Consumer: ref("cons-bob")},
		},
	}
	return f
}

// scope names the entities a plugin is attached to; empty fields mean unset.
type scope struct{ route, service, consumer string }

func (f *fixture) plugin(id, name string, sc scope, cfg map[string]any) *config.Plugin {
	p := &config.Plugin{ID: id, Name: name, Config: cfg, Enabled: true,
		Route: ref(sc.route), Service: ref(sc.service), Consumer: ref(sc.consumer)}
	f.cfg.Plugins = append(f.cfg.Plugins, p)
	return p
}

// call is one request through Access.
type call struct {
	method, target string
	header         http.Header
	body           string
	clientIP       string
}

type result struct {
	exit *Exit
	ctx  *Context
}

func (r result) status() int {
	if r.exit == nil {
		return http.StatusOK
	}
	return r.exit.Status
}

func (f *fixture) do(m *Manager, route *config.Route, c call) result {
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	target := c.target
	if target == "" {
		target = "/r1"
	}
	var body io.Reader
	if c.body != "" {
		body = bytes.NewBufferString(c.body)
	}
	req := httptest.NewRequest(method, target, body)
	for k, vs := range c.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	ip := c.clientIP
	if ip == "" {
		ip = "192.0.2.1"
	}
	var svc *config.Service
	if route != nil && route.Service != nil {
		for _, s := range f.cfg.Services {
			if s.ID == route.Service.ID {
				svc = s
			}
		}
	}
	ctx := &Context{Request: req, ClientIP: ip, Route: route, Service: svc, ResponseHeader: http.Header{}}
	return result{exit: m.Access(ctx), ctx: ctx}
}

func newTestManager(t testing.TB, clock *fakeClock) *Manager {
	t.Helper()
	m := NewManager(Options{Logger: quietLogger(), Clock: clock.Now})
	t.Cleanup(m.Close)
	return m
}

// t0 is a moment 10 s into a minute, in a 31-day month.
var t0 = time.Date(2026, time.January, 15, 12, 30, 10, 0, time.UTC)
