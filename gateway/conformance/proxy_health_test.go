package conformance

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Kong 3.9 spec/02-integration/05-proxy/10-balancer/01-healthchecks_spec.lua,
// the single-node "Ring-balancer #healthchecks" cases: passive and active
// health checks, manual recovery and shutdown through the Admin API. Kong
// generates each case per localhost mode (ipv4 127.0.0.1, ipv6 [::1],
// hostname localhost) and, for active recovery, per protocol (http, https).

const specHC = "spec/02-integration/05-proxy/10-balancer/01-healthchecks_spec.lua"

var _ = register("proxy-healthchecks", proxyHealthCases)

const (
	skipCluster = "a second Kong node on the same database (#cluster)"
	skipDNSMock = "DNS mock (targets resolving to several addresses, SRV records)"
	skipMTLS    = "upstream mutual TLS (client_certificate)"
)

var localhosts = []struct{ mode, host string }{{"ipv4", "127.0.0.1"}, {"ipv6", "::1"}, {"hostname", "localhost"}}

// hcServer is Kong's https_server fixture: every path answers 200 while
// healthy and 500 while unhealthy; ok and fail count the answers to
// everything but the health checker's /status.
type hcServer struct {
	addr      string // host:port as the target names it
	unhealthy atomic.Bool
	ok, fail  atomic.Int64
	checks    atomic.Int64 // requests for /status (the health checker's)
	// checkFails counts the /status requests answered 500 (the fixture's
	// status_fail; status_ok is checks - checkFails).
	checkFails atomic.Int64
	// timeouts: the next n requests (all while negative) stall 3s and
	// count as failures (the fixture's /timeout).
	timeouts atomic.Int64
	// expectHost, when set, answers 400 to a Host naming another server
	// (the fixture's check_hostname: nginx's server_name).
	expectHost string
	// close shuts the server down (the fixture's shutdown): its port
	// refuses connections from then on.
	close func()
}

func newHCServer(t *testing.T, host string, tlsOn bool) *hcServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("listen on %s: %v", host, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &hcServer{addr: net.JoinHostPort(host, port)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.expectHost != "" {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if host != s.expectHost {
				w.WriteHeader(400)
				return
			}
		}
		if r.URL.Path != "/status" {
			if n := s.timeouts.Load(); n != 0 {
				if n > 0 {
					s.timeouts.Add(-1)
				}
				s.fail.Add(1)
				select {
				case <-time.After(3 * time.Second):
				case <-r.Context().Done():
				}
				return
			}
		}
		status := 200
		if s.unhealthy.Load() {
			status = 500
		}
		if r.URL.Path == "/status" {
			s.checks.Add(1)
			if status != 200 {
				s.checkFails.Add(1)
			}
		}
		if r.URL.Path != "/status" {
			if status == 200 {
				s.ok.Add(1)
			} else {
				s.fail.Add(1)
			}
		}
		w.WriteHeader(status)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	s.close = srv.Close
	t.Cleanup(srv.Close)
	return s
}

func (s *hcServer) take() (ok, fail int) { return int(s.ok.Swap(0)), int(s.fail.Swap(0)) }

// hcDefaults is balancer_utils' healthchecks_defaults.
func hcDefaults() obj {
	return obj{
		"active": obj{"timeout": 1, "concurrency": 10, "http_path": "/",
			"healthy":   obj{"interval": 0, "http_statuses": arr{200, 302}, "successes": 2},
			"unhealthy": obj{"interval": 0, "http_statuses": arr{429, 404, 500, 501, 502, 503, 504, 505}, "tcp_failures": 2, "timeouts": 3, "http_failures": 5}},
		"passive": obj{
			"healthy":   obj{"http_statuses": arr{200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308}, "successes": 5},
			"unhealthy": obj{"http_statuses": arr{429, 500, 503}, "tcp_failures": 2, "timeouts": 7, "http_failures": 5}},
	}
}

// hcConfig is healthchecks_config: the defaults deep-merged with over.
func hcConfig(over obj) obj {
	var merge func(dst, src obj)
	merge = func(dst, src obj) {
		for k, v := range src {
			if sv, ok := v.(obj); ok {
				if dv, ok := dst[k].(obj); ok {
					merge(dv, sv)
					continue
				}
			}
			dst[k] = v
		}
	}
	d := hcDefaults()
	merge(d, over)
	return d
}

// hcAPI creates upstream hc-up with hc, its targets, and a service on it for
// host hc.test; service is merged into the service.
func hcAPI(t *testing.T, g *GW, hc obj, servers []*hcServer, weights []int, service obj) {
	g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "hc-up", "slots": 10, "healthchecks": hc}})
	for i, s := range servers {
		w := 10
		if weights != nil {
			w = weights[i]
		}
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams/hc-up/targets", Body: obj{"target": s.addr, "weight": w}})
	}
	svc := obj{"name": "hc", "host": "hc-up", "port": 80, "protocol": "http"}
	for k, v := range service {
		svc[k] = v
	}
	g.mustDo(t, Step{Method: "POST", Path: "/services", Body: svc})
	g.mustDo(t, Step{Method: "POST", Path: "/services/hc/routes", Body: obj{"hosts": arr{"hc.test"}, "paths": arr{"/"}}})
}

