package reports

import (
	"strings"
	"testing"
	"time"
)

func sampleMutation() *MutationReport {
	return &MutationReport{
		Start:    time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC),
		Duration: 95 * time.Second,
		Commit:   "0123456789abcdef",
		Mutants: []MutantResult{
			{ID: "rr-ignores-weights", Rule: "round-robin weights", File: "gateway/balancer/pick.go",
				Labels: []string{"weights"}, Why: "x", Outcome: MutantCaught,
				Catches: []MutantCatch{{Scenario: "weights", Assertion: "round-robin mockbin1 share <b>"}}},
			{ID: "m2", Rule: "r", Labels: []string{"kill", "restart"}, Outcome: MutantMissed, Detail: "2 specs passed"},
			{ID: "m3", Outcome: MutantStale, Detail: "find snippet matches 0 times"},
		},
	}
}

func TestMutationSummary(t *testing.T) {
	got := sampleMutation().Summary()
	want := "caught 1 of 2 judged, 3 in the run (missed 1, stale 1, build-error 0, error 0)"
	if got != want {
		t.Fatalf("Summary() = %q, want %q", got, want)
	}
}

func TestShortCommit(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "an unknown commit",
		"0123456789abcdef":                  "0123456789ab",
		"0123456789abcdef + fedcba98765432": "0123456789ab + fedcba987654",
	} {
		if got := shortCommit(in); got != want {
			t.Errorf("shortCommit(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteMutationMarkdown(t *testing.T) {
	var b strings.Builder
	if err := WriteMutationMarkdown(&b, sampleMutation()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Measured 2026-12-02 07:00 UTC on 0123456789ab, wall time 1m35s",
		"| `rr-ignores-weights` | round-robin weights | `weights` | caught | weights: round-robin mockbin1 share &lt;b&gt; |",
		"| `m2` | r | `kill`, `restart` | missed | 2 specs passed |",
		"| stale | find snippet matches 0 times |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteMutationHTML(t *testing.T) {
	var b strings.Builder
	if err := WriteMutationHTML(&b, sampleMutation()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`<tr class="caught">`, `<tr class="missed">`, "share &lt;b&gt;", "kill, restart", "wall time 1m35s"} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}
