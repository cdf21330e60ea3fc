package balancer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/health"
)

// Clock is the time source for health checking and DNS caching.
type Clock = health.Clock

// Options configure a Manager.
type Options struct {
	Logger   *slog.Logger
	Clock    Clock                 // nil = real time; tests drive timing with a fake clock
	Resolver *net.Resolver         // nil = net.DefaultResolver, for target hostnames
	Metrics  prometheus.Registerer // may be nil
}

const (
	// dnsTTL is how long a resolved target hostname is trusted; Go's resolver
	// does not expose record TTLs, so a short fixed one bounds staleness.
	dnsTTL = 5 * time.Second
	// dnsRetry is how soon a failed resolution is retried.
	dnsRetry = time.Second
	// dnsTimeout bounds one resolution, also the synchronous one in Apply.
	dnsTimeout        = 2 * time.Second
	defaultTargetPort = 8000
)

// Manager owns every upstream's balancer and health checker. The proxy reads
// it through Picker, the Admin API through the HealthSource methods.
type Manager struct {
	log     *slog.Logger
	clock   Clock
	lookup  func(ctx context.Context, host string) ([]string, error)
	metrics *metrics

	mu     sync.Mutex // serialises Apply, Close and admin writes
	byID   map[string]*upstream
	closed bool

	byName atomic.Pointer[map[string]*upstream] // read lock-free by Picker
}

// NewManager returns an empty manager; Apply gives it upstreams.
func NewManager(opts Options) *Manager {
	m := &Manager{log: opts.Logger, clock: opts.Clock, byID: map[string]*upstream{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.clock == nil {
		m.clock = health.SystemClock()
	}
	r := opts.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	m.lookup = r.LookupHost
	m.metrics = newMetrics(opts.Metrics, m.log)
	empty := map[string]*upstream{}
	m.byName.Store(&empty)
	return m
}

// Apply brings balancers and health checkers in line with cfg: upstreams and
// targets that appear are created, those gone are stopped and dropped, and
// those that stay (same upstream id; same target address) keep their health
// state, counters and in-flight connection counts.
func (m *Manager) Apply(cfg *config.Config) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || cfg == nil {
		return
	}
	targets := map[string][]*config.Target{}
	for _, t := range cfg.Targets {
		if t != nil && t.Upstream != nil {
			targets[t.Upstream.ID] = append(targets[t.Upstream.ID], t)
		}
	}
	byName := make(map[string]*upstream, len(cfg.Upstreams))
	keep := make(map[string]bool, len(cfg.Upstreams))
	for _, uc := range cfg.Upstreams {
		if uc == nil {
			continue
		}
		u := m.byID[uc.ID]
		if u == nil {
			u = newUpstream(m, uc.ID)
			m.byID[uc.ID] = u
			m.log.Info("upstream added", "upstream", uc.Name, "algorithm", uc.Algorithm)
		}
		u.apply(uc, targets[uc.ID])
		byName[uc.Name] = u
		keep[uc.ID] = true
	}
	for id, u := range m.byID {
		if !keep[id] {
			u.close()
			delete(m.byID, id)
			m.log.Info("upstream removed", "upstream", u.name())
		}
	}
	m.byName.Store(&byName)
}

// Picker returns the balancer of the upstream with this name, or a nil
// interface when there is none. Lock-free.
func (m *Manager) Picker(upstreamName string) Picker {
	if u := (*m.byName.Load())[upstreamName]; u != nil {
		return u
	}
	return nil
}

// Close stops every prober. Pickers already handed out keep working with
// the health they had.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	for _, u := range m.byID {
		u.stopProber()
	}
}

// TargetsHealth maps every target id of the upstream to its health state;
// nil when the upstream is unknown. A target ejected through the Admin API
// reads UNHEALTHY even with checks off, because the balancer honours it.
func (m *Manager) TargetsHealth(upstreamID string) map[string]string {
	u := m.upstream(upstreamID)
	if u == nil {
		return nil
	}
	s := u.snap.Load()
	out := make(map[string]string, len(s.entries))
	for i := range s.entries {
		e := &s.entries[i]
		out[e.id] = e.t.state(s.policy)
	}
	return out
}

// BalancerHealth reports the balancer's health by Kong's weight rule —
// HEALTHY when available weight / total weight × 100 > threshold, else
// UNHEALTHY — with Kong's balancer status details: {"healthy": bool,
// "threshold": float, "weight": {"total", "available", "unavailable"},
// "hosts": [...]}, hosts being Kong's getTargetStatus per target (see
// targetStatus). It is the value of Kong's "balancer_health"; whether checks
// are off (Kong's "health": HEALTHCHECKS_OFF) is the caller's to add.
// Unknown upstream: "", nil.
func (m *Manager) BalancerHealth(upstreamID string) (string, map[string]any) {
	u := m.upstream(upstreamID)
	if u == nil {
		return "", nil
	}
	s := u.snap.Load()
	total, avail := s.weights()
	healthy := balancerHealthy(total, avail, s.policy.Threshold)
	hosts := make([]any, 0, len(s.entries))
	for i := range s.entries {
		hosts = append(hosts, s.entries[i].targetStatus())
	}
	details := map[string]any{
		"healthy":   healthy,
		"threshold": s.policy.Threshold,
		"weight": map[string]any{
			"total":       total,
			"available":   avail,
			"unavailable": total - avail,
		},
		"hosts": hosts,
	}
	if healthy {
		return health.Healthy, details
	}
	return health.Unhealthy, details
}

