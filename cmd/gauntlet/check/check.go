// Package check is `gauntlet check`: lint, then the fault battery
// (scenarios/battery) against the user's own kong.yml on the harness's
// engine. This package only reads the input and prints; the engine lives in
// scenarios/.
package check

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

	"github.com/gauntlet-dev/gauntlet/cmd/gauntlet/lint"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/scenarios/battery"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Usage is the check subcommand's synopsis.
const Usage = "gauntlet check kong.yml [--conf kong.conf] [--env-file file] [--out dir] [--gateway-image IMAGE] [--verbose]"

// Exit statuses of the check subcommand.
const (
	ExitOK       = 0 // every property holds or is not applicable
	ExitFailed   = 1 // a property fails, or could not be judged
	ExitBadInput = 2 // the input could not be checked (lint's exit 2)
	ExitNoEngine = 3 // no Docker engine, or the stack's binaries could not be built
)

// Input is a checked configuration, ready for the battery.
type Input struct {
	File     string
	Lint     *lint.Result
	Parsed   *lint.Parsed
	Settings *lint.Settings
	// Config is what the gateway loads: the file as written, or, when plugins
	// the gateway does not implement were left out, the configuration without
	// them.
	Config []byte
}

// Command runs `gauntlet check` with args (after the subcommand name).
func Command(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "gauntlet check: internal error: %s\n", oneLine(fmt.Sprint(r)))
			code = ExitBadInput
		}
	}()
	code, err := command(args, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "gauntlet check: %s\n", oneLine(err.Error()))
	}
	return code
}

type options struct {
	file, conf, envFile, out, binDir string
	gatewayImage                     string
	verbose                          bool
}

func parseArgs(args []string, stderr io.Writer) (options, int, error) {
	var o options
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.conf, "conf", "", "kong.conf with the node's settings (key = value)")
	fs.StringVar(&o.envFile, "env-file", "", "KONG_* environment file with the node's settings (KEY=value); overrides --conf")
	fs.StringVar(&o.out, "out", "gauntlet-check", "directory for records, results, check.json, check.md and junit.xml (render with `reports render DIR`)")
	fs.StringVar(&o.binDir, "bin-dir", os.Getenv("GAUNTLET_BIN_DIR"), "prebuilt static gateway, mockbin and toxiproxy binaries (env GAUNTLET_BIN_DIR; default: built from this module)")
	fs.StringVar(&o.gatewayImage, "gateway-image", "", GatewayImageHelp)
	fs.BoolVar(&o.verbose, "verbose", false, "log the harness's progress (stacks, faults, checks) to stderr")
	fs.Usage = func() {}
	var files []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stderr, "usage: %s\n\nLint a Kong declarative configuration, then run a fault battery against it: for every\nservice a killed, a stalled and a blackholed target, all targets down, the gateway\nrestarted, and over-limit load, each with bounds from the service's own settings.\nExit status: 0 every property holds (or n/a), 1 a property fails, 2 bad input, 3 no engine.\n\nFlags:\n", Usage)
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
		files = append(files, rest[0])
		rest = rest[1:]
	}
	if len(files) != 1 {
		return o, ExitBadInput, fmt.Errorf("want exactly one kong.yml, got %d (usage: %s)", len(files), Usage)
	}
	o.file = files[0]
	if strings.TrimSpace(o.out) == "" {
		return o, ExitBadInput, errors.New("--out: want a directory")
	}
	return o, ExitOK, nil
}

// Load reads and lints the input as `gauntlet lint` does and prepares what
// the gateway will load. Every error is bad input.
func Load(file, conf, envFile string) (*Input, error) {
	settings := lint.NewSettings()
	if conf != "" {
		data, err := lint.ReadFile(conf)
		if err != nil {
			return nil, err
		}
		if err := settings.ParseKongConf(conf, data); err != nil {
			return nil, err
		}
	}
	if envFile != "" {
		data, err := lint.ReadFile(envFile)
		if err != nil {
			return nil, err
		}
		if err := settings.ParseEnvFile(envFile, data); err != nil {
			return nil, err
		}
	}
	data, err := lint.ReadFile(file)
	if err != nil {
		return nil, err
	}
	res, err := lint.Lint(file, data, settings)
	if err != nil {
		return nil, err
	}
	parsed, err := lint.ParseFor(file, data, settings)
	if err != nil {
		return nil, err
	}
	in := &Input{File: file, Lint: res, Parsed: parsed, Settings: settings, Config: data}
	if len(parsed.LeftOut) > 0 {
		if in.Config, err = config.DumpDeclarative(parsed.Config); err != nil {
			return nil, fmt.Errorf("%s: without the plugins left out: %w", file, err)
		}
	}
	return in, nil
}

// Node is the node's settings as the battery needs them.
func (in *Input) Node() battery.Node {
	return battery.Node{Database: in.Settings.Get("database"), DeclarativeConfig: in.Settings.Get("declarative_config")}
}

// LeftOutLines names each left-out plugin in one line.
func (in *Input) LeftOutLines() []string {
	var out []string
	for _, lo := range in.Parsed.LeftOut {
		what := fmt.Sprintf("plugin %s", lo.Plugin)
		if lo.Table != "" {
			what = fmt.Sprintf("%s (%d entities of plugin %s)", lo.Table, lo.Count, lo.Plugin)
		}
		out = append(out, fmt.Sprintf("%s:%d: left out: %s at %s: the gateway under test does not implement it", in.File, lo.Line, what, lo.Path))
	}
	return out
}

