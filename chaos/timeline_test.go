package chaos

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// newRecorder is a fault whose actions append to a shared log, so tests can
// see the order in which the timeline ran them.
func newRecorder(mu *sync.Mutex, log *[]string, name string, failInject bool) Fault {
	note := func(s string) { mu.Lock(); *log = append(*log, s); mu.Unlock() }
	return Custom(name, "test", "x",
		func(context.Context) error {
			note("inject " + name)
			if failInject {
				return errors.New("boom")
			}
			return nil
		},
		func(context.Context) error { note("revert " + name); return nil })
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTimelineOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	a := newRecorder(&mu, &log, "a", false)
	b := newRecorder(&mu, &log, "b", false)
	c := newRecorder(&mu, &log, "c", false)
	d := newRecorder(&mu, &log, "d", false)
	// Given out of order on purpose: the timeline sorts by offset; at equal
	// offsets an inject runs before a revert (c's inject and a's revert at 4 ms).
	tl := NewTimeline(quiet(),
		Step{At: 4 * time.Millisecond, Fault: c, Hold: 2 * time.Millisecond},
		Step{At: 1 * time.Millisecond, Fault: a, Hold: 3 * time.Millisecond},
		Step{At: 2 * time.Millisecond, Fault: b},
		Step{At: 0, Fault: d},
	)
	origin := time.Now()
	if err := tl.Run(context.Background(), origin); err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := tl.RevertAll(context.Background()); err != nil {
		t.Fatalf("revert all: %v", err)
	}
	want := []string{"inject d", "inject a", "inject b", "inject c", "revert a", "revert c", "revert b", "revert d"}
	if got := strings.Join(log, ","); got != strings.Join(want, ",") {
		t.Fatalf("order:\n got %s\nwant %s", got, strings.Join(want, ","))
	}
	evs := tl.Events()
	if len(evs) != len(want) {
		t.Fatalf("events: got %d, want %d", len(evs), len(want))
	}
	for i, ev := range evs {
		if got := string(ev.Action) + " " + ev.Fault; got != want[i] {
			t.Errorf("event %d: got %q, want %q", i, got, want[i])
		}
		// A timer never fires early, so no action may start before its planned offset.
		if ev.Started.Before(origin.Add(ev.Planned)) {
			t.Errorf("event %d (%s) started %v before its planned offset %v", i, want[i], origin.Add(ev.Planned).Sub(ev.Started), ev.Planned)
		}
		if ev.Ended.Before(ev.Started) {
			t.Errorf("event %d ends before it starts", i)
		}
	}
	w := tl.Windows()
	if len(w) != 4 {
		t.Fatalf("windows: got %d, want 4", len(w))
	}
	for _, win := range w {
		if win.Until.IsZero() || win.Until.Before(win.From) {
			t.Errorf("window %s: from %v until %v", win.Fault, win.From, win.Until)
		}
	}
}

func TestTimelineFailedInjectIsNotReverted(t *testing.T) {
	var mu sync.Mutex
	var log []string
	bad := newRecorder(&mu, &log, "bad", true)
	good := newRecorder(&mu, &log, "good", false)
	tl := NewTimeline(quiet(),
		Step{At: 0, Fault: bad, Hold: time.Millisecond},
		Step{At: time.Millisecond, Fault: good},
	)
	err := tl.Run(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("run error: got %v, want the inject failure", err)
	}
	if err := tl.RevertAll(context.Background()); err != nil {
		t.Fatalf("revert all: %v", err)
	}
	want := "inject bad,inject good,revert good"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if evs := tl.Events(); evs[0].Err == "" {
		t.Errorf("failed inject recorded without its error")
	}
}

func TestTimelineCancelledStillReverts(t *testing.T) {
	var mu sync.Mutex
	var log []string
	a := newRecorder(&mu, &log, "a", false)
	later := newRecorder(&mu, &log, "later", false)
	tl := NewTimeline(quiet(),
		Step{At: 0, Fault: a},
		Step{At: time.Hour, Fault: later},
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, time.Now()) }()
	// Wait (bounded) until the first fault is in, then cancel the run as a
	// failing test would.
	deadline := time.Now().Add(5 * time.Second)
	for len(tl.Events()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first inject never ran")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run: got %v, want context.Canceled", err)
	}
	if err := tl.RevertAll(context.Background()); err != nil {
		t.Fatalf("revert all: %v", err)
	}
	if got := strings.Join(log, ","); got != "inject a,revert a" {
		t.Fatalf("got %s", got)
	}
}

func TestOneShotFaultLeavesNothingToRevert(t *testing.T) {
	calls := 0
	f := Custom("restart x", "restart", "x", func(context.Context) error { calls++; return nil }, nil)
	tl := NewTimeline(quiet(), Step{Fault: f})
	if err := tl.Run(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := tl.RevertAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(tl.Events()) != 1 {
		t.Fatalf("calls %d events %d, want 1 and 1", calls, len(tl.Events()))
	}
}

func TestToggleRevertWithoutInjectIsNoop(t *testing.T) {
	reverts := 0
	f := Custom("x", "test", "x", func(context.Context) error { return nil }, func(context.Context) error { reverts++; return nil })
	if err := f.Revert(context.Background()); err != nil || reverts != 0 {
		t.Fatalf("revert before inject: err %v, reverts %d", err, reverts)
	}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Inject(context.Background()); err == nil {
		t.Fatal("double inject accepted")
	}
	_ = f.Revert(context.Background())
	_ = f.Revert(context.Background())
	if reverts != 1 {
		t.Fatalf("reverts %d, want 1", reverts)
	}
}

// TestTimelineTellsFaultsApartByIdentity: two faults with one name (the same
// node killed by two steps' own faults) keep their own events and windows,
// which carry the fault's kind, target and planned hold as fields.
func TestTimelineTellsFaultsApartByIdentity(t *testing.T) {
	noop := func(context.Context) error { return nil }
	first := Custom("kill m1", "kill", "m1", noop, noop)
	second := Custom("kill m1", "kill", "m1", noop, noop)
	tl := NewTimeline(quiet(),
		Step{At: 0, Fault: first, Hold: 3 * time.Millisecond},
		Step{At: time.Millisecond, Fault: second, Hold: 5 * time.Millisecond},
	)
	if err := tl.Run(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Fault{first, second} {
		on, ok := tl.EventOf(f, ActionInject)
		off, reverted := tl.EventOf(f, ActionRevert)
		if !ok || !reverted || !on.Of(f) || !off.Of(f) || off.Started.Before(on.Ended) {
			t.Fatalf("%p: inject %+v revert %+v", f, on, off)
		}
	}
	ws := tl.Windows()
	if len(ws) != 2 {
		t.Fatalf("windows: %+v", ws)
	}
	for i, f := range []Fault{first, second} {
		w := ws[i]
		if !w.Inject.Of(f) || !w.Revert.Of(f) || w.Kind != "kill" || w.Target != "m1" || w.Fault != "kill m1" || w.Err() != "" {
			t.Fatalf("window %d: %+v", i, w)
		}
		if want := []time.Duration{3, 5}[i] * time.Millisecond; w.Inject.Hold != want {
			t.Fatalf("window %d: hold %v, want %v", i, w.Inject.Hold, want)
		}
	}
	// first is reverted at 3 ms, after second's inject at 1 ms: paired by
	// name, first's revert would have closed second's window.
	if !ws[0].Until.Before(ws[1].Until) {
		t.Fatalf("first window until %v, second until %v", ws[0].Until, ws[1].Until)
	}
}
