package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/mockbin/server"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		wantListen string
		wantName   string
		wantErr    bool
	}{
		{"defaults", nil, nil, ":8080", "", false},
		{"env port", nil, map[string]string{"MOCKBIN_PORT": "9000"}, ":9000", "", false},
		{"env port with colon", nil, map[string]string{"MOCKBIN_PORT": ":9001"}, ":9001", "", false},
		{"flag beats env", []string{"--listen", "127.0.0.1:7000"}, map[string]string{"MOCKBIN_PORT": "9000"}, "127.0.0.1:7000", "", false},
		{"env name", nil, map[string]string{"MOCKBIN_NAME": "mockbin1"}, ":8080", "mockbin1", false},
		{"flag name beats env", []string{"--name", "m2"}, map[string]string{"MOCKBIN_NAME": "mockbin1"}, ":8080", "m2", false},
		{"bad seed", []string{"--seed", "x"}, nil, "", "", true},
		{"bad listen", []string{"--listen", "8080"}, nil, "", "", true},
		{"unknown flag", []string{"--nope"}, nil, "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig(tc.args, func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (cfg.listen != tc.wantListen || cfg.name != tc.wantName) {
				t.Errorf("listen %q name %q, want %q %q", cfg.listen, cfg.name, tc.wantListen, tc.wantName)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	ok := httptest.NewServer(server.New(server.WithName("p"), server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	defer ok.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"healthy", []string{ok.URL + server.PathHealth}, 0},
		{"no scheme", []string{strings.TrimPrefix(ok.URL, "http://") + server.PathHealth}, 0},
		{"non-2xx", []string{ok.URL + "/status/503"}, 1},
		{"not found", []string{ok.URL + "/nope"}, 1},
		{"refused", []string{closedURL}, 1},
		{"no url", nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := probe(tc.args, &stderr); got != tc.want {
				t.Errorf("probe(%v) = %d, want %d (%s)", tc.args, got, tc.want, stderr.String())
			}
		})
	}
}

// startServe runs serve on a loopback port and returns its URL, the
// handler, a stop function (the SIGTERM stand-in) and serve's result.
func startServe(t *testing.T, grace time.Duration) (string, *server.Server, context.CancelFunc, <-chan error) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := server.New(server.WithName("grace"), server.WithLogger(logger))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	baseCtx, cancelBase := context.WithCancel(context.Background())
	t.Cleanup(cancelBase)
	srv := &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return baseCtx }}
	stopCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	res := make(chan error, 1)
	go func() { res <- serve(stopCtx, srv, ln, logger, h.Name(), grace, cancelBase) }()
	return "http://" + ln.Addr().String(), h, stop, res
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type result struct {
	status int
	body   string
	err    error
}

func getAsync(url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- result{status: resp.StatusCode, body: string(b)}
	}()
	return out
}

// TestGracefulShutdownDrains: SIGTERM lets an in-flight request finish,
// then the listener is gone.
func TestGracefulShutdownDrains(t *testing.T) {
	url, h, stop, res := startServe(t, 30*time.Second)
	pending := getAsync(url + "/delay/300")
	waitFor(t, "the request to be in flight", func() bool { return h.Stats().InFlight == 1 })
	stop()
	r := <-pending
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"delay": 300`) {
		t.Fatalf("in-flight request during drain: %+v", r)
	}
	if err := <-res; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get(url + "/"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

// TestShutdownGraceBounded: a request that would outlive the grace period
// is cut off instead of pinning the process.
func TestShutdownGraceBounded(t *testing.T) {
	url, h, stop, res := startServe(t, 20*time.Millisecond)
	pending := getAsync(url + "/delay/60000")
	waitFor(t, "the request to be in flight", func() bool { return h.Stats().InFlight == 1 })
	stop()
	if err := <-res; err != nil {
		t.Fatalf("serve: %v", err)
	}
	r := <-pending
	if r.err == nil {
		t.Fatalf("the 60 s request completed: %+v", r)
	}
	var ne net.Error
	if errors.As(r.err, &ne) && ne.Timeout() {
		t.Fatalf("client timed out instead of being cut off: %v", r.err)
	}
	waitFor(t, "the handler to stop", func() bool { return h.Stats().InFlight == 0 })
}
