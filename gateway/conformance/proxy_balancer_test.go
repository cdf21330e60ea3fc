package conformance

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Kong 3.9 spec/02-integration/05-proxy/10-balancer: round-robin balancing
// over targets (04-round-robin) and the Host of a retried request
// (05-recreate-request). Kong runs 04-round-robin once per
// worker_consistency (strict, eventual); the gateway has one consistency
// (a configuration change is applied before the Admin API answers), so each
// it is one row. Targets are 127.0.0.1 (Kong's ipv4 localhost) and
// "localhost" (hostname); ipv6 needs [::1] on the host.

const specRR = "spec/02-integration/05-proxy/10-balancer/04-round-robin_spec.lua"

var _ = register("proxy-balancer", proxyBalancerCases)

// countServer is Kong's https_server fixture: an upstream that counts the
// requests it answered.
type countServer struct {
	addr string
	n    atomic.Int64
}

func newCountServer(t *testing.T, host string) *countServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("listen on %s: %v", host, err)
	}
	cs := &countServer{addr: ln.Addr().String()}
	if host == "localhost" {
		_, port, _ := net.SplitHostPort(cs.addr)
		cs.addr = "localhost:" + port
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.n.Add(1)
		fmt.Fprintf(w, "host is: %s", r.Host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return cs
}

// take returns the count and resets it (https_server:shutdown()).
func (cs *countServer) take() int { return int(cs.n.Swap(0)) }

// balancerAPI is bu.add_upstream (slots 10) plus bu.add_api: a service on the
// upstream and a route for host rr.test; one target per server and weight.
func balancerAPI(t *testing.T, g *GW, servers []*countServer, weights []int) {
	g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "rr-up", "slots": 10}})
	for i, s := range servers {
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams/rr-up/targets", Body: obj{"target": s.addr, "weight": weights[i]}})
	}
	g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "rr", "host": "rr-up", "port": 80, "protocol": "http"}})
	g.mustDo(t, Step{Method: "POST", Path: "/services/rr/routes", Body: obj{"hosts": arr{"rr.test"},
		"paths": arr{"/", "~/(?<namespace>[^/]+)/(?<id>[0-9]+)/?"}}})
}

// clientRequests is bu.client_requests: n sequential GETs, the 200s and the
// last status.
func clientRequests(t *testing.T, g *GW, n int) (oks, last int) {
	c := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("GET", g.ProxyURL+"/", nil)
		req.Host = "rr.test"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		last = resp.StatusCode
		if last == 200 {
			oks++
		}
	}
	return oks, last
}

func setWeight(t *testing.T, g *GW, s *countServer, w int) {
	g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/rr-up/targets/" + s.addr, Body: obj{"weight": w}, Status: 200})
}

func expectCounts(t *testing.T, phase string, servers []*countServer, want ...int) {
	t.Helper()
	for i, s := range servers {
		if got := s.take(); got != want[i] {
			t.Errorf("%s: server %d answered %d requests, want %d", phase, i+1, got, want[i])
		}
	}
}

const rrRequests = 20 // bu.SLOTS * 2: round the balancer twice

