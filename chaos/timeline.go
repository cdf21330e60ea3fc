package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Step schedules a fault at an offset from the timeline's origin (usually the
// start of the load). Hold > 0 reverts it Hold later; Hold = 0 keeps it until
// RevertAll.
type Step struct {
	At    time.Duration
	Fault Fault
	Hold  time.Duration
}

// Action is what an Event did to its fault.
type Action string

const (
	ActionInject Action = "inject"
	ActionRevert Action = "revert"
)

// Event is one action as it actually happened. Planned is the offset it was
// scheduled at; Started and Ended are wall-clock times, so Started−origin minus
// Planned is how late it ran.
type Event struct {
	// Fault is the fault's Name, for humans; Kind and Target are its parts.
	Fault  string
	Kind   string
	Target string
	Action Action
	// Planned is the offset the action was scheduled at; Hold, for an inject,
	// how long its step meant to keep the fault (0: until RevertAll).
	Planned time.Duration
	Hold    time.Duration
	Started time.Time
	Ended   time.Time
	Err     string

	// of is the fault itself: events are matched to their fault by identity,
	// since two faults may share a name.
	of Fault
}

// Of reports whether the event is an action of fault f.
func (e Event) Of(f Fault) bool { return e.of == f }

// Timeline runs faults at offsets during load and records what happened. It is
// safe for concurrent use: RevertAll may run while Run is still waiting.
type Timeline struct {
	steps []Step
	log   *slog.Logger

	mu       sync.Mutex
	origin   time.Time
	events   []Event
	injected []Fault // in injection order, reverted ones removed
}

// NewTimeline returns a timeline of steps; their order in the call does not
// matter, they run by offset (ties: injects before reverts, then call order).
func NewTimeline(log *slog.Logger, steps ...Step) *Timeline {
	if log == nil {
		log = slog.Default()
	}
	return &Timeline{steps: steps, log: log}
}

type action struct {
	at, hold time.Duration
	fault    Fault
	act      Action
	seq      int
}

// Schedule is the ordered list of actions Run will take: each step's inject at
// At, and its revert at At+Hold when Hold > 0.
func (t *Timeline) schedule() []action {
	var acts []action
	for i, s := range t.steps {
		acts = append(acts, action{at: s.At, hold: s.Hold, fault: s.Fault, act: ActionInject, seq: i})
		if s.Hold > 0 {
			acts = append(acts, action{at: s.At + s.Hold, fault: s.Fault, act: ActionRevert, seq: i})
		}
	}
	sort.SliceStable(acts, func(i, j int) bool {
		a, b := acts[i], acts[j]
		if a.at != b.at {
			return a.at < b.at
		}
		if a.act != b.act {
			return a.act == ActionInject
		}
		return a.seq < b.seq
	})
	return acts
}

// Run executes the schedule relative to origin and returns when every action
// has run or ctx ends. Actions run one at a time, so a slow one delays the next;
// the events show it. An inject that fails is recorded and its timed revert
// skipped; Run goes on with the rest and returns the errors joined.
func (t *Timeline) Run(ctx context.Context, origin time.Time) error {
	t.mu.Lock()
	t.origin = origin
	t.mu.Unlock()
	var errs []error
	for _, a := range t.schedule() {
		wait := time.Until(origin.Add(a.at))
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return errors.Join(append(errs, fmt.Errorf("timeline stopped before %s %s: %w", a.act, a.fault.Name(), ctx.Err()))...)
			case <-timer.C:
			}
		}
		if a.act == ActionRevert && !t.isInjected(a.fault) {
			continue
		}
		if err := t.do(ctx, a.fault, a.act, a.at, a.hold); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RevertAll reverts every fault still injected, newest first, and records each
// revert. It runs with its own context so a cancelled test still cleans up.
func (t *Timeline) RevertAll(ctx context.Context) error {
	t.mu.Lock()
	pending := append([]Fault(nil), t.injected...)
	origin := t.origin
	t.mu.Unlock()
	var errs []error
	for i := len(pending) - 1; i >= 0; i-- {
		if !pending[i].Active() {
			t.forget(pending[i]) // one-shot faults (restart) leave nothing to revert
			continue
		}
		planned := time.Duration(0)
		if !origin.IsZero() {
			planned = time.Since(origin)
		}
		if err := t.do(ctx, pending[i], ActionRevert, planned, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *Timeline) forget(f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, g := range t.injected {
		if g == f {
			t.injected = append(t.injected[:i], t.injected[i+1:]...)
			return
		}
	}
}

func (t *Timeline) isInjected(f Fault) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, g := range t.injected {
		if g == f {
			return true
		}
	}
	return false
}

func (t *Timeline) do(ctx context.Context, f Fault, act Action, planned, hold time.Duration) error {
	ev := Event{Fault: f.Name(), Kind: f.Kind(), Target: f.Target(), Action: act,
		Planned: planned, Hold: hold, Started: time.Now(), of: f}
	var err error
	if act == ActionInject {
		err = f.Inject(ctx)
	} else {
		err = f.Revert(ctx)
	}
	ev.Ended = time.Now()
	if err != nil {
		ev.Err = err.Error()
	}
	t.mu.Lock()
	t.events = append(t.events, ev)
	switch {
	case err != nil:
	case act == ActionInject:
		t.injected = append(t.injected, f)
	}
	t.mu.Unlock()
	if err == nil && act == ActionRevert {
		t.forget(f)
	}
	t.log.Info("fault", "action", act, "fault", ev.Fault, "took", ev.Ended.Sub(ev.Started).Round(time.Millisecond), "err", ev.Err)
	return err
}

// Events returns a copy of what happened so far, in the order it started.
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]Event(nil), t.events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

// EventOf is the first event of fault f's action act.
func (t *Timeline) EventOf(f Fault, act Action) (Event, bool) {
	for _, ev := range t.Events() {
		if ev.Of(f) && ev.Action == act {
			return ev, true
		}
	}
	return Event{}, false
}

// Origin is the time Run measured offsets from (zero before Run).
func (t *Timeline) Origin() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.origin
}

// Window is one injection of a fault, with the revert that followed it. It
// was in effect from the end of its inject to the start of its revert (Until
// is zero if it was never reverted); Inject.Started to Revert.Ended is the
// whole span, actions included.
type Window struct {
	// Fault is the fault's Name, for humans; Kind and Target are its parts.
	Fault, Kind, Target string
	From, Until         time.Time
	// Inject is the action that opened the window; Revert the first revert
	// of the same fault after it (zero if none).
	Inject, Revert Event
}

// Err is the first error of the window's actions ("" when both held); a
// window with one was not, or not wholly, in effect.
func (w Window) Err() string {
	if w.Inject.Err != "" {
		return w.Inject.Err
	}
	return w.Revert.Err
}

// Windows pairs each inject, failed or not, with the revert of the same fault
// that followed it, failed or not, in the order the injects started.
func (t *Timeline) Windows() []Window {
	var out []Window
	open := map[Fault]int{}
	for _, ev := range t.Events() {
		switch ev.Action {
		case ActionInject:
			open[ev.of] = len(out)
			out = append(out, Window{Fault: ev.Fault, Kind: ev.Kind, Target: ev.Target, From: ev.Ended, Inject: ev})
		case ActionRevert:
			if i, ok := open[ev.of]; ok {
				out[i].Until, out[i].Revert = ev.Started, ev
				delete(open, ev.of)
			}
		}
	}
	return out
}
