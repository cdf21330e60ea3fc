package balancer

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gauntlet-dev/gauntlet/gateway/health"
)

// metrics are the health gauges and transition counters; a nil *metrics
// (no registerer) makes every method a no-op.
type metrics struct {
	health      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
}

var targetStates = [...]string{"healthy", "unhealthy", "dns_error", "healthchecks_off"}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gauntlet_upstream_target_health",
			Help: "Health of an upstream target: 1 for its current state, 0 for the others (as Kong's kong_upstream_target_health).",
		}, []string{"upstream", "target", "state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gauntlet_upstream_target_health_transitions_total",
			Help: "Health transitions of upstream targets, by new state and cause (active, passive, manual, half_open, config, dns).",
		}, []string{"upstream", "target", "to", "cause"}),
	}
	m.health = register(reg, m.health, log)
	m.transitions = register(reg, m.transitions, log)
	return m
}

// register reuses an identical collector registered earlier (a second
// Manager on the same registry, as in tests or a reload).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		log.Warn("health metrics not registered", "err", err)
	}
	return c
}

// publish sets the target's state gauges, dropping old label values when the
// upstream was renamed.
func (m *metrics) publish(u *upstream, t *target, p *health.Policy) {
	if m == nil {
		return
	}
	labels := [2]string{u.name(), t.key}
	if old := t.labels.Swap(&labels); old != nil && *old != labels {
		m.deleteLabels(*old)
	}
	var cur string
	switch t.state(p) {
	case health.Healthy:
		cur = "healthy"
	case health.Unhealthy:
		cur = "unhealthy"
	case health.DNSError:
		cur = "dns_error"
	default:
		cur = "healthchecks_off"
	}
	for _, s := range targetStates {
		v := 0.0
		if s == cur {
			v = 1
		}
		m.health.WithLabelValues(labels[0], labels[1], s).Set(v)
	}
}

func (m *metrics) transition(u *upstream, t *target, cause, to string) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(u.name(), t.key, to, cause).Inc()
}

// forget removes a departed target's gauges.
func (m *metrics) forget(t *target) {
	if m == nil {
		return
	}
	if old := t.labels.Swap(nil); old != nil {
		m.deleteLabels(*old)
	}
}

func (m *metrics) deleteLabels(l [2]string) {
	for _, s := range targetStates {
		m.health.DeleteLabelValues(l[0], l[1], s)
	}
}
