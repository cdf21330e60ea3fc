package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/store/pgtest"
)

// TestMigrationsCommand runs `gateway migrations` as a user would, settings
// from Kong's environment variables, against a real PostgreSQL.
func TestMigrationsCommand(t *testing.T) {
	srv := pgtest.Start(t)
	environ := map[string]string{
		"KONG_DATABASE": "postgres", "KONG_PG_HOST": "127.0.0.1", "KONG_PG_PORT": fmt.Sprint(srv.Port()),
		"KONG_PG_USER": pgtest.User, "KONG_PG_DATABASE": srv.NewDatabase(t),
	}
	run := func(stdin string, args ...string) (int, string) {
		var out bytes.Buffer
		code := migrations(args, func(k string) string { return environ[k] }, strings.NewReader(stdin), &out, &out)
		return code, out.String()
	}
	steps := []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"list"}, 3, "needs bootstrapping"},
		{"", []string{"up"}, 1, "gateway migrations bootstrap"},
		{"", []string{"bootstrap"}, 0, "000_base (executed)"},
		{"", []string{"bootstrap"}, 0, "already bootstrapped"},
		{"", []string{"up"}, 0, "already up-to-date"},
		{"", []string{"list"}, 0, "core: 000_base"},
		{"n\n", []string{"reset"}, 1, "Canceled"},
		{"", []string{"list"}, 0, "up-to-date"},
		{"y\n", []string{"reset"}, 0, "successfully reset"},
		{"", []string{"list"}, 3, "needs bootstrapping"},
		{"", []string{"bootstrap"}, 0, "up-to-date"},
		{"", []string{"reset", "--yes"}, 0, "successfully reset"},
		{"", []string{"frobnicate"}, 2, "unknown command"},
		{"", []string{"list", "--database", "embedded"}, 2, "database=postgres"},
		{"", []string{"list", "--pg-port", "x"}, 2, "pg-port"},
	}
	for _, s := range steps {
		code, out := run(s.stdin, s.args...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Fatalf("migrations %v: exit %d, output:\n%s\nwant exit %d and %q", s.args, code, out, s.code, s.want)
		}
	}
}