var proxyBalancerCases = rows(
	Case{
		Spec: specRR + ":79", Name: "over multiple targets",
		Run: func(t *testing.T, g *GW) {
			s := []*countServer{newCountServer(t, "127.0.0.1"), newCountServer(t, "127.0.0.1")}
			balancerAPI(t, g, s, []int{10, 10})
			if oks, _ := clientRequests(t, g, rrRequests); oks != rrRequests {
				t.Errorf("%d of %d requests succeeded", oks, rrRequests)
			}
			expectCounts(t, "balanced", s, rrRequests/2, rrRequests/2)
		},
	},
	Case{
		Spec: specRR + ":109", Name: "adding a target",
		Run: func(t *testing.T, g *GW) {
			s := []*countServer{newCountServer(t, "127.0.0.1"), newCountServer(t, "127.0.0.1")}
			balancerAPI(t, g, s, []int{10, 10})
			clientRequests(t, g, rrRequests)
			expectCounts(t, "before", s, rrRequests/2, rrRequests/2)
			s3 := newCountServer(t, "127.0.0.1")
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/rr-up/targets", Body: obj{"target": s3.addr, "weight": 5}})
			if oks, _ := clientRequests(t, g, rrRequests); oks != rrRequests {
				t.Errorf("%d of %d requests succeeded", oks, rrRequests)
			}
			expectCounts(t, "after adding a target of weight 5", append(s, s3), rrRequests*4/10, rrRequests*4/10, rrRequests*2/10)
		},
	},
	Case{
		Spec: specRR + ":173", Name: "removing a target #db",
		Run: func(t *testing.T, g *GW) {
			s := []*countServer{newCountServer(t, "127.0.0.1"), newCountServer(t, "127.0.0.1")}
			balancerAPI(t, g, s, []int{10, 10})
			clientRequests(t, g, rrRequests)
			expectCounts(t, "before", s, rrRequests/2, rrRequests/2)
			setWeight(t, g, s[1], 0)
			if oks, _ := clientRequests(t, g, rrRequests); oks != rrRequests {
				t.Errorf("%d of %d requests succeeded", oks, rrRequests)
			}
			expectCounts(t, "target 2 at weight 0", s, rrRequests, 0)
		},
	},
	Case{
		Spec: specRR + ":226", Name: "modifying target weight #db",
		Run: func(t *testing.T, g *GW) {
			s := []*countServer{newCountServer(t, "127.0.0.1"), newCountServer(t, "127.0.0.1")}
			balancerAPI(t, g, s, []int{10, 10})
			clientRequests(t, g, rrRequests)
			expectCounts(t, "before", s, rrRequests/2, rrRequests/2)
			setWeight(t, g, s[1], 15)
			if oks, _ := clientRequests(t, g, rrRequests); oks != rrRequests {
				t.Errorf("%d of %d requests succeeded", oks, rrRequests)
			}
			expectCounts(t, "40/60", s, rrRequests*4/10, rrRequests*6/10)
		},
	},
	Case{
		Spec: specRR + ":283", Name: "failure due to targets all 0 weight #db",
		Run: func(t *testing.T, g *GW) {
			s := []*countServer{newCountServer(t, "127.0.0.1"), newCountServer(t, "127.0.0.1")}
			balancerAPI(t, g, s, []int{10, 10})
			clientRequests(t, g, rrRequests)
			expectCounts(t, "before", s, rrRequests/2, rrRequests/2)
			setWeight(t, g, s[0], 0)
			setWeight(t, g, s[1], 0)
			if _, last := clientRequests(t, g, 1); last != 503 {
				t.Errorf("all targets at weight 0: status %d, want 503", last)
			}
		},
	},
	Case{
		Spec: specRR + ":328", Name: "failure due to targets all 0 weight #off", DBLess: true,
		Run: func(t *testing.T, g *GW) {
			s1, s2 := newCountServer(t, "127.0.0.1"), newCountServer(t, "127.0.0.1")
			cfg := fmt.Sprintf("_format_version: \"3.0\"\nupstreams:\n- name: rr-up\n  slots: 10\n  targets:\n  - target: %s\n    weight: 0\n  - target: %s\n    weight: 0\n"+
				"services:\n- name: rr\n  host: rr-up\n  port: 80\n  routes:\n  - hosts: [rr.test]\n    paths: [\"/\"]\n", s1.addr, s2.addr)
			g.mustDo(t, Step{Method: "POST", Path: "/config", Body: obj{"config": cfg}, Status: 201})
			if _, last := clientRequests(t, g, 1); last != 503 {
				t.Errorf("status %d, want 503", last)
			}
		},
	},
	Case{
		Spec: specRR + ":374", Name: "failure due to no targets",
		Run: func(t *testing.T, g *GW) {
			balancerAPI(t, g, nil, nil)
			if _, last := clientRequests(t, g, 1); last != 503 {
				t.Errorf("status %d, want 503", last)
			}
		},
	},
	sameTargetCase("ipv4", "127.0.0.1"),
	sameTargetCase("hostname", "localhost"),
	sameTargetCase("ipv6", "::1"),

	// 05-recreate-request_spec.lua
	recreateCase("76", "balancer retry updates Host header in request buffer", false),
	recreateCase("106", "balancer retry doesn't update Host if preserve_host is true", true),
)

// sameTargetCase is "removing and adding the same target #db #<mode>", one
// it per bu.localhosts entry.
func sameTargetCase(mode, host string) Case {
	return Case{
		Spec: specRR + ":385", Name: "removing and adding the same target #db #" + mode,
		Run: func(t *testing.T, g *GW) {
			s := newCountServer(t, host)
			balancerAPI(t, g, []*countServer{s}, []int{100})
			const requests = 20
			if oks, _ := clientRequests(t, g, requests); oks != requests || s.take() != requests {
				t.Errorf("weight 100: want all %d requests answered by the target", requests)
			}
			setWeight(t, g, s, 0)
			if oks, _ := clientRequests(t, g, requests); oks != 0 || s.take() != 0 {
				t.Errorf("weight 0: want no request answered")
			}
			setWeight(t, g, s, 100)
			if oks, _ := clientRequests(t, g, requests); oks != requests || s.take() != requests {
				t.Errorf("weight 100 again: want all %d requests answered by the target", requests)
			}
		},
	}
}

// recreateCase: the first target never answers within read_timeout; the
// retry to the second must carry the second target's Host, or the client's
// with preserve_host.
func recreateCase(line, name string, preserve bool) Case {
	return Case{
		Spec: "spec/02-integration/05-proxy/10-balancer/05-recreate-request_spec.lua:" + line, Name: name,
		Run: func(t *testing.T, g *GW) {
			slow := silentUpstream(t)
			_, slowPort, _ := net.SplitHostPort(slow)
			good := newCountServer(t, "localhost")
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "rr-up", "slots": 10, "algorithm": "round-robin"}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/rr-up/targets", Body: obj{"target": "localhost:" + slowPort}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/rr-up/targets", Body: obj{"target": good.addr}})
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "recreate", "url": "http://rr-up", "read_timeout": 500}})
			route := obj{"paths": arr{"/"}}
			want := "host is: " + good.addr
			host := ""
			if preserve {
				route = obj{"paths": arr{"/"}, "preserve_host": true, "hosts": arr{"test.test"}}
				want, host = "host is: test.test", "test.test"
			}
			g.mustDo(t, Step{Method: "POST", Path: "/services/recreate/routes", Body: route})
			// Kong waits until a request lands on the slow target first; two
			// requests cover both orders of the round-robin.
			for i := 0; i < 2; i++ {
				r := g.mustDo(t, Step{To: Proxy, Path: "/recreate_test", Host: host, Status: 200})
				if got := strings.TrimSpace(string(r.Body)); got != want {
					t.Errorf("request %d: upstream saw %q, want %q", i, got, want)
				}
			}
		},
	}
}
