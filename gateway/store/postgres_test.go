package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/store/pgtest"
)

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not synchronisation
	}
}

func hasService(s *Store, name string) bool {
	return slices.Contains(names(s.Current()), name)
}

func openPG(t *testing.T, opts PostgresOptions) *Store {
	t.Helper()
	s, err := OpenPostgres(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A write on one node reaches another by notification: polling is an hour
// apart here, so only LISTEN/NOTIFY can deliver it within the bound.
func TestPostgresNotifyPropagates(t *testing.T) {
	opts := testDatabase(t, pgtest.Shared(t))
	a, b := openPG(t, opts), openPG(t, opts)
	var seen []int
	var mu sync.Mutex
	b.Subscribe(func(c *config.Config) { mu.Lock(); seen = append(seen, len(c.Services)); mu.Unlock() })

	var worst time.Duration
	for i := range 20 {
		name := fmt.Sprint("svc-", i)
		start := time.Now()
		if err := a.Update(addService(name)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, name+" on node b", func() bool { return hasService(b, name) })
		worst = max(worst, time.Since(start))
	}
	t.Logf("write on a to visible on b, worst of 20: %v", worst)
	mu.Lock()
	defer mu.Unlock()
	if !slices.IsSorted(seen) || seen[len(seen)-1] != 20 {
		t.Fatalf("subscriber on b saw %v: want ascending to 20", seen)
	}
}

// A change whose notification never came (written behind the gateway's
// back, as a change made while a node was not listening) arrives by polling.
func TestPostgresPollingRepairsMissedNotification(t *testing.T) {
	opts := testDatabase(t, pgtest.Shared(t))
	a := openPG(t, opts)
	opts.UpdateFrequency = 200 * time.Millisecond
	b := openPG(t, opts)
	if err := a.Update(addService("first")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "first on b", func() bool { return hasService(b, "first") })

	next := a.Current().Clone()
	if err := addService("silent")(next); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, opts)
	if _, err := conn.Exec(context.Background(), `UPDATE `+opts.Schema+`.gauntlet_config SET version = version + 1, data = $1`, data); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "silent change on b by polling", func() bool { return hasService(b, "silent") })
	// a polls hourly and heard nothing (unless its listener connected after
	// the change and caught up then): either way its next write starts from
	// the database's configuration, not from a stale snapshot of its own.
	if err := a.Update(addService("third")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(a.Current()), ","); got != "first,silent,third" {
		t.Fatalf("a after its write: %s", got)
	}
}

