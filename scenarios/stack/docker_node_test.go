//go:build resilience

package stack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// TestContainerNodeChaos starts a real mockbin container and drives every
// chaos action of a container node against it, checking the effect from the
// harness side after each. Run with: go test -tags resilience ./scenarios/stack
func TestContainerNodeChaos(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d, err := ConnectDocker(ctx, log)
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	defer d.Close(context.Background())
	if err := d.Prepare(ctx, t.TempDir(), Binaries[1:2]); err != nil {
		t.Fatal(err)
	}
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(d.Labels()))
	if err != nil {
		t.Fatal(err)
	}
	n, ports, err := d.startContainer(ctx, "nodetest", nw, containerSpec{
		name: "mockbin1", image: d.Image("mockbin"),
		cmd:   []string{"--listen", ":8080", "--name", "mockbin1"},
		ports: []string{"8080"},
		wait:  wait.ForHTTP("/__mockbin/health").WithPort("8080/tcp").WithStartupTimeout(readyTimeout),
	})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + ports["8080"] + "/request"
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	up := func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Mockbin-Instance") == "mockbin1"
	}
	if !up() {
		t.Fatal("mockbin1 not answering after start")
	}
	if err := n.Kill(ctx); err != nil || up() {
		t.Fatalf("after kill: err %v, still up %v", err, up())
	}
	if err := n.Start(ctx); err != nil || !up() {
		t.Fatalf("after start: err %v, up %v (the host port must survive a restart)", err, up())
	}
	if err := n.Pause(ctx); err != nil || up() {
		t.Fatalf("after pause: err %v, still answering %v", err, up())
	}
	if err := n.Unpause(ctx); err != nil || !up() {
		t.Fatalf("after unpause: err %v, up %v", err, up())
	}
	// The published port reaches the container through its only network, so a
	// partitioned container cannot be reached from the harness either.
	if err := n.Disconnect(ctx); err != nil || up() {
		t.Fatalf("after disconnect: err %v, still reachable %v", err, up())
	}
	if err := n.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !up() {
		if time.Now().After(deadline) {
			t.Fatal("not reachable 10 s after reconnect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := n.Stop(ctx, time.Second); err != nil || up() {
		t.Fatalf("after stop: err %v, still up %v", err, up())
	}
}
