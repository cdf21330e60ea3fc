package battery

import (
	"fmt"
	"math"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Measurement limits: what the battery is willing to wait for. A bound past
// them is not waited out; the property is judged on what was measured up to
// them ("clients waited ≥ 10 s and were still waiting").
const (
	// ClientCap is the longest a load client waits for one answer.
	ClientCap = 10 * time.Second
	// Margin absorbs scheduling on a shared 2-core machine: the load
	// generator, the gateway and the mockbins compete for the same CPUs
	// (stalls of ~70 ms were seen in the Go scenarios), plus one connection
	// set-up.
	Margin = 500 * time.Millisecond
)

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

func secs(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// Tries is how many upstream attempts one request gets: 1 + retries.
func (s *ServicePlan) Tries() int { return 1 + max(s.Service.Retries, 0) }

// failsOver reports whether a request that meets one broken target is sent on
// to another one: the gateway gives each try a peer this request has not had
// yet, so with a second try and a second target the retry never returns to
// the broken one.
func (s *ServicePlan) failsOver() bool { return s.Tries() >= 2 && len(s.Targets) >= 2 }

func (s *ServicePlan) hc() *config.Healthchecks {
	if s.Upstream == nil {
		return nil
	}
	return &s.Upstream.Healthchecks
}

// KillAllowance is how many requests may fail after one of several targets
// is killed (its connections refused) under rate rps, and why.
//
//   - retries ≥ 1 and ≥ 2 targets: 0. A refused connect is retried on a peer
//     the request has not had, which is alive.
//   - no retry, passive checks count tcp_failures (k > 0): the dead target is
//     ejected at its k-th refused connect, so k requests fail, plus those
//     already in flight to it at that moment: at most one per 100 rps
//     (refusals come back within milliseconds).
//   - no retry, active checks only (unhealthy.interval i, tcp_failures k):
//     the dead target keeps its share (1/targets) of rate until k probes
//     failed, at most i × (k + 1) seconds (the first probe may come i late).
//   - no retry and nothing that ejects it: every request the balancer gives
//     the dead target fails, and retries allow none of them: 0.
func (s *ServicePlan) KillAllowance(rate int) (int, string) {
	if s.failsOver() {
		return 0, fmt.Sprintf("retries=%d over %d targets: a refused connect is retried on a live target", s.Service.Retries, len(s.Targets))
	}
	hc := s.hc()
	if hc != nil && hc.Passive.Unhealthy.TCPFailures > 0 {
		k := hc.Passive.Unhealthy.TCPFailures
		inflight := int(math.Ceil(float64(rate) / 100))
		return k + inflight, fmt.Sprintf("no retry; passive tcp_failures=%d ejects the dead target (+%d in flight)", k, inflight)
	}
	if hc != nil && hc.Active.Unhealthy.Interval > 0 && hc.Active.Unhealthy.TCPFailures > 0 {
		i, k := hc.Active.Unhealthy.Interval, hc.Active.Unhealthy.TCPFailures
		window := i * float64(k+1)
		n := int(math.Ceil(float64(rate) / float64(len(s.Targets)) * window))
		return n, fmt.Sprintf("no retry; active probes eject the dead target within interval %gs × (tcp_failures %d + 1): its 1/%d share for %gs", i, k, len(s.Targets), window)
	}
	return 0, fmt.Sprintf("retries=%d and nothing ejects a dead target: every request it gets fails", s.Service.Retries)
}

// visits is how many tries of one request can land on the one faulted
// target: one when the request fails over (the retry goes to a peer it has
// not had), every try when there is a single target.
func (s *ServicePlan) visits() int {
	if s.failsOver() || len(s.Targets) >= 2 {
		return 1
	}
	return s.Tries()
}

// StallBound is the longest a client may wait when one target stalls (its
// answers come later than read_timeout): each visit to it ends at
// read_timeout with a timeout, and a request visits it once when it can fail
// over, every try with a single target; plus Margin.
func (s *ServicePlan) StallBound() (time.Duration, string) {
	v := s.visits()
	b := time.Duration(v)*ms(s.Service.ReadTimeout) + Margin
	if v == 1 {
		return b, fmt.Sprintf("read_timeout %s + %s", ms(s.Service.ReadTimeout), Margin)
	}
	return b, fmt.Sprintf("%d tries × read_timeout %s + %s", v, ms(s.Service.ReadTimeout), Margin)
}

// BlackholeBound is the longest a client may wait when one target swallows
// every byte (its container frozen: the kernel still accepts connections, the
// process answers nothing): a visit costs at most connect_timeout (the
// backlog full) plus read_timeout (connected, no answer); visits as in
// StallBound; plus Margin.
func (s *ServicePlan) BlackholeBound() (time.Duration, string) {
	v := s.visits()
	per := ms(s.Service.ConnectTimeout) + ms(s.Service.ReadTimeout)
	b := time.Duration(v)*per + Margin
	return b, fmt.Sprintf("%d × (connect_timeout %s + read_timeout %s) + %s", v, ms(s.Service.ConnectTimeout), ms(s.Service.ReadTimeout), Margin)
}

// ExpectFailover reports whether requests that meet a stalled or blackholed
// target must still succeed (on another target) rather than end in 504.
func (s *ServicePlan) ExpectFailover() bool { return s.failsOver() }

// RecoveryBound is how soon after the first target is back (answering its
// health path) traffic must succeed again when every target was down; ok is
// false when nothing ever brings it back.
//
//   - nothing ejects targets (no active unhealthy interval, every passive
//     threshold 0): the balancer still picks the target, so the first request
//     after it is back succeeds: Margin + 500 ms for the reconnect.
//   - active checks probe unhealthy targets (unhealthy.interval i > 0) and
//     can mark them healthy (healthy.successes n > 0): n good probes i apart,
//     the first up to i late: i × (n + 1) + Margin.
//   - the gateway's half_open extension (cooldown c): a trial request after
//     c brings a passively ejected target back: c + Margin.
//   - otherwise (passive checks only): an ejected target stays out until an
//     operator marks it healthy; not reachable.
func (s *ServicePlan) RecoveryBound() (time.Duration, bool, string) {
	hc := s.hc()
	if hc == nil || !ejects(hc) {
		return Margin + 500*time.Millisecond, true, "nothing ejects a target: the first request after it is back gets through"
	}
	a := hc.Active
	if a.Unhealthy.Interval > 0 && a.Healthy.Successes > 0 {
		b := secs(a.Unhealthy.Interval*float64(a.Healthy.Successes+1)) + Margin
		return b, true, fmt.Sprintf("active unhealthy.interval %gs × (healthy.successes %d + 1) + %s", a.Unhealthy.Interval, a.Healthy.Successes, Margin)
	}
	if hc.HalfOpen != nil && hc.HalfOpen.Cooldown > 0 {
		return secs(hc.HalfOpen.Cooldown) + Margin, true, fmt.Sprintf("half_open.cooldown %gs + %s", hc.HalfOpen.Cooldown, Margin)
	}
	return 0, false, "passive checks only: an ejected target never comes back by itself"
}

// ejects reports whether any health check can mark a target unhealthy.
func ejects(hc *config.Healthchecks) bool {
	a, p := hc.Active, hc.Passive.Unhealthy
	active := a.Unhealthy.Interval > 0 && (a.Unhealthy.TCPFailures > 0 || a.Unhealthy.Timeouts > 0 || a.Unhealthy.HTTPFailures > 0)
	return active || p.TCPFailures > 0 || p.Timeouts > 0 || p.HTTPFailures > 0
}

// RateTolerance is how far one whole second's admitted count may be from the
// limit R: a request in flight across a second boundary is counted by its
// send time in one second and by the gateway in the next (at 3R over ~1 ms of
// flight, a handful), plus a scheduling stall: 5, or 5% of R when larger.
func RateTolerance(perSecond int) int { return max(5, int(math.Ceil(float64(perSecond)*0.05))) }

// MaxOffered is the highest rate the battery offers on this machine (2 cores
// shared by the load generator, the gateway and the mockbins).
const MaxOffered = 900

// RateLimitPlan says what load proves a per-second limit: 3R for the limit to
// bite every second, or why it cannot be tested here.
func (rl *RateLimit) Offered() (int, string) {
	if rl.PerSecond == 0 {
		return 0, fmt.Sprintf("only longer windows (%s): exhausting them takes minutes, not measured", rl.Windows)
	}
	if 3*rl.PerSecond > MaxOffered {
		return 0, fmt.Sprintf("second=%d: 3× the limit is more than the %d rps this machine can offer", rl.PerSecond, MaxOffered)
	}
	return 3 * rl.PerSecond, ""
}

// RedisBack is how soon after Redis answers again the limit must hold again
// in whole seconds: the second in progress (it restarts from an empty Redis
// and may over-admit), the gateway's 250 ms breaker before it tries Redis
// again, 250 ms for the reconnect.
const RedisBack = time.Second + 500*time.Millisecond

// LongestRun bounds how long one fault property sends load (all-down: 2 s
// before, 3 s down, up to ClientCap for the recovery, 2 s after).
const LongestRun = faultAt + 3*time.Second + ClientCap + 2*time.Second

// FaultRate is the load of the fault properties: base rps, but below every
// rate limit that applies, so a 429 never passes for a failure. A window of
// length W with limit L sees at most rate × min(W, LongestRun) requests of
// one property; 80% of L leaves room for requests counted across a window
// boundary.
func (s *ServicePlan) FaultRate(base int) (int, string) {
	rate, why := base, ""
	if s.RateLimit == nil {
		return rate, why
	}
	for _, w := range windowNames {
		l, ok := s.RateLimit.Limits[w]
		if !ok {
			continue
		}
		span := min(windowLength[w], LongestRun).Seconds()
		if r := int(0.8 * l / span); r < rate {
			rate, why = max(r, 1), fmt.Sprintf("below the %s limit of %g", w, l)
		}
	}
	return rate, why
}
