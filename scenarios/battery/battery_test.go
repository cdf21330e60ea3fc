package battery

import (
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

type schemas struct{}

func (schemas) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	return plugins.Validate(name, cfg)
}

func plan(t *testing.T, yml string, node Node) *Plan {
	t.Helper()
	c, err := config.LoadDeclarativeWith([]byte(yml), config.DeclarativeOptions{Plugins: schemas{}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return NewPlan(c, node)
}

const seed = `_format_version: "3.0"
services:
  - name: mockbin-service
    url: http://mockbin-upstream
    routes:
      - name: mockbin-route
        paths: [/mockbin]
upstreams:
  - name: mockbin-upstream
    targets:
      - target: mockbin1:8080
      - target: mockbin2:8080
`

const resilient = `_format_version: "3.0"
services:
  - name: svc
    url: http://up
    connect_timeout: 2000
    read_timeout: 5000
    retries: 2
    routes:
      - name: r
        paths: [/svc]
        hosts: [api.example.com]
    plugins:
      - name: rate-limiting
        config: {second: 50, minute: 2000, policy: redis, redis: {host: redis, port: 6380}, fault_tolerant: true}
      - name: key-auth
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
upstreams:
  - name: up
    healthchecks:
      active:
        healthy: {interval: 5, successes: 2}
        unhealthy: {interval: 2, tcp_failures: 2, timeouts: 2}
      passive:
        unhealthy: {tcp_failures: 2, timeouts: 2}
    targets:
      - target: a:8080
      - target: b:9090
      - target: c:8080
        weight: 0
`

func TestPlanSeed(t *testing.T) {
	p := plan(t, seed, Node{Database: "off"})
	if len(p.Services) != 1 {
		t.Fatalf("services %d", len(p.Services))
	}
	sp := p.Services[0]
	if sp.Skip != "" {
		t.Fatalf("skip %q", sp.Skip)
	}
	want := []stack.HostPort{{Host: "mockbin1", Port: 8080}, {Host: "mockbin2", Port: 8080}}
	if len(sp.Targets) != 2 || sp.Targets[0] != want[0] || sp.Targets[1] != want[1] {
		t.Errorf("targets %v", sp.Targets)
	}
	if sp.Request.Method != "GET" || sp.Request.Path != "/mockbin/request" || sp.Request.Host != "" {
		t.Errorf("request %+v", sp.Request)
	}
	if sp.RateLimit != nil || len(p.Redis) != 0 {
		t.Errorf("rate limit %+v, redis %v", sp.RateLimit, p.Redis)
	}
	if !p.Node.DBLess() {
		t.Error("database=off is DB-less")
	}
}

func TestPlanResilient(t *testing.T) {
	p := plan(t, resilient, Node{Database: "postgres"})
	sp := p.Services[0]
	if sp.Skip != "" {
		t.Fatalf("skip %q", sp.Skip)
	}
	if len(sp.Targets) != 2 {
		t.Errorf("targets %v: weight 0 carries no traffic", sp.Targets)
	}
	if sp.Request.Host != "api.example.com" || sp.Request.Header["apikey"] != "alice-key" || !strings.Contains(sp.Request.Credential, "alice") {
		t.Errorf("request %+v", sp.Request)
	}
	rl := sp.RateLimit
	if rl == nil || rl.PerSecond != 50 || rl.Policy != "redis" || rl.Redis == nil || *rl.Redis != (stack.HostPort{Host: "redis", Port: 6380}) || !rl.FaultTolerant {
		t.Fatalf("rate limit %+v", rl)
	}
	if len(p.Redis) != 1 || len(p.Upstreams) != 2 {
		t.Errorf("redis %v, upstreams %v", p.Redis, p.Upstreams)
	}
	if p.Node.DBLess() {
		t.Error("postgres is not DB-less")
	}
}

func TestPlanKeyAuthWithoutCredential(t *testing.T) {
	yml := strings.Replace(resilient, "    keyauth_credentials:\n      - key: alice-key\n", "", 1)
	sp := plan(t, yml, Node{}).Services[0]
	if !strings.Contains(sp.Skip, "key-auth") || !strings.Contains(sp.Skip, "keyauth_credentials") {
		t.Errorf("skip %q, want the missing credential named", sp.Skip)
	}
	yml = strings.Replace(yml, "      - name: key-auth\n", "      - name: key-auth\n        config: {anonymous: alice}\n", 1)
	if sp := plan(t, yml, Node{}).Services[0]; sp.Skip != "" {
		t.Errorf("anonymous key-auth: skip %q", sp.Skip)
	}
}

func TestPlanNoRoute(t *testing.T) {
	yml := strings.Replace(seed, "    routes:\n      - name: mockbin-route\n        paths: [/mockbin]\n", "", 1)
	if sp := plan(t, yml, Node{}).Services[0]; !strings.Contains(sp.Skip, "no route") {
		t.Errorf("skip %q", sp.Skip)
	}
}

func TestPlanDirectHost(t *testing.T) {
	yml := strings.Replace(seed, "url: http://mockbin-upstream", "url: http://backend:3000/api", 1)
	sp := plan(t, yml, Node{}).Services[0]
	if len(sp.Targets) != 1 || sp.Targets[0] != (stack.HostPort{Host: "backend", Port: 3000}) || sp.Upstream != nil {
		t.Errorf("targets %v upstream %v", sp.Targets, sp.Upstream)
	}
	// A service path: the stripped request goes to /api, which the load
	// does not extend.
	if sp.Request.Path != "/mockbin" {
		t.Errorf("path %q", sp.Request.Path)
	}
}

func TestBoundsSeed(t *testing.T) {
	sp := plan(t, seed, Node{Database: "off"}).Services[0]
	// Kong's defaults: retries 5 over 2 targets, no health checks.
	if n, why := sp.KillAllowance(100); n != 0 || !strings.Contains(why, "retries=5") {
		t.Errorf("kill allowance %d (%s)", n, why)
	}
	if b, _ := sp.StallBound(); b != 60*time.Second+Margin {
		t.Errorf("stall bound %v", b)
	}
	if b, _ := sp.BlackholeBound(); b != 120*time.Second+Margin {
		t.Errorf("blackhole bound %v", b)
	}
	if b, ok, _ := sp.RecoveryBound(); !ok || b != Margin+500*time.Millisecond {
		t.Errorf("recovery %v %v: nothing ejects, so the first request gets through", b, ok)
	}
	if !sp.ExpectFailover() {
		t.Error("retries 5 over 2 targets fail over")
	}
	if r, _ := sp.FaultRate(100); r != 100 {
		t.Errorf("fault rate %d without a limit", r)
	}
}

func TestBoundsResilient(t *testing.T) {
	sp := plan(t, resilient, Node{}).Services[0]
	if b, _ := sp.StallBound(); b != 5*time.Second+Margin {
		t.Errorf("stall bound %v: one visit of read_timeout", b)
	}
	if b, _ := sp.BlackholeBound(); b != 7*time.Second+Margin {
		t.Errorf("blackhole bound %v", b)
	}
	// unhealthy.interval 2 s × (successes 2 + 1) + margin.
	if b, ok, _ := sp.RecoveryBound(); !ok || b != 6*time.Second+Margin {
		t.Errorf("recovery %v %v", b, ok)
	}
	// 80% of second=50; minute=2000 over a 17 s run allows 94.
	if r, why := sp.FaultRate(100); r != 40 || !strings.Contains(why, "second") {
		t.Errorf("fault rate %d (%s)", r, why)
	}
	if off, why := sp.RateLimit.Offered(); off != 150 || why != "" {
		t.Errorf("offered %d (%s)", off, why)
	}
	if RateTolerance(50) != 5 || RateTolerance(1000) != 50 {
		t.Errorf("tolerance %d %d", RateTolerance(50), RateTolerance(1000))
	}
}

func TestBoundsVariants(t *testing.T) {
	one := strings.Replace(seed, "      - target: mockbin2:8080\n", "", 1)
	sp := plan(t, one, Node{}).Services[0]
	// A single target: every one of the 6 tries meets the stall.
	if b, _ := sp.StallBound(); b != 6*60*time.Second+Margin {
		t.Errorf("single-target stall bound %v", b)
	}
	if sp.ExpectFailover() {
		t.Error("one target cannot fail over")
	}

	noRetry := strings.Replace(seed, "    url: http://mockbin-upstream\n", "    url: http://mockbin-upstream\n    retries: 0\n", 1)
	if n, _ := plan(t, noRetry, Node{}).Services[0].KillAllowance(100); n != 0 {
		t.Errorf("no retry, no checks: allowance %d, want 0 (every failure counts)", n)
	}
	passive := strings.Replace(noRetry, "  - name: mockbin-upstream\n", "  - name: mockbin-upstream\n    healthchecks: {passive: {unhealthy: {tcp_failures: 3}}}\n", 1)
	sp = plan(t, passive, Node{}).Services[0]
	if n, _ := sp.KillAllowance(200); n != 3+2 {
		t.Errorf("passive tcp_failures 3 at 200 rps: allowance %d, want 5", n)
	}
	if _, ok, why := sp.RecoveryBound(); ok || !strings.Contains(why, "passive") {
		t.Errorf("passive only recovers: %v (%s)", ok, why)
	}
	active := strings.Replace(noRetry, "  - name: mockbin-upstream\n", "  - name: mockbin-upstream\n    healthchecks: {active: {unhealthy: {interval: 1, tcp_failures: 2}}}\n", 1)
	// 100 rps / 2 targets × 1 s × (2 + 1).
	if n, _ := plan(t, active, Node{}).Services[0].KillAllowance(100); n != 150 {
		t.Errorf("active allowance %d, want 150", n)
	}
	halfOpen := strings.Replace(passive, "{passive: {unhealthy: {tcp_failures: 3}}}", "{passive: {unhealthy: {tcp_failures: 3}}, half_open: {cooldown: 2}}", 1)
	if b, ok, _ := plan(t, halfOpen, Node{}).Services[0].RecoveryBound(); !ok || b != 2*time.Second+Margin {
		t.Errorf("half-open recovery %v %v", b, ok)
	}
}

func TestRateLimitNotTestable(t *testing.T) {
	minute := strings.Replace(resilient, "second: 50, minute: 2000", "minute: 2000", 1)
	rl := plan(t, minute, Node{}).Services[0].RateLimit
	if off, why := rl.Offered(); off != 0 || !strings.Contains(why, "minute=2000") {
		t.Errorf("offered %d (%s)", off, why)
	}
	big := strings.Replace(resilient, "second: 50, minute: 2000", "second: 5000", 1)
	if off, why := plan(t, big, Node{}).Services[0].RateLimit.Offered(); off != 0 || !strings.Contains(why, "5000") {
		t.Errorf("offered %d (%s)", off, why)
	}
}

func res(at time.Time, code uint16, lat time.Duration, err string) vegeta.Result {
	return vegeta.Result{Timestamp: at, Code: code, Latency: lat, Error: err}
}

func TestVerdictHelpers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rs := []vegeta.Result{
		res(t0, 200, time.Millisecond, ""), res(t0.Add(100*time.Millisecond), 200, time.Millisecond, ""),
		res(t0.Add(200*time.Millisecond), 502, time.Millisecond, ""),
		res(t0.Add(2*time.Second), 0, 10*time.Second, `Get "x": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`),
		res(t0.Add(2*time.Second), 0, time.Millisecond, "connection refused"),
		res(t0.Add(2*time.Second), 429, time.Millisecond, ""),
	}
	code, err := baseline(rs, t0.Add(time.Second))
	if err != nil || code != 200 {
		t.Fatalf("baseline %d %v", code, err)
	}
	if n := notServed(rs, 200); n != 4 {
		t.Errorf("not served %d", n)
	}
	if n := notServed(rs, 200, 429); n != 3 {
		t.Errorf("not served with 429 allowed %d", n)
	}
	if n := stillWaiting(rs); n != 1 {
		t.Errorf("still waiting %d", n)
	}
	if _, err := baseline([]vegeta.Result{res(t0, 404, 0, "")}, t0.Add(time.Second)); err == nil {
		t.Error("a service answering 404 before any fault cannot be judged")
	}
	if _, err := baseline(rs, t0); err == nil {
		t.Error("nothing sent before the fault")
	}
	rows := []Result{{Service: "a", Property: PropKill, Verdict: Holds}, {Service: "a", Property: PropRateLimit, Verdict: NA}}
	if Failed(rows) {
		t.Error("holds and n/a do not fail")
	}
	if !Failed(append(rows, Result{Verdict: Error})) || !Failed(append(rows, Result{Verdict: Fails})) {
		t.Error("fails and error fail the check")
	}
}

func TestPerSecond(t *testing.T) {
	t0 := time.Unix(1000, 500_000_000) // mid-second: the first second is partial
	var rs []vegeta.Result
	for i := range 30 {
		code := uint16(200)
		if i%3 == 0 {
			code = 429
		}
		rs = append(rs, res(t0.Add(time.Duration(i)*100*time.Millisecond), code, 0, ""))
	}
	secs := perSecond(rs, 429)
	// 1000.5 .. 1003.4: whole seconds 1001 and 1002; 1003 is the last, partial.
	if len(secs) != 2 || secs[0].At != 1001 || secs[1].At != 1002 {
		t.Fatalf("seconds %+v", secs)
	}
	for _, s := range secs {
		if s.Sent != 10 || s.Admitted+3 < s.Sent-1 || s.Errors != 0 {
			t.Errorf("second %+v", s)
		}
	}
}

func TestTableAndJUnit(t *testing.T) {
	rows := []Result{
		{Service: "svc", Property: PropKill, Verdict: Holds, Key: "0 of 400 failed"},
		{Service: "svc", Property: PropStall, Verdict: Fails, Key: "clients waited ≥ 10s", Misses: []string{"x: missed"}},
		{Service: "svc", Property: PropRateLimit, Verdict: NA, Key: "no rate limit found"},
	}
	var b strings.Builder
	WriteTable(&b, rows)
	for _, want := range []string{"svc", "holds", "fails", "n/a", "no rate limit found", "missed: x: missed", "1 holds, 1 fails, 1 n/a"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteJUnit(&b, "kong.yml", rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`tests="3"`, `failures="1"`, `skipped="1"`, `<skipped message="no rate limit found">`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("junit lacks %q:\n%s", want, b.String())
		}
	}
}

// An IP address or localhost cannot be taken over by a network alias: the
// service is not loaded (no traffic may leave the project's containers).
func TestPlanForeignAddresses(t *testing.T) {
	for _, target := range []string{"10.0.0.5:8080", "[::1]:8080", "localhost:8080"} {
		yml := strings.Replace(seed, "mockbin2:8080", `"`+target+`"`, 1)
		p := plan(t, yml, Node{})
		if sp := p.Services[0]; !strings.Contains(sp.Skip, "not a name") || len(p.Upstreams) != 0 {
			t.Errorf("%s: skip %q, upstreams %v", target, sp.Skip, p.Upstreams)
		}
	}
	yml := strings.Replace(resilient, "host: redis, port: 6380", "host: 192.168.1.10, port: 6380", 1)
	if p := plan(t, yml, Node{}); !strings.Contains(p.Services[0].Skip, "redis") || len(p.Redis) != 0 {
		t.Errorf("redis at an IP: skip %q, redis %v", p.Services[0].Skip, p.Redis)
	}
}

// Another gateway image is configured through Kong's variables only, DB-less;
// a node with a database cannot have its restart proven there.
func TestGatewayImage(t *testing.T) {
	b := &Battery{GatewayImage: "kong:3.9", Plan: plan(t, seed, Node{Database: "off", DeclarativeConfig: "/etc/kong/kong.yml"})}
	env := b.gatewayEnv()
	if env["KONG_DATABASE"] != "off" || env["KONG_DECLARATIVE_CONFIG"] != "/etc/kong/kong.yml" || env["KONG_ADMIN_LISTEN"] != "0.0.0.0:8001" || env["KONG_PROXY_LISTEN"] != "0.0.0.0:8000" {
		t.Errorf("env %v", env)
	}
	if body, _ := b.property(b.Plan.Services[0], PropRestart); body == nil {
		t.Error("a DB-less node's restart can be proven on another image")
	}
	b.Plan = plan(t, seed, Node{Database: "postgres"})
	if env := b.gatewayEnv(); env["KONG_DECLARATIVE_CONFIG"] != "" || env["KONG_DATABASE"] != "off" {
		t.Errorf("database node: env %v", env)
	}
	if body, why := b.property(b.Plan.Services[0], PropRestart); body != nil || !strings.Contains(why, "database") {
		t.Errorf("database node on another image: restart %v (%s)", body != nil, why)
	}
	if (&Battery{Plan: b.Plan}).gatewayEnv() != nil {
		t.Error("the project's gateway takes flags, no environment")
	}
}
