package reports

import (
	"strings"
	"testing"
	"time"
)

func crossed(c Comparison) []string {
	var out []string
	for _, ch := range c.Changes {
		if ch.Crossed {
			out = append(out, ch.Metric)
		}
	}
	return out
}

func TestCompareBounds(t *testing.T) {
	tests := []struct {
		name   string
		slug   string
		change func(r *Record)
		want   string // crossed metrics, comma-separated
	}{
		{"same run", "failover-kill-one-of-two-targets", func(*Record) {}, ""},
		{"success drops 0.9 pt", "failover-kill-one-of-two-targets", func(r *Record) { r.Totals.Success -= 0.009 }, ""},
		{"success drops 1.1 pt", "failover-kill-one-of-two-targets", func(r *Record) { r.Totals.Success -= 0.011 }, "success ratio"},
		{"success improves", "rate-limit-admits-the-configured-rate", func(r *Record) { r.Totals.Success += 0.2 }, ""},
		// Base p99 5.84ms: +50% is 8.76ms, +5ms slack is 10.84ms; the larger wins.
		{"p99 within slack", "failover-kill-one-of-two-targets", func(r *Record) { r.Totals.Latencies.P99 += 4900 * time.Microsecond }, ""},
		{"p99 beyond slack", "failover-kill-one-of-two-targets", func(r *Record) { r.Totals.Latencies.P99 += 5100 * time.Microsecond }, "p99"},
		// Base p99 1.005s: +50% rules.
		{"slow p99 +45%", "504-within-the-read-timeout", func(r *Record) { r.Totals.Latencies.P99 = r.Totals.Latencies.P99 * 145 / 100 }, ""},
		{"slow p99 +55%", "504-within-the-read-timeout", func(r *Record) { r.Totals.Latencies.P99 = r.Totals.Latencies.P99 * 155 / 100 }, "p99"},
		{"failover 2s longer", "failover-kill-one-of-two-targets", func(r *Record) {
			for i := 11; i < 13; i++ {
				r.Series[i].Success = 0.9
			}
		}, "failover time"},
		{"failover 1s longer", "failover-kill-one-of-two-targets", func(r *Record) { r.Series[11].Success = 0.9 }, ""},
		{"limiter admits 6% more", "rate-limit-admits-the-configured-rate", func(r *Record) {
			r.Totals.StatusCodes["200"] = r.Totals.StatusCodes["200"] * 106 / 100
		}, "admitted rate"},
		{"limiter admits 6% less", "rate-limit-admits-the-configured-rate", func(r *Record) {
			r.Totals.StatusCodes["200"] = r.Totals.StatusCodes["200"] * 94 / 100
		}, "admitted rate"},
		{"limiter admits 4% more", "rate-limit-admits-the-configured-rate", func(r *Record) {
			r.Totals.StatusCodes["200"] = r.Totals.StatusCodes["200"] * 104 / 100
		}, ""},
		{"verdict flips to fail", "failover-kill-one-of-two-targets", func(r *Record) { r.Verdict = VerdictFail }, "verdict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, cur := fixture(t, tt.slug), fixture(t, tt.slug)
			tt.change(cur)
			c := Compare(base, cur, DefaultBounds())
			if got := strings.Join(crossed(c), ","); got != tt.want {
				t.Errorf("crossed %q, want %q; changes %+v", got, tt.want, c.Changes)
			}
			if c.Regressed() != (tt.want != "") {
				t.Errorf("Regressed() = %v", c.Regressed())
			}
		})
	}
}

func TestCompareSets(t *testing.T) {
	all := loadFixtures(t)
	cs := CompareSets(all, all[1:], DefaultBounds())
	if len(cs) != 3 || !cs[0].Missing || !cs[0].Regressed() || cs[1].Regressed() || cs[2].Regressed() {
		t.Fatalf("comparisons %+v", cs)
	}
	var b strings.Builder
	if err := WriteComparisons(&b, cs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"REGRESSION: scenario missing", "1 of 3 scenarios crossed a bound", "success ratio"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cs = CompareSets(all[:1], all, DefaultBounds())
	if len(cs) != 3 || cs[1].Regressed() || len(cs[1].Changes) != 0 {
		t.Fatalf("new-only scenarios must not regress: %+v", cs)
	}
}

func TestComparisonsMarkdown(t *testing.T) {
	base := fixture(t, "failover-kill-one-of-two-targets")
	cur := fixture(t, "failover-kill-one-of-two-targets")
	cur.Totals.Success -= 0.05
	var b strings.Builder
	if err := WriteComparisonsMarkdown(&b, []Comparison{Compare(base, cur, DefaultBounds())}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**❌ fail: 1 of 1 scenarios crossed a bound**",
		"| success ratio | 99.97% | 94.97% | -5.00 pt | drop ≤ 1.00 pt | ❌ fail |",
		"| p99 | 5.84ms | 5.84ms | +0.0% |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}
