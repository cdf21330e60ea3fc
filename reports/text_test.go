package reports

import (
	"strings"
	"testing"
	"time"
)

func TestHeadline(t *testing.T) {
	r := &Record{Scenario: "kill", Verdict: VerdictFail, Failure: "failed requests: measured 3, bound = 0\nmore",
		Assertions: []Assertion{{Name: "a", Pass: true}, {Name: "b"}},
		Totals:     Totals{Requests: 2400, Success: 0.99875, Latencies: Latencies{P99: 12 * time.Millisecond}}}
	got := Headline(r)
	for _, want := range []string{"FAIL  kill: 1/2 bounds held", "2400 requests", "p99 12", "failed requests: measured 3, bound = 0 …"} {
		if !strings.Contains(got, want) {
			t.Errorf("Headline = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "more") {
		t.Errorf("Headline = %q: more than the failure's first line", got)
	}
}
