package procfs

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// A child this test starts is listed under the test's pid, and not under
// the child's own.
func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if kids := Children(os.Getpid()); !slices.Contains(kids, cmd.Process.Pid) {
		t.Fatalf("Children(%d) = %v, want it to hold %d", os.Getpid(), kids, cmd.Process.Pid)
	}
	if kids := Children(cmd.Process.Pid); len(kids) != 0 {
		t.Fatalf("Children of sleep = %v, want none", kids)
	}
}
