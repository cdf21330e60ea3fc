package harness

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
)

var origin = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// lagRun is 10 rps for 10 s, on time but for the request planned at t=4.2 s
// (Seq 41), sent 340 ms late.
func lagRun() *load.Run {
	run := &load.Run{Attack: load.Attack{Name: "main", Rate: 10, Duration: 10 * time.Second}, Start: origin}
	for k := range 100 {
		at := time.Duration(k+1) * 100 * time.Millisecond
		if k == 41 {
			at += 340 * time.Millisecond
		}
		run.Results = append(run.Results, vegeta.Result{Seq: uint64(k), Timestamp: origin.Add(at), Code: 200})
	}
	return run
}

func TestOnScheduleNamesTheLagAndWhen(t *testing.T) {
	run := lagRun()
	p := OnSchedule(run, time.Time{}, time.Time{}, 50*time.Millisecond)
	want := "load generator 340.0ms behind schedule at t=4.2 s (premise: ≤ 50.0ms)"
	if p.Held || p.Reason != want || p.Measured != 340 {
		t.Fatalf("held %v, measured %v, reason %q; want broken, 340, %q", p.Held, p.Measured, p.Reason, want)
	}
	// The late request was sent at 4.54 s: a window ending before it holds.
	if p := OnSchedule(run, time.Time{}, origin.Add(4500*time.Millisecond), 50*time.Millisecond); !p.Held {
		t.Fatalf("window before the stall: %+v", p)
	}
	if p := OnSchedule(run, time.Time{}, time.Time{}, 340*time.Millisecond); !p.Held {
		t.Fatalf("bound at the lag (≤ holds): %+v", p)
	}
}

func TestLagQuantile(t *testing.T) {
	run := lagRun()
	// One late request in 100: the p99 (the 99th smallest lag) is 0, the max 340 ms.
	if p := LagQuantile(run, time.Time{}, time.Time{}, 0.99, 50*time.Millisecond); !p.Held || p.Measured != 0 {
		t.Fatalf("p99 with one stall: %+v", p)
	}
	p := LagQuantile(run, time.Time{}, time.Time{}, 1, 50*time.Millisecond)
	if p.Held || p.Measured != 340 || p.Reason != "load generator 340.0ms behind schedule at p100 in main (premise: ≤ 50.0ms)" {
		t.Fatalf("p100: %+v", p)
	}
}

func TestOwnPremises(t *testing.T) {
	if p := AtMostPremise("seconds short of the offered load", 2, 0, "", "3R offered"); p.Held || p.Reason != "seconds short of the offered load: 2 (premise: ≤ 0)" {
		t.Fatalf("at most: %+v", p)
	}
	if p := AtLeastPremise("requests while Redis was dead", 150, 150, "", "one whole second of 3R"); !p.Held || p.Bound != "≥ 150 (one whole second of 3R)" {
		t.Fatalf("at least: %+v", p)
	}
}

func TestMinRequestsAndAllSent(t *testing.T) {
	if p := MinRequests("the dark window", nil, 20); p.Held || p.Reason != "the dark window held 0 requests (premise: ≥ 20)" {
		t.Fatalf("empty window: %+v", p)
	}
	run := lagRun()
	if p := AllSent(run); !p.Held {
		t.Fatalf("100 of 100 sent: %+v", p)
	}
	run.Results = run.Results[:97]
	if p := AllSent(run); p.Held || p.Measured != 3 || !strings.Contains(p.Reason, "3 of 100") {
		t.Fatalf("97 of 100 sent: %+v", p)
	}
}

func TestFaultOnTime(t *testing.T) {
	slow := chaos.Custom("kill redis", "kill", "redis", func(context.Context) error { return nil }, func(context.Context) error { return nil })
	tl := chaos.NewTimeline(quiet(), chaos.Step{At: 0, Fault: slow, Hold: time.Millisecond})
	start := time.Now()
	if err := tl.Run(context.Background(), start); err != nil {
		t.Fatal(err)
	}
	// A no-op fault on an idle timeline runs within a second of plan.
	if p := FaultOnTime(tl, start, slow, time.Second); !p.Held {
		t.Fatalf("on time: %+v", p)
	}
	// The same events judged against an origin 2 s earlier are 2 s late.
	p := FaultOnTime(tl, start.Add(-2*time.Second), slow, time.Second)
	if p.Held || p.Measured < 2000 || !strings.HasPrefix(p.Reason, "fault kill redis: inject planned at t=0.0 s done 2") {
		t.Fatalf("late: %+v", p)
	}
	absent := chaos.Custom("kill mockbin9", "kill", "mockbin9", func(context.Context) error { return nil }, nil)
	if p := FaultOnTime(tl, start, absent, time.Second); p.Held || p.Reason != "fault kill mockbin9 never ran" {
		t.Fatalf("absent fault: %+v", p)
	}
}