// hcRequests is bu.client_requests on hc.test: oks, fails (>399) and the last status.
func hcRequests(t *testing.T, g *GW, n int, hdr ...string) (oks, fails, last int) {
	c := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("GET", g.ProxyURL+"/", nil)
		req.Host = "hc.test"
		for j := 0; j+1 < len(hdr); j += 2 {
			req.Header.Set(hdr[j], hdr[j+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		last = resp.StatusCode
		switch {
		case last == 200:
			oks++
		case last > 399:
			fails++
		}
	}
	return
}

// waitHealth is bu.poll_wait_health: until the target reads want in
// GET /upstreams/hc-up/health.
func waitHealth(t *testing.T, g *GW, target, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last any
	for time.Now().Before(deadline) {
		r := g.Do(t, Step{Path: "/upstreams/hc-up/health"})
		if r != nil {
			data, _ := r.Get("data")
			list, _ := data.([]any)
			for _, e := range list {
				m, _ := e.(map[string]any)
				if m["target"] == target {
					last = m["health"]
					if m["health"] == want {
						return
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("target %s: health %v, want %s", target, last, want)
}

func near(want, got int, tolerance float64) bool {
	return math.Abs(float64(want-got)) <= float64(want)*tolerance+0.5
}

const acceptedLBVar = 0.3 // the spec's ACCEPTED_LB_VAR

func hcCases(line, name string, run func(t *testing.T, g *GW, host string)) []Case {
	var out []Case
	for _, lh := range localhosts {
		host := lh.host
		out = append(out, Case{Spec: specHC + ":" + line, Name: name + " #" + lh.mode,
			Run: func(t *testing.T, g *GW) { run(t, g, host) }})
	}
	return out
}

var proxyHealthCases = rows(
	skipped(specHC, skipDNSMock, "93:2-level dns sets the proper health-check", "139:a target that resolves to 2 IPs reports health separately",
		"213:a target that resolves to 2 IPs reports health separately (upstream with hostname set)",
		"289:a target that resolves to an SRV record that changes port"),
	skipped(specHC, skipMTLS, "566:create active health checks -- global certificate", "600:#db create active health checks -- upstream certificate"),
	skipped(specHC, skipCluster, "704:does not perform health checks when disabled (#3304) #ipv4", "750:propagates posted health info #ipv4",
		"704:does not perform health checks when disabled (#3304) #ipv6", "750:propagates posted health info #ipv6",
		"704:does not perform health checks when disabled (#3304) #hostname", "750:propagates posted health info #hostname"),
	hcCases("787", "created via the API are functional", func(t *testing.T, g *GW, host string) {
		s := newHCServer(t, host, false)
		hcAPI(t, g, hcConfig(nil), []*hcServer{s}, nil, nil)
		oks, fails, last := hcRequests(t, g, 1)
		if last != 200 || oks != 1 || fails != 0 {
			t.Errorf("oks %d fails %d last %d", oks, fails, last)
		}
		if ok, fail := s.take(); ok != 1 || fail != 0 {
			t.Errorf("server ok %d fail %d", ok, fail)
		}
	}),
	hcCases("1077", "do not count Kong-generated errors as failures", func(t *testing.T, g *GW, host string) {
		// Kong's fail-once-auth fixture answers the first request 401; here
		// key-auth answers a request without a key 401, then requests carry one.
		s1, s2 := newHCServer(t, host, false), newHCServer(t, host, false)
		hcAPI(t, g, hcConfig(obj{"passive": obj{"healthy": obj{"successes": 1},
			"unhealthy": obj{"http_statuses": arr{401, 500}, "http_failures": 1, "tcp_failures": 1, "timeouts": 1}}}),
			[]*hcServer{s1, s2}, nil, obj{"connect_timeout": 50})
		g.mustDo(t, Step{Method: "POST", Path: "/services/hc/plugins", Body: obj{"name": "key-auth"}})
		g.mustDo(t, Step{Method: "POST", Path: "/consumers", Body: obj{"username": "c"}})
		g.mustDo(t, Step{Method: "POST", Path: "/consumers/c/key-auth", Body: obj{"key": "k"}})
		if oks, fails, last := hcRequests(t, g, 1); oks != 0 || fails != 1 || last != 401 {
			t.Errorf("first request: oks %d fails %d last %d, want one 401", oks, fails, last)
		}
		oks, fails, last := hcRequests(t, g, 20, "apikey", "k")
		if last != 200 || oks == 0 || fails != 0 {
			t.Errorf("then: oks %d fails %d last %d", oks, fails, last)
		}
		ok1, fail1 := s1.take()
		ok2, fail2 := s2.take()
		if ok1 == 0 || ok2 == 0 || fail1 != 0 || fail2 != 0 {
			t.Errorf("both targets must stay in use: server1 %d/%d, server2 %d/%d", ok1, fail1, ok2, fail2)
		}
	}),
	hcCases("1140", "perform passive health checks", func(t *testing.T, g *GW, host string) {
		for nfails := 1; nfails <= 3; nfails++ {
			t.Run(fmt.Sprint("nfails=", nfails), func(t *testing.T) {
				g.Do(t, Step{Method: "DELETE", Path: "/services/hc"})
				g.Do(t, Step{Method: "DELETE", Path: "/upstreams/hc-up"})
				s1, s2 := newHCServer(t, host, false), newHCServer(t, host, false)
				hcAPI(t, g, hcConfig(obj{"passive": obj{"unhealthy": obj{"http_failures": nfails}}}), []*hcServer{s1, s2}, nil, nil)
				const requests = 20
				server2oks := requests / 4
				server1oks := requests - server2oks
				oks1, fails1, _ := hcRequests(t, g, 10)
				s2.unhealthy.Store(true)
				oks2, fails2, _ := hcRequests(t, g, 10)
				ok1, fail1 := s1.take()
				ok2, fail2 := s2.take()
				if !near(server1oks, ok1, acceptedLBVar) || !near(server2oks, ok2, acceptedLBVar) || fail1 != 0 ||
					!near(nfails, fail2, acceptedLBVar) || oks1+oks2 != requests-nfails || fails1+fails2 != nfails {
					t.Errorf("server1 %d ok/%d fail (want ~%d ok), server2 %d ok/%d fail (want ~%d ok, %d fail); client %d ok, %d fail",
						ok1, fail1, server1oks, ok2, fail2, server2oks, nfails, oks1+oks2, fails1+fails2)
				}
			})
		}
	}),
	hcCases("1525", "perform active health checks -- up then down", func(t *testing.T, g *GW, host string) {
		for nfails := 1; nfails <= 3; nfails++ {
			t.Run(fmt.Sprint("nfails=", nfails), func(t *testing.T) {
				g.Do(t, Step{Method: "DELETE", Path: "/services/hc"})
				g.Do(t, Step{Method: "DELETE", Path: "/upstreams/hc-up"})
				const requests = 20
				server2oks := requests / 4
				s1, s2 := newHCServer(t, host, false), newHCServer(t, host, false)
				hcAPI(t, g, hcConfig(obj{"active": obj{"http_path": "/status",
					"healthy":   obj{"interval": 1, "successes": 1},
					"unhealthy": obj{"interval": 1, "http_failures": nfails}}}),
					[]*hcServer{s1, s2}, nil, obj{"connect_timeout": 50})
				oks, fails, _ := hcRequests(t, g, server2oks*2)
				s2.unhealthy.Store(true)
				waitHealth(t, g, s2.addr, "UNHEALTHY")
				o, f, _ := hcRequests(t, g, requests-server2oks*2)
				oks, fails = oks+o, fails+f
				ok1, fail1 := s1.take()
				ok2, fail2 := s2.take()
				if ok1 != requests-server2oks || ok2 != server2oks || fail1 != 0 || fail2 != 0 || oks != requests || fails != 0 {
					t.Errorf("server1 %d/%d, server2 %d/%d (want %d/0, %d/0); client %d ok %d fail",
						ok1, fail1, ok2, fail2, requests-server2oks, server2oks, oks, fails)
				}
			})
		}
	}),
	activeRecoveryCases("http"),
	activeRecoveryCases("https"),
	hcCases("2082", "perform passive health checks -- manual recovery", func(t *testing.T, g *GW, host string) {
		s1, s2 := newHCServer(t, host, false), newHCServer(t, host, false)
		hcAPI(t, g, hcConfig(obj{"passive": obj{"unhealthy": obj{"http_failures": 1}}}), []*hcServer{s1, s2}, []int{100, 1}, nil)
		const requests = 100
		hcRequests(t, g, requests)
		if ok, _ := s1.take(); !near(requests, ok, 0.05) {
			t.Errorf("before: server1 answered %d of %d", ok, requests)
		}
		s2.take()
		s1.unhealthy.Store(true)
		hcRequests(t, g, requests) // the first 500 marks server1 unhealthy
		s2.take()
		hcRequests(t, g, requests)
		if ok, _ := s2.take(); !near(requests, ok, 0.05) {
			t.Errorf("server1 down: server2 answered %d of %d", ok, requests)
		}
		s1.unhealthy.Store(false)
		g.mustDo(t, Step{Method: "PUT", Path: "/upstreams/hc-up/targets/" + s1.addr + "/healthy", Status: 204})
		waitHealth(t, g, s1.addr, "HEALTHY")
		s1.take()
		hcRequests(t, g, requests)
		if ok, _ := s1.take(); !near(requests, ok, 0.05) {
			t.Errorf("after manual recovery: server1 answered %d of %d", ok, requests)
		}
	}),
	hcCases("2149", "perform passive health checks -- manual shutdown", func(t *testing.T, g *GW, host string) {
		s1, s2 := newHCServer(t, host, false), newHCServer(t, host, false)
		hcAPI(t, g, hcConfig(obj{"passive": obj{"unhealthy": obj{"http_failures": 1}}}), []*hcServer{s1, s2}, nil, nil)
		oks, fails, _ := hcRequests(t, g, 10)
		// Kong marks the target's address (…/targets/{t}/{address}/unhealthy);
		// a target here has one address, marked through the target.
		g.mustDo(t, Step{Method: "PUT", Path: "/upstreams/hc-up/targets/" + s2.addr + "/unhealthy", Status: 204})
		waitHealth(t, g, s2.addr, "UNHEALTHY")
		o, f, _ := hcRequests(t, g, 10)
		oks, fails = oks+o, fails+f
		g.mustDo(t, Step{Method: "PUT", Path: "/upstreams/hc-up/targets/" + s2.addr + "/healthy", Status: 204})
		waitHealth(t, g, s2.addr, "HEALTHY")
		o, f, _ = hcRequests(t, g, 10)
		oks, fails = oks+o, fails+f
		ok1, fail1 := s1.take()
		ok2, fail2 := s2.take()
		if ok1 != 20 || ok2 != 10 || fail1 != 0 || fail2 != 0 || oks != 30 || fails != 0 {
			t.Errorf("server1 %d/%d (want 20/0), server2 %d/%d (want 10/0); client %d ok %d fail", ok1, fail1, ok2, fail2, oks, fails)
		}
	}),
)

var proxyHealthCases2 = rows(
	hcCases("828", "properly set the host header", func(t *testing.T, g *GW, host string) {
		s := newHCServer(t, host, false)
		s.expectHost = host
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "hc-up", "slots": 10, "host_header": host}})
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams/hc-up/targets", Body: obj{"target": s.addr, "weight": 10}})
		g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "hc", "host": "hc-up", "port": 80}})
		g.mustDo(t, Step{Method: "POST", Path: "/services/hc/routes", Body: obj{"hosts": arr{"hc.test"}, "paths": arr{"/"}}})
		oks, fails, last := hcRequests(t, g, 5)
		ok, fail := s.take()
		if last != 200 || oks != 5 || fails != 0 || ok != 5 || fail != 0 {
			t.Errorf("client %d ok %d fail (last %d); server %d ok %d fail", oks, fails, last, ok, fail)
		}
	}),
	Case{
		Spec: specHC + ":850", Name: "fail with wrong host header #hostname",
		Run: func(t *testing.T, g *GW) {
			s := newHCServer(t, "127.0.0.1", false)
			s.expectHost = "127.0.0.1"
			_, port, _ := net.SplitHostPort(s.addr)
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "hc-up", "slots": 10, "host_header": "localhost"}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/hc-up/targets", Body: obj{"target": "localhost:" + port, "weight": 10}})
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "hc", "host": "hc-up", "port": 80, "connect_timeout": 100}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/hc/routes", Body: obj{"hosts": arr{"hc.test"}, "paths": arr{"/"}}})
			oks, fails, last := hcRequests(t, g, 5)
			ok, fail := s.take()
			if last != 400 || oks != 0 || fails != 5 || ok != 0 || fail != 0 {
				t.Errorf("client %d ok %d fail (last %d); server %d ok %d fail", oks, fails, last, ok, fail)
			}
		},
	},
	hcCases("2004", "perform active health checks -- can detect before any proxy traffic", func(t *testing.T, g *GW, host string) {
		// Kong restarts here so that no request preceded the checks; a
		// gateway applies the configuration at once: no request is sent
		// before the target is seen unhealthy either.
		s1, s2 := newHCServer(t, host, false), newHCServer(t, host, false)
		s2.unhealthy.Store(true)
		hcAPI(t, g, hcConfig(obj{"active": obj{"http_path": "/status",
			"healthy":   obj{"interval": 1, "successes": 1},
			"unhealthy": obj{"interval": 1, "http_failures": 2, "tcp_failures": 2}}}), []*hcServer{s1, s2}, nil, nil)
		waitHealth(t, g, s2.addr, "UNHEALTHY")
		oks, fails, _ := hcRequests(t, g, 20)
		ok1, fail1 := s1.take()
		ok2, fail2 := s2.take()
		if ok1 != 20 || ok2 != 0 || fail1 != 0 || fail2 != 0 || oks != 20 || fails != 0 {
			t.Errorf("server1 %d/%d (want 20/0), server2 %d/%d (want 0/0); client %d ok %d fail", ok1, fail1, ok2, fail2, oks, fails)
		}
	}),
	hcCases("2227", "perform passive health checks -- connection #timeouts", func(t *testing.T, g *GW, host string) {
		s1, s2 := newHCServer(t, host, false), newHCServer(t, host, false)
		hcAPI(t, g, hcConfig(obj{"passive": obj{"unhealthy": obj{"timeouts": 1}}}), []*hcServer{s1, s2}, nil,
			obj{"read_timeout": 2000, "write_timeout": 2000})
		oks, fails, _ := hcRequests(t, g, 10)
		s2.timeouts.Store(1)
		o, f, _ := hcRequests(t, g, 10)
		oks, fails = oks+o, fails+f
		ok1, fail1 := s1.take()
		ok2, fail2 := s2.take()
		if ok1 != 15 || ok2 != 5 || fail1 != 0 || fail2 != 1 || oks != 20 || fails != 0 {
			t.Errorf("server1 %d/%d (want 15/0), server2 %d/%d (want 5/1); client %d ok %d fail", ok1, fail1, ok2, fail2, oks, fails)
		}
	}),
	hcCases("2293", "#db perform passive health checks -- send #timeouts", func(t *testing.T, g *GW, host string) {
		s1 := newHCServer(t, host, false)
		hcAPI(t, g, hcConfig(obj{"passive": obj{"unhealthy": obj{"http_failures": 0, "timeouts": 1, "tcp_failures": 0}}}),
			[]*hcServer{s1}, nil, obj{"read_timeout": 2000, "write_timeout": 2000, "retries": 0})
		s1.timeouts.Store(-1)
		if _, _, last := hcRequests(t, g, 1); last != 504 {
			t.Fatalf("a stalled target: status %d, want 504", last)
		}
		g.mustDo(t, Step{Method: "PATCH", Path: "/services/hc", Body: obj{"read_timeout": 60000}, Status: 200})
		s2 := newHCServer(t, host, false)
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams/hc-up/targets", Body: obj{"target": s2.addr, "weight": 10}})
		_, _, last := hcRequests(t, g, 10)
		ok2, fail2 := s2.take()
		if last != 200 || ok2 != 10 || fail2 != 0 {
			t.Errorf("last status %d; server2 %d ok %d fail, want 10/0", last, ok2, fail2)
		}
	}),
	skipped(specHC, skipDNSMock, "1364:threshold for health checks"),
	hcCases("873", "#db can have their config partially updated", func(t *testing.T, g *GW, host string) {
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "hc-up", "slots": 10}})
		g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/hc-up", Status: 200, Body: obj{"healthchecks": obj{"active": obj{"http_path": "/status",
			"healthy": obj{"interval": 0, "successes": 1}, "unhealthy": obj{"interval": 0, "http_failures": 1}}}}})
		updated := obj{
			"active": obj{"type": "http", "concurrency": 10, "http_path": "/status", "https_sni": nil, "https_verify_certificate": true,
				"headers": nil, "timeout": 1,
				"healthy":   obj{"http_statuses": arr{200, 302}, "interval": 0, "successes": 1},
				"unhealthy": obj{"http_failures": 1, "http_statuses": arr{429, 404, 500, 501, 502, 503, 504, 505}, "interval": 0, "tcp_failures": 0, "timeouts": 0}},
			"passive": obj{"type": "http",
				"healthy":   obj{"http_statuses": arr{200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308}, "successes": 0},
				"unhealthy": obj{"http_failures": 0, "http_statuses": arr{429, 500, 503}, "tcp_failures": 0, "timeouts": 0}},
			"threshold": 0,
		}
		g.mustDo(t, Step{Path: "/upstreams/hc-up", Status: 200, JSON: obj{"healthchecks": updated}})
	}),
	hcCases("943", "#db can be renamed without producing stale cache", func(t *testing.T, g *GW, host string) {
		var servers []*hcServer
		for i := 1; i <= 2; i++ {
			srv := newHCServer(t, host, false)
			servers = append(servers, srv)
			up := fmt.Sprintf("up%d", i)
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": up, "slots": 10, "healthchecks": hcConfig(nil)}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/" + up + "/targets", Body: obj{"target": srv.addr, "weight": 10}})
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": up, "host": up, "port": 80}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/" + up + "/routes", Body: obj{"hosts": arr{up + ".test"}, "paths": arr{"/"}}})
		}
		g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/up2", Body: obj{"name": "up2_new"}, Status: 200})
		g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/up1", Body: obj{"name": "up2"}, Status: 200})
		// up2.test's service names host up2: now upstream 1, server 1.
		g.mustDo(t, Step{To: Proxy, Path: "/", Host: "up2.test", Status: 200})
		g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/up2_new", Body: obj{"name": "up1"}, Status: 200})
		g.mustDo(t, Step{To: Proxy, Path: "/", Host: "up1.test", Status: 200})
		ok1, fail1 := servers[0].take()
		ok2, fail2 := servers[1].take()
		if ok1 != 1 || fail1 != 0 || ok2 != 1 || fail2 != 0 {
			t.Errorf("server1 %d/%d, server2 %d/%d, want 1/0 each", ok1, fail1, ok2, fail2)
		}
	}),
	hcCases("1005", "#db do not leave a stale healthchecker when renamed", func(t *testing.T, g *GW, host string) {
		s1 := newHCServer(t, host, false)
		hcAPI(t, g, hcConfig(obj{"active": obj{"http_path": "/status",
			"healthy": obj{"interval": 1, "successes": 1}, "unhealthy": obj{"interval": 1, "http_failures": 1}}}), []*hcServer{s1}, nil, nil)
		g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/hc-up", Body: obj{"name": "hc-up_new"}, Status: 200})
		g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/hc-up_new", Status: 200, Body: obj{"healthchecks": obj{"active": obj{"http_path": "/status",
			"healthy": obj{"interval": 0, "successes": 1}, "unhealthy": obj{"interval": 0, "http_failures": 1}}}}})
		s1.checks.Store(0)
		time.Sleep(3 * time.Second) // time for a stale checker to (not!) run
		g.mustDo(t, Step{Method: "PATCH", Path: "/services/hc", Body: obj{"url": "http://hc-up_new"}, Status: 200})
		ok, fail := s1.take()
		if ok != 0 || fail != 0 || s1.checks.Load() >= 2 {
			t.Errorf("server %d ok %d fail, %d health checks after the rename; want none", ok, fail, s1.checks.Load())
		}
	}),
	Case{Spec: specHC + ":2389", Name: "passive healthcheck", Run: consistentPassive},
	hcCases("2511", "active healthcheck", consistentActive),
	skipped(specHC, skipPreFunction, "1210:perform passive health checks in downstream status code was changed #ipv4",
		"1210:perform passive health checks in downstream status code was changed #ipv6",
		"1210:perform passive health checks in downstream status code was changed #hostname",
		"1292:#flaky perform passive health checks in downstream status code was changed with subrequest #ipv4",
		"1292:#flaky perform passive health checks in downstream status code was changed with subrequest #ipv6",
		"1292:#flaky perform passive health checks in downstream status code was changed with subrequest #hostname"),
	skipped(specHC, skipGRPC, "807:created via the API are functional #grpc #ipv4", "807:created via the API are functional #grpc #ipv6",
		"807:created via the API are functional #grpc #hostname"),
	skipped(specHC, skipDNSMock, "1600:perform active health checks with upstream hostname #hostname",
		"1774:perform active health checks on a target that resolves to multiple addresses -- automatic recovery #http",
		"1774:perform active health checks on a target that resolves to multiple addresses -- automatic recovery #https",
		"1893:perform active health checks on targets that resolve to the same IP -- automatic recovery #http",
		"1893:perform active health checks on targets that resolve to the same IP -- automatic recovery #https"),
	skipped(specHC, skipStreamRoute, "2626:stream modules and http modules do not duplicate active health checks",
		"2676:perform passive health checks -- stream connection failure", "2735:#db perform active health checks -- automatic recovery"),
)

