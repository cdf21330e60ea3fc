package balancer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

type tgt struct {
	addr   string
	weight int
}

// upstreamCfg builds a config with one upstream "u1" (id "uid1") and targets
// with ids "t0", "t1", ... in order.
func upstreamCfg(algo string, hc config.Healthchecks, ts ...tgt) *config.Config {
	u := &config.Upstream{ID: "uid1", Name: "u1", Algorithm: algo, HashOn: "none", HashFallback: "none",
		Slots: 10000, Healthchecks: hc, HashOnCookiePath: "/"}
	cfg := &config.Config{Upstreams: []*config.Upstream{u}}
	for i, t := range ts {
		cfg.Targets = append(cfg.Targets, &config.Target{ID: fmt.Sprintf("t%d", i), Target: t.addr,
			Weight: t.weight, Upstream: &config.Ref{ID: u.ID}})
	}
	return cfg
}

func newTestManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	m := NewManager(opts)
	// no test may reach a real DNS server: only names the test knows resolve
	m.lookup = func(ctx context.Context, host string) ([]string, error) {
		if host == "localhost" {
			return []string{"127.0.0.1"}, nil
		}
		return nil, fmt.Errorf("lookup %s: no such host (test resolver)", host)
	}
	t.Cleanup(m.Close)
	return m
}

// pickN picks n times and counts picks per target id, completing each try
// with a 200.
func pickN(t *testing.T, p Picker, n int, req func(i int) *Request) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := range n {
		var r *Request
		if req != nil {
			r = req(i)
		} else {
			r = &Request{}
		}
		peer, err := p.Pick(r)
		if err != nil {
			t.Fatalf("pick %d: %v", i, err)
		}
		counts[peer.TargetID]++
		p.Done(peer, Result{Status: 200})
	}
	return counts
}

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

func httpReq(method, target string, hdr map[string]string) *http.Request {
	r, _ := http.NewRequest(method, "http://gw"+target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
