// Package harness is what every resilience scenario shares: a Scenario brings
// up a fresh stack, runs load with a fault timeline on the same origin,
// checks numbers against bounds, and leaves a reports.Record (plus the whole
// vegeta result set) behind, pass or fail.
package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// BucketWidth is the width of a record's per-interval series.
const BucketWidth = 250 * time.Millisecond

// Scenario is one scenario run.
type Scenario struct {
	Name   string
	Labels []string
	Stack  *stack.Stack
	Log    *slog.Logger

	rec       reports.Record
	timelines []*chaos.Timeline
	runs      []*load.Run
	machines  []*reports.Machine // per run, the host's CPU while it ran
	outDir    string

	mu     sync.Mutex
	misses []string
	broken []string // reasons of broken premises
}

// OutDir is where records and results go: $GAUNTLET_OUT, or reports/out
// under the module root.
func OutDir() string {
	if d := os.Getenv("GAUNTLET_OUT"); d != "" {
		return d
	}
	root, err := stack.ModuleRoot()
	if err != nil {
		return filepath.Join("reports", "out")
	}
	return filepath.Join(root, "reports", "out")
}

// Proving reports whether the run was asked to break this scenario on purpose
// (GAUNTLET_PROVE_FAIL=label[,label]) to show that its assertions bite.
func Proving(label string) bool {
	return slices.Contains(strings.Split(os.Getenv("GAUNTLET_PROVE_FAIL"), ","), label)
}

// Begin starts a fresh stack for the scenario.
func Begin(ctx context.Context, p stack.Provider, log *slog.Logger, name string, labels []string, opts stack.Options) (*Scenario, error) {
	opts.Name = reports.Slug(name)
	s := &Scenario{
		Name: name, Labels: labels, Log: log.With("scenario", name),
		outDir: OutDir(),
		rec: reports.Record{
			Schema: reports.SchemaVersion, Scenario: name, Labels: labels,
			Stack: p.Kind(), Start: time.Now(),
		},
	}
	st, err := p.Start(ctx, opts)
	if err != nil {
		return s, err
	}
	s.Stack = st
	s.rec.Gateway = st.Gateway.Image
	return s, nil
}

// Attack runs the load and, on the same origin, a timeline of faults. It
// returns when both are done; the faults stay recorded for the report.
func (s *Scenario) Attack(ctx context.Context, a load.Attack, steps ...chaos.Step) (*load.Run, *chaos.Timeline, error) {
	tl := chaos.NewTimeline(s.Log, steps...)
	s.timelines = append(s.timelines, tl)
	// started carries the load's origin, and is closed once the load returns:
	// a load that never started (an invalid attack) leaves no origin, and the
	// timeline must not wait for one.
	started := make(chan time.Time, 1)
	var tlErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case origin, ok := <-started:
			if ok {
				tlErr = tl.Run(ctx, origin)
			}
		case <-ctx.Done():
		}
	}()
	// The harness watches the machine while it loads it: CPU saturation
	// explains generator lag and the stalls it brings.
	mw := watchMachine("/proc", BucketWidth)
	run, err := a.Run(ctx, func(t time.Time) { started <- t })
	close(started)
	wg.Wait()
	if run != nil {
		s.runs = append(s.runs, run)
		s.machines = append(s.machines, mw.Stop(run.Start, run.End))
	} else {
		mw.Stop(time.Time{}, time.Time{})
	}
	return run, tl, errors.Join(err, tlErr)
}

// Check records a numeric assertion and remembers a miss; Verify fails the
// scenario with every miss at once, so one run shows all that broke.
// bound is the property in words ("≤ 600ms (read_timeout + 100ms)"); limit
// is the number the measurement was compared with, used to say by how much it
// missed.
func (s *Scenario) Check(name string, measured float64, unit string, pass bool, bound string, limit float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Assertions = append(s.rec.Assertions, reports.Assertion{
		Name: name, Bound: bound, Measured: measured, Unit: unit, Pass: pass,
	})
	status := "ok"
	if !pass {
		status = "MISSED"
		s.misses = append(s.misses, Miss(name, measured, unit, bound, limit))
	}
	s.Log.Info("check", "name", name, "measured", Format(measured, unit), "bound", bound, "result", status)
	return pass
}

// Note records a measurement that has no bound, to be read beside the checks.
func (s *Scenario) Note(name string, measured float64, unit string) {
	s.Check(name, measured, unit, true, "recorded", measured)
}

// AtMost checks measured ≤ limit.
func (s *Scenario) AtMost(name string, measured, limit float64, unit, why string) bool {
	return s.Check(name, measured, unit, measured <= limit, fmt.Sprintf("≤ %s (%s)", Format(limit, unit), why), limit)
}

// AtLeast checks measured ≥ limit.
func (s *Scenario) AtLeast(name string, measured, limit float64, unit, why string) bool {
	return s.Check(name, measured, unit, measured >= limit, fmt.Sprintf("≥ %s (%s)", Format(limit, unit), why), limit)
}