var _ = register("proxy-healthchecks-2", proxyHealthCases2)

// The "Consistent-hashing" describe (line 2351): an upstream hashing on a
// header (hash_on alone, Kong's shorthand for the consistent-hashing
// algorithm), three targets, and bu.get_balancer_health's view of each
// target's address.

// hashUpstream creates upstream hc-up hashing on header hashme with hc, one
// target per server, and a service on it for host hc.test (bu.add_upstream,
// bu.add_target, bu.add_api).
func hashUpstream(t *testing.T, g *GW, hc obj, servers ...*hcServer) {
	t.Helper()
	g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "hc-up", "slots": 10,
		"hash_on": "header", "hash_on_header": "hashme", "healthchecks": hc}})
	for _, s := range servers {
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams/hc-up/targets", Body: obj{"target": s.addr, "weight": 10}})
	}
	g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "hc", "host": "hc-up", "port": 80, "protocol": "http"}})
	g.mustDo(t, Step{Method: "POST", Path: "/services/hc/routes", Body: obj{"hosts": arr{"hc.test"}, "paths": arr{"/"}}})
}

// balancerHealth is bu.get_balancer_health for hc-up: data.health and, per
// target port in data.details.hosts, its first address's "healthy".
func balancerHealth(t *testing.T, g *GW) (health any, healthy map[int]any) {
	t.Helper()
	r := g.mustDo(t, Step{Path: "/upstreams/hc-up/health?balancer_health=1", Status: 200})
	health, _ = r.Get("data.health")
	hosts, ok := r.Get("data.details.hosts")
	list, isList := hosts.([]any)
	if !ok || !isList {
		t.Fatalf("no data.details.hosts list: %s", trim(r.Body))
	}
	healthy = map[int]any{}
	for _, h := range list {
		port, _ := lookup(h, "port")
		p, _ := port.(float64)
		v, found := lookup(h, "addresses.0.healthy")
		if !found {
			t.Fatalf("host %s has no addresses.0.healthy: %s", show(h), trim(r.Body))
		}
		healthy[int(p)] = v
	}
	return health, healthy
}

