//go:build resilience

package stack

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestClusterContainers starts a three-node cluster (PostgreSQL, HAProxy, one
// mockbin) and checks what every cluster scenario relies on: a route created
// on gateway1 answers on gateway3 without a write there, and HAProxy relays
// to every node and names it. Run with:
// go test -tags resilience -run TestClusterContainers ./scenarios/stack
func TestClusterContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d, err := ConnectDocker(ctx, log)
	if err != nil {
		t.Fatalf("no Docker engine: %v", err)
	}
	defer d.Close(context.Background())
	if err := d.Prepare(ctx, t.TempDir(), Binaries[:2]); err != nil {
		t.Fatal(err)
	}
	s := startTestCluster(ctx, t, d)
	defer closeTestCluster(t, s)
	checkCluster(ctx, t, s)
}

// startTestCluster starts a three-node cluster with one mockbin.
func startTestCluster(ctx context.Context, t *testing.T, p Provider) *Stack {
	t.Helper()
	s, err := p.Start(ctx, Options{Name: "cluster-test", Mockbins: 1, Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// closeTestCluster stops s, and shows its logs when the test failed.
func closeTestCluster(t *testing.T, s *Stack) {
	_ = s.Close(context.Background())
	if t.Failed() {
		for _, l := range s.Logs() {
			t.Logf("--- %s\n%s", l.Container, l.Tail)
		}
	}
}

// checkCluster checks what every cluster scenario relies on, on either
// stack: a route created on gateway1 answers on gateway3 without a write
// there, and HAProxy relays to every node and names it.
func checkCluster(ctx context.Context, t *testing.T, s *Stack) {
	t.Helper()
	if _, err := s.Gateway.Admin.CreateService(ctx, ServiceSpec{Name: "svc", URL: "http://" + s.Mockbins[0].Target}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Gateway.Admin.CreateRoute(ctx, "svc", RouteSpec{Name: "r", Paths: []string{"/svc"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// 10 s: the polling fallback (2 s) many times over; NOTIFY takes ms.
	for code := 0; code != 200; {
		resp, err := http.Get(s.Nodes[2].ProxyURL + "/svc/request")
		if err == nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("route created on gateway1 not answering on gateway3 after 10 s (last %d, %v)", code, err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	t.Logf("route on gateway3 after %v", time.Since(start))
	served := map[string]int{}
	for range 30 {
		resp, err := http.Get(s.LB.URL + "/svc/request")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("through HAProxy: %d", resp.StatusCode)
		}
		served[resp.Header.Get(ServedByHeader)]++
	}
	// Round-robin over 3 nodes: 10 each.
	for _, n := range []string{"gateway1", "gateway2", "gateway3"} {
		if served[n] != 10 {
			t.Errorf("HAProxy sent %s %d of 30 requests, want 10 (round-robin): %v", n, served[n], served)
		}
	}
}
