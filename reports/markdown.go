package reports

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Counts tallies verdicts over records.
type Counts struct{ Pass, Fail, Error, Inconclusive int }

// Tally counts the verdicts of recs.
func Tally(recs []*Record) Counts {
	var c Counts
	for _, r := range recs {
		switch r.Verdict {
		case VerdictPass:
			c.Pass++
		case VerdictFail:
			c.Fail++
		case VerdictInconclusive:
			c.Inconclusive++
		default:
			c.Error++
		}
	}
	return c
}

// ByVerdict orders records for a reader: failures first, then errors, then
// inconclusive, then passes, each by name, so what needs attention is at the
// top.
func ByVerdict(recs []*Record) []*Record {
	rank := map[string]int{VerdictFail: 0, VerdictError: 1, VerdictInconclusive: 2, VerdictPass: 3}
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b *Record) int {
		if c := cmp.Compare(rank[a.Verdict], rank[b.Verdict]); c != 0 {
			return c
		}
		return cmp.Compare(a.Scenario, b.Scenario)
	})
	return out
}

// Verdict is the run's verdict: fail if any scenario failed, else error if
// any could not be judged, else inconclusive if a premise of any broke, else
// pass.
func (c Counts) Verdict() string {
	switch {
	case c.Fail > 0:
		return VerdictFail
	case c.Error > 0:
		return VerdictError
	case c.Inconclusive > 0:
		return VerdictInconclusive
	}
	return VerdictPass
}

func (c Counts) String() string {
	s := fmt.Sprintf("%d scenarios: %d passed, %d failed, %d errors", c.Pass+c.Fail+c.Error+c.Inconclusive, c.Pass, c.Fail, c.Error)
	if c.Inconclusive > 0 {
		s += fmt.Sprintf(", %d inconclusive", c.Inconclusive)
	}
	return s
}

// SummaryColumns are the headers of the overview table, shared by the
// Markdown summary and the HTML index so both read the same.
var SummaryColumns = []string{"Scenario", "Verdict", "Requests", "Success", "p50", "p99", "Max", "Failed", "Failover", "Faults"}

// summaryRow is a record's row of the overview table, in SummaryColumns order.
func summaryRow(r *Record) []string {
	t := &r.Totals
	failover := "–"
	if d, ok := r.FailoverTime(); ok {
		failover = fmtDur(d)
	}
	faults := make([]string, 0, len(r.Faults))
	for _, f := range r.Faults {
		faults = append(faults, f.Name)
	}
	fs := strings.Join(faults, ", ")
	if fs == "" {
		fs = "–"
	}
	return []string{
		r.Scenario, verdictText(r.Verdict), fmt.Sprint(t.Requests), fmtPct(t.Success),
		fmtDur(t.Latencies.P50), fmtDur(t.Latencies.P99), fmtDur(t.Latencies.Max),
		fmt.Sprint(t.Failed()), failover, fs,
	}
}

func verdictText(v string) string {
	switch v {
	case VerdictPass:
		return "✅ pass"
	case VerdictFail:
		return "❌ fail"
	case VerdictInconclusive:
		return "❔ inconclusive"
	}
	return "⚠️ " + v
}

// assertionVerdict is an assertion's verdict: inconclusive when a premise it
// depends on broke, else pass or fail.
func assertionVerdict(a Assertion) string {
	switch {
	case a.Inconclusive:
		return VerdictInconclusive
	case a.Pass:
		return VerdictPass
	}
	return VerdictFail
}