// TargetsData gives, per target id, the "data" object of Kong's
// GET /upstreams/{u}/health entries: {"addresses": [{"ip", "port", "health",
// "weight"}]}, one address per resolved IP (the target's weight is shown on
// each, as the balancer does not split it). nil when the upstream is unknown.
// Not part of admin.HealthSource; the Admin API may use it when present.
func (m *Manager) TargetsData(upstreamID string) map[string]map[string]any {
	u := m.upstream(upstreamID)
	if u == nil {
		return nil
	}
	s := u.snap.Load()
	out := make(map[string]map[string]any, len(s.entries))
	for i := range s.entries {
		e := &s.entries[i]
		st := e.t.state(s.policy)
		hostports := e.t.hostports()
		addrs := make([]any, 0, len(hostports))
		for _, hp := range hostports {
			ip, port, _ := net.SplitHostPort(hp)
			pn, _ := strconv.Atoi(port)
			addrs = append(addrs, map[string]any{"ip": ip, "port": pn, "health": st, "weight": e.weight})
		}
		out[e.id] = map[string]any{"addresses": addrs}
	}
	return out
}

// hostports lists the target's addresses as host:port: its IP literal, or
// what its hostname last resolved to (none after a failed lookup).
func (t *target) hostports() []string {
	if t.ipAddr != "" {
		return []string{t.ipAddr}
	}
	if p := t.addrs.Load(); p != nil && !t.dnsErr.Load() {
		return *p
	}
	return nil
}

// targetStatus is Kong's balancer getTargetStatus for one target: {"host",
// "port", "dns", "nodeWeight", "weight": {"total", "available",
// "unavailable"}, "addresses": [{"ip", "port", "weight", "healthy"}]}. Every
// address carries the target's weight (as Kong gives each A/AAAA address
// the node weight) and the target's availability, health being kept per
// target. "dns" is the record type the addresses came from (A or AAAA), or
// "unknown" when there are none: the resolver's error text is not kept.
func (e *entry) targetStatus() map[string]any {
	hostports := e.t.hostports()
	healthy := e.t.available()
	addrs := make([]any, 0, len(hostports))
	dns := "unknown"
	total, unavailable := 0, 0
	for i, hp := range hostports {
		ip, port, _ := net.SplitHostPort(hp)
		pn, _ := strconv.Atoi(port)
		if i == 0 {
			dns = "A"
			if a := net.ParseIP(ip); a != nil && a.To4() == nil {
				dns = "AAAA"
			}
		}
		addrs = append(addrs, map[string]any{"ip": ip, "port": pn, "weight": e.weight, "healthy": healthy})
		total += e.weight
		if !healthy {
			unavailable += e.weight
		}
	}
	return map[string]any{
		"host":       e.t.host,
		"port":       e.t.port,
		"dns":        dns,
		"nodeWeight": e.weight,
		"weight": map[string]any{
			"total":       total,
			"available":   total - unavailable,
			"unavailable": unavailable,
		},
		"addresses": addrs,
	}
}

// balancerHealthy is Kong's rule: healthy weight / total weight × 100 >
// threshold; no targets or total weight 0 is unhealthy.
func balancerHealthy(total, avail int, threshold float64) bool {
	return total > 0 && float64(avail)*100/float64(total) > threshold
}

// SetTargetHealth is the Admin API's PUT .../healthy|unhealthy. targetID may
// be the target's id or its host:port.
func (m *Manager) SetTargetHealth(upstreamID, targetID string, healthy bool) error {
	m.mu.Lock()
	u := m.byID[upstreamID]
	m.mu.Unlock()
	if u == nil {
		return fmt.Errorf("set target health: upstream %q not found", upstreamID)
	}
	s := u.snap.Load()
	for i := range s.entries {
		e := &s.entries[i]
		if e.id == targetID || e.t.key == targetID {
			e.t.health.Set(s.policy, healthy, health.CauseManual, m.clock.Now())
			return nil
		}
	}
	return fmt.Errorf("set target health: target %q not found in upstream %q", targetID, upstreamID)
}

func (m *Manager) upstream(id string) *upstream {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byID[id]
}

// splitTarget parses Kong's target "host[:port]" (port defaults to 8000,
// IPv6 in brackets) into host, port and a normalised host:port key.
func splitTarget(s string) (host string, port int, key string, err error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		// no port: the whole thing is the host (maybe a bracketed IPv6)
		host, ps = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
	}
	port = defaultTargetPort
	if ps != "" {
		port, err = strconv.Atoi(ps)
		if err != nil || port < 1 || port > 65535 {
			return "", 0, "", fmt.Errorf("target %q: bad port %q", s, ps)
		}
	}
	if host == "" {
		return "", 0, "", fmt.Errorf("target %q: empty host", s)
	}
	return host, port, net.JoinHostPort(host, strconv.Itoa(port)), nil
}
