package harness

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
)

// A premise is a condition on the run itself — the load generator kept its
// schedule, a fault started when planned, a window held enough requests —
// that an assertion needs to mean anything. Checks made through Given depend
// on their premises: when one broke, they are inconclusive (neither a pass
// nor a gateway failure), and so is the scenario unless a check that did not
// depend on it failed. Premises are about the harness and the machine, never
// about the gateway: a gateway that stalls shows as latency and failures, not
// as generator lag (the load is open-model, with workers for rate × timeout
// requests in flight).

// InconclusivePrefix starts the test-framework message of an inconclusive
// scenario, so the suite and Finish tell it from a failure.
const InconclusivePrefix = "INCONCLUSIVE: "

// IsInconclusive reports whether a failure message is the harness's
// inconclusive verdict rather than a failure.
func IsInconclusive(msg string) bool { return strings.HasPrefix(msg, InconclusivePrefix) }

// OnSchedule is the premise that the load generator sent every request of
// run planned in [from, to) within `within` of its planned time (zero bounds
// are open). A generator that falls behind sends late and then in a burst,
// and the same stall delayed whatever else ran on the machine: the gateway,
// the upstreams, the reading of responses.
func OnSchedule(run *load.Run, from, to time.Time, within time.Duration) reports.Premise {
	lag, at := run.MaxLag(from, to)
	p := reports.Premise{
		Name:     "load generator on schedule (" + run.Attack.Name + ")" + window(run.Start, from, to),
		Bound:    fmt.Sprintf("lag ≤ %s", Format(Ms(within), "ms")),
		Measured: Ms(lag), Unit: "ms", Held: lag <= within,
	}
	if !p.Held {
		p.Reason = fmt.Sprintf("load generator %s behind schedule at t=%.1f s (premise: ≤ %s)",
			Format(Ms(lag), "ms"), at.Sub(run.Start).Seconds(), Format(Ms(within), "ms"))
	}
	return p
}

// LagQuantile is OnSchedule for the q-quantile of the lag instead of its
// maximum: for an assertion on a latency quantile, which one stalled send
// cannot move but a machine that keeps stalling can.
func LagQuantile(run *load.Run, from, to time.Time, q float64, within time.Duration) reports.Premise {
	rs := load.Between(run.Results, from, to)
	lags := make([]time.Duration, len(rs))
	for i, x := range rs {
		lags[i] = run.Lag(x)
	}
	slices.Sort(lags)
	lag := time.Duration(0)
	if n := len(lags); n > 0 {
		lag = lags[min(n-1, max(0, int(math.Ceil(q*float64(n)-1e-9))-1))]
	}
	qs := "p" + strconv.FormatFloat(100*q, 'f', -1, 64)
	p := reports.Premise{
		Name:     fmt.Sprintf("load generator on schedule at %s (%s)%s", qs, run.Attack.Name, window(run.Start, from, to)),
		Bound:    fmt.Sprintf("%s lag ≤ %s", qs, Format(Ms(within), "ms")),
		Measured: Ms(lag), Unit: "ms", Held: lag <= within,
	}
	if !p.Held {
		p.Reason = fmt.Sprintf("load generator %s behind schedule at %s in %s%s (premise: ≤ %s)",
			Format(Ms(lag), "ms"), qs, run.Attack.Name, window(run.Start, from, to), Format(Ms(within), "ms"))
	}
	return p
}

// AllSent is the premise that the generator sent every request it planned:
// one that ran out of time sent fewer, and the last window is thinner than
// planned.
func AllSent(run *load.Run) reports.Premise {
	g := run.Generator()
	p := reports.Premise{
		Name:  "every planned request sent (" + run.Attack.Name + ")",
		Bound: fmt.Sprintf("unsent = 0 of %d", g.Planned), Measured: float64(g.Unsent), Held: g.Unsent == 0,
	}
	if !p.Held {
		p.Reason = fmt.Sprintf("load generator left %d of %d planned requests unsent", g.Unsent, g.Planned)
	}
	return p
}

// FaultOnTime is the premise that every action of fault on tl
// (its inject and, when timed, its revert) had taken effect within `within`
// of its planned offset after origin: a kill that lands late, or a target
// that comes back late, moves the windows the assertions read. An action
// takes effect when it ends (a kill is done, a restarted target is ready),
// so a fault whose revert waits for readiness needs the room for it.
func FaultOnTime(tl *chaos.Timeline, origin time.Time, fault chaos.Fault, within time.Duration) reports.Premise {
	name := fault.Name()
	p := reports.Premise{
		Name:  "fault " + name + " on time",
		Bound: fmt.Sprintf("each action done ≤ %s after its plan", Format(Ms(within), "ms")),
		Unit:  "ms", Held: true,
	}
	seen := false
	for _, ev := range tl.Events() {
		if !ev.Of(fault) || ev.Started.IsZero() {
			continue
		}
		seen = true
		late := ev.Ended.Sub(origin) - ev.Planned
		p.Measured = max(p.Measured, Ms(late))
		if p.Held && late > within {
			p.Held = false
			p.Reason = fmt.Sprintf("fault %s: %s planned at t=%.1f s done %s late (premise: ≤ %s)",
				name, ev.Action, ev.Planned.Seconds(), Format(Ms(late), "ms"), Format(Ms(within), "ms"))
		}
	}
	if !seen {
		p.Held, p.Reason = false, "fault "+name+" never ran"
	}
	return p
}

