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
const Usage = "gauntlet run scenario.yaml... [--out dir] [--bin-dir dir] [--gateway-image IMAGE] [--verbose]"

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

type options struct {
	files        []string
	out, binDir  string
	gatewayImage string
	verbose      bool
}

func parseArgs(args []string, stderr io.Writer) (options, int, error) {
	var o options
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.out, "out", "gauntlet-run", "directory for records/ and results/ (render with `reports render DIR`)")
	fs.StringVar(&o.binDir, "bin-dir", os.Getenv("GAUNTLET_BIN_DIR"), "prebuilt static gateway, mockbin and toxiproxy binaries (env GAUNTLET_BIN_DIR)")
	fs.StringVar(&o.gatewayImage, "gateway-image", "", check.GatewayImageHelp)
	fs.BoolVar(&o.verbose, "verbose", false, "log the harness's progress to stderr")
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stderr, "usage: %s\n\nRun declarative scenario files (docs/gauntlet.md, examples/scenarios/).\nExit status: 0 every scenario passed, 1 a bound was missed, 2 a malformed file (nothing started), 3 no engine.\n\nFlags:\n", Usage)
				fs.SetOutput(stderr)
				fs.PrintDefaults()
				return o, ExitOK, err
			}
			return o, ExitBadInput, fmt.Errorf("%w (usage: %s)", err, Usage)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		o.files = append(o.files, rest[0])
		rest = rest[1:]
	}
	if len(o.files) == 0 {
		return o, ExitBadInput, fmt.Errorf("want one or more scenario files (usage: %s)", Usage)
	}
	if strings.TrimSpace(o.out) == "" {
		return o, ExitBadInput, errors.New("--out: want a directory")
	}
	return o, ExitOK, nil
}

// provider is the stacks' provider: with --gateway-image, Docker stacks
// started as gauntlet check starts them (stack.GatewayImageProvider over
// check.OpenDocker), the gateway driven through KONG_* and its ports only;
// otherwise stack.Detect's.
func provider(ctx context.Context, log *slog.Logger, binDir, gatewayImage string) (stack.Provider, error) {
	if gatewayImage != "" {
		d, err := check.OpenDocker(ctx, log, binDir)
		if err != nil {
			return nil, fmt.Errorf("--gateway-image needs a Docker engine and the stack's binaries: %w", err)
		}
		return &stack.GatewayImageProvider{Docker: d, Image: gatewayImage}, nil
	}
	p, err := stack.Detect(ctx, log, binDir)
	if err != nil && check.RaceLost(err) {
		p, err = stack.Detect(ctx, log, binDir)
	}
	return p, err
}

func command(args []string, stdout, stderr io.Writer) (int, error) {
	o, code, err := parseArgs(args, stderr)
	if err != nil {
		return code, err
	}
	files := o.files
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
	log := check.Logger(stderr, o.verbose)
	dir, cleanup, err := check.BinDir(o.binDir, "gauntlet-run-bin-")
	if err != nil {
		return ExitNoEngine, err
	}
	defer cleanup()
	if err := check.ClearOutput(o.out); err != nil {
		return ExitBadInput, err
	}
	start := time.Now()
	if o.gatewayImage != "" {
		fmt.Fprintf(stdout, "run: gateway image %s through KONG_* only, DB-less; each file's configuration loaded through POST /config\n", o.gatewayImage)
	}
	p, err := provider(ctx, log, dir, o.gatewayImage)
	if err != nil {
		return ExitNoEngine, fmt.Errorf("the stack: %w", err)
	}
	defer func() {
		if err := p.Close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("removing the run's objects", "err", err)
		}
	}()
	code = ExitOK
	for _, f := range parsed {
		res := scenariofile.Run(ctx, p, log, f, o.out)
		verdict := "pass"
		switch {
		case res.Err != nil:
			verdict, code = "error", ExitFailed
		case !res.Pass:
			verdict, code = "fail", ExitFailed
		}
		fmt.Fprintf(stdout, "run: %-40s %-5s %s (%s)\n", f.Name, verdict, f.Path, res.Took.Round(100*time.Millisecond))
		if res.Err != nil {
			fmt.Fprintf(stdout, "    error: %s\n", strings.Join(strings.Fields(res.Err.Error()), " "))
		}
		for _, m := range res.Misses {
			fmt.Fprintf(stdout, "    missed: %s\n", m)
		}
		if ctx.Err() != nil {
			return ExitFailed, errors.New("interrupted")
		}
	}
	fmt.Fprintf(stdout, "%d scenario(s) in %s; records in %s\n", len(parsed), time.Since(start).Round(time.Second), filepath.Join(o.out, "records"))
	return code, nil
}
