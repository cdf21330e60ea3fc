package main

import (
	"fmt"
	"io"

	"github.com/gauntlet-dev/gauntlet/cmd/gauntlet/check"
	"github.com/gauntlet-dev/gauntlet/cmd/gauntlet/lint"
	"github.com/gauntlet-dev/gauntlet/cmd/gauntlet/run"
)

// subcommand is one `gauntlet NAME ...`.
type subcommand struct {
	name, synopsis, summary string
	run                     func(args []string, stdout, stderr io.Writer) int
}

var subcommands = []subcommand{
	{"lint", lint.Usage, "static rules for well-known mistakes in a kong.yml and the node's settings", lint.Command},
	{"check", check.Usage, "lint, then a fault battery against the configuration itself, bounds from its own settings", check.Command},
	{"run", run.Usage, "declarative scenario files: stack, configuration, load, fault timeline, expectations", run.Command},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "gauntlet proves a Kong gateway configuration.\n\nUsage:\n")
	for _, c := range subcommands {
		fmt.Fprintf(w, "  %s\n      %s\n", c.synopsis, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'gauntlet SUBCOMMAND --help' for its flags. Manual: docs/gauntlet.md\n")
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range subcommands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gauntlet: unknown subcommand %q (run 'gauntlet --help')\n", args[0])
	return 2
}