func unitScenario(dir string) *Scenario {
	return &Scenario{Name: "unit", Log: quiet(), outDir: dir,
		rec: reports.Record{Schema: reports.SchemaVersion, Scenario: "unit", Stack: reports.StackContainers, Start: origin}}
}

func finish(t *testing.T, s *Scenario, failure string) *reports.Record {
	t.Helper()
	s.runs = []*load.Run{lagRun()}
	s.machines = []*reports.Machine{nil}
	if err := s.Finish(context.Background(), failure); err != nil {
		t.Fatal(err)
	}
	r, err := reports.ReadFile(filepath.Join(s.outDir, "records", "unit.json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The three verdicts: a broken premise without a miss that counts is
// inconclusive; a miss of a check whose premises held (or that has none) is a
// failure whatever else broke; a miss under a broken premise does not count.
func TestVerdicts(t *testing.T) {
	broken := MinRequests("the dark window", nil, 20)
	held := MinRequests("the run", make([]vegeta.Result, 30), 20)

	s := unitScenario(t.TempDir())
	s.Given(broken).Equal("share of 503", 0, 1, "ratio", "why")
	s.Given(held).Equal("failures", 0, 0, "", "why")
	if m := s.Misses(); len(m) != 0 {
		t.Fatalf("a miss under a broken premise counted: %q", m)
	}
	r := finish(t, s, "")
	if r.Verdict != reports.VerdictInconclusive || r.Failure != "the dark window held 0 requests (premise: ≥ 20)" {
		t.Fatalf("verdict %q, failure %q", r.Verdict, r.Failure)
	}
	if a := r.Assertions[0]; !a.Inconclusive || a.Premises[0] != "requests in the dark window" {
		t.Fatalf("assertion under the broken premise: %+v", a)
	}
	if len(r.Premises) != 2 || r.Generator == nil || r.Generator.LagMax != 340*time.Millisecond {
		t.Fatalf("premises %+v, generator %+v", r.Premises, r.Generator)
	}
	// The suite raises the inconclusive verdict as a failure to have it re-run.
	if r := finish(t, s, InconclusivePrefix+s.Inconclusive()); r.Verdict != reports.VerdictInconclusive {
		t.Fatalf("the suite's inconclusive message: verdict %q", r.Verdict)
	}

	s = unitScenario(t.TempDir())
	s.Given(broken).Equal("share of 503", 0, 1, "ratio", "why")
	s.Given(held).Equal("failures", 3, 0, "", "why")
	if m := s.Misses(); len(m) != 1 || !strings.HasPrefix(m[0], "failures: measured 3") {
		t.Fatalf("misses: %q", m)
	}
	if r := finish(t, s, strings.Join(s.Misses(), "\n")); r.Verdict != reports.VerdictFail {
		t.Fatalf("a miss with its premises held: verdict %q, want fail", r.Verdict)
	}

	s = unitScenario(t.TempDir())
	s.Given(held).AtMost("p99", 5, 100, "ms", "why")
	s.SetAttempt(2, []reports.Attempt{{Verdict: reports.VerdictInconclusive, Reason: "load generator 340.0ms behind"}})
	r = finish(t, s, "")
	if r.Verdict != reports.VerdictPass || r.Attempt != 2 || len(r.Earlier) != 1 {
		t.Fatalf("verdict %q attempt %d earlier %+v", r.Verdict, r.Attempt, r.Earlier)
	}
	if h := reports.Headline(r); !strings.Contains(h, "attempt 2 (earlier: inconclusive, load generator 340.0ms behind)") {
		t.Fatalf("headline: %s", h)
	}
}
