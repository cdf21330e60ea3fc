// Package health implements Kong's upstream health checks: a per-target state
// machine fed by active probes and by proxied traffic (passive checks, the
// circuit breaker), with Kong's counters, thresholds and reset rules, plus
// Gauntlet's opt-in half-open recovery for passive-only setups.
package health

import (
	"net/http"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Source says which check produced an observation; each has its own thresholds
// while the counters themselves are shared, as in lua-resty-healthcheck.
type Source uint8

const (
	Active Source = iota
	Passive
)

func (s Source) String() string {
	if s == Active {
		return "active"
	}
	return "passive"
}

// Outcome is one observation of a target.
type Outcome uint8

const (
	// Neutral: a status in neither list; changes nothing.
	Neutral Outcome = iota
	Success
	TCPFailure
	Timeout
	HTTPFailure
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case TCPFailure:
		return "tcp_failure"
	case Timeout:
		return "timeout"
	case HTTPFailure:
		return "http_failure"
	}
	return "neutral"
}

// StatusSet is a bitmap of HTTP status codes 0..1023 (Kong allows 100..999),
// so classifying a status costs a shift, not a map lookup.
type StatusSet [16]uint64

// NewStatusSet builds a set; codes outside 0..1023 are ignored.
func NewStatusSet(codes []int) StatusSet {
	var s StatusSet
	for _, c := range codes {
		if c >= 0 && c < 1024 {
			s[c>>6] |= 1 << (uint(c) & 63)
		}
	}
	return s
}

// Has reports whether code is in the set.
func (s *StatusSet) Has(code int) bool {
	return code >= 0 && code < 1024 && s[code>>6]&(1<<(uint(code)&63)) != 0
}

// Thresholds are one check's counter limits; 0 disables that counter.
type Thresholds struct {
	Successes    int
	TCPFailures  int
	Timeouts     int
	HTTPFailures int
	Healthy      StatusSet
	Unhealthy    StatusSet
}

// limit returns the threshold that governs an outcome.
func (t *Thresholds) limit(o Outcome) int {
	switch o {
	case Success:
		return t.Successes
	case TCPFailure:
		return t.TCPFailures
	case Timeout:
		return t.Timeouts
	case HTTPFailure:
		return t.HTTPFailures
	}
	return 0
}

// ClassifyStatus maps a response status to an outcome. Status 0 (no valid
// response) counts as an HTTP failure, as lua-resty-healthcheck does.
func (t *Thresholds) ClassifyStatus(status int) Outcome {
	switch {
	case t.Healthy.Has(status):
		return Success
	case status == 0 || t.Unhealthy.Has(status):
		return HTTPFailure
	}
	return Neutral
}

// ActiveProbe is how the active checker probes a target.
type ActiveProbe struct {
	Type              string // http, https, tcp (grpc and grpcs are probed as http/https)
	Timeout           time.Duration
	Concurrency       int
	HTTPPath          string
	HTTPSSNI          string
	VerifyCertificate bool
	Headers           http.Header
	HealthyInterval   time.Duration
	UnhealthyInterval time.Duration
}

