//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
	"github.com/gauntlet-dev/gauntlet/scenarios/trend"
)

// Shared by the soak (soak_test.go): sampling the gateway's resources, the
// periodic faults, and the leaking client of its prove switch.

// soakDuration is $SOAK_DURATION, 10 minutes by default.
func soakDuration() (time.Duration, error) {
	v := os.Getenv("SOAK_DURATION")
	if v == "" {
		return 10 * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("SOAK_DURATION=%q: %w", v, err)
	}
	return d, nil
}

// reading is one Admin.Resources reading, or the error that replaced it.
type reading struct {
	stack.Resources
	err error
}

// sampleResources reads the gateway's resources now and then every period
// until stop is closed or ctx ends; a reading that fails is kept as its
// error. The loop is bounded by limit readings.
func sampleResources(ctx context.Context, admin *stack.Admin, every time.Duration, limit int, stop <-chan struct{}) []reading {
	var out []reading
	tick := time.NewTicker(every)
	defer tick.Stop()
	for len(out) < limit {
		rctx, cancel := context.WithTimeout(ctx, every/2)
		r, err := admin.Resources(rctx)
		cancel()
		if err != nil {
			r.At = time.Now()
		}
		out = append(out, reading{Resources: r, err: err})
		select {
		case <-stop:
			return out
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
	return out
}

// expected says which status codes a soak target's requests may get: a
// rate-limited route's 429 and a keyless request's 401 are the gateway doing
// its job, not failures.
type expected map[string]map[uint16]bool

func (e expected) ok(x vegeta.Result) bool { return e[x.Method+" "+x.URL][x.Code] }

// unexpected counts the results answered otherwise than expected.
func (e expected) unexpected(rs []vegeta.Result) int {
	n := 0
	for _, x := range rs {
		if !e.ok(x) {
			n++
		}
	}
	return n
}

// resourceSamples turns the readings into the record's samples, each with the
// load of the window it closes, (At − every, At] by send time. A reading
// taken a moment before the load started counts as taken at its start.
func resourceSamples(rds []reading, rs []vegeta.Result, start time.Time, every time.Duration, exp expected) []reports.ResourceSample {
	var out []reports.ResourceSample
	for _, rd := range rds {
		if rd.err != nil {
			continue
		}
		window := load.Between(rs, rd.At.Add(-every), rd.At)
		s := reports.ResourceSample{
			Offset:   max(rd.At.Sub(start), 0),
			RSSBytes: rd.RSSBytes, HeapBytes: rd.HeapBytes, OpenFDs: rd.OpenFDs, Goroutines: rd.Goroutines,
			Requests: len(window), Failures: exp.unexpected(window),
			P50: load.Percentile(window, 0.5), P99: load.Percentile(window, 0.99),
		}
		out = append(out, s)
	}
	return out
}

// series is one gauge of the samples taken from warmUp on, for the trend
// test: x in seconds after the start.
func series(samples []reports.ResourceSample, warmUp time.Duration, value func(reports.ResourceSample) float64) (xs, ys []float64) {
	for _, s := range samples {
		if s.Offset < warmUp {
			continue
		}
		xs = append(xs, s.Offset.Seconds())
		ys = append(ys, value(s))
	}
	return xs, ys
}

// trendOf analyses one gauge after the warm-up; its resting level is the
// minimum over window samples.
func trendOf(samples []reports.ResourceSample, warmUp time.Duration, window int, value func(reports.ResourceSample) float64) (trend.Result, error) {
	xs, ys := series(samples, warmUp, value)
	return trend.Analyze(xs, ys, window)
}

// adminChurn is a burst of Admin API writes while it is injected: every
// 250 ms a service and a route are created, the service patched, both
// deleted (20 writes/s), so the configuration ends where it began and any
// memory it keeps is the gateway's, not the config's.
type adminChurn struct {
	admin  *stack.Admin
	target string // http://host:port for the churned services
	seq    *atomic.Int64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	writes int
	errs   []error
}

func (c *adminChurn) fault() chaos.Fault {
	return chaos.Custom("admin writes on gateway", "admin-writes", "gateway", c.start, c.stop)
}

func (c *adminChurn) start(ctx context.Context) error {
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Lock()
	c.cancel, c.done = cancel, make(chan struct{})
	c.mu.Unlock()
	go func() {
		defer close(c.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		// At most the writes of a minute, should a revert never come.
		for range 240 {
			c.unit(bctx)
			select {
			case <-bctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return nil
}

func (c *adminChurn) unit(ctx context.Context) {
	name := fmt.Sprintf("churn-%d", c.seq.Add(1))
	steps := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/services", map[string]any{"name": name, "url": c.target}},
		{http.MethodPost, "/services/" + name + "/routes", map[string]any{"name": name + "-route", "paths": []string{"/" + name}}},
		{http.MethodPatch, "/services/" + name, map[string]any{"retries": 2}},
		{http.MethodDelete, "/routes/" + name + "-route", nil},
		{http.MethodDelete, "/services/" + name, nil},
	}
	for _, st := range steps {
		err := c.admin.Do(ctx, st.method, st.path, st.body, nil)
		if ctx.Err() != nil {
			return // the burst ended mid-unit: the next unit's names are fresh
		}
		c.mu.Lock()
		c.writes++
		if err != nil {
			c.errs = append(c.errs, err)
		}
		c.mu.Unlock()
	}
}

func (c *adminChurn) stop(context.Context) error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	cancel()
	<-done // the loop returns within one write (the Admin client's 10 s timeout bounds it)
	return nil
}

// leakingClients is the prove switch's load: every period it opens perStep
// more keep-alive connections, each sending a GET every 5 s (well inside the
// gateway's 60 s keep-alive timeout, so the gateway is right to keep them
// all). Connections only ever accumulate, as they would in a gateway that
// leaked one per request; the soak must see that growth in goroutines and
// fds. Bounded: at most maxConns connections, all closed when ctx ends.
func leakingClients(ctx context.Context, target string, period time.Duration, perStep, maxConns int) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for opened := 0; opened < maxConns; {
			for range perStep {
				opened++
				wg.Add(1)
				go func() {
					defer wg.Done()
					holdConnection(ctx, target)
				}()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return &wg
}

// holdConnection keeps one keep-alive connection busy until ctx ends.
func holdConnection(ctx context.Context, target string) {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Hour}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for range 2000 { // 2000 × 5 s outlasts any soak; ctx ends it first
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return
		}
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
