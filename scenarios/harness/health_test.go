package harness

import (
	"encoding/json"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
)

// TestChecksTree runs each tree through the gateway's own schema (defaults and
// validation), so a scenario never sends a tree the Admin API would refuse or
// read differently.
func TestChecksTree(t *testing.T) {
	cases := []struct {
		name   string
		checks Checks
		want   map[string]any // dotted path → value after defaults
	}{
		{"passive only", Checks{Passive: &Passive{HTTPFailures: 3}}, map[string]any{
			"passive.unhealthy.http_failures": 3.0, "passive.unhealthy.timeouts": 0.0,
			"active.healthy.interval": 0.0, "threshold": 0.0, "passive.unhealthy.http_statuses": []any{429.0, 500.0, 503.0},
		}},
		{"active with timeout", Checks{Active: &Active{Interval: 0.25, Path: "/__mockbin/health", Timeout: 0.2, Successes: 3, HTTPFailures: 2}}, map[string]any{
			"active.healthy.interval": 0.25, "active.unhealthy.interval": 0.25, "active.http_path": "/__mockbin/health",
			"active.timeout": 0.2, "active.healthy.successes": 3.0, "active.unhealthy.http_failures": 2.0,
		}},
		{"active default timeout", Checks{Active: &Active{Interval: 1, Path: "/"}}, map[string]any{"active.timeout": 1.0}},
		{"threshold", Checks{Threshold: 75, Passive: &Passive{HTTPFailures: 5}}, map[string]any{"threshold": 75.0}},
		{"half-open", Checks{Passive: &Passive{HTTPFailures: 1}, HalfOpenCooldown: 1}, map[string]any{"half_open.cooldown": 1.0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, cerr := config.Prepare(config.TableUpstreams, map[string]any{"name": "u", "healthchecks": tc.checks.Tree()}, nil, nil)
			if cerr != nil {
				t.Fatalf("schema refused the tree: %v", cerr)
			}
			// Round-trip through JSON so numbers compare as the Admin API sends them.
			b, err := json.Marshal(out["healthchecks"])
			if err != nil {
				t.Fatal(err)
			}
			var hc map[string]any
			if err := json.Unmarshal(b, &hc); err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				got := lookup(hc, path)
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				if string(gb) != string(wb) {
					t.Errorf("%s = %s, want %s", path, gb, wb)
				}
			}
		})
	}
}

func lookup(m map[string]any, path string) any {
	var cur any = m
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '.' {
			mm, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = mm[path[start:i]]
			start = i + 1
		}
	}
	return cur
}

func TestResultFilters(t *testing.T) {
	t0 := time.Unix(1000, 0)
	res := func(ms int, code uint16, inst string, lat time.Duration, body string) vegeta.Result {
		r := vegeta.Result{Timestamp: t0.Add(time.Duration(ms) * time.Millisecond), Code: code, Latency: lat, Body: []byte(body)}
		if inst != "" {
			r.Headers = map[string][]string{load.InstanceHeader: {inst}}
		}
		return r
	}
	rs := []vegeta.Result{
		res(0, 200, "m1", time.Millisecond, ""),
		res(10, 500, "m1", time.Millisecond, ""),
		res(20, 200, "m2", 400*time.Millisecond, ""),
		res(30, 503, "", time.Millisecond, `{"message":"failure to get a peer from the ring-balancer"}`),
		res(40, 200, "m1", time.Millisecond, ""),
	}
	if n := len(ServedBy(rs, "m1")); n != 3 {
		t.Errorf("ServedBy(m1) = %d, want 3", n)
	}
	if last, ok := LastServedBy(rs, "m1"); !ok || !last.Equal(t0.Add(40*time.Millisecond)) {
		t.Errorf("LastServedBy(m1) = %v %v, want +40ms", last, ok)
	}
	if _, ok := LastServedBy(rs, "m3"); ok {
		t.Error("LastServedBy(m3) found a result")
	}
	if n := len(WithStatus(rs, 500)); n != 1 {
		t.Errorf("WithStatus(500) = %d, want 1", n)
	}
	if n := CountBody(rs, 503, "ring-balancer"); n != 1 {
		t.Errorf("CountBody(503) = %d, want 1", n)
	}
	if n := len(Slower(rs, 400*time.Millisecond)); n != 1 {
		t.Errorf("Slower(400ms) = %d, want 1", n)
	}
	// The first success of m1 at or after +5ms skips the 500 at +10ms.
	if x, ok := FirstServedAfter(rs, "m1", t0.Add(5*time.Millisecond)); !ok || !x.Timestamp.Equal(t0.Add(40*time.Millisecond)) {
		t.Errorf("FirstServedAfter(m1, +5ms) = %v %v, want +40ms", x.Timestamp, ok)
	}
	if d := Done(rs[2]); !d.Equal(t0.Add(420 * time.Millisecond)) {
		t.Errorf("Done = %v, want +420ms", d)
	}
}