// WriteMarkdown writes summary.md: one table over all scenarios, then a
// section per scenario. GitHub and GitLab job pages render it as is.
func WriteMarkdown(w io.Writer, recs []*Record) error {
	recs = ByVerdict(recs)
	b := &strings.Builder{}
	c := Tally(recs)
	fmt.Fprintf(b, "# Gauntlet resilience report\n\n**%s** — %s.\n\n", verdictText(c.Verdict()), c)
	mdHead(b, SummaryColumns)
	for _, r := range recs {
		cells := summaryRow(r)
		for i := range cells {
			cells[i] = mdEscape(cells[i])
		}
		// The scenario links to its section below.
		cells[0] = fmt.Sprintf("[%s](#%s)", cells[0], Slug(r.Scenario))
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	for _, r := range recs {
		writeMarkdownScenario(b, r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdownScenario(b *strings.Builder, r *Record) {
	fmt.Fprintf(b, "\n<a id=\"%s\"></a>\n## %s\n\n", Slug(r.Scenario), mdEscape(r.Scenario))
	fmt.Fprintf(b, "**Verdict: %s**", verdictText(r.Verdict))
	if r.Failure != "" {
		fmt.Fprintf(b, " — %s", mdEscape(oneLine(r.Failure)))
	}
	b.WriteString("\n\n")
	fmt.Fprintf(b, "- Page: [%s/%s.html](%s/%s.html)\n", ScenariosDir, Slug(r.Scenario), ScenariosDir, Slug(r.Scenario))
	fmt.Fprintf(b, "- Stack: %s", r.Stack)
	if r.Gateway != "" {
		fmt.Fprintf(b, ", gateway `%s`", r.Gateway)
	}
	b.WriteString("\n")
	if len(r.Labels) > 0 {
		fmt.Fprintf(b, "- Labels: %s\n", mdEscape(strings.Join(r.Labels, ", ")))
	}
	fmt.Fprintf(b, "- Run: %s → %s (%s)\n", r.Start.UTC().Format(time.RFC3339), r.End.UTC().Format(time.RFC3339), r.Duration().Round(time.Millisecond))
	fmt.Fprintf(b, "- Load: %s\n", mdEscape(loadText(&r.Load)))
	if d, ok := r.FailoverTime(); ok {
		fmt.Fprintf(b, "- Failover time: %s (first fault start to the end of the last interval with a failed request)\n", fmtDur(d))
	}

	if len(r.Assertions) > 0 {
		b.WriteString("\n### Assertions\n\n")
		mdTable(b, []string{"Assertion", "Bound", "Measured", "Verdict"}, func(row func(...string)) {
			for _, a := range r.Assertions {
				row(a.Name, a.Bound, measured(a), verdictText(assertionVerdict(a)))
			}
		})
	}
	if len(r.Premises) > 0 {
		b.WriteString("\n### Premises\n\n")
		mdTable(b, PremiseColumns, func(row func(...string)) {
			for _, p := range r.Premises {
				row(premiseRow(p)...)
			}
		})
	}
	if r.Generator != nil || r.Machine != nil {
		b.WriteString("\n### The run itself\n\n")
		for _, l := range selfLines(r) {
			fmt.Fprintf(b, "- %s\n", mdEscape(l))
		}
	}
	for _, e := range r.Earlier {
		fmt.Fprintf(b, "\nEarlier attempt: %s — %s\n", verdictText(e.Verdict), mdEscape(oneLine(e.Reason)))
	}
	if len(r.Faults) > 0 {
		b.WriteString("\n### Fault timeline\n\n")
		mdTable(b, FaultColumns, func(row func(...string)) {
			for _, f := range r.Faults {
				row(faultRow(r, &f)...)
			}
		})
	}
	b.WriteString("\n### Totals\n\n")
	mdTable(b, TotalsColumns, func(row func(...string)) { row(totalsRow(&r.Totals)...) })
	fmt.Fprintf(b, "\nStatus codes: %s\n", mdEscape(fmtCodes(r.Totals.StatusCodes)))
	if len(r.Totals.Errors) > 0 {
		b.WriteString("\nErrors:\n")
		// vegeta keeps one error per connection (their ports differ), so a
		// job page gets the first few; the HTML page has them all.
		const shown = 10
		for i, e := range r.Totals.Errors {
			if i == shown {
				fmt.Fprintf(b, "- … and %d more\n", len(r.Totals.Errors)-shown)
				break
			}
			fmt.Fprintf(b, "- `%s`\n", strings.ReplaceAll(oneLine(e), "`", "'"))
		}
	}
}

// PremiseColumns head the premise tables.
var PremiseColumns = []string{"Premise", "Bound", "Measured", "Held"}

func premiseRow(p Premise) []string {
	held := verdictText(VerdictPass)
	if !p.Held {
		held = verdictText(VerdictInconclusive) + ": " + p.Reason
	}
	return []string{p.Name, p.Bound, measured(Assertion{Measured: p.Measured, Unit: p.Unit}), held}
}

// selfLines describe how the harness kept its own schedule: the generator's
// lag and unsent requests, each fault's lateness, the machine's CPU.
func selfLines(r *Record) []string {
	var out []string
	if g := r.Generator; g != nil {
		out = append(out, fmt.Sprintf("Load generator: %d of %d planned requests sent (%d unsent); lag behind schedule p99 %s, max %s at t=%s",
			g.Sent, g.Planned, g.Unsent, fmtDur(g.LagP99), fmtDur(g.LagMax), fmtOffset(g.LagMaxAt)))
	}
	for _, f := range r.Faults {
		if f.Start.IsZero() {
			continue
		}
		s := fmt.Sprintf("Fault %s: started %s after plan", f.Name, fmtDur(f.Start.Sub(r.Start)-f.PlannedOffset))
		if f.PlannedDuration > 0 && !f.End.IsZero() {
			s += fmt.Sprintf(", ended %s after plan", fmtDur(f.End.Sub(r.Start)-f.PlannedOffset-f.PlannedDuration))
		}
		out = append(out, s)
	}
	if m := r.Machine; m != nil {
		s := fmt.Sprintf("Machine (%d CPUs): busy %s mean, %s max; steal max %s; run queue max %d",
			m.CPUs, fmtPct(m.BusyMean), fmtPct(m.BusyMax), fmtPct(m.StealMax), m.RunQueueMax)
		if m.PressureMax > 0 {
			s += fmt.Sprintf("; CPU pressure (some) max %s", fmtPct(m.PressureMax))
		}
		out = append(out, s)
	}
	return out
}

// FaultColumns head the fault timeline tables.
var FaultColumns = []string{"Fault", "Kind", "Target", "Planned at", "Started", "Ended", "Lasted"}

func faultRow(r *Record, f *Fault) []string {
	started, ended, lasted := "never", "–", "–"
	if !f.Start.IsZero() {
		started = fmtOffset(f.Start.Sub(r.Start))
		if f.End.IsZero() {
			ended = "not reverted"
		} else {
			ended = fmtOffset(f.End.Sub(r.Start))
			lasted = fmtDur(f.End.Sub(f.Start))
		}
	}
	if f.Error != "" {
		ended += " (error: " + oneLine(f.Error) + ")"
	}
	return []string{f.Name, f.Kind, f.Target, fmtOffset(f.PlannedOffset), started, ended, lasted}
}

// TotalsColumns head the totals tables.
var TotalsColumns = []string{"Requests", "Rate", "Throughput", "Success", "Min", "Mean", "p50", "p90", "p95", "p99", "p99.9", "Max", "Bytes in", "Bytes out"}

func totalsRow(t *Totals) []string {
	l := t.Latencies
	return []string{
		fmt.Sprint(t.Requests), fmtRate(t.Rate), fmtRate(t.Throughput), fmtPct(t.Success),
		fmtDur(l.Min), fmtDur(l.Mean), fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P95), fmtDur(l.P99),
		fmtDur(l.P999), fmtDur(l.Max), fmt.Sprint(t.BytesIn), fmt.Sprint(t.BytesOut),
	}
}

func mdHead(b *strings.Builder, head []string) {
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for range head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
}

// mdTable writes a table whose cells are plain text, escaped here.
func mdTable(b *strings.Builder, head []string, rows func(row func(...string))) {
	mdHead(b, head)
	rows(func(cells ...string) {
		for i, c := range cells {
			cells[i] = mdEscape(c)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	})
}

// mdEscape keeps a value inside its table cell and out of Markdown syntax.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`)
	return r.Replace(s)
}
