package reports

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Mutation outcomes: a mutant is caught when the scenarios of its labels
// failed on it, missed when they all passed. A stale mutant's snippet no
// longer matches the code exactly once; a build error is a catalogue error;
// error is a run that could not judge (no spec ran, the suite failed to set
// up).
const (
	MutantCaught     = "caught"
	MutantMissed     = "missed"
	MutantStale      = "stale"
	MutantBuildError = "build-error"
	MutantError      = "error"
)

// MutationReport is one `make mutate` run: every mutant applied to the
// gateway and the scenarios that had to catch it.
type MutationReport struct {
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	// Commit is the revision the mutants were applied to.
	Commit  string         `json:"commit"`
	Mutants []MutantResult `json:"mutants"`
}

// MutantResult is one mutant's row.
type MutantResult struct {
	ID     string   `json:"id"`
	Rule   string   `json:"rule"`
	File   string   `json:"file"`
	Labels []string `json:"labels"`
	Why    string   `json:"why"`
	// Outcome is one of the Mutant* constants.
	Outcome string `json:"outcome"`
	// Catches name the scenarios that failed and the assertions that caught
	// the mutant (or the failure message when no assertion was recorded).
	Catches  []MutantCatch `json:"catches,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration"`
	// Specs ran / failed among the mutant's labels.
	Specs  int `json:"specs"`
	Failed int `json:"failed"`
}

// MutantCatch is one failed scenario and what failed in it.
type MutantCatch struct {
	Scenario  string `json:"scenario"`
	Assertion string `json:"assertion"`
}

// Tally counts outcomes.
func (m *MutationReport) Tally() map[string]int {
	c := map[string]int{}
	for _, r := range m.Mutants {
		c[r.Outcome]++
	}
	return c
}

// Summary is one line: "caught 28 of 30 (missed 1, stale 0, build-error 0, error 1)".
func (m *MutationReport) Summary() string {
	c := m.Tally()
	judged := c[MutantCaught] + c[MutantMissed]
	return fmt.Sprintf("caught %d of %d judged, %d in the run (missed %d, stale %d, build-error %d, error %d)",
		c[MutantCaught], judged, len(m.Mutants), c[MutantMissed], c[MutantStale], c[MutantBuildError], c[MutantError])
}

// CatchText renders a row's catches, or its detail when nothing was caught.
func (r *MutantResult) CatchText() string {
	if len(r.Catches) == 0 {
		return r.Detail
	}
	parts := make([]string, 0, len(r.Catches))
	for _, c := range r.Catches {
		parts = append(parts, c.Scenario+": "+c.Assertion)
	}
	return strings.Join(parts, "; ")
}

// WriteMutationMarkdown writes the detection table.
func WriteMutationMarkdown(w io.Writer, m *MutationReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s, wall time %s: %s.\n\n", m.Start.UTC().Format("2006-01-02 15:04 UTC"),
		shortCommit(m.Commit), m.Duration.Round(time.Second), m.Summary())
	mdTable(&b, []string{"mutant", "rule", "labels", "outcome", "caught by (scenario: assertion)"}, func(row func(...string)) {
		for _, r := range m.Mutants {
			labels := ""
			if len(r.Labels) > 0 {
				labels = "`" + strings.Join(r.Labels, "`, `") + "`"
			}
			row("`"+r.ID+"`", r.Rule, labels, r.Outcome, clip(r.CatchText(), 300))
		}
	})
	_, err := io.WriteString(w, b.String())
	return err
}

func shortCommit(c string) string {
	if c == "" {
		return "an unknown commit"
	}
	parts := strings.Split(c, " + ") // a table updated on a later commit
	for i, p := range parts {
		if len(p) > 12 {
			parts[i] = p[:12]
		}
	}
	return strings.Join(parts, " + ")
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var mutationTmpl = template.Must(template.New("mutation").Funcs(template.FuncMap{
	"join":  strings.Join,
	"utc":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"short": shortCommit,
	"round": func(d time.Duration) time.Duration { return d.Round(time.Second) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Gauntlet mutation run</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.caught{background:#dfd}.missed{background:#fdd}.stale,.build-error,.error{background:#ffd}
code{font-size:13px}
</style></head><body>
<h1>Mutation run</h1>
<p>Measured {{utc .Start}} on <code>{{short .Commit}}</code>, wall time {{round .Duration}}: {{.Summary}}.</p>
<table><thead><tr><th>mutant</th><th>rule</th><th>labels</th><th>outcome</th><th>caught by (scenario: assertion)</th><th>why it is a bug</th></tr></thead><tbody>
{{range .Mutants}}<tr class="{{.Outcome}}"><td><code>{{.ID}}</code><br><small>{{.File}}</small></td><td>{{.Rule}}</td><td>{{join .Labels ", "}}</td><td>{{.Outcome}}</td><td>{{range .Catches}}<b>{{.Scenario}}</b>: {{.Assertion}}<br>{{else}}{{.Detail}}{{end}}</td><td>{{.Why}}</td></tr>
{{end}}</tbody></table>
</body></html>
`))

// WriteMutationHTML writes the detection table as a page of its own.
func WriteMutationHTML(w io.Writer, m *MutationReport) error {
	if err := mutationTmpl.Execute(w, m); err != nil {
		return fmt.Errorf("render mutation page: %w", err)
	}
	return nil
}
