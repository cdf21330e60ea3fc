package harness

import (
	"context"
	"fmt"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Balanced is a service in front of an upstream with targets, reachable
// through the gateway under route path Path.
type Balanced struct {
	Service  stack.ServiceSpec
	Upstream stack.UpstreamSpec
	Targets  []string
	Path     string
}

// Configure creates the upstream, its targets, the service (host = upstream
// name) and its route through the Admin API, and records what it applied.
func (s *Scenario) Configure(ctx context.Context, bs ...Balanced) error {
	admin := s.Stack.Gateway.Admin
	for _, b := range bs {
		if _, err := admin.CreateUpstream(ctx, b.Upstream); err != nil {
			return err
		}
		for _, t := range b.Targets {
			if err := admin.AddTarget(ctx, b.Upstream.Name, t, 0); err != nil {
				return err
			}
		}
		svc := b.Service
		if svc.Host == "" && svc.URL == "" {
			svc.Host, svc.Port = b.Upstream.Name, 80
		}
		if _, err := admin.CreateService(ctx, svc); err != nil {
			return err
		}
		if _, err := admin.CreateRoute(ctx, svc.Name, stack.RouteSpec{Name: svc.Name + "-route", Paths: []string{b.Path}}); err != nil {
			return err
		}
	}
	s.SetGatewayConfig(bs)
	return nil
}

// GET is a load target through the gateway.
func (s *Scenario) GET(path string) vegeta.Target {
	return vegeta.Target{Method: "GET", URL: s.Stack.Gateway.ProxyURL + path}
}

// FirstServedBy is the send time of the first result at or after t that the
// instance answered.
func FirstServedBy(rs []vegeta.Result, instance string, t time.Time) (time.Time, bool) {
	for _, x := range rs {
		if !x.Timestamp.Before(t) && x.Headers.Get(load.InstanceHeader) == instance {
			return x.Timestamp, true
		}
	}
	return time.Time{}, false
}

// FirstOK is the send time of the first successful result at or after t.
func FirstOK(rs []vegeta.Result, t time.Time) (time.Time, bool) {
	for _, x := range rs {
		if !x.Timestamp.Before(t) && load.OK(x) {
			return x.Timestamp, true
		}
	}
	return time.Time{}, false
}

// ByURL keeps the results of one target URL.
func ByURL(rs []vegeta.Result, url string) []vegeta.Result {
	var out []vegeta.Result
	for _, x := range rs {
		if x.URL == url {
			out = append(out, x)
		}
	}
	return out
}

// Share is n/total, 0 for an empty total.
func Share(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// Describe summarises results in one line for logs and failure messages.
func Describe(rs []vegeta.Result) string {
	return fmt.Sprintf("%d requests, codes %v, instances %v, p50 %v, p99 %v, max %v",
		len(rs), load.Codes(rs), load.Instances(rs), load.Percentile(rs, 0.5), load.Percentile(rs, 0.99), load.MaxLatency(rs))
}

// HealthChecks is an upstream healthchecks tree in Kong's schema: passive
// checks eject a target at its first connection failure or timeout; active
// probes of path every interval seconds (0: none) eject a dead target and bring
// it back after one success.
func HealthChecks(interval float64, path string) map[string]any {
	return map[string]any{
		"active": map[string]any{
			"type":      "http",
			"http_path": path,
			"timeout":   1,
			"healthy":   map[string]any{"interval": interval, "successes": 1},
			"unhealthy": map[string]any{"interval": interval, "tcp_failures": 1, "timeouts": 1, "http_failures": 1},
		},
		"passive": map[string]any{
			"type":      "http",
			"unhealthy": map[string]any{"tcp_failures": 1, "timeouts": 1},
		},
	}
}
