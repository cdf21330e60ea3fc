package health

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Cause names what moved a target between states; it appears in logs and in
// the transitions metric.
type Cause string

const (
	CauseActive   Cause = "active"
	CausePassive  Cause = "passive"
	CauseManual   Cause = "manual"
	CauseHalfOpen Cause = "half_open"
	// CauseConfig: checks were switched off, which puts every target back in
	// rotation (nothing could ever re-enable it otherwise).
	CauseConfig Cause = "config"
)

// A target's state as Kong's Admin API reports it (GET /upstreams/{u}/health).
// DNSError is the balancer's: the target's name does not resolve.
const (
	Healthy         = "HEALTHY"
	Unhealthy       = "UNHEALTHY"
	HealthchecksOff = "HEALTHCHECKS_OFF"
	DNSError        = "DNS_ERROR"
)

// Transition is one change of a target's health.
type Transition struct {
	Healthy bool // the new state
	Cause   Cause
	Detail  string // e.g. "http_failures 3/3 (status 500)"
	At      time.Time
}

// Counters is a snapshot of a target's health counters.
type Counters struct {
	Successes    int
	TCPFailures  int
	Timeouts     int
	HTTPFailures int
}

// Target is the health state of one target. It outlives configuration changes
// that keep the target, which is how Gauntlet keeps health across Apply where
// Kong resets it. The zero value is not usable; call NewTarget.
//
// Healthy is read on every balancer pick, so it is an atomic; observations take
// a short per-target lock.
type Target struct {
	healthy atomic.Bool
	// trial marks a half-open trial request in flight; taken by CAS on the pick
	// path so exactly one request gets through per cooldown.
	trial atomic.Bool
	// halfOpenAt is the unix-nano instant from which a trial may be let
	// through; 0 = no half-open (healthy, or ejected manually).
	halfOpenAt atomic.Int64
	// dirty mirrors "some counter is non-zero" so the common case, a success
	// on a fully healthy target, needs no lock.
	dirty atomic.Bool

	mu       sync.Mutex
	c        Counters
	onChange func(Transition)
}

// NewTarget returns a healthy target. onChange (may be nil) is called after
// every transition, outside the target's lock, in the goroutine that caused it.
func NewTarget(onChange func(Transition)) *Target {
	t := &Target{onChange: onChange}
	t.healthy.Store(true)
	return t
}

// Healthy reports the current state; lock-free.
func (t *Target) Healthy() bool { return t.healthy.Load() }

// Counters returns the current counters.
func (t *Target) Counters() Counters {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c
}

func (c *Counters) failures() int { return c.TCPFailures + c.Timeouts + c.HTTPFailures }

func (c *Counters) ptr(o Outcome) *int {
	switch o {
	case Success:
		return &c.Successes
	case TCPFailure:
		return &c.TCPFailures
	case Timeout:
		return &c.Timeouts
	}
	return &c.HTTPFailures
}

// Observe feeds one outcome from src under policy p, following
// lua-resty-healthcheck's incr_counter:
//   - a counter whose threshold is 0 is disabled: the outcome is ignored;
//   - a success on a fully healthy target (no failures counted), or a failure
//     on a fully unhealthy target (no successes counted), changes nothing;
//   - a success clears the failure counters, a failure clears the successes;
//   - a counter reaching its threshold flips the state.
//
// With half-open recovery on, a passive success on an ejected target during its
// trial re-enables it at once and a failure restarts the cooldown.
func (t *Target) Observe(p *Policy, src Source, o Outcome, now time.Time, detail string) {
	if o == Neutral || p == nil || !p.Enabled {
		if t.trial.Load() && src == Passive {
			// an inconclusive trial: let the next request try instead
			t.trial.Store(false)
		}
		return
	}
	if src == Passive && t.trial.Load() && !t.healthy.Load() {
		t.finishTrial(p, o, now, detail)
		return
	}
	lim := p.limits(src).limit(o)
	if lim == 0 {
		return
	}
	if o == Success && !t.dirty.Load() && t.healthy.Load() {
		return // fully healthy: nothing to count
	}
	t.update(func() (Transition, bool) {
		tr, changed := t.countLocked(p, src, o, lim, now, detail)
		t.dirty.Store(t.c != Counters{})
		return tr, changed
	})
}