func portOf(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("port of %q", addr)
	}
	return n
}

// consistentPassive is "passive healthcheck" (line 2389). Kong's targets
// name consistent.hashing.test, which its DNS mock answers with 127.0.0.1;
// here they name localhost, which the hosts file answers the same way.
// Kong shuts every server down after the first round and restarts all
// but the one the hash chose; here the others simply keep running.
func consistentPassive(t *testing.T, g *GW) {
	const total = 9
	servers := []*hcServer{newHCServer(t, "localhost", false), newHCServer(t, "localhost", false), newHCServer(t, "localhost", false)}
	hashUpstream(t, g, hcConfig(obj{"passive": obj{"type": "http",
		"healthy": obj{"successes": 1}, "unhealthy": obj{"http_failures": 1}}}), servers...)

	hcRequests(t, g, total, "hashme", "just a value")
	var counts [3]int
	hit := -1
	for i, s := range servers {
		ok, fail := s.take()
		counts[i] = ok + fail
		if counts[i] != 0 && counts[i] != total {
			t.Errorf("server%d got %d requests, want 0 or all %d", i+1, counts[i], total)
		}
		if counts[i] != 0 {
			hit = i
		}
	}
	if counts[0] == counts[1] && counts[1] == counts[2] || hit < 0 {
		t.Fatalf("requests per server %v: the hash should send all to one", counts)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if h, _ := balancerHealth(t, g); h == "HEALTHY" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("balancer health %v, want HEALTHY", h)
		}
		time.Sleep(100 * time.Millisecond)
	}

	servers[hit].close()
	hcRequests(t, g, total, "hashme", "just a value")

	// the server that received the first round's requests is unhealthy
	// now; the upstream is healthy anyway
	port := portOf(t, servers[hit].addr)
	var health any
	var healthy map[int]any
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		health, healthy = balancerHealth(t, g)
		if healthy[port] == false || time.Now().After(deadline) {
			break
		}
	}
	if v, ok := healthy[port]; !ok || v != false {
		t.Errorf("server%d (port %d): addresses[1].healthy = %v, want false (hosts %v)", hit+1, port, v, healthy)
	}
	if health != "HEALTHY" {
		t.Errorf("balancer health %v, want HEALTHY", health)
	}
}

