package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHelpListsOnlyWhatExists(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), "gauntlet lint kong.yml") {
		t.Errorf("help lacks lint: %s", out.String())
	}
	for _, absent := range []string{"gauntlet check", "gauntlet run"} {
		if strings.Contains(out.String(), absent) {
			t.Errorf("help names %q, which does not exist yet", absent)
		}
	}
}

func TestUnknownSubcommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"chek"}, &out, &errb); code != 2 || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Usage") {
		t.Errorf("no args: exit %d, stderr %q", code, errb.String())
	}
}

func TestLintDispatch(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"lint", "../../examples/seed-tutorial/kong.yml", "--env-file", "../../examples/seed-tutorial/kong.env"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "config-in-memory") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
