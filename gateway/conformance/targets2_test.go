package conformance

import (
	"testing"
	"time"
)

var _ = register("targets-health", targetsHealthCases)

// eventually retries a step until its expectations hold or timeout passes
// (Kong's helpers.pwait_until), then reports the last failure.
func eventually(t *testing.T, g *GW, timeout time.Duration, s Step) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		r := g.Do(t, s)
		if r == nil {
			return
		}
		if s.Status != 0 && r.StatusCode != s.Status {
			ok = false
		}
		for p, want := range s.JSON {
			v, found := r.Get(p)
			if matchValue(want, v, found, g.Vars) != nil {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			g.check(t, "after "+timeout.String(), s, r)
			if s.Status != 0 && r.StatusCode != s.Status {
				t.Errorf("%s: status %d, want %d", s.Path, r.StatusCode, s.Status)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var targetsHealthCases = rows(
	Case{
		Spec: specTargets + ":473", Name: "returns UNHEALTHY if failure detected",
		Setup: append(append(upstreamWith(), Step{Method: "PATCH", Path: "/upstreams/u", Body: obj{"healthchecks": obj{"passive": obj{
			"healthy": obj{"successes": 1}, "unhealthy": obj{"tcp_failures": 1, "http_failures": 1, "timeouts": 1}}}}}),
			healthTargets("localhost:222", "1", "2", "3", "4")...),
		Steps: []Step{{Method: "PUT", Path: "/upstreams/u", Status: 200, Body: obj{"healthchecks": obj{"active": obj{
			"healthy": obj{"interval": 1}, "unhealthy": obj{"interval": 1, "tcp_failures": 1}}}}}},
		Run: func(t *testing.T, g *GW) {
			eventually(t, g, 15*time.Second, get("/upstreams/u/health", 200, obj{"data.#": 4, "data.0.target": "localhost:2224",
				"data.0.health": "UNHEALTHY", "data.1.health": "UNHEALTHY", "data.2.health": "UNHEALTHY", "data.3.health": "UNHEALTHY",
				"data.0.data.addresses.0.health": "UNHEALTHY"}))
		},
	},
	Case{
		Spec: specTargets + ":543", Name: "returns HEALTHCHECKS_OFF for target with weight 0 (after 0.3s)",
		Setup: []Step{post("/upstreams", obj{"name": "u", "healthchecks": obj{"passive": obj{
			"healthy": obj{"successes": 1}, "unhealthy": obj{"tcp_failures": 1, "http_failures": 1, "timeouts": 1}}}})},
		Steps: []Step{{Method: "POST", Path: "/upstreams/u/targets", Body: obj{"target": "localhost:2221", "weight": 0}, Status: 201}},
		Run: func(t *testing.T, g *GW) {
			time.Sleep(300 * time.Millisecond) // Kong: "give time for weight modification to kick in"
			s := get("/upstreams/u/health", 200, obj{"data.#": 1, "data.0.data.addresses.0.health": "HEALTHCHECKS_OFF"})
			if r := g.Do(t, s); r != nil {
				if r.StatusCode != 200 {
					t.Errorf("health: %d", r.StatusCode)
				}
				g.check(t, "health", s, r)
			}
		},
	},
)