// consistentActive is "active healthcheck #<mode>" (line 2511).
func consistentActive(t *testing.T, g *GW, host string) {
	const interval = 1 // bu.HEALTHCHECK_INTERVAL
	s1, s2, s3 := newHCServer(t, host, false), newHCServer(t, host, false), newHCServer(t, host, false)
	hashUpstream(t, g, hcConfig(obj{"active": obj{"type": "http", "http_path": "/status",
		"healthy":   obj{"interval": interval, "successes": 1},
		"unhealthy": obj{"interval": interval, "http_failures": 1}}}), s1, s2, s3)

	time.Sleep(3 * interval * time.Second)
	allHealth, allHealthy := balancerHealth(t, g)

	s3.unhealthy.Store(true) // the fixture's /unhealthy

	// wait for the active health check to run (Kong sleeps 3 intervals;
	// this polls up to 15s for the same outcome)
	p1, p2, p3 := portOf(t, s1.addr), portOf(t, s2.addr), portOf(t, s3.addr)
	var health any
	var healthy map[int]any
	time.Sleep(3 * interval * time.Second)
	for deadline := time.Now().Add(12 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		health, healthy = balancerHealth(t, g)
		if healthy[p3] == false || time.Now().After(deadline) {
			break
		}
	}
	s1.close()
	s2.close()
	s3.close()

	for i, s := range []*hcServer{s1, s2, s3} {
		checks, fails := s.checks.Load(), s.checkFails.Load()
		if checks-fails <= 0 {
			t.Errorf("server%d should receive active health checks (status_ok %d)", i+1, checks-fails)
		}
		if i < 2 && fails != 0 {
			t.Errorf("server%d should not fail on active health checks (status_fail %d)", i+1, fails)
		}
		if i == 2 && fails <= 0 {
			t.Errorf("server3 should fail active health checks (status_fail %d)", fails)
		}
	}

	// all servers healthy on the first read, and the upstream too
	if len(allHealthy) != 3 {
		t.Errorf("first read: hosts %v, want the 3 targets", allHealthy)
	}
	for port, v := range allHealthy {
		if v != true {
			t.Errorf("first read: port %d healthy = %v, want true", port, v)
		}
	}
	if allHealth != "HEALTHY" {
		t.Errorf("first read: balancer health %v, want HEALTHY", allHealth)
	}
	// servers 1 and 2 healthy, server 3 unhealthy; the upstream healthy anyway
	for port, want := range map[int]bool{p1: true, p2: true, p3: false} {
		if v, ok := healthy[port]; !ok || v != want {
			t.Errorf("second read: port %d healthy = %v, want %v (hosts %v)", port, v, want, healthy)
		}
	}
	if health != "HEALTHY" {
		t.Errorf("second read: balancer health %v, want HEALTHY", health)
	}
}

