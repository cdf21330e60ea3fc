package stack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// SetTargetHealth is Kong's PUT /upstreams/{u}/targets/{t}/healthy|unhealthy
// (204): a manual override of one target's health. target is its id or host:port.
func (a *Admin) SetTargetHealth(ctx context.Context, upstream, target string, healthy bool) error {
	verb := "unhealthy"
	if healthy {
		verb = "healthy"
	}
	return a.Do(ctx, http.MethodPut, "/upstreams/"+url.PathEscape(upstream)+"/targets/"+url.PathEscape(target)+"/"+verb, nil, nil)
}

// BalancerHealth is GET /upstreams/{u}/health?balancer_health=1: Health is
// HEALTHCHECKS_OFF when checking is off, else the same as Balancer (HEALTHY or
// UNHEALTHY by the threshold rule).
type BalancerHealth struct {
	Health   string         `json:"health"`
	Balancer string         `json:"balancer_health"`
	ID       string         `json:"id"`
	Details  map[string]any `json:"details"`
}

// BalancerHealth reads the upstream's balancer health.
func (a *Admin) BalancerHealth(ctx context.Context, upstream string) (BalancerHealth, error) {
	var out struct {
		Data BalancerHealth `json:"data"`
	}
	err := a.Do(ctx, http.MethodGet, "/upstreams/"+url.PathEscape(upstream)+"/health?balancer_health=1", nil, &out)
	return out.Data, err
}

// TargetHealth is the health state of one target (host:port) of the upstream.
func (a *Admin) TargetHealth(ctx context.Context, upstream, target string) (string, error) {
	hs, err := a.Health(ctx, upstream)
	if err != nil {
		return "", err
	}
	for _, h := range hs {
		if h.Target == target {
			return h.Health, nil
		}
	}
	return "", fmt.Errorf("health of %s in upstream %s: target not listed", target, upstream)
}

// AwaitTargetHealth polls the target's health every 10 ms until it reads
// want, and returns when it first did; an error when timeout passes first.
func (a *Admin) AwaitTargetHealth(ctx context.Context, upstream, target, want string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		h, err := a.TargetHealth(ctx, upstream, target)
		if err == nil && h == want {
			return time.Now(), nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = h
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("target %s of %s: health is %s, not %s after %v", target, upstream, last, want, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("await health of %s: %w", target, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
