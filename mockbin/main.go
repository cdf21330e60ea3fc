// Command mockbin serves the mockbin clone (see package server).
//
//	mockbin [--listen :8080] [--name NAME]    serve
//	mockbin probe URL                         exit 0 if URL answers 2xx within 2s
//
// MOCKBIN_PORT (a port number) and MOCKBIN_NAME are read when the flags are
// not given. The binary needs no files: it runs in a FROM scratch image.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/mockbin/server"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		os.Exit(probe(os.Args[2:], os.Stderr))
	}
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "mockbin:", err)
		os.Exit(1)
	}
}

// config is what the command line and environment decide.
type config struct {
	listen        string
	name          string
	seed          uint64
	hasSeed       bool
	shutdownGrace time.Duration
	logLevel      slog.Level
}

func parseConfig(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("mockbin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.listen, "listen", ":8080", "address to listen on (env MOCKBIN_PORT sets the port)")
	fs.StringVar(&c.name, "name", "", "instance name for X-Mockbin-Instance (env MOCKBIN_NAME; default hostname)")
	seed := fs.String("seed", "", "seed for random choices (weighted /status, fault rates)")
	fs.DurationVar(&c.shutdownGrace, "shutdown-timeout", 10*time.Second, "how long SIGTERM waits for in-flight requests")
	debug := fs.Bool("debug", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("parse flags: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["listen"] {
		if p := getenv("MOCKBIN_PORT"); p != "" {
			c.listen = ":" + strings.TrimPrefix(p, ":")
		}
	}
	if !set["name"] {
		c.name = getenv("MOCKBIN_NAME")
	}
	if *seed != "" {
		if _, err := fmt.Sscan(*seed, &c.seed); err != nil {
			return c, fmt.Errorf("--seed %q: %w", *seed, err)
		}
		c.hasSeed = true
	}
	if *debug {
		c.logLevel = slog.LevelDebug
	}
	if _, _, err := net.SplitHostPort(c.listen); err != nil {
		return c, fmt.Errorf("listen address %q: %w", c.listen, err)
	}
	return c, nil
}

func run(args []string, getenv func(string) string) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	opts := []server.Option{server.WithName(cfg.name), server.WithLogger(logger)}
	if cfg.hasSeed {
		opts = append(opts, server.WithSeed(cfg.seed))
	}
	h := server.New(opts...)

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.listen, err)
	}
	// baseCtx ends when draining gives up, so handlers still waiting
	// (/delay, /drip, fault latency) stop instead of pinning shutdown.
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// Longest legitimate answer: a 60 s delay or drip plus the body.
		WriteTimeout:   server.DefaultMaxDelay + 30*time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 1 << 20,
		BaseContext:    func(net.Listener) context.Context { return baseCtx },
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serve(sigCtx, srv, ln, logger, h.Name(), cfg.shutdownGrace, cancelBase)
}

// serve runs srv until stopCtx ends (SIGTERM/SIGINT), then drains in-flight
// requests for at most grace before closing what is left.
func serve(stopCtx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger, name string, grace time.Duration, cancelBase func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("mockbin listening", "addr", ln.Addr().String(), "name", name)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-stopCtx.Done():
	}
	logger.Info("shutting down", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		logger.Warn("drain timed out; closing remaining connections", "err", err)
		cancelBase()
		_ = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serr)
	}
	logger.Info("stopped")
	return nil
}

// probe is the health check for images without a shell: exit 0 when the URL
// answers 2xx within 2 seconds.
func probe(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: mockbin probe URL")
		return 1
	}
	target := args[0]
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(stderr, "probe:", err)
		return 1
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "probe:", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "probe: %s answered %d\n", target, resp.StatusCode)
		return 1
	}
	return 0
}
