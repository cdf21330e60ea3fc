package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/store"
	"github.com/gauntlet-dev/gauntlet/gateway/store/pgtest"
)

func TestPostgresSettings(t *testing.T) {
	e := env(map[string]string{
		"KONG_DATABASE": "postgres", "KONG_PG_HOST": "db", "KONG_PG_PORT": "6543", "KONG_PG_USER": "u",
		"KONG_PG_PASSWORD": "p", "KONG_PG_DATABASE": "d", "KONG_PG_TIMEOUT": "2500", "KONG_PG_SSL": "on",
		"KONG_DB_UPDATE_FREQUENCY": "2", "KONG_DB_UPDATE_PROPAGATION": "1",
	})
	s, err := ParseSettings(nil, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Postgres.StoreOptions()
	if err != nil {
		t.Fatal(err)
	}
	want := store.PostgresOptions{Host: "db", Port: 6543, User: "u", Password: "p", Database: "d",
		Timeout: 2500 * time.Millisecond, SSL: true, UpdateFrequency: 2 * time.Second, UpdatePropagation: time.Second}
	if o != want {
		t.Fatalf("options = %+v\nwant      %+v", o, want)
	}
	// Kong's defaults.
	s, err = ParseSettings([]string{"--database", "postgres"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, _ = s.Postgres.StoreOptions()
	want = store.PostgresOptions{Host: "127.0.0.1", Port: 5432, User: "kong", Database: "kong",
		Timeout: 5 * time.Second, UpdateFrequency: 5 * time.Second}
	if o != want {
		t.Fatalf("defaults = %+v\nwant       %+v", o, want)
	}

	for _, c := range []struct{ flag, value, want string }{
		{"--pg-port", "x", "pg-port"},
		{"--pg-port", "70000", "pg-port"},
		{"--pg-timeout", "soon", "pg-timeout"},
		{"--pg-timeout", "0", "pg-timeout"},
		{"--pg-ssl", "maybe", "pg-ssl"},
		{"--db-update-frequency", "0", "db-update-frequency"},
		{"--db-update-propagation", "later", "db-update-propagation"},
	} {
		_, err := ParseSettings([]string{"--database", "postgres", c.flag, c.value}, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: error %v, want one naming %s", c.flag, c.value, err, c.want)
		}
	}
}

// persistentDatabases are the stores tests that keep configuration run on.
var persistentDatabases = []string{"embedded", "postgres"}

// databaseSettings are the settings for a fresh store of kind db.
func databaseSettings(t *testing.T, db string) Settings {
	if db == "postgres" {
		return pgSettings(t, pgtest.Shared(t))
	}
	return Settings{Database: db}
}

// pgSettings points a gateway at a fresh bootstrapped schema on srv.
func pgSettings(t *testing.T, srv *pgtest.Server) Settings {
	t.Helper()
	s := Settings{Database: "postgres", Postgres: PostgresSettings{
		Host: "127.0.0.1", Port: fmt.Sprint(srv.Port()), User: pgtest.User, Database: "postgres", Schema: srv.UniqueName("s"),
		Timeout: "1000", UpdateFrequency: time.Second,
	}}
	o, err := s.Postgres.StoreOptions()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := store.Bootstrap(ctx, o); err != nil {
		t.Fatal(err)
	}
	return s
}

func getStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(2 * time.Millisecond) // poll interval, not synchronisation
	}
}

// Two nodes on one database: a route created through node a's Admin API
// answers on node b's proxy; PostgreSQL killed, both keep proxying, writes
// answer 503, reads answer from the cache; back, writes work and propagate.
func TestPostgresTwoNodes(t *testing.T) {
	srv := pgtest.Start(t) // its own: this test kills it
	mb := startMockbin(t, "mockbin1")
	s := pgSettings(t, srv)
	a, b := startGateway(t, s), startGateway(t, s)
	adminA, adminB := a.AdminAddrs()[0].URL(), b.AdminAddrs()[0].URL()
	proxyA, proxyB := a.ProxyAddrs()[0].URL(), b.ProxyAddrs()[0].URL()

	if code, body := do(t, "GET", adminB); code != 200 || body["configuration"].(map[string]any)["database"] != "postgres" {
		t.Fatalf("GET / = %d %v", code, body["configuration"])
	}
	if code, body := post(t, adminA+"/services", "name=svc", "url="+mb.URL); code != 201 {
		t.Fatalf("create service = %d %v", code, body)
	}
	const n = 20
	lat := make([]time.Duration, 0, n)
	for i := range n {
		path := fmt.Sprintf("/r%d", i)
		start := time.Now()
		if code, body := post(t, adminA+"/services/svc/routes", "paths[]="+path); code != 201 {
			t.Fatalf("create route = %d %v", code, body)
		}
		waitUntil(t, 3*time.Second, path+" on node b", func() bool { return getStatus(proxyB+path) == 200 })
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("Admin POST on a → proxied on b, %d routes: p50 %v, max %v", n, lat[n/2], lat[n-1])
	// The poll runs once a second here, so a bound well under that shows
	// the notification did the work.
	if lat[n/2] > 500*time.Millisecond {
		t.Fatalf("median propagation %v: notifications not working", lat[n/2])
	}

	// Constant proxy traffic on both nodes across the kill, the outage and
	// the recovery: the request path never touches the database, so not one
	// request may fail.
	stopLoad := make(chan struct{})
	var loadWG sync.WaitGroup
	var sent, failed atomic.Int64
	for _, p := range []string{proxyA, proxyB} {
		loadWG.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				sent.Add(1)
				if code := getStatus(p + fmt.Sprintf("/r%d", i%n)); code != 200 {
					failed.Add(1)
				}
			}
		})
	}
	defer func() {
		close(stopLoad)
		loadWG.Wait()
		t.Logf("proxied across kill, outage and recovery: %d requests, %d not 200", sent.Load(), failed.Load())
		if failed.Load() != 0 {
			t.Errorf("%d of %d proxied requests failed while the database was down", failed.Load(), sent.Load())
		}
	}()
	waitUntil(t, 5*time.Second, "load running before the kill", func() bool { return sent.Load() >= 200 })

	srv.Kill()
	start := time.Now()
	code, body := post(t, adminA+"/services/svc/routes", "paths[]=/during")
	if code != 503 || body["code"] != 8.0 || !strings.Contains(fmt.Sprint(body["message"]), "database unavailable") {
		t.Fatalf("write during outage = %d %v", code, body)
	}
	t.Logf("write during outage: %d %q after %v", code, body["message"], time.Since(start))
	if code, body := do(t, "GET", adminB+"/routes"); code != 200 || len(body["data"].([]any)) != n {
		t.Fatalf("read during outage = %d %v", code, body)
	}
	waitUntil(t, 5*time.Second, "status shows the database unreachable", func() bool {
		_, body := do(t, "GET", adminB+"/status")
		return body["database"].(map[string]any)["reachable"] == false
	})

	srv.Restart()
	waitUntil(t, 10*time.Second, "writes work again", func() bool {
		code, _ := post(t, adminA+"/services/svc/routes", "paths[]=/after")
		return code == 201
	})
	waitUntil(t, 5*time.Second, "/after on node b", func() bool { return getStatus(proxyB+"/after") == 200 })
	if code := getStatus(proxyB + "/during"); code != 404 {
		t.Fatalf("route written during the outage answers %d", code)
	}
}

