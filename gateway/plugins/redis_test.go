package plugins

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server on a loopback port, owned by one test.
type redisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// startRedis starts redis-server (Debian package redis-server; `make test`
// installs it). Missing binary is a failure, not a skip: the redis policy is a
// named feature and must be tested.
func startRedis(t testing.TB, port int, args ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found in PATH: install the Debian package redis-server (make deps-test does): %v", err)
	}
	if port == 0 {
		port = closedPort(t)
	}
	s := &redisServer{t: t, port: port, out: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	s.cmd.Args = append(s.cmd.Args, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.stop)
	// Poll until it answers PING.
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		// A server that wants a password answers, which is all this waits for.
		if err == nil || strings.Contains(fmt.Sprint(err), "NOAUTH") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %d not answering PING: %v\n%s", port, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// stop kills the server and waits for it to exit (idempotent).
func (s *redisServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func redisConfig(port int, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"policy": "redis",
		"redis":  map[string]any{"host": "127.0.0.1", "port": port, "timeout": 1000},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func TestRedisExactAcrossTwoManagers(t *testing.T) {
	srv := startRedis(t, 0)
	clock := newFakeClock(t0)
	f := newFixture()
	// fault_tolerant=false: a Redis error would show as a 500, not as a silent
	// uncounted admission, so the count below is really exact.
	f.plugin("rl", "rate-limiting", scope{}, redisConfig(srv.port, map[string]any{"minute": 100, "fault_tolerant": false}))
	m1, m2 := newTestManager(t, clock), newTestManager(t, clock)
	m1.Apply(f.cfg)
	m2.Apply(f.cfg)
	var turn int64
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	admitted, rejected, badRetry := fireConcurrently(t, 200, 1000, func() result {
		<-mu
		turn++
		m := m1
		if turn%2 == 0 {
			m = m2
		}
		mu <- struct{}{}
		return f.do(m, f.route, call{})
	})
	if admitted != 100 || rejected != 900 || badRetry != 0 {
		t.Fatalf("admitted %d, rejected %d (429s without Retry-After: %d); want 100, 900, 0", admitted, rejected, badRetry)
	}

	// The counter is Kong's key, with a TTL that ends just after the window.
	c := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer c.Close()
	key := fmt.Sprintf("ratelimit:%s:%s:192.0.2.1:%d:minute", emptyUUID, emptyUUID, (t0.Unix()-10)*1000)
	n, err := c.Get(context.Background(), key).Int64()
	if err != nil || n != 100 {
		t.Fatalf("redis %s = %d (%v), want 100", key, n, err)
	}
	ttl, err := c.TTL(context.Background(), key).Result()
	if err != nil || ttl <= 0 || ttl > 51*time.Second {
		t.Errorf("TTL %v (%v), want (0, 51s]", ttl, err)
	}
}

func TestRedisHeadersMatchLocal(t *testing.T) {
	srv := startRedis(t, 0)
	clock := newFakeClock(t0)
	f := newFixture()
	f.plugin("rl-redis", "rate-limiting", scope{route: "route-1"}, redisConfig(srv.port, map[string]any{"minute": 2, "hour": 3}))
	f.plugin("rl-local", "rate-limiting", scope{route: "route-2"}, map[string]any{"minute": 2, "hour": 3})
	m := newTestManager(t, clock)
	m.Apply(f.cfg)
	for i := range 5 {
		if i == 3 {
			clock.Add(time.Minute)
		}
		a, b := f.do(m, f.route, call{}), f.do(m, f.route2, call{})
		if a.status() != b.status() {
			t.Fatalf("request %d: redis %d, local %d", i, a.status(), b.status())
		}
		for _, h := range []string{"X-RateLimit-Remaining-Minute", "X-RateLimit-Remaining-Hour", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			if hdr(a, h) != hdr(b, h) || hdr(a, h) == "" {
				t.Errorf("request %d: %s redis %q local %q", i, h, hdr(a, h), hdr(b, h))
			}
		}
	}
}

func TestRedisKilledAndRestarted(t *testing.T) {
	srv := startRedis(t, 0)
	port := srv.port
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{}, redisConfig(port, map[string]any{"minute": 3, "fault_tolerant": true}))
	// The real clock: this test is about Redis coming and going in real time.
	// Keep clear of a minute boundary, which would reset the count mid-test.
	if s := time.Now().Second(); s > 45 {
		t.Logf("waiting %ds for a fresh minute", 61-s)
		waitUntil(t, time.Duration(61-s)*time.Second+time.Second, func() bool { return time.Now().Second() < 10 })
	}
	m := NewManager(Options{Logger: quietLogger()})
	t.Cleanup(m.Close)
	m.Apply(f.cfg)

	statuses := func(n int) (out []string) {
		for range n {
			r := f.do(m, f.route, call{})
			out = append(out, fmt.Sprintf("%d/%s", r.status(), hdr(r, "X-RateLimit-Remaining-Minute")))
		}
		return out
	}
	if got := strings.Join(statuses(4), " "); got != "200/2 200/1 200/0 429/0" {
		t.Fatalf("with redis up: %s", got)
	}

	srv.stop()
	// Redis is gone: fault_tolerant proxies everything, without headers.
	if got := strings.Join(statuses(20), " "); got != strings.TrimSpace(strings.Repeat("200/ ", 20)) {
		t.Fatalf("with redis down: %s", got)
	}

	startRedis(t, port) // same port, empty data
	// Poll until limiting is back: a response carries headers again.
	var back result
	waitUntil(t, 10*time.Second, func() bool {
		back = f.do(m, f.route, call{})
		return hdr(back, "X-RateLimit-Limit-Minute") != ""
	})
	if back.status() != 200 || hdr(back, "X-RateLimit-Remaining-Minute") != "2" {
		t.Fatalf("first request after restart: %d remaining %q, want 200 and 2 (fresh Redis)", back.status(), hdr(back, "X-RateLimit-Remaining-Minute"))
	}
	if got := strings.Join(statuses(3), " "); got != "200/1 200/0 429/0" {
		t.Fatalf("after restart: %s, want the limit enforced again", got)
	}
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", within)
		}
		time.Sleep(25 * time.Millisecond) // poll interval
	}
}

