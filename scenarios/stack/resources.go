package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Resources is one reading of what the gateway process holds, from its own
// Prometheus metrics (GET /metrics on the Admin API): the numbers a leak or a
// resource-holding attack moves.
type Resources struct {
	At         time.Time
	RSSBytes   float64 // process_resident_memory_bytes
	OpenFDs    float64 // process_open_fds: client and upstream sockets, files
	Goroutines float64 // go_goroutines: one or more per open connection
	HeapBytes  float64 // go_memstats_heap_inuse_bytes
}

// resourceMetrics maps the metric names read to the field each fills.
var resourceMetrics = map[string]func(*Resources, float64){
	"process_resident_memory_bytes": func(r *Resources, v float64) { r.RSSBytes = v },
	"process_open_fds":              func(r *Resources, v float64) { r.OpenFDs = v },
	"go_goroutines":                 func(r *Resources, v float64) { r.Goroutines = v },
	"go_memstats_heap_inuse_bytes":  func(r *Resources, v float64) { r.HeapBytes = v },
}

// Resources reads the gateway's resource gauges. It fails when any of them is
// missing, so a renamed metric cannot turn a leak check into 0 == 0.
func (a *Admin) Resources(ctx context.Context) (Resources, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	if err != nil {
		return Resources{}, fmt.Errorf("admin GET /metrics: %w", err)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return Resources{}, fmt.Errorf("admin GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return Resources{}, &APIError{Method: http.MethodGet, Path: "/metrics", Status: resp.StatusCode, Body: string(b)}
	}
	r, err := parseResources(resp.Body)
	r.At = time.Now()
	return r, err
}

func parseResources(body io.Reader) (Resources, error) {
	var r Resources
	seen := map[string]bool{}
	dec := expfmt.NewDecoder(body, expfmt.NewFormat(expfmt.TypeTextPlain))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return r, fmt.Errorf("admin GET /metrics: decode: %w", err)
		}
		set, ok := resourceMetrics[mf.GetName()]
		if !ok || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			set(&r, m.GetGauge().GetValue())
		case m.GetUntyped() != nil:
			set(&r, m.GetUntyped().GetValue())
		default:
			continue
		}
		seen[mf.GetName()] = true
	}
	for name := range resourceMetrics {
		if !seen[name] {
			return r, fmt.Errorf("admin GET /metrics: %s missing", name)
		}
	}
	return r, nil
}