// activeRecoveryCases is "perform active health checks -- automatic
// recovery #<protocol>" (line 1672), for nchecks 1 and 3.
func activeRecoveryCases(protocol string) []Case {
	return hcCases("1672", "perform active health checks -- automatic recovery #"+protocol, func(t *testing.T, g *GW, host string) {
		for _, nchecks := range []int{1, 3} {
			t.Run(fmt.Sprint("nchecks=", nchecks), func(t *testing.T) {
				g.Do(t, Step{Method: "DELETE", Path: "/services/hc"})
				g.Do(t, Step{Method: "DELETE", Path: "/upstreams/hc-up"})
				tlsOn := protocol == "https"
				s1, s2 := newHCServer(t, host, tlsOn), newHCServer(t, host, tlsOn)
				hcAPI(t, g, hcConfig(obj{"active": obj{"type": protocol, "http_path": "/status", "https_verify_certificate": false,
					"healthy":   obj{"interval": 1, "successes": nchecks},
					"unhealthy": obj{"interval": 1, "http_failures": nchecks}}}),
					[]*hcServer{s1, s2}, nil, obj{"protocol": protocol, "port": map[bool]int{true: 443, false: 80}[tlsOn]})
				waitHealth(t, g, s1.addr, "HEALTHY")
				waitHealth(t, g, s2.addr, "HEALTHY")
				oks, fails, _ := hcRequests(t, g, 10)
				s2.unhealthy.Store(true)
				waitHealth(t, g, s2.addr, "UNHEALTHY")
				o, f, _ := hcRequests(t, g, 10)
				oks, fails = oks+o, fails+f
				s2.unhealthy.Store(false)
				waitHealth(t, g, s2.addr, "HEALTHY")
				o, f, _ = hcRequests(t, g, 10)
				oks, fails = oks+o, fails+f
				ok1, fail1 := s1.take()
				ok2, fail2 := s2.take()
				if ok1 != 20 || ok2 != 10 || fail1 != 0 || fail2 != 0 || oks != 30 || fails != 0 {
					t.Errorf("server1 %d/%d (want 20/0), server2 %d/%d (want 10/0); client %d ok %d fail", ok1, fail1, ok2, fail2, oks, fails)
				}
			})
		}
	})
}

var _ = tls.VersionTLS12
var _ = strings.TrimSpace
