package stack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

func TestStale(t *testing.T) {
	alive := func(owner string) bool { return owner == "h:1" }
	cases := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"not ours", map[string]string{"other": "x"}, false},
		{"ours, owner alive", map[string]string{LabelHarness: "true", LabelOwner: "h:1"}, false},
		{"ours, owner dead", map[string]string{LabelHarness: "true", LabelOwner: "h:2"}, true},
		{"ours, no owner", map[string]string{LabelHarness: "true"}, true},
	}
	for _, c := range cases {
		if got := Stale(c.labels, alive); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestOwnerAlive(t *testing.T) {
	host, _ := os.Hostname()
	cases := []struct {
		owner string
		want  bool
	}{
		{Owner(), true},
		{fmt.Sprintf("%s:%d", host, 1<<30+12345), false}, // above pid_max: cannot exist
		{"some-other-host:1", true},                      // only its own host can tell
		{"garbage", false},
		{host + ":x", false},
	}
	for _, c := range cases {
		if got := ownerAlive(c.owner); got != c.want {
			t.Errorf("ownerAlive(%q): got %v, want %v", c.owner, got, c.want)
		}
	}
}

func TestRunSelector(t *testing.T) {
	sel := RunSelector("r1")
	if !sel(map[string]string{LabelHarness: "true", LabelRun: "r1"}) || sel(map[string]string{LabelHarness: "true", LabelRun: "r2"}) ||
		sel(map[string]string{LabelRun: "r1"}) {
		t.Fatal("RunSelector picks the wrong objects")
	}
}

func TestLogTail(t *testing.T) {
	if got := logTail([]byte("a\nbb\nccc\n"), 6); got != "ccc\n" {
		t.Fatalf("got %q", got)
	}
	if got := logTail([]byte("short"), 100); got != "short" {
		t.Fatalf("got %q", got)
	}
}

// TestCleanupByLabel creates real Docker networks labelled as a crashed run's
// and as a live run's, and checks that stale cleanup removes only the former
// and run cleanup only the latter. Skipped without a Docker engine.
func TestCleanupByLabel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := ConnectDocker(ctx, log)
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	host, _ := os.Hostname()
	dead := map[string]string{LabelHarness: "true", LabelOwner: fmt.Sprintf("%s:%d", host, 1<<30+7), LabelRun: "crashed"}
	live := d.Labels()
	var ids = map[string]string{}
	for name, labels := range map[string]map[string]string{"dead": dead, "live": live} {
		nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
		if err != nil {
			t.Fatalf("create %s network: %v", name, err)
		}
		ids[name] = nw.ID
	}
	exists := func(id string) bool {
		_, err := d.Client().NetworkInspect(ctx, id, client.NetworkInspectOptions{})
		return err == nil
	}
	n, err := Cleanup(ctx, d.Client(), StaleSelector())
	if err != nil {
		t.Fatalf("stale cleanup: %v", err)
	}
	if exists(ids["dead"]) || !exists(ids["live"]) || n.Networks < 1 {
		t.Fatalf("after stale cleanup: dead exists %v, live exists %v, removed %+v", exists(ids["dead"]), exists(ids["live"]), n)
	}
	n, err = Cleanup(ctx, d.Client(), RunSelector(live[LabelRun]))
	if err != nil {
		t.Fatalf("run cleanup: %v", err)
	}
	if exists(ids["live"]) || n.Networks != 1 {
		t.Fatalf("after run cleanup: live exists %v, removed %+v", exists(ids["live"]), n)
	}
}
