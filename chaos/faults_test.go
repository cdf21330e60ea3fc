package chaos

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestMockbinFaultPutsAndClears(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	var body MockbinFault
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		if r.Method == http.MethodPut {
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	f := Mockbin("mockbin1", srv.URL+"/", MockbinFault{Status: 503, FailureRate: 0.5, Paths: []string{"/request"}})
	if f.Kind() != "mockbin-fault" || f.Target() != "mockbin1" {
		t.Fatalf("kind %q target %q, want mockbin-fault on mockbin1", f.Kind(), f.Target())
	}
	ctx := context.Background()
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[0] != "PUT /__mockbin/fault" || calls[1] != "DELETE /__mockbin/fault" {
		t.Fatalf("calls: %v", calls)
	}
	if body.Status != 503 || body.FailureRate != 0.5 || len(body.Paths) != 1 {
		t.Fatalf("body: %+v", body)
	}
}

func TestMockbinFaultReportsHTTPError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad fault", http.StatusBadRequest)
	}))
	defer srv.Close()
	f := Mockbin("m", srv.URL, MockbinFault{Status: 999})
	if err := f.Inject(context.Background()); err == nil {
		t.Fatal("inject succeeded against a 400")
	}
	if f.Active() {
		t.Fatal("failed inject left the fault active")
	}
}

// TestToxicOnRealToxiproxy runs Toxiproxy's own API server in-process and checks
// that a latency toxic is added, delays traffic, and is removed on Revert.
func TestToxicOnRealToxiproxy(t *testing.T) {
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	apiSrv := httptest.NewServer(api.Routes())
	defer apiSrv.Close()

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer upstream.Close()

	client := toxiclient.NewClient(apiSrv.URL)
	proxy, err := client.CreateProxy("up", "127.0.0.1:0", upstream.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Delete()

	get := func() time.Duration {
		t.Helper()
		start := time.Now()
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + proxy.Listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}

	const delay = 300 * time.Millisecond
	f := ToxicOn(proxy, Latency(delay, 0))
	if f.Kind() != "latency" || f.Target() != "up" {
		t.Fatalf("kind %q target %q, want latency on up", f.Kind(), f.Target())
	}
	ctx := context.Background()
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	toxics, err := proxy.Toxics()
	if err != nil || len(toxics) != 1 || toxics[0].Type != "latency" || toxics[0].Stream != "downstream" {
		t.Fatalf("toxics after inject: %+v (%v)", toxics, err)
	}
	// A delay toxic can only make the request slower, never faster: a lower bound
	// is a property, not a timing guess.
	if d := get(); d < delay {
		t.Fatalf("request through latency toxic took %v, want ≥ %v", d, delay)
	}
	if err := f.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	toxics, err = proxy.Toxics()
	if err != nil || len(toxics) != 0 {
		t.Fatalf("toxics after revert: %+v (%v)", toxics, err)
	}
}

func TestToxicAttributes(t *testing.T) {
	cases := []struct {
		name string
		tox  Toxic
		typ  string
		key  string
		want any
	}{
		{"latency", Latency(1500*time.Millisecond, 100*time.Millisecond), "latency", "latency", int64(1500)},
		{"jitter", Latency(0, 100*time.Millisecond), "latency", "jitter", int64(100)},
		{"blackhole", Timeout(0), "timeout", "timeout", int64(0)},
		{"reset", ResetPeer(10 * time.Millisecond), "reset_peer", "timeout", int64(10)},
		{"bandwidth", Bandwidth(64), "bandwidth", "rate", int64(64)},
		{"slicer", Slicer(100, 10, time.Millisecond), "slicer", "delay", int64(1000)},
		{"slow close", SlowClose(2 * time.Second), "slow_close", "delay", int64(2000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.tox.Type != c.typ || c.tox.Attributes[c.key] != c.want {
				t.Fatalf("got %s %v, want %s %s=%v", c.tox.Type, c.tox.Attributes, c.typ, c.key, c.want)
			}
		})
	}
	if Latency(0, 0).Upstream().Stream != "upstream" {
		t.Fatal("Upstream() did not set the stream")
	}
}
