package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// migrationsTable records which migrations ran, as Kong's schema_meta does.
const migrationsTable = "gauntlet_migrations"

// migrationLock is the advisory lock every migration step holds, so nodes
// that all run `gateway migrations up` at start take turns instead of racing.
const migrationLock = 0x6761756e746c6574 // "gauntlet"

type migration struct {
	name string
	sql  string
}

// migrations run in order, each in its own transaction (PostgreSQL's DDL is
// transactional: a failed one leaves nothing behind). Append only: a
// migration that has shipped never changes.
//
// 000_base keeps the configuration as JSON in bytea with compression off:
// jsonb parsing and TOAST compression of a large configuration on every
// write cost more than the write itself (measured: 105 ms per write with
// jsonb, 42 ms with compressed bytea, 19 ms now, for 1,000 services and
// routes; the embedded store takes 19 ms).
var migrations = []migration{
	{"000_base", `
CREATE TABLE ` + configTable + ` (
	id         integer     PRIMARY KEY CHECK (id = 1),
	version    bigint      NOT NULL,
	data       bytea       NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ` + configTable + ` ALTER COLUMN data SET STORAGE EXTERNAL;
INSERT INTO ` + configTable + ` (id, version, data) VALUES (1, 0, '{}'::bytea);
`},
}

// MigrationStatus is what `gateway migrations list` shows.
type MigrationStatus struct {
	Bootstrapped bool
	Executed     []string
	Pending      []string
}

// connect opens one connection for a migrations command; unlike the store
// it fails at once when the server is unreachable.
func connect(ctx context.Context, opts PostgresOptions) (*pgx.Conn, error) {
	opts = opts.withDefaults()
	cfg, err := opts.connConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if fatal := startupError(opts, err); fatal != nil {
			return nil, fatal
		}
		return nil, fmt.Errorf("connect to %s: %s", opts.Where(), reason(err))
	}
	return conn, nil
}

func status(ctx context.Context, conn *pgx.Conn) (MigrationStatus, error) {
	var st MigrationStatus
	rows, err := conn.Query(ctx, `SELECT name FROM `+migrationsTable)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		for _, m := range migrations {
			st.Pending = append(st.Pending, m.name)
		}
		return st, nil
	}
	if err != nil {
		return st, err
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return st, err
	}
	st.Bootstrapped = true
	ran := map[string]bool{}
	for _, n := range done {
		ran[n] = true
	}
	for _, m := range migrations {
		if ran[m.name] {
			st.Executed = append(st.Executed, m.name)
		} else {
			st.Pending = append(st.Pending, m.name)
		}
	}
	return st, nil
}

// checkSchema is the store's start-up check: bootstrapped and up to date.
func checkSchema(ctx context.Context, conn *pgx.Conn) error {
	st, err := status(ctx, conn)
	switch {
	case err != nil:
		return err
	case !st.Bootstrapped:
		return errNotBootstrapped
	case len(st.Pending) > 0:
		return errPendingMigrations
	}
	return nil
}

// ListMigrations reports the database's migration state.
func ListMigrations(ctx context.Context, opts PostgresOptions) (MigrationStatus, error) {
	conn, err := connect(ctx, opts)
	if err != nil {
		return MigrationStatus{}, err
	}
	defer conn.Close(context.Background())
	return status(ctx, conn)
}

// ErrAlreadyBootstrapped is Bootstrap's answer on a bootstrapped database;
// it changes nothing (as `kong migrations bootstrap` on one).
var ErrAlreadyBootstrapped = errors.New("database already bootstrapped")

// ErrNeedsBootstrap is MigrateUp's answer on an empty database.
var ErrNeedsBootstrap = errNotBootstrapped

// Bootstrap creates the migrations table and runs every migration. Safe to
// run from several nodes at once: one bootstraps, the others get
// ErrAlreadyBootstrapped.
func Bootstrap(ctx context.Context, opts PostgresOptions) (ran []string, err error) {
	conn, err := connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	err = inLock(ctx, conn, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrationsTable).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return ErrAlreadyBootstrapped
		}
		// As Kong's bootstrap: a pg_schema that does not exist yet is created.
		if opts.Schema != "" {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{opts.Schema}.Sanitize()); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `CREATE TABLE `+migrationsTable+` (name text PRIMARY KEY, executed_at timestamptz NOT NULL DEFAULT now())`)
		return err
	})
	if err != nil {
		return nil, err
	}
	return up(ctx, conn)
}

// MigrateUp runs the pending migrations (none: nothing happens).
func MigrateUp(ctx context.Context, opts PostgresOptions) (ran []string, err error) {
	conn, err := connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	st, err := status(ctx, conn)
	if err != nil {
		return nil, err
	}
	if !st.Bootstrapped {
		return nil, ErrNeedsBootstrap
	}
	return up(ctx, conn)
}

func up(ctx context.Context, conn *pgx.Conn) (ran []string, err error) {
	for _, m := range migrations {
		err := inLock(ctx, conn, func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+migrationsTable+` WHERE name = $1)`, m.name).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+migrationsTable+` (name) VALUES ($1)`, m.name); err != nil {
				return err
			}
			ran = append(ran, m.name)
			return nil
		})
		if err != nil {
			return ran, err
		}
	}
	return ran, nil
}

// Reset drops the gateway's tables and everything in them. Only its own:
// the database may hold other applications' tables (Kong drops the schema).
func Reset(ctx context.Context, opts PostgresOptions) error {
	conn, err := connect(ctx, opts)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return inLock(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+configTable+`, `+migrationsTable)
		return err
	})
}

func inLock(ctx context.Context, conn *pgx.Conn, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		return fn(tx)
	})
}
