package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
	"github.com/gauntlet-dev/gauntlet/gateway/store"
)

const migrationsUsage = `usage: gateway migrations bootstrap|up|list|reset [--yes] [settings flags]

  bootstrap  create the schema on an empty database (then every node can start)
  up         run the migrations a newer gateway brought
  list       show executed and pending migrations; exit 0 up to date,
             3 needs bootstrap, 5 new migrations available
  reset      drop the gateway's tables and all configuration in them
             (asks first; --yes does not)

The database is the one the gateway would use: database=postgres and the
pg-* settings, from flags or the environment (KONG_PG_HOST, ...).
`

// migrations is `gateway migrations ...`, Kong's `kong migrations` for the
// postgres store. It returns the exit status.
func migrations(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, migrationsUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], []string{}
	yes := false
	for _, a := range args[1:] {
		if a == "-y" || a == "--yes" || a == "-yes" {
			yes = true
		} else {
			rest = append(rest, a)
		}
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "gateway migrations %s: %s\n", cmd, fmt.Sprintf(format, a...))
		return code
	}
	switch cmd {
	case "bootstrap", "up", "list", "reset":
	default:
		fmt.Fprint(stderr, migrationsUsage)
		return fail(2, "unknown command %q", cmd)
	}
	settings, err := server.ParseSettings(rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(2, "%v", err)
	}
	if settings.Database != "postgres" {
		return fail(2, "database is %q: migrations are for database=postgres (--database postgres or KONG_DATABASE=postgres)", settings.Database)
	}
	opts, err := settings.Postgres.StoreOptions()
	if err != nil {
		return fail(2, "%v", err)
	}
	// Each statement is bounded by the connection's own timeouts; this bounds
	// the whole command, including waiting for another node's migration lock.
	ctx, cancel := context.WithTimeout(context.Background(), max(10*opts.Timeout, time.Minute))
	defer cancel()
	where := opts.Where()

	switch cmd {
	case "bootstrap":
		ran, err := store.Bootstrap(ctx, opts)
		if errors.Is(err, store.ErrAlreadyBootstrapped) {
			fmt.Fprintf(stdout, "Database %s already bootstrapped\n", where)
			return 0
		}
		if err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintf(stdout, "Bootstrapping database %s...\n", where)
		printRan(stdout, ran)
		fmt.Fprintln(stdout, "Database is up-to-date")
	case "up":
		ran, err := store.MigrateUp(ctx, opts)
		if err != nil {
			return fail(1, "%v", err)
		}
		if len(ran) == 0 {
			fmt.Fprintf(stdout, "Database %s is already up-to-date\n", where)
			return 0
		}
		printRan(stdout, ran)
		fmt.Fprintln(stdout, "Database is up-to-date")
	case "list":
		st, err := store.ListMigrations(ctx, opts)
		if err != nil {
			return fail(1, "%v", err)
		}
		if !st.Bootstrapped {
			fmt.Fprintf(stdout, "Database %s needs bootstrapping; run 'gateway migrations bootstrap'\n", where)
			return 3
		}
		fmt.Fprintf(stdout, "Executed migrations:\n  core: %s\n", strings.Join(st.Executed, ", "))
		if len(st.Pending) > 0 {
			fmt.Fprintf(stdout, "New migrations available:\n  core: %s\nRun 'gateway migrations up' to proceed\n", strings.Join(st.Pending, ", "))
			return 5
		}
		fmt.Fprintln(stdout, "Database is up-to-date")
	case "reset":
		if !yes {
			fmt.Fprintf(stdout, "Drop the gateway's tables in %s? This operation is irreversible. [y/n] ", where)
			line, _ := bufio.NewReader(stdin).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				fmt.Fprintln(stdout, "Canceled")
				return 1
			}
		}
		if err := store.Reset(ctx, opts); err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintln(stdout, "Database successfully reset")
	}
	return 0
}

func printRan(w io.Writer, ran []string) {
	for _, m := range ran {
		fmt.Fprintf(w, "  core: %s (executed)\n", m)
	}
	fmt.Fprintf(w, "%d migration(s) executed\n", len(ran))
}