// Policy is an upstream's compiled healthchecks tree. It is immutable; Apply
// swaps in a new one while target state carries on.
type Policy struct {
	// Enabled is Kong's rule: checking is on only if an active interval or a
	// passive unhealthy threshold is non-zero. Off, every target reads
	// HEALTHCHECKS_OFF and traffic is not observed.
	Enabled       bool
	ActiveEnabled bool
	// PassiveEnabled: traffic feeds the counters (checking is on and a passive
	// threshold is non-zero).
	PassiveEnabled bool
	Probe          ActiveProbe
	ActiveLimits   Thresholds
	PassiveLimits  Thresholds
	// PassiveTCP: passive.type "tcp" judges connections, not statuses: any
	// response is a success.
	PassiveTCP bool
	Threshold  float64
	// HalfOpenCooldown > 0 enables Gauntlet's half-open recovery.
	HalfOpenCooldown time.Duration
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// NewPolicy compiles an upstream's healthchecks. Defaults are the config
// package's job; zero values here mean "disabled", as in Kong's schema.
func NewPolicy(hc config.Healthchecks) *Policy {
	a, ps := hc.Active, hc.Passive
	p := &Policy{
		Probe: ActiveProbe{
			Type:              a.Type,
			Timeout:           seconds(a.Timeout),
			Concurrency:       a.Concurrency,
			HTTPPath:          a.HTTPPath,
			VerifyCertificate: a.HTTPSVerifyCertificate,
			HealthyInterval:   seconds(a.Healthy.Interval),
			UnhealthyInterval: seconds(a.Unhealthy.Interval),
		},
		ActiveLimits: Thresholds{
			Successes:    a.Healthy.Successes,
			TCPFailures:  a.Unhealthy.TCPFailures,
			Timeouts:     a.Unhealthy.Timeouts,
			HTTPFailures: a.Unhealthy.HTTPFailures,
			Healthy:      NewStatusSet(a.Healthy.HTTPStatuses),
			Unhealthy:    NewStatusSet(a.Unhealthy.HTTPStatuses),
		},
		PassiveLimits: Thresholds{
			Successes:    ps.Healthy.Successes,
			TCPFailures:  ps.Unhealthy.TCPFailures,
			Timeouts:     ps.Unhealthy.Timeouts,
			HTTPFailures: ps.Unhealthy.HTTPFailures,
			Healthy:      NewStatusSet(ps.Healthy.HTTPStatuses),
			Unhealthy:    NewStatusSet(ps.Unhealthy.HTTPStatuses),
		},
		Threshold:  hc.Threshold,
		PassiveTCP: ps.Type == "tcp",
	}
	if a.HTTPSSNI != nil {
		p.Probe.HTTPSSNI = *a.HTTPSSNI
	}
	if p.Probe.Type == "" {
		p.Probe.Type = "http"
	}
	if p.Probe.Timeout <= 0 {
		p.Probe.Timeout = time.Second
	}
	if p.Probe.Concurrency <= 0 {
		p.Probe.Concurrency = 10
	}
	if p.Probe.HTTPPath == "" {
		p.Probe.HTTPPath = "/"
	}
	if len(a.Headers) > 0 {
		p.Probe.Headers = make(http.Header, len(a.Headers))
		for k, v := range a.Headers {
			p.Probe.Headers[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
		}
	}
	p.ActiveEnabled = p.Probe.HealthyInterval > 0 || p.Probe.UnhealthyInterval > 0
	passiveUnhealthy := ps.Unhealthy.TCPFailures > 0 || ps.Unhealthy.Timeouts > 0 || ps.Unhealthy.HTTPFailures > 0
	p.Enabled = p.ActiveEnabled || passiveUnhealthy
	p.PassiveEnabled = p.Enabled && (passiveUnhealthy || ps.Healthy.Successes > 0)
	if hc.HalfOpen != nil && hc.HalfOpen.Cooldown > 0 {
		p.HalfOpenCooldown = seconds(hc.HalfOpen.Cooldown)
	}
	return p
}

// ClassifyPassive turns one proxied try into an outcome: a connect error is a
// TCP failure, a timeout a timeout, otherwise the upstream status decides.
// status 0 without a failure flag (e.g. the client went away) says nothing
// about the target and is Neutral.
func (p *Policy) ClassifyPassive(tcpFailure, timeout bool, status int) Outcome {
	switch {
	case tcpFailure:
		return TCPFailure
	case timeout:
		return Timeout
	case status == 0:
		return Neutral
	case p.PassiveTCP:
		return Success
	}
	return p.PassiveLimits.ClassifyStatus(status)
}

// limits returns the thresholds of a source.
func (p *Policy) limits(src Source) *Thresholds {
	if src == Active {
		return &p.ActiveLimits
	}
	return &p.PassiveLimits
}

// SameProbe reports whether two policies probe identically, so Apply restarts
// a prober only when its settings really changed.
func (p *Policy) SameProbe(q *Policy) bool {
	if p == nil || q == nil {
		return p == q
	}
	a, b := p.Probe, q.Probe
	if a.Type != b.Type || a.Timeout != b.Timeout || a.Concurrency != b.Concurrency ||
		a.HTTPPath != b.HTTPPath || a.HTTPSSNI != b.HTTPSSNI || a.VerifyCertificate != b.VerifyCertificate ||
		a.HealthyInterval != b.HealthyInterval || a.UnhealthyInterval != b.UnhealthyInterval ||
		len(a.Headers) != len(b.Headers) {
		return false
	}
	for k, v := range a.Headers {
		w := b.Headers[k]
		if len(v) != len(w) {
			return false
		}
		for i := range v {
			if v[i] != w[i] {
				return false
			}
		}
	}
	return p.ActiveEnabled == q.ActiveEnabled
}
