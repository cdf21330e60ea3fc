package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// inconclusiveRecord is a scenario whose dark window held no request: its
// premise broke, so the check on it is inconclusive, and the run was on its
// second attempt.
func inconclusiveRecord() *Record {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &Record{
		Schema: SchemaVersion, Scenario: "all targets down", Stack: StackContainers,
		Start: start, End: start.Add(10 * time.Second),
		Series: []Interval{
			{Offset: 0, Width: 250 * time.Millisecond, Requests: 50, Success: 1, LagP99: 2 * time.Millisecond, LagMax: 3 * time.Millisecond, StatusCodes: map[string]int{"200": 50}},
			{Offset: 250 * time.Millisecond, Width: 250 * time.Millisecond, Requests: 12, Success: 1, LagP99: 340 * time.Millisecond, LagMax: 340 * time.Millisecond, StatusCodes: map[string]int{"200": 12}},
		},
		Assertions: []Assertion{
			{Name: "failed requests once recovered", Bound: "= 0", Measured: 0, Pass: true},
			{Name: "share of 503 while all targets are down", Bound: "= 100%", Measured: 0, Unit: "ratio", Pass: false,
				Premises: []string{"requests in the dark window"}, Inconclusive: true},
		},
		Premises: []Premise{{Name: "requests in the dark window", Bound: "≥ 20", Measured: 0, Held: false,
			Reason: "the dark window held 0 requests (premise: ≥ 20)"}},
		Generator: &Generator{Planned: 2000, Sent: 1998, Unsent: 2, LagP99: 12 * time.Millisecond, LagMax: 340 * time.Millisecond, LagMaxAt: 4200 * time.Millisecond},
		Machine: &Machine{CPUs: 2, BusyMean: 0.9, BusyMax: 1, RunQueueMax: 7, PressureMax: 0.8,
			Samples: []MachineSample{{Offset: 250 * time.Millisecond, Width: 250 * time.Millisecond, Busy: 1, RunQueue: 7, Pressure: 0.8}}},
		Verdict: VerdictInconclusive, Failure: "the dark window held 0 requests (premise: ≥ 20)",
		Attempt: 2, Earlier: []Attempt{{Verdict: VerdictInconclusive, Reason: "load generator 340.0ms behind schedule at t=4.2 s"}},
	}
}

func TestInconclusiveIsItsOwnVerdict(t *testing.T) {
	r := inconclusiveRecord()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	pass := &Record{Schema: 1, Scenario: "baseline", Verdict: VerdictPass}
	c := Tally([]*Record{r, pass})
	// Neither a failure nor a pass: the run as a whole is inconclusive.
	if c != (Counts{Pass: 1, Inconclusive: 1}) || c.Verdict() != VerdictInconclusive {
		t.Fatalf("counts %+v verdict %s", c, c.Verdict())
	}
	if got := c.String(); got != "2 scenarios: 1 passed, 0 failed, 0 errors, 1 inconclusive" {
		t.Fatalf("counts text %q", got)
	}
	fail := &Record{Schema: 1, Scenario: "kill", Verdict: VerdictFail}
	if v := Tally([]*Record{r, fail}).Verdict(); v != VerdictFail {
		t.Fatalf("a failure beside an inconclusive: run verdict %s, want fail", v)
	}
	if o := ByVerdict([]*Record{pass, r, fail}); o[0] != fail || o[1] != r || o[2] != pass {
		t.Fatalf("order: %s, %s, %s", o[0].Scenario, o[1].Scenario, o[2].Scenario)
	}
	h := Headline(r)
	if !strings.HasPrefix(h, "INCONCLUSIVE  all targets down: 1/2 bounds held") ||
		!strings.HasSuffix(h, "; the dark window held 0 requests (premise: ≥ 20)") ||
		!strings.Contains(h, "attempt 2 (earlier: inconclusive, load generator 340.0ms behind schedule at t=4.2 s)") {
		t.Fatalf("headline %q", h)
	}
}

func TestInconclusiveRendered(t *testing.T) {
	r := inconclusiveRecord()
	var md strings.Builder
	if err := WriteMarkdown(&md, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**❔ inconclusive** — 1 scenarios: 0 passed, 0 failed, 0 errors, 1 inconclusive",
		"| share of 503 while all targets are down | = 100% | 0 ratio | ❔ inconclusive |",
		"| requests in the dark window | ≥ 20 | 0 | ❔ inconclusive: the dark window held 0 requests (premise: ≥ 20) |",
		"- Load generator: 1998 of 2000 planned requests sent (2 unsent); lag behind schedule p99 12.00ms, max 340.00ms at t=4.200s",
		"- Machine (2 CPUs): busy 90.00% mean, 100.00% max; steal max 0.00%; run queue max 7; CPU pressure (some) max 80.00%",
	} {
		if !strings.Contains(md.String(), mdEscape(want)) && !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	figs, err := Figures(r)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, f := range figs {
		ids[f.ID] = true
	}
	if !ids["lag"] || !ids["machine"] {
		t.Fatalf("figures %v: want the lag and machine plots", ids)
	}
	var page bytes.Buffer
	if err := WriteScenarioHTML(&page, r, figs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<span class="badge inconclusive">inconclusive</span>`, `<tr class="inconclusive">`, "Premises and the run itself"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	var text strings.Builder
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "BROKEN: the dark window held 0 requests") {
		t.Errorf("text report:\n%s", text.String())
	}
}
