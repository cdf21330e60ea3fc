package plugins

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// BenchmarkAccess measures the per-request cost of the access phase: a route
// without plugins (the baseline) and with key-auth + local rate limiting.
// Run: go test -run '^$' -bench Access -benchmem -benchtime=2s ./gateway/plugins/
func BenchmarkAccess(b *testing.B) {
	cases := []struct {
		name    string
		plugins func(f *fixture)
	}{
		{"baseline-no-plugins", func(*fixture) {}},
		{"key-auth", func(f *fixture) {
			f.plugin("ka", "key-auth", scope{}, nil)
		}},
		{"key-auth+rate-limiting-local", func(f *fixture) {
			f.plugin("ka", "key-auth", scope{}, nil)
			// A limit this run cannot reach: every request takes the admit path.
			f.plugin("rl", "rate-limiting", scope{}, map[string]any{"second": 1e15, "minute": 1e15, "limit_by": "consumer"})
		}},
	}
	for _, c := range cases {
		f := newFixture()
		c.plugins(f)
		m := NewManager(Options{Logger: quietLogger(), Clock: newFakeClock(t0).Now})
		m.Apply(f.cfg)
		b.Run(c.name, func(b *testing.B) {
			ctx := benchContext(f)
			b.ReportAllocs()
			for b.Loop() {
				resetContext(ctx)
				if exit := m.Access(ctx); exit != nil {
					b.Fatalf("exit %+v", exit)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := benchContext(f)
				for pb.Next() {
					resetContext(ctx)
					if exit := m.Access(ctx); exit != nil {
						b.Errorf("exit %+v", exit)
						return
					}
				}
			})
		})
		m.Close()
	}
}

func benchContext(f *fixture) *Context {
	req := httptest.NewRequest(http.MethodGet, "/r1/resource?x=1", nil)
	req.Header.Set("Apikey", "alice-key")
	return &Context{Request: req, ClientIP: "192.0.2.1", Route: f.route, Service: f.service, ResponseHeader: http.Header{}}
}

// resetContext makes a reused Context look like a new request's, as the proxy
// would hand one over.
func resetContext(ctx *Context) {
	ctx.Consumer, ctx.Credential = nil, (*config.KeyAuthCredential)(nil)
	clear(ctx.ResponseHeader)
}

// BenchmarkAccessRedis is the same chain with the redis policy against a local
// redis-server: the cost is one round trip (EVALSHA) per request.
func BenchmarkAccessRedis(b *testing.B) {
	srv := startRedis(b, 0)
	f := newFixture()
	f.plugin("ka", "key-auth", scope{}, nil)
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{
		"second": 1e15, "minute": 1e15, "limit_by": "consumer", "policy": "redis", "fault_tolerant": false,
		"redis": map[string]any{"host": "127.0.0.1", "port": srv.port},
	})
	m := NewManager(Options{Logger: quietLogger(), Clock: newFakeClock(t0).Now})
	defer m.Close()
	m.Apply(f.cfg)
	b.Run("key-auth+rate-limiting-redis", func(b *testing.B) {
		ctx := benchContext(f)
		b.ReportAllocs()
		for b.Loop() {
			resetContext(ctx)
			if exit := m.Access(ctx); exit != nil {
				b.Fatalf("exit %+v", exit)
			}
		}
	})
}
