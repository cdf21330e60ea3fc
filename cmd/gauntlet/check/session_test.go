package check

import (
	"os"
	"path/filepath"
	"testing"
)

// A new run's output keeps nothing of the last run's records, results and
// logs, and nothing else of the directory is touched.
func TestClearOutput(t *testing.T) {
	out := t.TempDir()
	for _, d := range []string{"records", "results", "logs", "keep"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := ClearOutput(out); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"records", "results", "logs"} {
		if _, err := os.Stat(filepath.Join(out, d)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "keep")); err != nil {
		t.Errorf("keep removed: %v", err)
	}
}

// A given bin dir is used as it is; without one a temporary directory is
// made and removed by cleanup.
func TestBinDir(t *testing.T) {
	given := t.TempDir()
	if d, cleanup, err := BinDir(given, "x-"); err != nil || d != given {
		t.Fatalf("BinDir(%q) = %q, %v", given, d, err)
	} else {
		cleanup()
		if _, err := os.Stat(given); err != nil {
			t.Fatalf("cleanup removed the given dir: %v", err)
		}
	}
	d, cleanup, err := BinDir("", "gauntlet-test-bin-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Fatalf("temporary dir %s still there after cleanup (%v)", d, err)
	}
}
