package reports

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Bounds say how far a new run may move from a base run before the move
// counts as a regression. Improvements never cross a bound.
type Bounds struct {
	// SuccessDrop is the largest allowed drop of the success ratio, in
	// ratio points (0.01: from 99.9% down to 98.9% is still fine).
	SuccessDrop float64
	// P99Growth is the largest allowed relative growth of p99 (0.5: +50%)...
	P99Growth float64
	// ...and P99Slack an absolute growth that is always allowed, so a p99 of
	// 2ms moving to 3.5ms on a shared CI machine is not a regression.
	P99Slack time.Duration
	// FailoverGrowth is the largest allowed growth of the failover time.
	FailoverGrowth time.Duration
	// AdmittedChange is the largest allowed relative change of the admitted
	// rate, either way: a rate limiter letting more through is as wrong as
	// one letting less through.
	AdmittedChange float64
}

// DefaultBounds are loose enough for two runs on a shared 2-core machine and
// tight enough to catch a lost retry or a broken health check.
func DefaultBounds() Bounds {
	return Bounds{
		SuccessDrop:    0.01,
		P99Growth:      0.5,
		P99Slack:       5 * time.Millisecond,
		FailoverGrowth: time.Second,
		AdmittedChange: 0.05,
	}
}

// Change is one compared metric.
type Change struct {
	Metric    string
	Base, New string
	Delta     string
	Bound     string
	Crossed   bool
}

// Comparison is what moved in one scenario between two runs.
type Comparison struct {
	Scenario string
	Changes  []Change
	// Missing is set when the scenario is absent from the new run.
	Missing bool
}

// Regressed reports whether any bound was crossed.
func (c *Comparison) Regressed() bool {
	if c.Missing {
		return true
	}
	for _, ch := range c.Changes {
		if ch.Crossed {
			return true
		}
	}
	return false
}

// Compare lists how the new record moved against the base on the four
// gated metrics (success ratio, p99, failover time, admitted rate) and the
// verdict.
func Compare(base, cur *Record, b Bounds) Comparison {
	c := Comparison{Scenario: cur.Scenario}

	c.Changes = append(c.Changes, Change{
		Metric: "verdict", Base: base.Verdict, New: cur.Verdict, Delta: "–", Bound: "no new failure",
		Crossed: base.Verdict == VerdictPass && cur.Verdict != VerdictPass,
	})

	ds := cur.Totals.Success - base.Totals.Success
	c.Changes = append(c.Changes, Change{
		Metric: "success ratio", Base: fmtPct(base.Totals.Success), New: fmtPct(cur.Totals.Success),
		Delta: fmt.Sprintf("%+.2f pt", 100*ds), Bound: fmt.Sprintf("drop ≤ %.2f pt", 100*b.SuccessDrop),
		Crossed: -ds > b.SuccessDrop+1e-12,
	})

	bp, np := base.Totals.Latencies.P99, cur.Totals.Latencies.P99
	allowed := max(time.Duration(float64(bp)*(1+b.P99Growth)), bp+b.P99Slack)
	c.Changes = append(c.Changes, Change{
		Metric: "p99", Base: fmtDur(bp), New: fmtDur(np), Delta: relDelta(float64(bp), float64(np)),
		Bound:   fmt.Sprintf("≤ %s (+%.0f%% or +%s)", fmtDur(allowed), 100*b.P99Growth, fmtDur(b.P99Slack)),
		Crossed: np > allowed,
	})

	bf, bok := base.FailoverTime()
	nf, nok := cur.FailoverTime()
	switch {
	case bok && nok:
		c.Changes = append(c.Changes, Change{
			Metric: "failover time", Base: fmtDur(bf), New: fmtDur(nf), Delta: fmtSigned(nf - bf),
			Bound: fmt.Sprintf("growth ≤ %s", fmtDur(b.FailoverGrowth)), Crossed: nf-bf > b.FailoverGrowth,
		})
	case bok || nok:
		// One run injected faults and the other did not: not comparable,
		// and a sign that the scenario itself changed.
		c.Changes = append(c.Changes, Change{
			Metric: "failover time", Base: optDur(bf, bok), New: optDur(nf, nok), Delta: "–",
			Bound: "both runs fault", Crossed: false,
		})
	}

	ba, na := base.AdmittedRate(), cur.AdmittedRate()
	crossed := false
	if ba > 0 {
		crossed = math.Abs(na-ba)/ba > b.AdmittedChange+1e-12
	} else {
		crossed = na > 0
	}
	c.Changes = append(c.Changes, Change{
		Metric: "admitted rate", Base: fmtRate(ba), New: fmtRate(na), Delta: relDelta(ba, na),
		Bound: fmt.Sprintf("change ≤ ±%.0f%%", 100*b.AdmittedChange), Crossed: crossed,
	})
	return c
}

