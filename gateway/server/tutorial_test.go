package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mockbin "github.com/gauntlet-dev/gauntlet/mockbin/server"
)

// startGateway runs a whole gateway on loopback ports chosen by the kernel.
func startGateway(t *testing.T, s Settings) *Gateway {
	t.Helper()
	if s.ProxyListen == "" {
		s.ProxyListen = "127.0.0.1:0, 127.0.0.1:0 ssl"
	}
	if s.AdminListen == "" {
		s.AdminListen = "127.0.0.1:0"
	}
	if s.Database == "" {
		s.Database = "embedded"
	}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := Start(s, log)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	return g
}

func startMockbin(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(mockbin.New(mockbin.WithName(name)))
	t.Cleanup(srv.Close)
	return srv
}

// post sends a form exactly as `curl --data k=v --data k2=v2` does.
func post(t *testing.T, rawURL string, kv ...string) (int, map[string]any) {
	t.Helper()
	form := url.Values{}
	for _, pair := range kv {
		k, v, _ := strings.Cut(pair, "=")
		form.Add(k, v)
	}
	resp, err := http.PostForm(rawURL, form)
	if err != nil {
		t.Fatalf("POST %s: %v", rawURL, err)
	}
	return decode(t, resp)
}

func do(t *testing.T, method, rawURL string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, rawURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

// servedBy sends n GETs through the proxy and counts which mockbin answered.
func servedBy(t *testing.T, proxyURL string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		resp, err := http.Get(proxyURL)
		if err != nil {
			t.Fatalf("GET %s: %v", proxyURL, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", proxyURL, resp.StatusCode)
		}
		counts[resp.Header.Get("X-Mockbin-Instance")]++
	}
	return counts
}

// TestTutorial runs the seed tutorial's Admin API sequence (KONG-REFERENCE.md
// "Seed topology") with loopback addresses in place of the compose hostnames.
// It runs on each persistent store.
func TestTutorial(t *testing.T) {
	for _, db := range persistentDatabases {
		t.Run(db, func(t *testing.T) { testTutorial(t, databaseSettings(t, db)) })
	}
}

func testTutorial(t *testing.T, s Settings) {
	m1, m2 := startMockbin(t, "mockbin1"), startMockbin(t, "mockbin2")
	g := startGateway(t, s)
	admin, proxy := g.AdminAddrs()[0].URL(), g.ProxyAddrs()[0].URL()
	m1Host, m2Host := strings.TrimPrefix(m1.URL, "http://"), strings.TrimPrefix(m2.URL, "http://")

	if code, body := post(t, admin+"/services", "name=mockbin-service", "url="+m1.URL); code != 201 || body["host"] != "127.0.0.1" {
		t.Fatalf("create service = %d %v", code, body)
	}
	if code, body := post(t, admin+"/services/mockbin-service/routes", "name=mockbin-route", "paths[]=/mockbin"); code != 201 {
		t.Fatalf("create route = %d %v", code, body)
	}
	if got := servedBy(t, proxy+"/mockbin", 3); got["mockbin1"] != 3 {
		t.Fatalf("served by %v, want mockbin1 ×3", got)
	}
	// Kong refuses this while a route refers to the service; we delete the routes with it.
	if code, _ := do(t, "DELETE", admin+"/services/mockbin-service"); code != 204 {
		t.Fatalf("delete service = %d, want 204", code)
	}
	if code, _ := do(t, "GET", admin+"/routes/mockbin-route"); code != 404 {
		t.Fatalf("route after service delete = %d, want 404", code)
	}
	if code, body := post(t, admin+"/upstreams", "name=mockbin-upstream"); code != 201 {
		t.Fatalf("create upstream = %d %v", code, body)
	}
	for _, target := range []string{m1Host, m2Host} {
		if code, body := post(t, admin+"/upstreams/mockbin-upstream/targets", "target="+target); code != 201 || body["weight"] != 100.0 {
			t.Fatalf("create target %s = %d %v", target, code, body)
		}
	}
	if code, body := post(t, admin+"/services", "name=mockbin-service", "url=http://mockbin-upstream"); code != 201 {
		t.Fatalf("create service on upstream = %d %v", code, body)
	}
	if code, body := post(t, admin+"/services/mockbin-service/routes", "name=mockbin-route", "paths[]=/mockbin"); code != 201 {
		t.Fatalf("create route = %d %v", code, body)
	}
	// Equal weights and sequential requests: round-robin alternates exactly.
	if got := servedBy(t, proxy+"/mockbin", 20); got["mockbin1"] != 10 || got["mockbin2"] != 10 {
		t.Fatalf("served by %v, want 10 each", got)
	}
	// /metrics counts the new service's 20 requests only: the deleted
	// service of the same name took its 3 with it.
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gauntlet_http_requests_total{code="200",service="mockbin-service"} 20`,
		`gauntlet_request_latency_seconds_count{service="mockbin-service"} 20`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRestartKeepsConfiguration stops a gateway and starts another on the same
// data directory: the configuration is intact and traffic resumes.
func TestRestartKeepsConfiguration(t *testing.T) {
	for _, db := range persistentDatabases {
		t.Run(db, func(t *testing.T) { testRestartKeepsConfiguration(t, databaseSettings(t, db)) })
	}
}

func testRestartKeepsConfiguration(t *testing.T, s Settings) {
	m1 := startMockbin(t, "mockbin1")
	dir := t.TempDir()
	s.DataDir = dir
	g := startGateway(t, s)
	admin := g.AdminAddrs()[0].URL()
	post(t, admin+"/services", "name=svc", "url="+m1.URL)
	post(t, admin+"/services/svc/routes", "name=r", "paths[]=/x")
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	nodeID, _ := os.ReadFile(filepath.Join(dir, "node_id"))

	g2 := startGateway(t, s)
	if got := servedBy(t, g2.ProxyAddrs()[0].URL()+"/x", 2); got["mockbin1"] != 2 {
		t.Fatalf("after restart served by %v", got)
	}
	code, root := do(t, "GET", g2.AdminAddrs()[0].URL()+"/")
	if code != 200 || root["node_id"] != strings.TrimSpace(string(nodeID)) {
		t.Fatalf("GET / = %d node_id %v, want the persisted %q", code, root["node_id"], nodeID)
	}
}

// TestShutdownDrainsInFlight: a request in flight when shutdown starts still
// gets its full answer; shutdown waits for it.
func TestShutdownDrainsInFlight(t *testing.T) {
	m1 := startMockbin(t, "mockbin1")
	g := startGateway(t, Settings{})
	admin, proxy := g.AdminAddrs()[0].URL(), g.ProxyAddrs()[0].URL()
	post(t, admin+"/services", "name=svc", "url="+m1.URL)
	post(t, admin+"/services/svc/routes", "name=r", "paths[]=/")

	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(proxy + "/delay/600")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: string(b)}
	}()
	// Shut down only once the request is in flight at the gateway.
	waitFor(t, 5*time.Second, func() bool { return g.proxy.ServerStatus()["connections_active"] >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.code != 200 || !strings.Contains(r.body, `"delay"`) {
			t.Fatalf("in-flight request = %d %q %v, want 200 with the delay body", r.code, r.body, r.err)
		}
	default:
		t.Fatal("shutdown returned before the in-flight request finished")
	}
}

func TestDBLessDeclarativeConfig(t *testing.T) {
	m1, m2 := startMockbin(t, "mockbin1"), startMockbin(t, "mockbin2")
	yml := `_format_version: "3.0"
upstreams:
- name: up
  targets:
  - target: ` + strings.TrimPrefix(m1.URL, "http://") + `
  - target: ` + strings.TrimPrefix(m2.URL, "http://") + `
services:
- name: svc
  host: up
  routes:
  - name: r
    paths: ["/dbless"]
`
	path := filepath.Join(t.TempDir(), "kong.yml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, Settings{Database: "off", DeclarativeConfig: path})
	if got := servedBy(t, g.ProxyAddrs()[0].URL()+"/dbless", 4); got["mockbin1"] != 2 || got["mockbin2"] != 2 {
		t.Fatalf("served by %v, want 2 each", got)
	}
	// DB-less refuses entity writes with Kong's error and changes nothing.
	code, _ := post(t, g.AdminAddrs()[0].URL()+"/services", "name=other", "url=http://127.0.0.1:1")
	if code != http.StatusMethodNotAllowed {
		t.Fatalf("DB-less POST /services = %d, want 405", code)
	}
}

func TestAdminToken(t *testing.T) {
	g := startGateway(t, Settings{AdminToken: "s3cret"})
	admin := g.AdminAddrs()[0].URL()
	if code, body := do(t, "GET", admin+"/services"); code != 401 || body["message"] == nil {
		t.Fatalf("no token = %d %v, want 401 with a message", code, body)
	}
	for _, h := range [][2]string{{"Authorization", "Bearer s3cret"}, {"Kong-Admin-Token", "s3cret"}} {
		req, _ := http.NewRequest("GET", admin+"/services", nil)
		req.Header.Set(h[0], h[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d, want 200", h[0], resp.StatusCode)
		}
	}
}

func TestBadSettingsFailToStart(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bad := filepath.Join(t.TempDir(), "bad.yml")
	_ = os.WriteFile(bad, []byte("_format_version: \"3.0\"\nservices:\n- name: x\n"), 0o644)
	// A plugin whose config breaks its schema: rate-limiting needs at least one limit.
	badPlugin := filepath.Join(t.TempDir(), "bad-plugin.yml")
	_ = os.WriteFile(badPlugin, []byte("_format_version: \"3.0\"\nplugins:\n- name: rate-limiting\n  config: {}\n"), 0o644)
	for name, s := range map[string]Settings{
		"bad listen":      {ProxyListen: "nonsense", AdminListen: "127.0.0.1:0", Database: "off"},
		"bad declarative": {ProxyListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Database: "off", DeclarativeConfig: bad},
		"missing file":    {ProxyListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Database: "off", DeclarativeConfig: "/nonexistent/kong.yml"},
		"bad plugin":      {ProxyListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Database: "off", DeclarativeConfig: badPlugin},
	} {
		if g, err := Start(s, log); err == nil {
			_ = g.Shutdown(context.Background())
			t.Errorf("%s: started, want an error", name)
		}
	}
}

func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