// Equal checks measured = want.
func (s *Scenario) Equal(name string, measured, want float64, unit, why string) bool {
	return s.Check(name, measured, unit, measured == want, fmt.Sprintf("= %s (%s)", Format(want, unit), why), want)
}

// Ms converts a duration for Check (unit "ms").
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Format prints a measurement with its unit.
func Format(v float64, unit string) string {
	switch unit {
	case "ratio":
		return fmt.Sprintf("%.2f%%", v*100)
	case "ms":
		return fmt.Sprintf("%.1fms", v)
	case "":
		return trimFloat(v)
	default:
		return trimFloat(v) + " " + unit
	}
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// Miss is the one-line failure text of a missed bound: which number, what it
// was, the bound, and by how much it missed.
func Miss(name string, measured float64, unit, bound string, limit float64) string {
	return fmt.Sprintf("%s: measured %s, bound %s: missed by %s",
		name, Format(measured, unit), bound, Format(math.Abs(measured-limit), unit))
}

// Misses are the failed checks so far, one line each.
func (s *Scenario) Misses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.misses...)
}

// SetGatewayConfig stores the configuration the scenario applied, as JSON.
func (s *Scenario) SetGatewayConfig(v any) {
	if b, err := json.Marshal(v); err == nil {
		s.rec.GatewayConfig = b
	}
}

// Finish reverts every fault still in effect, closes the stack, and writes the
// record and the raw results. failure is the test framework's failure message
// ("" when it passed); a failure before any load ran is an error verdict. A
// broken premise makes a run with no other failure (or whose failure is the
// harness's own inconclusive message) inconclusive.
func (s *Scenario) Finish(ctx context.Context, failure string) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, tl := range s.timelines {
		if err := tl.RevertAll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.rec.End = time.Now()
	if s.Stack != nil {
		if err := s.Stack.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		s.rec.Logs = s.Stack.Logs()
		for _, l := range s.Stack.FullLogs() {
			path := filepath.Join(s.outDir, "logs", reports.Slug(s.Name), l.Container+".log")
			if err := writeFile(path, []byte(l.Tail)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.fill()
	inconclusive := s.Inconclusive()
	switch {
	case failure == "" && inconclusive != "":
		s.rec.Verdict, s.rec.Failure = reports.VerdictInconclusive, inconclusive
	case failure == "":
		s.rec.Verdict = reports.VerdictPass
	case IsInconclusive(failure) && inconclusive != "":
		// The suite raised the inconclusive verdict itself (to have the
		// scenario re-run); no check that held its premises missed.
		s.rec.Verdict, s.rec.Failure = reports.VerdictInconclusive, inconclusive
	case len(s.runs) == 0:
		s.rec.Verdict, s.rec.Failure = reports.VerdictError, failure
	default:
		s.rec.Verdict, s.rec.Failure = reports.VerdictFail, failure
	}
	if err := s.rec.WriteFile(filepath.Join(s.outDir, "records")); err != nil {
		errs = append(errs, err)
	}
	for i, r := range s.runs {
		name := reports.Slug(s.Name)
		if i > 0 {
			name = fmt.Sprintf("%s-%d", name, i+1)
		}
		if err := r.WriteGob(filepath.Join(s.outDir, "results", name+".gob")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// fill puts load, totals, series and faults into the record. With several
// attacks (a warm-up, a direct measurement), the last one is the scenario's
// main load; the others' results are still kept in the results files.
func (s *Scenario) fill() {
	if len(s.runs) > 0 {
		main := s.runs[len(s.runs)-1]
		s.rec.Start = main.Start
		a := main.Attack
		s.rec.Load = reports.Load{
			Rate: float64(a.Rate), Duration: a.Duration, Timeout: a.Timeout,
			Connections: a.Connections,
		}
		for _, t := range a.Targets {
			s.rec.Load.Targets = append(s.rec.Load.Targets, t.Method+" "+t.URL)
		}
		s.rec.Totals = load.Totals(main.Results)
		s.rec.Series = main.Series(BucketWidth)
		g := main.Generator()
		s.rec.Generator = &g
		s.rec.Machine = s.machines[len(s.machines)-1]
	}
	s.rec.Faults = nil
	for _, tl := range s.timelines {
		s.rec.Faults = append(s.rec.Faults, Faults(tl)...)
	}
}

// Faults turns a timeline's windows into the record's fault entries: one per
// inject, closed by the revert that followed it.
func Faults(tl *chaos.Timeline) []reports.Fault {
	var out []reports.Fault
	for _, w := range tl.Windows() {
		out = append(out, reports.Fault{
			Name: w.Fault, Kind: w.Kind, Target: w.Target,
			PlannedOffset: w.Inject.Planned, PlannedDuration: w.Inject.Hold,
			Start: w.Inject.Started, End: w.Revert.Ended, Error: w.Err(),
		})
	}
	return out
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Client is an HTTP client for probes from the harness.
var Client = &http.Client{Timeout: 5 * time.Second}

// Headline is the scenario's one-line result for a CI log (valid after Finish).
func (s *Scenario) Headline() string { return reports.Headline(&s.rec) }
