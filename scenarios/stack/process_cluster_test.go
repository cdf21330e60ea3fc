//go:build resilience

package stack

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/internal/procfs"
)

// TestClusterProcesses starts the cluster on the process stack and checks
// what the container test does (checkCluster), then what the process stack
// does its own way: a node's DBLink (its Toxiproxy proxy to PostgreSQL)
// cuts that node alone off the database, and PostgreSQL's kill and pause
// reach its backends, as a container's would. Run with:
// go test -tags resilience -run TestClusterProcesses ./scenarios/stack
func TestClusterProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p, err := NewProcesses(ctx, log, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	s := startTestCluster(ctx, t, p)
	defer closeTestCluster(t, s)
	checkCluster(ctx, t, s)

	consumer := func(gw *Gateway, name string) error {
		return gw.Admin.Do(ctx, http.MethodPost, "/consumers", map[string]any{"username": name}, nil)
	}
	gw3 := s.Nodes[2]
	if err := gw3.DBLink.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := consumer(gw3, "cut"); err == nil {
		t.Error("a write on gateway3 succeeded while it was cut off PostgreSQL")
	}
	if err := consumer(s.Gateway, "gw1"); err != nil {
		t.Errorf("a write on gateway1 while gateway3 was cut off: %v", err)
	}
	if err := gw3.DBLink.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := consumer(gw3, "back")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway3 still failing writes 10 s after its link came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}

	pg := s.Postgres.Node.(*procNode)
	pg.mu.Lock()
	pm := pg.cmd.Process.Pid
	pg.mu.Unlock()
	kids := procfs.Children(pm)
	if len(kids) == 0 {
		t.Fatal("postgres has no child processes")
	}
	if err := pg.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range append([]int{pm}, kids...) {
		awaitState(t, k, "paused postgres", 2*time.Second, func(st string) bool { return st == "T" })
	}
	if err := pg.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		awaitState(t, k, "killed postgres", 2*time.Second, func(st string) bool { return st == "" || st == "Z" })
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := PostgresPing(ctx, s.Postgres.DSN()); err != nil {
		t.Fatalf("postgres after restart: %v", err)
	}
}

// procState is a process's state letter from /proc ("" when it is gone).
func procState(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// awaitState waits until process pid's state satisfies ok (signals take
// effect asynchronously).
func awaitState(t *testing.T, pid int, what string, timeout time.Duration, ok func(string) bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; {
		st := procState(pid)
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: process %d in state %q after %v", what, pid, st, timeout)
			return
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}