func relDelta(base, cur float64) string {
	if base == 0 {
		if cur == 0 {
			return "±0%"
		}
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", 100*(cur-base)/base)
}

func fmtSigned(d time.Duration) string {
	if d >= 0 {
		return "+" + fmtDur(d)
	}
	return fmtDur(d)
}

func optDur(d time.Duration, ok bool) string {
	if !ok {
		return "no fault"
	}
	return fmtDur(d)
}

// CompareSets pairs records by scenario name. Scenarios only in the base run
// count as regressions (the new run lost coverage); scenarios only in the new
// run are compared with nothing and listed without changes.
func CompareSets(base, cur []*Record, b Bounds) []Comparison {
	byName := map[string]*Record{}
	for _, r := range cur {
		byName[r.Scenario] = r
	}
	var out []Comparison
	seen := map[string]bool{}
	for _, br := range base {
		seen[br.Scenario] = true
		nr, ok := byName[br.Scenario]
		if !ok {
			out = append(out, Comparison{Scenario: br.Scenario, Missing: true})
			continue
		}
		out = append(out, Compare(br, nr, b))
	}
	for _, nr := range cur {
		if !seen[nr.Scenario] {
			out = append(out, Comparison{Scenario: nr.Scenario})
		}
	}
	return out
}

// WriteComparisons prints the comparisons as aligned tables, marking each
// crossed bound, and ends with a one-line verdict.
func WriteComparisons(w io.Writer, cs []Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	regressed := 0
	for i, c := range cs {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "== %s\n", c.Scenario)
		if c.Regressed() {
			regressed++
		}
		switch {
		case c.Missing:
			fmt.Fprintln(tw, "REGRESSION: scenario missing from the new run")
			continue
		case len(c.Changes) == 0:
			fmt.Fprintln(tw, "new scenario: nothing to compare with")
			continue
		}
		fmt.Fprintln(tw, "metric\tbase\tnew\tchange\tbound\t")
		for _, ch := range c.Changes {
			mark := "ok"
			if ch.Crossed {
				mark = "REGRESSION"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ch.Metric, ch.Base, ch.New, ch.Delta, ch.Bound, mark)
		}
	}
	fmt.Fprintln(tw)
	if regressed > 0 {
		fmt.Fprintf(tw, "%d of %d scenarios crossed a bound\n", regressed, len(cs))
	} else {
		fmt.Fprintf(tw, "no bound crossed in %d %s\n", len(cs), plural(len(cs), "scenario"))
	}
	return tw.Flush()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// WriteComparisonsMarkdown prints the comparisons as Markdown tables, for a
// CI job summary or a pull-request comment.
func WriteComparisonsMarkdown(w io.Writer, cs []Comparison) error {
	b := &strings.Builder{}
	regressed := 0
	for i := range cs {
		if cs[i].Regressed() {
			regressed++
		}
	}
	if regressed > 0 {
		fmt.Fprintf(b, "**%s: %d of %d scenarios crossed a bound**\n", verdictText(VerdictFail), regressed, len(cs))
	} else {
		fmt.Fprintf(b, "**%s: no bound crossed in %d %s**\n", verdictText(VerdictPass), len(cs), plural(len(cs), "scenario"))
	}
	for _, c := range cs {
		fmt.Fprintf(b, "\n### %s\n\n", mdEscape(c.Scenario))
		switch {
		case c.Missing:
			b.WriteString("Scenario missing from the new run: **regression**.\n")
			continue
		case len(c.Changes) == 0:
			b.WriteString("New scenario: nothing to compare with.\n")
			continue
		}
		mdTable(b, []string{"Metric", "Base", "New", "Change", "Bound", "Verdict"}, func(row func(...string)) {
			for _, ch := range c.Changes {
				v := verdictText(VerdictPass)
				if ch.Crossed {
					v = verdictText(VerdictFail)
				}
				row(ch.Metric, ch.Base, ch.New, ch.Delta, ch.Bound, v)
			}
		})
	}
	_, err := io.WriteString(w, b.String())
	return err
}
