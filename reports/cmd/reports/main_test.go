package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/reports"
)

const fixtures = "../../testdata/records"

var quiet = slog.New(slog.DiscardHandler)

func TestRender(t *testing.T) {
	dir := t.TempDir()
	recs, err := reports.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := r.WriteFile(filepath.Join(dir, reports.RecordsDir)); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"render", dir}, &out, quiet); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"report: " + filepath.Join(dir, "index.html"),
		"3 scenarios: 2 passed, 1 failed, 0 errors",
		"Status Codes  [code:count]                            200:2068  429:3932",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("render output lacks %q:\n%s", want, s)
		}
	}
	// Failing scenarios are printed first.
	if strings.Index(s, "Rate limit admits") > strings.Index(s, "Failover: kill") {
		t.Error("failing scenario not printed first")
	}
}

func TestDiffExitCodes(t *testing.T) {
	failover := filepath.Join(fixtures, "failover-kill-one-of-two-targets.json")
	worse := t.TempDir()
	r, err := reports.ReadFile(failover)
	if err != nil {
		t.Fatal(err)
	}
	r.Totals.Success -= 0.03
	if err := r.WriteFile(worse); err != nil {
		t.Fatal(err)
	}
	worseFile := filepath.Join(worse, r.FileName())
	tests := []struct {
		name   string
		args   []string
		failed bool   // a bound crossed: exit 1
		usage  bool   // bad input: exit 2
		output string // must appear on stdout
	}{
		{"same file", []string{"diff", failover, failover}, false, false, "no bound crossed in 1 scenario"},
		{"success dropped 3 points", []string{"diff", failover, worseFile}, true, false, "REGRESSION"},
		{"looser bound", []string{"diff", "-success-drop", "0.05", failover, worseFile}, false, false, "drop ≤ 5.00 pt"},
		{"directories", []string{"diff", fixtures, fixtures}, false, false, "no bound crossed in 3 scenarios"},
		{"lost scenarios", []string{"diff", fixtures, worse}, true, false, "scenario missing from the new run"},
		{"markdown", []string{"diff", "-format", "markdown", failover, worseFile}, true, false, "| success ratio | 99.97% | 96.97% |"},
		{"bad format", []string{"diff", "-format", "xml", failover, failover}, false, true, ""},
		{"missing file", []string{"diff", failover, "/nonexistent.json"}, false, true, ""},
		{"one argument", []string{"diff", failover}, false, true, ""},
		{"unknown command", []string{"frobnicate"}, false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tt.args, &out, quiet)
			switch {
			case tt.failed && !errors.Is(err, errFailed):
				t.Errorf("err = %v, want a crossed bound", err)
			case tt.usage && (err == nil || errors.Is(err, errFailed)):
				t.Errorf("err = %v, want a usage error", err)
			case !tt.failed && !tt.usage && err != nil:
				t.Errorf("err = %v, want none", err)
			}
			if !strings.Contains(out.String(), tt.output) {
				t.Errorf("output lacks %q:\n%s", tt.output, out.String())
			}
		})
	}
}
