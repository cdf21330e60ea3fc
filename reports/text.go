package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the plain-text report of one scenario: a header with the
// verdict, faults and assertions, then the totals laid out like
// `vegeta report` (with p99.9 added), for a CI log.
func WriteText(w io.Writer, r *Record) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	t := &r.Totals
	l := t.Latencies
	var meanIn, meanOut float64
	if t.Requests > 0 {
		meanIn = float64(t.BytesIn) / float64(t.Requests)
		meanOut = float64(t.BytesOut) / float64(t.Requests)
	}
	fmt.Fprintf(tw, "Scenario\t%s\n", r.Scenario)
	fmt.Fprintf(tw, "Verdict\t%s\n", strings.ToUpper(r.Verdict))
	if r.Failure != "" {
		fmt.Fprintf(tw, "Failure\t%s\n", oneLine(r.Failure))
	}
	fmt.Fprintf(tw, "Load\t%s\n", loadText(&r.Load))
	for _, f := range r.Faults {
		fmt.Fprintf(tw, "Fault\t%s\n", faultText(r, &f))
	}
	if d, ok := r.FailoverTime(); ok {
		fmt.Fprintf(tw, "Failover time\t%s\n", fmtDur(d))
	}
	for _, a := range r.Assertions {
		fmt.Fprintf(tw, "Assertion\t%s  %s: %s (bound %s)\n", strings.ToUpper(assertionVerdict(a)), a.Name, measured(a), a.Bound)
	}
	for _, p := range r.Premises {
		held := "HELD"
		if !p.Held {
			held = "BROKEN: " + p.Reason
		}
		fmt.Fprintf(tw, "Premise\t%s  %s: %s (bound %s)\n", held, p.Name, measured(Assertion{Measured: p.Measured, Unit: p.Unit}), p.Bound)
	}
	for _, l := range selfLines(r) {
		fmt.Fprintf(tw, "Run\t%s\n", l)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "Requests\t[total, rate, throughput]\t%d, %.2f, %.2f\n", t.Requests, t.Rate, t.Throughput)
	fmt.Fprintf(tw, "Duration\t[total, attack, wait]\t%s, %s, %s\n", t.Duration+t.Wait, t.Duration, t.Wait)
	fmt.Fprintf(tw, "Latencies\t[min, mean, 50, 90, 95, 99, 99.9, max]\t%s, %s, %s, %s, %s, %s, %s, %s\n",
		l.Min, l.Mean, l.P50, l.P90, l.P95, l.P99, l.P999, l.Max)
	fmt.Fprintf(tw, "Bytes In\t[total, mean]\t%d, %.2f\n", t.BytesIn, meanIn)
	fmt.Fprintf(tw, "Bytes Out\t[total, mean]\t%d, %.2f\n", t.BytesOut, meanOut)
	fmt.Fprintf(tw, "Success\t[ratio]\t%s\n", fmtPct(t.Success))
	fmt.Fprintf(tw, "Status Codes\t[code:count]\t%s\n", fmtCodes(t.StatusCodes))
	fmt.Fprintln(tw, "Error Set:")
	for _, e := range t.Errors {
		fmt.Fprintln(tw, e)
	}
	return tw.Flush()
}

func loadText(l *Load) string {
	s := fmt.Sprintf("%s for %s, timeout %s, %d connections", rateText(l.Rate), l.Duration, l.Timeout, l.Connections)
	if len(l.Targets) > 0 {
		s += ", " + strings.Join(l.Targets, "; ")
	}
	return s
}

func rateText(rate float64) string {
	if rate <= 0 {
		return "max rate"
	}
	return fmt.Sprintf("%s req/s", fmtFloat(rate))
}

func faultText(r *Record, f *Fault) string {
	s := fmt.Sprintf("%s (%s on %s): planned at %s", f.Name, f.Kind, f.Target, fmtOffset(f.PlannedOffset))
	if f.Start.IsZero() {
		s += ", never started"
	} else {
		s += ", started " + fmtOffset(f.Start.Sub(r.Start))
		if f.End.IsZero() {
			s += ", not reverted"
		} else {
			s += ", ended " + fmtOffset(f.End.Sub(r.Start))
		}
	}
	if f.Error != "" {
		s += ", error: " + oneLine(f.Error)
	}
	return s
}

func measured(a Assertion) string {
	if a.Unit == "" {
		return fmtFloat(a.Measured)
	}
	return fmtFloat(a.Measured) + " " + a.Unit
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// Headline is one line per finished scenario for a CI log: verdict, name,
// how many bounds held, the load's outcome and, when it failed, the first
// miss. make test-resilience prints it as each scenario ends, so a log shows
// progress in words instead of Ginkgo's dots.
func Headline(r *Record) string {
	var held int
	for _, a := range r.Assertions {
		if a.Pass {
			held++
		}
	}
	s := fmt.Sprintf("%s  %s: %d/%d bounds held", strings.ToUpper(r.Verdict), r.Scenario, held, len(r.Assertions))
	if t := &r.Totals; t.Requests > 0 {
		s += fmt.Sprintf("; %d requests, %s success, p99 %s", t.Requests, fmtPct(t.Success), fmtDur(t.Latencies.P99))
	}
	if r.Attempt > 1 {
		s += fmt.Sprintf("; attempt %d", r.Attempt)
		for _, e := range r.Earlier {
			s += fmt.Sprintf(" (earlier: %s, %s)", e.Verdict, oneLine(e.Reason))
		}
	}
	if r.Failure != "" {
		s += "; " + oneLine(r.Failure)
	}
	return s
}