// Writers on two nodes at once lose nothing, and a name taken on one node is
// taken on the other.
func TestPostgresConcurrentWritersAcrossNodes(t *testing.T) {
	opts := testDatabase(t, pgtest.Shared(t))
	nodes := []*Store{openPG(t, opts), openPG(t, opts)}
	const per = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*per+2)
	var dupOK sync.Map
	for n, s := range nodes {
		wg.Go(func() {
			for i := range per {
				if err := s.Update(addService(fmt.Sprintf("n%d-%d", n, i))); err != nil {
					errs <- err
				}
				if i == per/2 {
					if err := s.Update(addService("contested")); err == nil {
						dupOK.Store(n, true)
					} else if ce := (*config.Error)(nil); !errors.As(err, &ce) || ce.Code != config.CodeUniqueViolation {
						errs <- fmt.Errorf("contested name: %w", err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	winners := 0
	dupOK.Range(func(any, any) bool { winners++; return true })
	if winners != 1 {
		t.Fatalf("%d nodes created the same name", winners)
	}
	for _, s := range nodes {
		eventually(t, 2*time.Second, "both nodes converge", func() bool { return len(s.Current().Services) == 2*per+1 })
	}
}

// The database dies: reads keep the last snapshot, writes answer 503 within
// pg_timeout and write nothing; back up, writes work and the other node
// catches up on them.
func TestPostgresOutage(t *testing.T) {
	srv := pgtest.Start(t) // its own server: this test kills it
	opts := testDatabase(t, srv)
	opts.Timeout = time.Second
	opts.UpdateFrequency = 300 * time.Millisecond
	a, b := openPG(t, opts), openPG(t, opts)
	if err := a.Update(addService("before")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "before on b", func() bool { return hasService(b, "before") })

	srv.Kill()
	eventually(t, 3*time.Second, "b notices the outage", func() bool { return !b.Reachable() })
	for i := range 3 {
		start := time.Now()
		err := a.Update(addService(fmt.Sprint("during-", i)))
		took := time.Since(start)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable || ce.Code != config.CodeDatabaseError {
			t.Fatalf("write during outage: %v", err)
		}
		if took > opts.Timeout+500*time.Millisecond {
			t.Fatalf("write during outage took %v, pg_timeout is %v", took, opts.Timeout)
		}
		t.Logf("write during outage: %v after %v", ce.Message, took)
	}
	if got := strings.Join(names(a.Current()), ","); got != "before" {
		t.Fatalf("a's snapshot during outage: %s", got)
	}
	if got := strings.Join(names(b.Current()), ","); got != "before" {
		t.Fatalf("b's snapshot during outage: %s", got)
	}

	srv.Restart()
	var lastErr error
	defer func() { t.Logf("last write error: %v", lastErr) }()
	eventually(t, 5*time.Second, "a writes again", func() bool {
		lastErr = a.Update(addService("after"))
		return lastErr == nil
	})
	eventually(t, 5*time.Second, "b catches up", func() bool { return hasService(b, "after") })
	if got := strings.Join(names(b.Current()), ","); got != "before,after" {
		t.Fatalf("b after recovery: %s (a write during the outage leaked?)", got)
	}
	if !a.Reachable() || !b.Reachable() {
		t.Fatal("a node still reports the database unreachable")
	}
}

// A node started while the database is down starts empty, and loads the
// configuration once the database answers.
func TestPostgresStartWhileDown(t *testing.T) {
	srv := pgtest.Start(t)
	opts := testDatabase(t, srv)
	opts.Timeout = time.Second
	opts.UpdateFrequency = 200 * time.Millisecond
	a := openPG(t, opts)
	if err := a.Update(addService("kept")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	srv.Kill()
	b := openPG(t, opts)
	if len(b.Current().Services) != 0 || b.Reachable() {
		t.Fatal("node started during outage has a configuration or claims the database")
	}
	srv.Restart()
	eventually(t, 5*time.Second, "b loads the configuration", func() bool { return hasService(b, "kept") })
}

// Settings the server refuses stop the start with the setting's name.
func TestPostgresStartupErrors(t *testing.T) {
	srv := pgtest.Shared(t)
	good := testDatabase(t, srv)
	empty := good
	empty.Database = srv.NewDatabase(t)
	cases := []struct {
		name string
		edit func(*PostgresOptions)
		want string
	}{
		{"unknown user", func(o *PostgresOptions) { o.User = "nobody_here" }, "pg_user/pg_password"},
		{"unknown database", func(o *PostgresOptions) { o.Database = "no_such_db" }, "pg_database"},
		{"not bootstrapped", func(o *PostgresOptions) { *o = empty }, "gateway migrations bootstrap"},
		{"unknown host", func(o *PostgresOptions) { o.Host = "no-such-host.invalid" }, "pg_host"},
		{"ssl unsupported", func(o *PostgresOptions) { o.SSL = true }, "pg_ssl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := good
			c.edit(&o)
			s, err := OpenPostgres(o)
			if err == nil {
				s.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming %s", err, c.want)
			}
		})
	}
}

// Migrations on a database of their own, and in a schema (pg_schema) of a
// shared one.
func TestMigrations(t *testing.T) {
	srv := pgtest.Shared(t)
	t.Run("database", func(t *testing.T) {
		testMigrations(t, PostgresOptions{Host: "127.0.0.1", Port: srv.Port(), User: pgtest.User, Database: srv.NewDatabase(t)})
	})
	t.Run("schema", func(t *testing.T) {
		testMigrations(t, PostgresOptions{Host: "127.0.0.1", Port: srv.Port(), User: pgtest.User, Database: "postgres", Schema: srv.UniqueName("m")})
	})
}

func testMigrations(t *testing.T, opts PostgresOptions) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	st, err := ListMigrations(ctx, opts)
	if err != nil || st.Bootstrapped || len(st.Executed) != 0 || len(st.Pending) != len(migrations) {
		t.Fatalf("fresh database: %+v %v", st, err)
	}
	if _, err := MigrateUp(ctx, opts); !errors.Is(err, ErrNeedsBootstrap) {
		t.Fatalf("up before bootstrap: %v", err)
	}
	// Three nodes bootstrapping at once: one does, the others are told.
	var wg sync.WaitGroup
	results := make([]error, 3)
	for i := range results {
		wg.Go(func() { _, results[i] = Bootstrap(ctx, opts) })
	}
	wg.Wait()
	okCount := 0
	for _, err := range results {
		switch {
		case err == nil:
			okCount++
		case !errors.Is(err, ErrAlreadyBootstrapped):
			t.Fatalf("concurrent bootstrap: %v", err)
		}
	}
	if okCount != 1 {
		t.Fatalf("%d bootstraps ran", okCount)
	}
	if ran, err := MigrateUp(ctx, opts); err != nil || len(ran) != 0 {
		t.Fatalf("up on a current database ran %v: %v", ran, err)
	}
	st, err = ListMigrations(ctx, opts)
	if err != nil || !st.Bootstrapped || len(st.Pending) != 0 || len(st.Executed) != len(migrations) {
		t.Fatalf("after bootstrap: %+v %v", st, err)
	}
	s := openPG(t, opts)
	if err := s.Update(addService("x")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A migration recorded as not run (a newer gateway's) stops a start.
	conn := rawConn(t, opts)
	if _, err := conn.Exec(ctx, `DELETE FROM gauntlet_migrations WHERE name = '000_base'`); err != nil { // search_path: pg_schema
		t.Fatal(err)
	}
	if _, err := OpenPostgres(opts); err == nil || !strings.Contains(err.Error(), "gateway migrations up") {
		t.Fatalf("start with pending migrations: %v", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO gauntlet_migrations (name) VALUES ('000_base')`); err != nil {
		t.Fatal(err)
	}

	if err := Reset(ctx, opts); err != nil {
		t.Fatal(err)
	}
	st, err = ListMigrations(ctx, opts)
	if err != nil || st.Bootstrapped {
		t.Fatalf("after reset: %+v %v", st, err)
	}
	if _, err := Bootstrap(ctx, opts); err != nil {
		t.Fatalf("bootstrap after reset: %v", err)
	}
	s = openPG(t, opts)
	if n := len(s.Current().Services); n != 0 {
		t.Fatalf("%d services survived reset", n)
	}
}

func rawConn(t *testing.T, opts PostgresOptions) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Clusters in two schemas of one database share nothing: not entities, not
// notifications.
func TestPostgresSchemasAreSeparate(t *testing.T) {
	srv := pgtest.Shared(t)
	one, two := testDatabase(t, srv), testDatabase(t, srv)
	a, b := openPG(t, one), openPG(t, two)
	b2 := openPG(t, two)
	if err := a.Update(addService("in-one")); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(addService("in-two")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "second node of schema two sees its write", func() bool { return hasService(b2, "in-two") })
	if got := strings.Join(names(b2.Current()), ","); got != "in-two" {
		t.Fatalf("schema two: %s", got)
	}
	if got := strings.Join(names(a.Current()), ","); got != "in-one" {
		t.Fatalf("schema one: %s", got)
	}
}

// A frozen database (a partition, a hung host: connections stay open and
// nothing answers) bounds every wait by pg_timeout: writes answer 503 in
// time and nothing hangs; thawed, writes work and the other node, whose
// LISTEN connection went quiet, catches up.
func TestPostgresFrozenDatabase(t *testing.T) {
	srv := pgtest.Start(t)
	opts := testDatabase(t, srv)
	opts.Timeout = 500 * time.Millisecond
	opts.UpdateFrequency = 300 * time.Millisecond
	a, b := openPG(t, opts), openPG(t, opts)
	if err := a.Update(addService("before")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "before on b", func() bool { return hasService(b, "before") })

	srv.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			srv.Thaw()
		}
	}()
	for i := range 3 {
		start := time.Now()
		err := a.Update(addService(fmt.Sprint("frozen-", i)))
		took := time.Since(start)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable {
			t.Fatalf("write to a frozen database: %v", err)
		}
		// pg_timeout, plus the rollback's own bound of a second.
		if took > opts.Timeout+1500*time.Millisecond {
			t.Fatalf("write to a frozen database took %v (pg_timeout %v)", took, opts.Timeout)
		}
		t.Logf("write to a frozen database: 503 after %v: %s", took, ce.Message)
	}
	eventually(t, 5*time.Second, "b notices", func() bool { return !b.Reachable() })
	if got := strings.Join(names(b.Current()), ","); got != "before" {
		t.Fatalf("b while frozen: %s", got)
	}

	srv.Thaw()
	thawed = true
	eventually(t, 10*time.Second, "a writes again", func() bool { return a.Update(addService("after")) == nil })
	eventually(t, 10*time.Second, "b catches up", func() bool { return hasService(b, "after") })
	if hasService(b, "frozen-0") {
		t.Fatal("a write that answered 503 was stored")
	}
}