// countLocked counts o, whose threshold is lim, with t.mu held. When the
// counter reaches the threshold it applies the transition and returns it.
func (t *Target) countLocked(p *Policy, src Source, o Outcome, lim int, now time.Time, detail string) (Transition, bool) {
	healthy := t.healthy.Load()
	if o == Success {
		if healthy && t.c.failures() == 0 {
			return Transition{}, false
		}
		t.c.TCPFailures, t.c.Timeouts, t.c.HTTPFailures = 0, 0, 0
	} else {
		if !healthy && t.c.Successes == 0 {
			return Transition{}, false
		}
		t.c.Successes = 0
	}
	ctr := t.c.ptr(o)
	*ctr++
	if *ctr < lim || (o == Success) == healthy {
		return Transition{}, false
	}
	cause := CauseActive
	if src == Passive {
		cause = CausePassive
	}
	tr := Transition{
		Healthy: o == Success,
		Cause:   cause,
		Detail:  fmt.Sprintf("%s %s %d/%d%s", src, counterName(o), *ctr, lim, detailSuffix(detail)),
		At:      now,
	}
	t.applyLocked(p, tr)
	return tr, true
}

func counterName(o Outcome) string {
	switch o {
	case Success:
		return "successes"
	case TCPFailure:
		return "tcp_failures"
	case Timeout:
		return "timeouts"
	}
	return "http_failures"
}

func detailSuffix(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

// applyLocked applies tr with t.mu held and resets the counters (a fresh
// state starts counting from zero); update reports it once unlocked.
func (t *Target) applyLocked(p *Policy, tr Transition) {
	t.c = Counters{}
	t.trial.Store(false)
	if !tr.Healthy && tr.Cause != CauseManual && p != nil && p.HalfOpenCooldown > 0 {
		t.halfOpenAt.Store(tr.At.Add(p.HalfOpenCooldown).UnixNano())
	} else {
		t.halfOpenAt.Store(0)
	}
	t.healthy.Store(tr.Healthy)
}

// update runs change with t.mu held and then, unlocked, reports the
// transition it applied, if any: onChange runs outside the lock, so it may
// read this target or take locks of its own.
func (t *Target) update(change func() (Transition, bool)) {
	t.mu.Lock()
	tr, changed := change()
	t.mu.Unlock()
	if changed && t.onChange != nil {
		t.onChange(tr)
	}
}

func (t *Target) finishTrial(p *Policy, o Outcome, now time.Time, detail string) {
	t.update(func() (Transition, bool) { return t.finishTrialLocked(p, o, now, detail) })
}

// finishTrialLocked settles the half-open trial with t.mu held: a success
// re-enables the target (the transition is returned), a failure restarts the
// cooldown.
func (t *Target) finishTrialLocked(p *Policy, o Outcome, now time.Time, detail string) (Transition, bool) {
	if t.healthy.Load() || !t.trial.Load() {
		return Transition{}, false
	}
	if o == Success {
		tr := Transition{Healthy: true, Cause: CauseHalfOpen,
			Detail: "half-open trial succeeded" + detailSuffix(detail), At: now}
		t.applyLocked(p, tr)
		return tr, true
	}
	// the trial failed: stay ejected for another cooldown
	t.halfOpenAt.Store(now.Add(p.HalfOpenCooldown).UnixNano())
	t.trial.Store(false)
	return Transition{}, false
}

// TryTrial is asked on the pick path for an ejected target: it grants one
// half-open trial request once the cooldown has passed. The caller must report
// that request's outcome with Observe(…, Passive, …); a Neutral outcome (the
// request never reached the target) gives the trial back.
func (t *Target) TryTrial(now time.Time) bool {
	at := t.halfOpenAt.Load()
	if at == 0 || now.UnixNano() < at || t.healthy.Load() {
		return false
	}
	return t.trial.CompareAndSwap(false, true)
}

// HalfOpenPending reports whether the target may be granted a trial at some
// point (it was ejected by checks and half-open is configured).
func (t *Target) HalfOpenPending() bool { return t.halfOpenAt.Load() != 0 && !t.healthy.Load() }

// InTrial reports whether a half-open trial request is in flight.
func (t *Target) InTrial() bool { return t.trial.Load() }

// Set forces the state (Admin API healthy/unhealthy, or a manual override in
// tests); counters are cleared as Kong's set_target_status does. A manual
// ejection is never undone by half-open, only by checks or another Set.
func (t *Target) Set(p *Policy, healthy bool, cause Cause, now time.Time) {
	t.update(func() (Transition, bool) { return t.setLocked(p, healthy, cause, now) })
}

// setLocked is Set with t.mu held; it returns the transition when the state
// changed.
func (t *Target) setLocked(p *Policy, healthy bool, cause Cause, now time.Time) (Transition, bool) {
	if t.healthy.Load() == healthy {
		t.c = Counters{}
		if !healthy && cause == CauseManual {
			t.halfOpenAt.Store(0)
		}
		return Transition{}, false
	}
	detail := "set through the Admin API"
	if cause == CauseConfig {
		detail = "health checks disabled"
	}
	tr := Transition{Healthy: healthy, Cause: cause, Detail: detail, At: now}
	t.applyLocked(p, tr)
	return tr, true
}
