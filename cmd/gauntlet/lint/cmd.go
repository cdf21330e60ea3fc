package lint

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Usage is the lint subcommand's synopsis.
const Usage = "gauntlet lint kong.yml [--conf kong.conf] [--env-file file] [--nodes N] [--format text|json|junit|sarif] [--output file]"

// Exit statuses of the lint subcommand.
const (
	ExitOK       = 0 // no error-severity finding
	ExitFindings = 1 // at least one error-severity finding
	ExitBadInput = 2 // the input could not be linted
)

// Command runs `gauntlet lint` with args (after the subcommand name) and
// returns the exit status. Bad input is one line on stderr, never a panic.
func Command(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "gauntlet lint: internal error: %s\n", oneLine(fmt.Sprint(r)))
			code = ExitBadInput
		}
	}()
	code, err := command(args, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "gauntlet lint: %s\n", oneLine(err.Error()))
	}
	return code
}

func command(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	conf := fs.String("conf", "", "kong.conf with the node's settings (key = value)")
	envFile := fs.String("env-file", "", "KONG_* environment file with the node's settings (KEY=value); overrides --conf, as Kong's environment does")
	nodes := fs.Int("nodes", 0, "how many gateway nodes serve this configuration (for rate-limit-local-multi-node)")
	format := fs.String("format", "text", "output format: "+strings.Join(Formats, ", "))
	output := fs.String("output", "", "write the report to this file instead of stdout")
	printUsage := func() {
		fmt.Fprintf(stderr, "usage: %s\n\nLint a Kong declarative configuration and the node's settings against well-known mistakes.\nExit status: 0 no error, 1 error findings, 2 bad input.\n\nFlags:\n", Usage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fs.Usage = func() {} // errors are one line; --help prints the usage
	// Flags may come before or after the file, as in `lint kong.yml --env-file f`.
	var files []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage()
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
	if len(files) != 1 {
		return ExitBadInput, fmt.Errorf("want exactly one kong.yml, got %d (usage: %s)", len(files), Usage)
	}
	if !slices.Contains(Formats, *format) {
		return ExitBadInput, fmt.Errorf("unknown --format %q (want %s)", *format, strings.Join(Formats, ", "))
	}
	if *nodes < 0 {
		return ExitBadInput, fmt.Errorf("--nodes %d: want 0 or more", *nodes)
	}
	settings := NewSettings()
	settings.Nodes = *nodes
	if *conf != "" {
		data, err := ReadFile(*conf)
		if err != nil {
			return ExitBadInput, err
		}
		if err := settings.ParseKongConf(*conf, data); err != nil {
			return ExitBadInput, err
		}
	}
	if *envFile != "" {
		data, err := ReadFile(*envFile)
		if err != nil {
			return ExitBadInput, err
		}
		if err := settings.ParseEnvFile(*envFile, data); err != nil {
			return ExitBadInput, err
		}
	}
	data, err := ReadFile(files[0])
	if err != nil {
		return ExitBadInput, err
	}
	res, err := Lint(files[0], data, settings)
	if err != nil {
		return ExitBadInput, err
	}
	out := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			return ExitBadInput, err
		}
		defer f.Close()
		out = f
	}
	if err := Write(out, *format, res); err != nil {
		return ExitBadInput, fmt.Errorf("write report: %w", err)
	}
	if *output != "" {
		if err := out.(*os.File).Close(); err != nil {
			return ExitBadInput, fmt.Errorf("write report: %w", err)
		}
	}
	if res.Failed() {
		return ExitFindings, nil
	}
	return ExitOK, nil
}