// AtMostPremise is a premise measured by the scenario itself: measured ≤
// limit. why says what the number is about; the reason of a broken one reads
// "<name>: <measured> (premise: ≤ <limit>)".
func AtMostPremise(name string, measured, limit float64, unit, why string) reports.Premise {
	p := reports.Premise{Name: name, Bound: fmt.Sprintf("≤ %s (%s)", Format(limit, unit), why),
		Measured: measured, Unit: unit, Held: measured <= limit}
	if !p.Held {
		p.Reason = fmt.Sprintf("%s: %s (premise: ≤ %s)", name, Format(measured, unit), Format(limit, unit))
	}
	return p
}

// AtLeastPremise is AtMostPremise for measured ≥ limit.
func AtLeastPremise(name string, measured, limit float64, unit, why string) reports.Premise {
	p := reports.Premise{Name: name, Bound: fmt.Sprintf("≥ %s (%s)", Format(limit, unit), why),
		Measured: measured, Unit: unit, Held: measured >= limit}
	if !p.Held {
		p.Reason = fmt.Sprintf("%s: %s (premise: ≥ %s)", name, Format(measured, unit), Format(limit, unit))
	}
	return p
}

// MinRequests is the premise that a window the checks read holds at least n
// requests: an empty window makes "100% of them" true of nothing.
func MinRequests(window string, rs []vegeta.Result, n int) reports.Premise {
	p := reports.Premise{
		Name:  "requests in " + window,
		Bound: fmt.Sprintf("≥ %d", n), Measured: float64(len(rs)), Held: len(rs) >= n,
	}
	if !p.Held {
		p.Reason = fmt.Sprintf("%s held %d requests (premise: ≥ %d)", window, len(rs), n)
	}
	return p
}

func window(origin, from, to time.Time) string {
	switch {
	case from.IsZero() && to.IsZero():
		return ""
	case to.IsZero():
		return fmt.Sprintf(" from t=%.1f s", from.Sub(origin).Seconds())
	case from.IsZero():
		return fmt.Sprintf(" until t=%.1f s", to.Sub(origin).Seconds())
	}
	return fmt.Sprintf(" in t=%.1f–%.1f s", from.Sub(origin).Seconds(), to.Sub(origin).Seconds())
}

// Given are checks that depend on premises. Make them with Scenario.Given.
type Given struct {
	s      *Scenario
	names  []string
	reason string
}

// Given records the premises and returns the checks that depend on them: a
// miss of such a check fails the scenario only when every premise held; when
// one broke, the check (pass or miss) is inconclusive.
func (s *Scenario) Given(ps ...reports.Premise) *Given {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &Given{s: s}
	for _, p := range ps {
		g.names = append(g.names, p.Name)
		if !p.Held && g.reason == "" {
			g.reason = p.Reason
		}
		dup := false
		for _, q := range s.rec.Premises {
			dup = dup || (q.Name == p.Name && q.Bound == p.Bound)
		}
		if !dup {
			s.rec.Premises = append(s.rec.Premises, p)
			if !p.Held {
				s.broken = append(s.broken, p.Reason)
				s.Log.Info("premise", "name", p.Name, "result", "BROKEN", "reason", p.Reason)
			}
		}
	}
	return g
}

// Held reports whether every premise held.
func (g *Given) Held() bool { return g.reason == "" }

// Check is Scenario.Check under the premises. It returns whether the bound
// held as measured, premises aside.
func (g *Given) Check(name string, measured float64, unit string, pass bool, bound string, limit float64) bool {
	s := g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	a := reports.Assertion{Name: name, Bound: bound, Measured: measured, Unit: unit, Pass: pass,
		Premises: g.names, Inconclusive: g.reason != ""}
	s.rec.Assertions = append(s.rec.Assertions, a)
	status := "ok"
	switch {
	case a.Inconclusive:
		status = "INCONCLUSIVE"
	case !pass:
		status = "MISSED"
		s.misses = append(s.misses, Miss(name, measured, unit, bound, limit))
	}
	s.Log.Info("check", "name", name, "measured", Format(measured, unit), "bound", bound, "result", status)
	return pass
}

// AtMost checks measured ≤ limit under the premises.
func (g *Given) AtMost(name string, measured, limit float64, unit, why string) bool {
	return g.Check(name, measured, unit, measured <= limit, fmt.Sprintf("≤ %s (%s)", Format(limit, unit), why), limit)
}

// AtLeast checks measured ≥ limit under the premises.
func (g *Given) AtLeast(name string, measured, limit float64, unit, why string) bool {
	return g.Check(name, measured, unit, measured >= limit, fmt.Sprintf("≥ %s (%s)", Format(limit, unit), why), limit)
}

// Equal checks measured = want under the premises.
func (g *Given) Equal(name string, measured, want float64, unit, why string) bool {
	return g.Check(name, measured, unit, measured == want, fmt.Sprintf("= %s (%s)", Format(want, unit), why), want)
}

// Inconclusive is the one-line reason the scenario is inconclusive so far
// (the first broken premise, and how many more broke), or "" when every
// premise held. A scenario with misses is a failure whatever this says.
func (s *Scenario) Inconclusive() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch len(s.broken) {
	case 0:
		return ""
	case 1:
		return s.broken[0]
	}
	return fmt.Sprintf("%s (and %d more broken premises)", s.broken[0], len(s.broken)-1)
}

// SetAttempt says which attempt of the scenario this is (from 1) and how the
// earlier ones ended; Finish puts both into the record.
func (s *Scenario) SetAttempt(n int, earlier []reports.Attempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 1 {
		s.rec.Attempt = n
		s.rec.Earlier = append([]reports.Attempt(nil), earlier...)
	}
}

// Outcome is how this attempt ended (valid after Finish).
func (s *Scenario) Outcome() reports.Attempt {
	return reports.Attempt{Verdict: s.rec.Verdict, Reason: s.rec.Failure, Start: s.rec.Start, End: s.rec.End}
}
