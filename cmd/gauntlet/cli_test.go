package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHelpListsOnlyWhatExists(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, present := range []string{"gauntlet lint kong.yml", "gauntlet check kong.yml", "gauntlet run scenario.yaml"} {
		if !strings.Contains(out.String(), present) {
			t.Errorf("help lacks %q: %s", present, out.String())
		}
	}
	for _, absent := range []string{} {
		if strings.Contains(out.String(), absent) {
			t.Errorf("help names %q, which does not exist yet", absent)
		}
	}
}

func TestUnknownSubcommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"chek"}, &out, &errb); code != 2 || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := runMain(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Usage") {
		t.Errorf("no args: exit %d, stderr %q", code, errb.String())
	}
}

func TestLintDispatch(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain([]string{"lint", "../../examples/seed-tutorial/kong.yml", "--env-file", "../../examples/seed-tutorial/kong.env"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "config-in-memory") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// Bad input to check is one line on stderr and exit 2, before any container
// starts.
func TestCheckBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"no file":      {"check"},
		"missing file": {"check", "does-not-exist.yml"},
		"two files":    {"check", "a.yml", "b.yml"},
		"unknown flag": {"check", "../../examples/seed-tutorial/kong.yml", "--bogus"},
		"not a map":    {"check", "testdata/list.yml"},
		"bad env file": {"check", "../../examples/seed-tutorial/kong.yml", "--env-file", "testdata/list.yml"},
		"directory":    {"check", "../../examples"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(args, &out, &errb)
			if code != 2 || strings.Count(errb.String(), "\n") != 1 || !strings.HasPrefix(errb.String(), "gauntlet check: ") {
				t.Errorf("exit %d, stderr %q", code, errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}

// A malformed scenario file is file:line and exit 2, before any stack starts.
func TestRunBadInput(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain([]string{"run", "../../examples/scenarios/kill.yaml", "testdata/typo.yaml"}, &out, &errb)
	if code != 2 || errb.String() != "gauntlet run: testdata/typo.yaml:9: faults[0].fault \"kil\": unknown fault (want one of kill, stop, restart, pause, partition, latency, timeout, reset, bandwidth, mockbin)\n" {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q", out.String())
	}
	errb.Reset()
	if code := runMain([]string{"run"}, &out, &errb); code != 2 || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("no files: exit %d, stderr %q", code, errb.String())
	}
}