func command(args []string, stdout, stderr io.Writer) (int, error) {
	o, code, err := parseArgs(args, stderr)
	if err != nil {
		return code, err
	}
	in, err := Load(o.file, o.conf, o.envFile)
	if err != nil {
		return ExitBadInput, err
	}
	fmt.Fprintf(stdout, "lint %s:\n", o.file)
	if err := lint.Write(stdout, "text", in.Lint); err != nil {
		return ExitBadInput, err
	}
	for _, l := range in.LeftOutLines() {
		fmt.Fprintln(stdout, l)
	}
	plan := battery.NewPlan(in.Parsed.Config, in.Node())
	if len(plan.Services) == 0 {
		fmt.Fprintf(stdout, "%s: no service to check\n", o.file)
		return ExitOK, nil
	}
	node := in.Node()
	mode := "a database (the gateway's persistent embedded store stands in for it); the file loaded through POST /config"
	if node.DBLess() {
		mode = "database=off; the file loaded through POST /config, in memory only"
		if node.DeclarativeConfig != "" {
			mode = "database=off; the file mounted at " + node.DeclarativeConfig + " and read at every start"
		}
	}
	if o.gatewayImage != "" {
		mode = fmt.Sprintf("gateway image %s through KONG_* only, DB-less; the file %s", o.gatewayImage, "loaded through POST /config")
		if node.DBLess() && node.DeclarativeConfig != "" {
			mode = fmt.Sprintf("gateway image %s through KONG_* only, DB-less; the file mounted at %s", o.gatewayImage, node.DeclarativeConfig)
		}
	}
	fmt.Fprintf(stdout, "\ncheck %s: %d service(s) × %d properties; node: %s\n", o.file, len(plan.Services), len(battery.Properties), mode)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := Logger(stderr, o.verbose)
	binDir, cleanup, err := BinDir(o.binDir, "gauntlet-check-bin-")
	if err != nil {
		return ExitNoEngine, err
	}
	defer cleanup()
	start := time.Now()
	d, err := OpenDocker(ctx, log, binDir)
	if err != nil {
		return ExitNoEngine, fmt.Errorf("the battery needs a Docker engine and the stack's binaries: %w", err)
	}
	defer func() {
		if err := d.Close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("removing the run's containers and images", "err", err)
		}
	}()
	if err := ClearOutput(o.out); err != nil {
		return ExitBadInput, err
	}
	b := &battery.Battery{Docker: d, Log: log, Plan: plan, OutDir: o.out, Config: in.Config, Progress: stdout, GatewayImage: o.gatewayImage}
	results := b.Run(ctx)
	fmt.Fprintf(stdout, "\n")
	battery.WriteTable(stdout, results)
	if err := battery.WriteFiles(o.out, o.file, results); err != nil {
		return ExitFailed, fmt.Errorf("write the verdicts: %w", err)
	}
	fmt.Fprintf(stdout, "took %s; records in %s (render: go run ./reports/cmd/reports render %s)\n",
		time.Since(start).Round(time.Second), filepath.Join(o.out, "records"), o.out)
	if ctx.Err() != nil {
		return ExitFailed, errors.New("interrupted")
	}
	if battery.Failed(results) {
		return ExitFailed, nil
	}
	return ExitOK, nil
}

// GatewayImageHelp is the --gateway-image flag's help, shared by check and
// run.
const GatewayImageHelp = "run another gateway that speaks Kong's Admin API (e.g. kong:3.9), configured through KONG_* only; '" + stack.BuiltinGateway + "' drives this project's gateway that way"

// Logger is the commands' log on stderr: warnings, or progress with -v.
func Logger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// BinDir is where the stack's binaries are built: dir when given (prebuilt
// binaries), else a temporary directory that cleanup removes.
func BinDir(dir, tmpPrefix string) (_ string, cleanup func(), _ error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", tmpPrefix)
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// ClearOutput removes a previous run's records, results and logs under out:
// a run's records describe that run only.
func ClearOutput(out string) error {
	for _, sub := range []string{"records", "results", "logs"} {
		if err := os.RemoveAll(filepath.Join(out, sub)); err != nil {
			return err
		}
	}
	return nil
}

// OpenDocker connects to the Docker engine and builds the stack's images
// (binDir: prebuilt binaries), retrying once a build that lost a race with
// another run (RaceLost). check's battery and run's --gateway-image stacks
// start from it.
func OpenDocker(ctx context.Context, log *slog.Logger, binDir string) (*stack.Docker, error) {
	d, err := stack.NewDocker(ctx, log, binDir)
	if err != nil && RaceLost(err) {
		d, err = stack.NewDocker(ctx, log, binDir)
	}
	return d, err
}

// RaceLost reports an image build that lost a race with another run on the
// same engine: the classic builder reused a cached layer that run's cleanup
// removed mid-build. A second build starts from scratch and succeeds.
func RaceLost(err error) bool {
	return err != nil && strings.Contains(err.Error(), "No such image")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
