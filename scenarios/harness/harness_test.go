package harness

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
)

func TestMissSaysWhichNumberAndByHowMuch(t *testing.T) {
	got := Miss("p99 of slow service", 742.5, "ms", "≤ 600.0ms (read_timeout + 100ms)", 600)
	want := "p99 of slow service: measured 742.5ms, bound ≤ 600.0ms (read_timeout + 100ms): missed by 142.5ms"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := Miss("failed requests", 3, "", "= 0", 0); !strings.HasSuffix(got, "missed by 3") {
		t.Fatalf("got %q", got)
	}
	if got := Format(0.995, "ratio"); got != "99.50%" {
		t.Fatalf("ratio: %q", got)
	}
}

func TestChecksRecordAndCollectMisses(t *testing.T) {
	s := &Scenario{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if !s.AtMost("a", 5, 10, "ms", "why") || s.AtMost("b", 11, 10, "ms", "why") ||
		!s.AtLeast("c", 1, 1, "ratio", "why") || s.Equal("d", 2, 0, "", "why") {
		t.Fatal("check results wrong")
	}
	if n := len(s.rec.Assertions); n != 4 {
		t.Fatalf("assertions recorded: %d, want 4", n)
	}
	m := s.Misses()
	if len(m) != 2 || !strings.HasPrefix(m[0], "b: measured 11.0ms") || !strings.Contains(m[1], "missed by 2") {
		t.Fatalf("misses: %q", m)
	}
	if a := s.rec.Assertions[1]; a.Pass || a.Measured != 11 || a.Bound != "≤ 10.0ms (why)" {
		t.Fatalf("assertion: %+v", a)
	}
}

func TestFaultsFromTimeline(t *testing.T) {
	kill := chaos.Custom("kill mockbin1", "kill", "mockbin1", func(context.Context) error { return nil }, func(context.Context) error { return nil })
	lat := chaos.Custom("latency on mockbin2", "latency", "mockbin2", func(context.Context) error { return nil }, func(context.Context) error { return nil })
	steps := []chaos.Step{{At: 0, Fault: kill, Hold: time.Millisecond}, {At: time.Millisecond, Fault: lat}}
	tl := chaos.NewTimeline(slog.New(slog.NewTextHandler(io.Discard, nil)), steps...)
	if err := tl.Run(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	fs := Faults(tl)
	if len(fs) != 2 {
		t.Fatalf("faults: %+v", fs)
	}
	if fs[0].Target != "mockbin1" || fs[0].Kind != "kill" || fs[0].End.IsZero() || fs[0].PlannedDuration != time.Millisecond {
		t.Fatalf("kill fault: %+v", fs[0])
	}
	if fs[1].Target != "mockbin2" || !fs[1].End.IsZero() || fs[1].PlannedOffset != time.Millisecond {
		t.Fatalf("latency fault: %+v", fs[1])
	}
}

func TestFinishWritesAValidRecord(t *testing.T) {
	dir := t.TempDir()
	s := &Scenario{Name: "unit scenario", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), outDir: dir,
		rec: reports.Record{Schema: reports.SchemaVersion, Scenario: "unit scenario", Stack: reports.StackContainers, Start: time.Now()}}
	if err := s.Finish(context.Background(), "setup failed"); err != nil {
		t.Fatal(err)
	}
	r, err := reports.ReadFile(filepath.Join(dir, "records", "unit-scenario.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != reports.VerdictError || r.Failure != "setup failed" {
		t.Fatalf("verdict %q failure %q: a failure before any load is an error", r.Verdict, r.Failure)
	}
}

// TestAttackFailsAtOnceOnAnInvalidLoad: a load that is refused before it
// starts has no origin for the fault timeline; Attack must return its error
// rather than wait for a start that never comes.
func TestAttackFailsAtOnceOnAnInvalidLoad(t *testing.T) {
	s := &Scenario{Log: quiet()}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Attack(context.Background(), load.Attack{Name: "no targets", Rate: 10, Duration: time.Second})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "needs rate > 0") {
			t.Fatalf("err %v: want the load's validation error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Attack still waiting for the load to start 10 s after it was refused")
	}
}

// TestFaultsRecordFailedActions: a failed inject is still an entry, with its
// error and no end; a failed revert closes its entry with that error.
func TestFaultsRecordFailedActions(t *testing.T) {
	noop := func(context.Context) error { return nil }
	refused := func(context.Context) error { return errors.New("refused") }
	badInject := chaos.Custom("kill mockbin1", "kill", "mockbin1", refused, noop)
	badRevert := chaos.Custom("pause mockbin2", "pause", "mockbin2", noop, refused)
	tl := chaos.NewTimeline(quiet(),
		chaos.Step{At: 0, Fault: badInject, Hold: time.Millisecond},
		chaos.Step{At: 0, Fault: badRevert, Hold: time.Millisecond})
	if err := tl.Run(context.Background(), time.Now()); err == nil {
		t.Fatal("run hid the failures")
	}
	fs := Faults(tl)
	if len(fs) != 2 {
		t.Fatalf("faults: %+v", fs)
	}
	if f := fs[0]; f.Name != "kill mockbin1" || !strings.Contains(f.Error, "refused") || !f.End.IsZero() {
		t.Fatalf("failed inject: %+v", f)
	}
	if f := fs[1]; f.Target != "mockbin2" || !strings.Contains(f.Error, "revert pause mockbin2: refused") || f.End.IsZero() {
		t.Fatalf("failed revert: %+v", f)
	}
}
