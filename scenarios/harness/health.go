package harness

import (
	"context"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
)

// Active is the active half of an upstream's healthchecks: probes of Path
// every Interval seconds, healthy and unhealthy targets alike. A zero counter
// is disabled, as in Kong's schema.
type Active struct {
	Interval float64
	Path     string
	Timeout  float64 // seconds per probe; 0 = Kong's 1
	// Successes to bring an unhealthy target back.
	Successes int
	// HTTPFailures, TCPFailures, Timeouts to eject a healthy one.
	HTTPFailures, TCPFailures, Timeouts int
}

// Passive is the passive half (the circuit breaker): counters fed by proxied
// traffic; a zero counter is disabled.
type Passive struct {
	Successes                           int
	HTTPFailures, TCPFailures, Timeouts int
}

// Checks is an upstream.healthchecks tree in Kong's schema, written with only
// what a scenario sets; the gateway fills in Kong's defaults.
type Checks struct {
	Active    *Active
	Passive   *Passive
	Threshold float64
	// HalfOpenCooldown > 0 turns on Gauntlet's half-open extension
	// (healthchecks.half_open.cooldown, seconds).
	HalfOpenCooldown float64
}

// Tree is the JSON tree of the checks for stack.UpstreamSpec.Healthchecks.
func (c Checks) Tree() map[string]any {
	t := map[string]any{"threshold": c.Threshold}
	if a := c.Active; a != nil {
		timeout := a.Timeout
		if timeout == 0 {
			timeout = 1
		}
		t["active"] = map[string]any{
			"type": "http", "http_path": a.Path, "timeout": timeout,
			"healthy": map[string]any{"interval": a.Interval, "successes": a.Successes},
			"unhealthy": map[string]any{"interval": a.Interval, "http_failures": a.HTTPFailures,
				"tcp_failures": a.TCPFailures, "timeouts": a.Timeouts},
		}
	}
	if p := c.Passive; p != nil {
		t["passive"] = map[string]any{
			"type":    "http",
			"healthy": map[string]any{"successes": p.Successes},
			"unhealthy": map[string]any{"http_failures": p.HTTPFailures,
				"tcp_failures": p.TCPFailures, "timeouts": p.Timeouts},
		}
	}
	if c.HalfOpenCooldown > 0 {
		t["half_open"] = map[string]any{"cooldown": c.HalfOpenCooldown}
	}
	return t
}

// Action is a one-shot step on a fault timeline that is not a fault of the
// system under test but an operator's act (an Admin API call, a fault healed
// early): it is recorded on the timeline like a fault and leaves nothing to
// revert. target is what it acts on (a gateway node, a mockbin instance).
func Action(name, kind, target string, do func(ctx context.Context) error) chaos.Fault {
	return chaos.Custom(name, kind, target, do, nil)
}

// ServedBy keeps the results the instance answered.
func ServedBy(rs []vegeta.Result, instance string) []vegeta.Result {
	var out []vegeta.Result
	for _, x := range rs {
		if x.Headers.Get(load.InstanceHeader) == instance {
			out = append(out, x)
		}
	}
	return out
}

// LastServedBy is the send time of the last result the instance answered.
func LastServedBy(rs []vegeta.Result, instance string) (time.Time, bool) {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Headers.Get(load.InstanceHeader) == instance {
			return rs[i].Timestamp, true
		}
	}
	return time.Time{}, false
}

// WithStatus keeps the results with that status code.
func WithStatus(rs []vegeta.Result, code uint16) []vegeta.Result {
	var out []vegeta.Result
	for _, x := range rs {
		if x.Code == code {
			out = append(out, x)
		}
	}
	return out
}

// CountBody counts the results with that status whose body contains text.
func CountBody(rs []vegeta.Result, code uint16, text string) int {
	n := 0
	for _, x := range rs {
		if x.Code == code && strings.Contains(string(x.Body), text) {
			n++
		}
	}
	return n
}

// Slower keeps the results that took at least d.
func Slower(rs []vegeta.Result, d time.Duration) []vegeta.Result {
	var out []vegeta.Result
	for _, x := range rs {
		if x.Latency >= d {
			out = append(out, x)
		}
	}
	return out
}

// Done is when a result's response arrived (send time + latency).
func Done(x vegeta.Result) time.Time { return x.Timestamp.Add(x.Latency) }

// FirstServedAfter is the first result at or after t that the instance
// answered with a success.
func FirstServedAfter(rs []vegeta.Result, instance string, t time.Time) (vegeta.Result, bool) {
	for _, x := range rs {
		if !x.Timestamp.Before(t) && load.OK(x) && x.Headers.Get(load.InstanceHeader) == instance {
			return x, true
		}
	}
	return vegeta.Result{}, false
}