func TestRedisPoolSharedAndRetired(t *testing.T) {
	srv := startRedis(t, 0)
	f := newFixture()
	a := f.plugin("rl-a", "rate-limiting", scope{route: "route-1"}, redisConfig(srv.port, map[string]any{"minute": 5}))
	f.plugin("rl-b", "rate-limiting", scope{route: "route-2"}, redisConfig(srv.port, map[string]any{"hour": 5}))
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	if n := len(m.redis.stores); n != 1 {
		t.Fatalf("%d redis clients for one address, want 1 shared", n)
	}
	before := m.redis.get(parseRedisOptions(a.Config["redis"].(map[string]any)))
	m.Apply(f.cfg)
	after := m.redis.get(parseRedisOptions(a.Config["redis"].(map[string]any)))
	if before != after {
		t.Error("Apply replaced a redis client that the new config still uses")
	}
	m.redis.mu.Lock()
	m.redis.grace = 10 * time.Millisecond
	m.redis.mu.Unlock()
	f.cfg.Plugins = nil
	m.Apply(f.cfg)
	if n := len(m.redis.stores); n != 0 {
		t.Errorf("%d redis clients kept after their plugins went", n)
	}
	// The retired client is closed after the grace period and forgotten.
	waitUntil(t, 5*time.Second, func() bool {
		m.redis.mu.Lock()
		defer m.redis.mu.Unlock()
		return len(m.redis.retired) == 0
	})
	if err := before.client.Ping(context.Background()).Err(); err == nil {
		t.Error("the retired client still answers: it was never closed")
	}
}

func TestRedisAuthAndDatabase(t *testing.T) {
	srv := startRedis(t, 0, "--requirepass", "s3cret")
	f := newFixture()
	good := map[string]any{"host": "127.0.0.1", "port": srv.port, "password": "s3cret", "database": 3}
	bad := map[string]any{"host": "127.0.0.1", "port": srv.port, "password": "wrong"}
	f.plugin("rl-good", "rate-limiting", scope{route: "route-1"}, map[string]any{"minute": 5, "policy": "redis", "redis": good})
	f.plugin("rl-bad", "rate-limiting", scope{route: "route-2"}, map[string]any{"minute": 5, "policy": "redis", "redis": bad, "fault_tolerant": false})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	if r := f.do(m, f.route, call{}); r.status() != http.StatusOK || hdr(r, "X-RateLimit-Remaining-Minute") != "4" {
		t.Fatalf("with the right password: %d remaining %q", r.status(), hdr(r, "X-RateLimit-Remaining-Minute"))
	}
	if r := f.do(m, f.route2, call{}); r.status() != http.StatusInternalServerError {
		t.Fatalf("with a wrong password: %d, want 500 (fault_tolerant=false)", r.status())
	}
	// A refused AUTH is an answer from a reachable Redis: it must not trip the
	// breaker that protects requests from a dead one.
	badStore, ok := m.redis.stores[parseRedisOptions(bad)]
	if !ok {
		t.Fatalf("no store for the bad config among %d", len(m.redis.stores))
	}
	if open := badStore.openUntil.Load(); open != 0 {
		t.Errorf("breaker opened on an AUTH error")
	}
	c := redis.NewClient(&redis.Options{Addr: srv.addr(), Password: "s3cret", DB: 3})
	defer c.Close()
	keys, err := c.Keys(context.Background(), "ratelimit:*").Result()
	if err != nil || len(keys) != 1 || !strings.HasPrefix(keys[0], "ratelimit:route-1:"+emptyUUID+":192.0.2.1:") {
		t.Errorf("keys in db 3: %v (%v), want one route-1 counter", keys, err)
	}
}
