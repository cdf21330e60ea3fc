package conformance

import (
	"net/http"
	"sync"
	"testing"
)

// The README's "Differences from Kong" that are not in services_test.go
// (deleting a service deletes its routes): each row asserts the gateway's
// behaviour and says how Kong's differs.

var _ = register("documented-differences", differsCases)

var differsCases = rows(
	Case{
		Spec:    "spec/03-plugins/23-rate-limiting/04-access_spec.lua:427",
		Name:    "blocks if exceeding limit (single ip), under a concurrent burst",
		Differs: "Rate limits are exact: Kong's local and redis policies count asynchronously and admit more than the limit under concurrency (Kong #2629)",
		Setup: []Step{
			post("/services", obj{"name": "s", "url": "{{echo_url}}"}),
			post("/services/s/routes", obj{"paths": arr{"/rl"}}),
			post("/services/s/plugins", obj{"name": "rate-limiting", "config": obj{"day": 6, "policy": "local"}}),
		},
		Run: func(t *testing.T, g *GW) {
			const n = 30
			var mu sync.Mutex
			codes := map[int]int{}
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := g.Do(t, Step{Path: "/rl", To: Proxy})
					if r == nil {
						return
					}
					mu.Lock()
					codes[r.StatusCode]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if codes[http.StatusOK] != 6 || codes[http.StatusTooManyRequests] != n-6 {
				t.Errorf("a burst of %d requests against day=6: %v, want exactly 6 × 200 and %d × 429", n, codes, n-6)
			}
			// The window stays at its limit.
			if r := g.Do(t, Step{Path: "/rl", To: Proxy}); r != nil && r.StatusCode != http.StatusTooManyRequests {
				t.Errorf("after the burst: %d, want 429", r.StatusCode)
			}
		},
	},
	Case{
		Spec:    "spec/02-integration/05-proxy/10-balancer/01-healthchecks_spec.lua:873",
		Name:    "#db can have their config partially updated (target health is kept)",
		Differs: "Health state survives configuration changes that keep the target: Kong rebuilds the balancer and resets it (Kong #7835)",
		Setup: []Step{
			post("/upstreams", obj{"name": "u", "healthchecks": obj{"passive": obj{"unhealthy": obj{"tcp_failures": 1, "http_failures": 1, "timeouts": 1}}}}, "uid"),
			post("/upstreams/u/targets", obj{"target": "127.0.0.1:9", "weight": 10}),
			{Method: "PUT", Path: "/upstreams/u/targets/127.0.0.1:9/unhealthy", Status: 204},
			get("/upstreams/u/health", 200, obj{"data.0.health": "UNHEALTHY"}),
		},
		Steps: []Step{
			{Method: "PATCH", Path: "/upstreams/{{uid}}", Body: obj{"healthchecks": obj{"active": obj{"http_path": "/status",
				"healthy": obj{"interval": 0, "successes": 1}, "unhealthy": obj{"interval": 0, "http_failures": 1}}}}, Status: 200,
				JSON: obj{"healthchecks.active.http_path": "/status", "healthchecks.passive.unhealthy.tcp_failures": 1}},
			get("/upstreams/u/health", 200, obj{"data.0.health": "UNHEALTHY"}),
		},
	},
)
