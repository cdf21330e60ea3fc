package conformance

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Kong 3.9 spec/02-integration/05-proxy/10-balancer/02-least-connections_spec.lua.

const specLC = "spec/02-integration/05-proxy/10-balancer/02-least-connections_spec.lua"

var _ = register("proxy-least-connections", proxyLCCases)

// delayServer answers 200 after delay and counts its answers (https_server
// with a delay).
func delayServer(t *testing.T, delay time.Duration) (addr string, n *atomic.Int64) {
	n = new(atomic.Int64)
	addr = upstream(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		n.Add(1)
	})
	return addr, n
}

// lcTargetsAddRemove is the two "add and remove targets" cases: a target
// added to a least-connections upstream is listed, and after PATCH weight 0
// still listed with weight 0.
func lcTargetsAddRemove(t *testing.T, g *GW, up string) {
	g.mustDo(t, Step{Method: "POST", Path: "/upstreams/" + up + "/targets", Body: obj{"target": "127.0.0.1:10003", "weight": 100}, Status: 201})
	g.mustDo(t, Step{Path: "/upstreams/" + up + "/targets/all", Status: 200, JSON: obj{"data": Contains(nil).matchTarget("127.0.0.1:10003", 100)}})
	g.mustDo(t, Step{Method: "PATCH", Path: "/upstreams/" + up + "/targets/127.0.0.1:10003", Body: obj{"weight": 0}, Status: 200,
		JSON: obj{"id": isString, "target": "127.0.0.1:10003", "weight": 0}})
	g.mustDo(t, Step{Path: "/upstreams/" + up + "/targets/all", Status: 200, JSON: obj{"data": Contains(nil).matchTarget("127.0.0.1:10003", 0)}})
}

// matchTarget: an array holding a target entry with this target and weight.
func (Matcher) matchTarget(target string, weight int) Matcher {
	return func(v any, ok bool) error {
		list, _ := v.([]any)
		for _, e := range list {
			if m, isMap := e.(map[string]any); isMap && m["target"] == target && m["weight"] == float64(weight) {
				return nil
			}
		}
		return fmt.Errorf("got %s, want a target %s with weight %d", showOK(v, ok), target, weight)
	}
}

var proxyLCCases = rows(
	Case{
		Spec: specLC + ":64", Name: "balances by least-connections",
		Run: func(t *testing.T, g *GW) {
			a1, n1 := delayServer(t, 100*time.Millisecond)
			a2, n2 := delayServer(t, 200*time.Millisecond)
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "lcupstream", "algorithm": "least-connections"}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/lcupstream/targets", Body: obj{"target": a1, "weight": 100}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/lcupstream/targets", Body: obj{"target": a2, "weight": 100}})
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "lc", "protocol": "http", "host": "lcupstream"}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/lc/routes", Body: obj{"hosts": arr{"least1.test"}, "protocols": arr{"http"}}})
			tr := &http.Transport{MaxIdleConnsPerHost: 100}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			var done atomic.Bool
			var bad atomic.Int64
			var wg sync.WaitGroup
			for i := 0; i < 100; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !done.Load() {
						req, _ := http.NewRequest("GET", g.ProxyURL+"/leastconnections", nil)
						req.Host = "least1.test"
						resp, err := c.Do(req)
						if err != nil || resp.StatusCode != 200 {
							bad.Add(1)
						}
						if resp != nil {
							resp.Body.Close()
						}
					}
				}()
			}
			time.Sleep(1500 * time.Millisecond)
			done.Store(true)
			wg.Wait()
			if bad.Load() > 0 {
				t.Errorf("%d requests failed", bad.Load())
			}
			r1, r2 := n1.Load(), n2.Load()
			if r2 == 0 {
				t.Fatalf("the slower target got nothing (fast %d)", r1)
			}
			if ratio := float64(r1) / float64(r2); ratio < 1 || ratio > 3 {
				t.Errorf("fast/slow = %d/%d = %.2f, want 2 ± 1", r1, r2, ratio)
			}
		},
	},
	Case{
		Spec: specLC + ":111", Name: "add and remove targets",
		Run: func(t *testing.T, g *GW) {
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "lcupstream", "algorithm": "least-connections"}})
			lcTargetsAddRemove(t, g, "lcupstream")
		},
	},
	Case{
		Spec: specLC + ":209", Name: "add and remove targets",
		Run: func(t *testing.T, g *GW) {
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "anupstream", "algorithm": "least-connections"}})
			lcTargetsAddRemove(t, g, "anupstream")
		},
	},
	skipped("spec/02-integration/05-proxy/10-balancer/06-stream_spec.lua", skipStreamRoute, "111:balances by least-connections", "122:balances by least-connections with retries"),
)

// Kong 3.9 spec/02-integration/05-proxy/10-balancer/07-latency_spec.lua.

const specLatency = "spec/02-integration/05-proxy/10-balancer/07-latency_spec.lua"

var _ = register("proxy-latency", proxyLatencyCases)

var proxyLatencyCases = rows(
	Case{
		Spec: specLatency + ":64", Name: "balances by latency",
		Run: func(t *testing.T, g *GW) {
			a1, n1 := delayServer(t, 100*time.Millisecond)
			a2, n2 := delayServer(t, 1000*time.Millisecond)
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "ewmaupstream", "algorithm": "latency"}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/ewmaupstream/targets", Body: obj{"target": a1, "weight": 100}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/ewmaupstream/targets", Body: obj{"target": a2, "weight": 100}})
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "ewma", "protocol": "http", "host": "ewmaupstream"}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/ewma/routes", Body: obj{"hosts": arr{"ewma1.test"}, "protocols": arr{"http"}}})
			var wg sync.WaitGroup
			var bad atomic.Int64
			spawn := func(n int) {
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, _ := http.NewRequest("GET", g.ProxyURL+"/ewma", nil)
						req.Host = "ewma1.test"
						req.Close = true
						resp, err := http.DefaultClient.Do(req)
						if err != nil || resp.StatusCode != 200 {
							bad.Add(1)
						}
						if resp != nil {
							resp.Body.Close()
						}
					}()
				}
			}
			spawn(6)
			time.Sleep(2 * time.Second)
			spawn(8)
			time.Sleep(2 * time.Second)
			spawn(86)
			time.Sleep(1500 * time.Millisecond)
			wg.Wait()
			r1, r2 := n1.Load(), n2.Load()
			if bad.Load() > 0 {
				t.Errorf("%d requests failed", bad.Load())
			}
			if r1 == 0 || (r2 > 0 && float64(r1)/float64(r2) <= 10) {
				t.Errorf("fast/slow = %d/%d, want a ratio over 10", r1, r2)
			}
		},
	},
	Case{
		Spec: specLatency + ":124", Name: "add and remove targets",
		Run: func(t *testing.T, g *GW) {
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "ewmaupstream", "algorithm": "latency"}})
			lcTargetsAddRemove(t, g, "ewmaupstream")
		},
	},
	Case{
		Spec: specLatency + ":222", Name: "add and remove targets",
		Run: func(t *testing.T, g *GW) {
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "anupstream", "algorithm": "latency"}})
			lcTargetsAddRemove(t, g, "anupstream")
		},
	},
)
