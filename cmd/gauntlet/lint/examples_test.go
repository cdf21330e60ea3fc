package lint

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// TestExamples pins exactly which rules fire on the shipped examples: the
// tutorial's setup shows the five well-known mistakes (and only notes
// besides), the resilient one is clean.
func TestExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "examples")
	cases := []struct {
		name string
		code int
		want []string // rule:severity, sorted
	}{
		{"seed-tutorial", ExitFindings, []string{
			"admin-api-exposed:error",
			"config-in-memory:error",
			"no-rate-limiting:warning",
			"retries-exceed-targets:info",
			"service-default-timeouts:warning",
			"upstream-no-healthchecks:error",
		}},
		{"resilient", ExitOK, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			yml := filepath.Join(dir, c.name, "kong.yml")
			env := filepath.Join(dir, c.name, "kong.env")
			var out, errb bytes.Buffer
			if code := Command([]string{yml, "--env-file", env}, &out, &errb); code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", code, c.code, errb.String())
			}
			data, err := ReadFile(yml)
			if err != nil {
				t.Fatal(err)
			}
			s := NewSettings()
			envData, err := ReadFile(env)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ParseEnvFile(env, envData); err != nil {
				t.Fatal(err)
			}
			res, err := Lint(yml, data, s)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.Rule+":"+string(f.Severity))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("findings %v, want %v\n%s", got, c.want, out.String())
			}
		})
	}
	// The resilient example is written for several nodes: still clean with --nodes 3.
	var out, errb bytes.Buffer
	if code := Command([]string{filepath.Join(dir, "resilient", "kong.yml"), "--env-file", filepath.Join(dir, "resilient", "kong.env"), "--nodes", "3"}, &out, &errb); code != ExitOK {
		t.Errorf("resilient --nodes 3: exit %d\n%s", code, out.String())
	}
}

// TestManualListsEveryRule keeps docs/gauntlet.md in step with Rules: each id
// has a table row with its severity and a section.
func TestManualListsEveryRule(t *testing.T) {
	doc, err := ReadFile(filepath.Join("..", "..", "..", "docs", "gauntlet.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		row := fmt.Sprintf("| [`%s`](#%s) | %s |", r.ID, r.ID, r.Severity)
		if !bytes.Contains(doc, []byte(row)) {
			t.Errorf("docs/gauntlet.md lacks the table row %q", row)
		}
		if !bytes.Contains(doc, []byte("\n### "+r.ID+"\n")) {
			t.Errorf("docs/gauntlet.md lacks a section for %s", r.ID)
		}
	}
}
