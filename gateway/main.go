// Command gateway is a compact API gateway that speaks Kong's Admin API and
// kong.yml. See README.md for its settings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

func main() {
	os.Exit(run())
}

func run() int {
	settings, err := server.ParseSettings(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gateway: %v\n", err)
		return 2
	}
	level, _ := settings.Level()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

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
