package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// metrics are the per-service request counters and latency histograms on the
// Admin API's /metrics. Each service's curried collectors are resolved once per
// Apply, so a request pays one counter lookup by status code and one Observe.
type metrics struct {
	requests *prometheus.CounterVec   // service, code
	latency  *prometheus.HistogramVec // service

	mu     sync.Mutex
	served map[string]*serviceMetrics // by service label, to retire the gone ones
}

// serviceMetrics is one service's share of the collectors.
type serviceMetrics struct {
	requests *prometheus.CounterVec // curried with the service label
	latency  prometheus.Observer
	// gone is set when the service leaves the configuration; requests still
	// in flight on the old snapshot must not re-create its series.
	gone atomic.Bool
}

// noServiceLabel labels requests that matched no route or service.
const noServiceLabel = ""

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gauntlet_http_requests_total",
			Help: "Requests answered by the proxy, by service (name, else id; empty when none matched) and status code.",
		}, []string{"service", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gauntlet_request_latency_seconds",
			Help:    "Time from the request's arrival until its response was fully sent (streams and WebSocket tunnels included), by service.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"service"}),
		served: map[string]*serviceMetrics{},
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func serviceLabel(s *config.Service) string {
	if s.Name != nil && *s.Name != "" {
		return *s.Name
	}
	return s.ID
}

// forService resolves a service's collectors, once per label.
func (m *metrics) forService(label string) *serviceMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sm := m.served[label]; sm != nil {
		return sm
	}
	sm := &serviceMetrics{
		requests: m.requests.MustCurryWith(prometheus.Labels{"service": label}),
		latency:  m.latency.WithLabelValues(label),
	}
	m.served[label] = sm
	return sm
}

// forget drops the series of services that are no longer configured, so a
// deleted service does not linger in /metrics.
func (m *metrics) forget(keep map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for label, sm := range m.served {
		if !keep[label] && label != noServiceLabel {
			sm.gone.Store(true) // before the delete: see observe
			m.requests.DeletePartialMatch(prometheus.Labels{"service": label})
			m.latency.DeleteLabelValues(label)
			delete(m.served, label)
		}
	}
}

// statusLabels avoids formatting a status code per request.
var statusLabels = func() (t [1000]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return
}()

func (sm *serviceMetrics) observe(status int, elapsed time.Duration) {
	if status < 0 || status >= len(statusLabels) {
		status = 0
	}
	if sm.gone.Load() {
		return
	}
	code := statusLabels[status]
	sm.requests.WithLabelValues(code).Inc()
	sm.latency.Observe(elapsed.Seconds())
	// forget may have run between the check and the Inc, which re-created
	// the series; gone is set before forget deletes, so this sees it.
	if sm.gone.Load() {
		sm.requests.DeleteLabelValues(code)
	}
}
