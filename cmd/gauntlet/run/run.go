// Package run is `gauntlet run`: declarative scenario files
// (scenarios/scenariofile) on the harness's engine. Every file is read and
// validated before anything starts.
package run

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/cmd/gauntlet/check"
	"github.com/gauntlet-dev/gauntlet/scenarios/scenariofile"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Usage is the run subcommand's synopsis.
const Usage = "gauntlet run scenario.yaml... [--out dir] [--verbose]"

// Exit statuses.
const (
	ExitOK       = 0
	ExitFailed   = 1 // a scenario missed a bound or could not run
	ExitBadInput = 2 // a file is missing or malformed: file:line, nothing started
	ExitNoEngine = 3
)

// Command runs `gauntlet run` with args (after the subcommand name).
func Command(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "gauntlet run: internal error: %s\n", strings.Join(strings.Fields(fmt.Sprint(r)), " "))
			code = ExitBadInput
		}
	}()
	code, err := command(args, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "gauntlet run: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	}
	return code
}

func command(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "gauntlet-run", "directory for records/ and results/ (render with `reports render DIR`)")
	binDir := fs.String("bin-dir", os.Getenv("GAUNTLET_BIN_DIR"), "prebuilt static gateway, mockbin and toxiproxy binaries (env GAUNTLET_BIN_DIR)")
	verbose := fs.Bool("verbose", false, "log the harness's progress to stderr")
	var files []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stderr, "usage: %s\n\nRun declarative scenario files (docs/gauntlet.md, examples/scenarios/).\nExit status: 0 every scenario passed, 1 a bound was missed, 2 a malformed file (nothing started), 3 no engine.\n\nFlags:\n", Usage)
				fs.SetOutput(stderr)
				fs.PrintDefaults()
				return ExitOK, err
			}
			return ExitBadInput, fmt.Errorf("%w (usage: %s)", err, Usage)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		files = append(files, rest[0])
		rest = rest[1:]
	}
	if len(files) == 0 {
		return ExitBadInput, fmt.Errorf("want one or more scenario files (usage: %s)", Usage)
	}
	var parsed []*scenariofile.File
	names := map[string]string{}
	for _, path := range files {
		f, err := scenariofile.Read(path)
		if err != nil {
			return ExitBadInput, err
		}
		if prev, dup := names[f.Name]; dup {
			return ExitBadInput, fmt.Errorf("%s: scenario name %q is also %s's: records are named by it", path, f.Name, prev)
		}
		names[f.Name] = path
		parsed = append(parsed, f)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	dir := *binDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "gauntlet-run-bin-")
		if err != nil {
			return ExitNoEngine, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	for _, sub := range []string{"records", "results", "logs"} {
		if err := os.RemoveAll(filepath.Join(*out, sub)); err != nil {
			return ExitBadInput, err
		}
	}
	start := time.Now()
	p, err := stack.Detect(ctx, log, dir)
	if err != nil && check.RaceLost(err) {
		p, err = stack.Detect(ctx, log, dir)
	}
	if err != nil {
		return ExitNoEngine, fmt.Errorf("the stack: %w", err)
	}
	defer func() {
		if err := p.Close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("removing the run's objects", "err", err)
		}
	}()
	code := ExitOK
	for _, f := range parsed {
		o := scenariofile.Run(ctx, p, log, f, *out)
		verdict := "pass"
		switch {
		case o.Err != nil:
			verdict, code = "error", ExitFailed
		case !o.Pass:
			verdict, code = "fail", ExitFailed
		}
		fmt.Fprintf(stdout, "run: %-40s %-5s %s (%s)\n", f.Name, verdict, f.Path, o.Took.Round(100*time.Millisecond))
		if o.Err != nil {
			fmt.Fprintf(stdout, "    error: %s\n", strings.Join(strings.Fields(o.Err.Error()), " "))
		}
		for _, m := range o.Misses {
			fmt.Fprintf(stdout, "    missed: %s\n", m)
		}
		if ctx.Err() != nil {
			return ExitFailed, errors.New("interrupted")
		}
	}
	fmt.Fprintf(stdout, "%d scenario(s) in %s; records in %s\n", len(parsed), time.Since(start).Round(time.Second), filepath.Join(*out, "records"))
	return code, nil
}