// Nodes starting together with the same kong.yml seed the database once;
// a restart with the file does not overwrite Admin API changes.
func TestPostgresDeclarativeSeedsOnce(t *testing.T) {
	s := pgSettings(t, pgtest.Shared(t))
	s.DeclarativeConfig = filepath.Join(t.TempDir(), "kong.yml")
	yml := "_format_version: \"3.0\"\nservices:\n- name: seeded\n  url: http://127.0.0.1:1\n  routes:\n  - paths: [/seeded]\n"
	if err := os.WriteFile(s.DeclarativeConfig, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := make([]*Gateway, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i] = startGateway(t, s) })
	}
	wg.Wait()
	admin := nodes[0].AdminAddrs()[0].URL()
	waitUntil(t, 3*time.Second, "every node has exactly one service", func() bool {
		for _, g := range nodes {
			_, body := do(t, "GET", g.AdminAddrs()[0].URL()+"/services")
			if len(body["data"].([]any)) != 1 {
				return false
			}
		}
		return true
	})
	if code, _ := post(t, admin+"/services", "name=added", "host=example.com"); code != 201 {
		t.Fatalf("add service = %d", code)
	}
	again := startGateway(t, s)
	_, body := do(t, "GET", again.AdminAddrs()[0].URL()+"/services")
	if got := len(body["data"].([]any)); got != 2 {
		t.Fatalf("after a restart with the kong.yml: %d services, want 2", got)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A node started while PostgreSQL is down says so in one line, serves
// nothing yet, and once the database is back serves its configuration.
func TestPostgresNodeStartsWhileDatabaseDown(t *testing.T) {
	srv := pgtest.Start(t)
	mb := startMockbin(t, "mockbin1")
	s := pgSettings(t, srv)
	first := startGateway(t, s)
	admin := first.AdminAddrs()[0].URL()
	post(t, admin+"/services", "name=svc", "url="+mb.URL)
	if code, body := post(t, admin+"/services/svc/routes", "paths[]=/x"); code != 201 {
		t.Fatalf("create route = %d %v", code, body)
	}
	_ = first.Shutdown(context.Background())
	srv.Kill()

	var logs syncBuffer
	s.ProxyListen, s.AdminListen, s.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	g, err := Start(s, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("start with the database down: %v", err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	if n := strings.Count(logs.String(), "database unreachable at start"); n != 1 {
		t.Fatalf("%d start-up lines about the database, want 1:\n%s", n, logs.String())
	}
	proxy := g.ProxyAddrs()[0].URL()
	if code := getStatus(proxy + "/x"); code != 404 {
		t.Fatalf("route before the database answered: %d", code)
	}
	srv.Restart()
	waitUntil(t, 10*time.Second, "the node serves the stored route", func() bool { return getStatus(proxy+"/x") == 200 })
	if !strings.Contains(logs.String(), "database reachable again") {
		t.Fatalf("no line saying the database is back:\n%s", logs.String())
	}
}

// A kong.yml given to a node that starts while PostgreSQL is down seeds the
// database once it answers.
func TestPostgresDeclarativeSeedsAfterOutage(t *testing.T) {
	srv := pgtest.Start(t)
	mb := startMockbin(t, "mockbin1")
	s := pgSettings(t, srv)
	s.DeclarativeConfig = filepath.Join(t.TempDir(), "kong.yml")
	yml := "_format_version: \"3.0\"\nservices:\n- name: seeded\n  url: " + mb.URL + "\n  routes:\n  - paths: [/seeded]\n"
	if err := os.WriteFile(s.DeclarativeConfig, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	g := startGateway(t, s)
	proxy := g.ProxyAddrs()[0].URL()
	if code := getStatus(proxy + "/seeded"); code != 404 {
		t.Fatalf("seeded route answers %d before the database is back", code)
	}
	srv.Restart()
	waitUntil(t, 10*time.Second, "the kong.yml seeded after the outage", func() bool { return getStatus(proxy+"/seeded") == 200 })
}
