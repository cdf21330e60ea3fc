// Command gateway is a compact API gateway that speaks Kong's Admin API and
// kong.yml. See README.md for its settings. `gateway migrations ...` manages
// the schema of the postgres store (migrations.go).
//
// Two more settings tune this process's Go runtime rather than the gateway,
// so they are read here and not in server.Settings:
//
//	--pprof-listen ADDR  (env GATEWAY_PPROF_LISTEN) serves net/http/pprof on
//	                     ADDR, which must be a loopback address; off by default.
//	                     For profiling under load: go tool pprof
//	                     http://ADDR/debug/pprof/profile?seconds=10
//
// The garbage collector's GOGC and GOMEMLIMIT environment variables work as
// for any Go program; see gcDefaults for what the gateway uses without them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) > 1 && os.Args[1] == "migrations" {
		return migrations(os.Args[2:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	}
	args, pprofAddr, err := runtimeFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway: %v\n", err)
		return 2
	}
	settings, err := server.ParseSettings(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway: %v\n", err)
		return 2
	}
	level, _ := settings.Level()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if pprofAddr != "" {
		stopPprof, err := servePprof(pprofAddr, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gateway: pprof-listen: %v\n", err)
			return 1
		}
		defer stopPprof()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	gw, err := server.Start(settings, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway: %v\n", err)
		return 1
	}
	status := 0
	select {
	case <-ctx.Done():
		log.Info("draining in-flight requests", "timeout", settings.DrainTimeout)
	case err := <-gw.Errors():
		log.Error("listener failed", "err", err)
		status = 1
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), settings.DrainTimeout)
	defer cancel()
	if err := gw.Shutdown(drainCtx); err != nil {
		log.Error("shutdown", "err", err)
		status = 1
	}
	log.Info("gateway stopped")
	return status
}

// runtimeFlags takes --pprof-listen (or -pprof-listen, with "=" or a separate
// value) out of args and returns the rest for server.ParseSettings. Without
// the flag, GATEWAY_PPROF_LISTEN applies.
func runtimeFlags(args []string, getenv func(string) string) (rest []string, pprofAddr string, err error) {
	pprofAddr = getenv("GATEWAY_PPROF_LISTEN")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "pprof-listen" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, "", errors.New("flag --pprof-listen needs an address")
			}
			i++
			value = args[i]
		}
		pprofAddr = value
	}
	if pprofAddr != "" && !server.IsLoopback(pprofAddr) {
		return nil, "", fmt.Errorf("pprof-listen %q: only a loopback address is allowed (profiles expose the process's memory)", pprofAddr)
	}
	return rest, pprofAddr, nil
}

// servePprof serves the profiling endpoints on addr until the returned stop is
// called. They get their own mux and server: the proxy and Admin API never
// expose them.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener failed", "addr", addr, "err", err)
		}
	}()
	log.Warn("serving pprof profiles (for profiling only)", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
