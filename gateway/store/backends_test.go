package store

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// persistent are the backends that keep the configuration beyond the
// process; every test over them runs against each.
var persistent = []string{"embedded", "postgres"}

// backend opens stores of one kind on one location: opening again is a
// restart (embedded) or another node (postgres) on the same data.
type backend struct {
	name string
	open func(t testing.TB) *Store
}

func newBackend(t testing.TB, name string) backend {
	t.Helper()
	switch name {
	case "memory":
		return backend{name, func(testing.TB) *Store { return OpenMemory() }}
	case "embedded":
		dir := t.TempDir()
		return backend{name, func(t testing.TB) *Store {
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}}
	case "postgres":
		opts := testDatabase(t, pgtest.Shared(t))
		return backend{name, func(t testing.TB) *Store {
			s, err := OpenPostgres(opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}}
	}
	t.Fatalf("unknown backend %q", name)
	return backend{}
}

// testDatabase makes a bootstrapped schema of its own on srv (a schema is
// milliseconds, a database half a second). Polling is
// slow unless a test shortens it, so propagation that a test sees within
// seconds came by notification.
func testDatabase(t testing.TB, srv *pgtest.Server) PostgresOptions {
	t.Helper()
	opts := PostgresOptions{
		Host: "127.0.0.1", Port: srv.Port(), User: pgtest.User, Database: "postgres", Schema: srv.UniqueName("s"),
		Timeout: 2 * time.Second, UpdateFrequency: time.Hour,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Bootstrap(ctx, opts); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return opts
}
