package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// The PostgreSQL layout (created by the migrations in migrations.go): the
// whole validated configuration is one JSON value in one row, with a
// version that every commit increments. The gateway validates a write
// against the whole configuration in memory (uniqueness, references,
// cascades), exactly as with the embedded store; locking that one row
// serialises writers across nodes, so every node's validation sees the
// latest configuration and a write is all or nothing. Kong keeps a table per
// entity instead; the Admin API cannot tell the difference.
const (
	configTable = "gauntlet_config"
	// notifyChannel carries the new version after every commit, so other
	// nodes reload within milliseconds instead of at the next poll.
	notifyChannel = "gauntlet_config"
)

// PostgresOptions are Kong's pg_* and db_update_* settings.
type PostgresOptions struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
	// Schema is Kong's pg_schema: the schema the gateway's tables live in
	// (empty: the server's search_path, normally public). Several clusters
	// can share one database, each in its own schema.
	Schema string
	// Timeout bounds every database operation and connection attempt
	// (Kong's pg_timeout).
	Timeout time.Duration
	// SSL requires TLS without verifying the server (Kong's pg_ssl with
	// pg_ssl_verify off).
	SSL bool
	// UpdateFrequency is how often a node polls for changes it was not
	// notified of (Kong's db_update_frequency).
	UpdateFrequency time.Duration
	// UpdatePropagation is how long a node waits after learning of a change
	// before reading it (Kong's db_update_propagation, for replicated
	// databases that lag).
	UpdatePropagation time.Duration
	Logger            *slog.Logger
}

func (o PostgresOptions) withDefaults() PostgresOptions {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.UpdateFrequency <= 0 {
		o.UpdateFrequency = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// connConfig builds pgx's configuration from the settings alone. PG*
// environment variables still fill what a URL leaves out (application name
// and the like), never host, port, user, password or database.
func (o PostgresOptions) connConfig() (*pgx.ConnConfig, error) {
	mode := "disable"
	if o.SSL {
		mode = "require"
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(o.User, o.Password),
		Host:     net.JoinHostPort(o.Host, strconv.Itoa(o.Port)),
		Path:     "/" + o.Database,
		RawQuery: url.Values{"sslmode": {mode}}.Encode(),
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres settings: %w", err)
	}
	cfg.ConnectTimeout = o.Timeout
	if o.Schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	}
	return cfg, nil
}

// channel is the notification channel: per schema, since LISTEN/NOTIFY
// spans the whole database and clusters in other schemas need not wake.
func (o PostgresOptions) channel() string {
	if o.Schema == "" {
		return notifyChannel
	}
	return notifyChannel + ":" + o.Schema
}

// Where names the database for messages, without the password.
func (o PostgresOptions) Where() string {
	w := fmt.Sprintf("%s@%s/%s", o.User, net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), o.Database)
	if o.Schema != "" {
		w += " schema " + o.Schema
	}
	return w
}

type pgBackend struct {
	opts PostgresOptions
	pool *pgxpool.Pool
	log  *slog.Logger

	reachable atomic.Bool
	schemaOK  atomic.Bool   // migrations checked once; a later reset shows as a missing table
	kick      chan struct{} // a notification or a reconnect: refresh now
	stop      chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once
}

// OpenPostgres opens the store on a PostgreSQL database bootstrapped by
// `gateway migrations bootstrap`. Settings the server rejects (password,
// database name, TLS) and a database that is not bootstrapped are errors
// that name the setting or the command to run. An unreachable server is not:
// the store starts with an empty configuration, logs one line, and keeps
// retrying at UpdateFrequency, as a node must that starts before its
// database.
func OpenPostgres(opts PostgresOptions) (*Store, error) {
	opts = opts.withDefaults()
	connCfg, err := opts.connConfig()
	if err != nil {
		return nil, err
	}
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	poolCfg.ConnConfig = connCfg
	// Writes are serialised by a row lock and refreshes are one query, so a
	// few connections are plenty; more would only hold server slots.
	poolCfg.MaxConns = 4
	poolCfg.MinConns = 0
	poolCfg.HealthCheckPeriod = opts.UpdateFrequency
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		return nil, fmt.Errorf("postgres settings: %w", err)
	}
	p := &pgBackend{opts: opts, pool: pool, log: opts.Logger, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	s := &Store{pg: p}
	s.cur.Store(&config.Config{})

	if err := s.refresh(); err != nil {
		if fatal := startupError(opts, err); fatal != nil {
			pool.Close()
			return nil, fatal
		}
		p.log.Warn("database unreachable at start: serving an empty configuration and retrying",
			"database", opts.Where(), "every", opts.UpdateFrequency, "err", reason(err))
	} else {
		p.reachable.Store(true)
	}
	p.done.Add(2)
	go p.listen(s)
	go p.poll(s)
	return s, nil
}

// startupError is the one line for a setting the server refused or a
// database not ready for this gateway; nil means the server was merely
// unreachable (worth retrying).
func startupError(o PostgresOptions, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000": // invalid_password, invalid_authorization_specification
			return fmt.Errorf("pg_user/pg_password: %s rejected the login of %q: %s", o.Where(), o.User, pe.Message)
		case "3D000": // invalid_catalog_name
			return fmt.Errorf("pg_database: %s", pe.Message)
		}
	}
	if errors.Is(err, errNotBootstrapped) || errors.Is(err, errPendingMigrations) {
		return fmt.Errorf("%s: %w", o.Where(), err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return fmt.Errorf("pg_host: %q: no such host", o.Host)
	}
	if o.SSL && strings.Contains(err.Error(), "TLS") {
		return fmt.Errorf("pg_ssl: %s: %v", o.Where(), err)
	}
	return nil
}

var (
	errNotBootstrapped   = errors.New("database needs bootstrapping: run 'gateway migrations bootstrap'")
	errPendingMigrations = errors.New("database has pending migrations: run 'gateway migrations up'")
)

// Reachable reports whether the last database operation succeeded; always
// true without a database (GET /status shows it).
func (s *Store) Reachable() bool {
	if s.pg == nil {
		return true
	}
	return s.pg.reachable.Load()
}

// unavailable is the Admin API's answer to a write the database could not
// take: 503 with Kong's DATABASE_ERROR shape. Nothing was written (the
// transaction rolled back or never began), except when the connection broke
// during COMMIT: then nobody can know, and the message says so.
func unavailable(err error) error {
	if errors.As(err, new(commitUnknown)) {
		return &config.Error{
			Code:    config.CodeDatabaseError,
			Name:    "database error",
			Message: "[postgres] connection lost during commit, the write may or may not be stored (GET shows it once this node catches up): " + reason(err),
			Status:  http.StatusServiceUnavailable,
		}
	}
	return &config.Error{
		Code:    config.CodeDatabaseError,
		Name:    "database error",
		Message: "[postgres] database unavailable, nothing was written: " + reason(err),
		Status:  http.StatusServiceUnavailable,
	}
}

// reason is err in one short line, without pgx's nested prefixes where they
// add nothing.
func reason(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, errNotBootstrapped), errors.Is(err, errPendingMigrations):
		return err.Error()
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table: reset under us
		return errNotBootstrapped.Error()
	case errors.As(err, &pe):
		return pe.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout (pg_timeout)"
	}
	// pgx names user and database around the network error; the network
	// error is the news.
	var ne *net.OpError
	if errors.As(err, &ne) {
		return ne.Error()
	}
	return err.Error()
}

// pgCommit runs apply on the database's latest configuration inside one
// transaction holding the configuration row's lock, stores the result with
// the next version and notifies the other nodes. apply errors (validation)
// roll back and come back unchanged; database errors come back as 503s.
func (s *Store) pgCommit(apply func(base *config.Config) (*config.Config, error)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	base, baseVersion := s.cur.Load(), s.version
	s.mu.Unlock()
	// The database call runs outside mu: a write stuck on an unreachable
	// database (up to pg_timeout) must not hold up refreshes or readers of
	// the lock, and the row lock serialises writers anyway.
	next, version, err := s.pg.commit(base, baseVersion, apply)
	if err != nil {
		return err
	}
	s.publish(next, version, baseVersion)
	return nil
}

func (p *pgBackend) commit(base *config.Config, baseVersion int64, apply func(*config.Config) (*config.Config, error)) (*config.Config, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	next, version, err := p.commitTx(ctx, base, baseVersion, apply)
	var ae applyError
	switch {
	case err == nil:
		p.reachable.Store(true)
	case errors.As(err, &ae):
		err = ae.err // the caller's own error (validation): the database answered
	default:
		p.noteError(err)
		err = unavailable(err)
	}
	return next, version, err
}

// commitUnknown is a COMMIT whose answer was lost: the write may be stored.
type commitUnknown struct{ err error }

func (e commitUnknown) Error() string { return e.err.Error() }
func (e commitUnknown) Unwrap() error { return e.err }

func (p *pgBackend) commitTx(ctx context.Context, base *config.Config, baseVersion int64, apply func(*config.Config) (*config.Config, error)) (*config.Config, int64, error) {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		// Rollback after Commit is a no-op; its own bound keeps a dead
		// connection from holding this write past pg_timeout much.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	var version int64
	var data []byte
	// The data travels only when another node wrote since this one last read.
	err = tx.QueryRow(ctx, `SELECT version, CASE WHEN version <> $1 THEN data END FROM `+configTable+` WHERE id = 1 FOR UPDATE`,
		baseVersion).Scan(&version, &data)
	if err != nil {
		return nil, 0, err
	}
	if version != baseVersion {
		if base, err = decodeConfig(data); err != nil {
			return nil, 0, err
		}
	}
	next, err := apply(base)
	if err != nil {
		return nil, 0, applyError{err}
	}
	enc, err := json.Marshal(next)
	if err != nil {
		return nil, 0, fmt.Errorf("store: encode configuration: %w", err)
	}
	version++
	if _, err := tx.Exec(ctx, `UPDATE `+configTable+` SET version = $1, data = $2, updated_at = now() WHERE id = 1`, version, enc); err != nil {
		return nil, 0, err
	}
	// Delivered at commit, and only if the commit succeeds.
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, p.opts.channel(), strconv.FormatInt(version, 10)); err != nil {
		return nil, 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		// If the commit reached the server before the connection broke, the
		// change is there: the next refresh brings it.
		return nil, 0, commitUnknown{err}
	}
	return next, version, nil
}

// applyError carries the caller's error out of the transaction unchanged.
type applyError struct{ err error }

func (e applyError) Error() string { return e.err.Error() }

func decodeConfig(data []byte) (*config.Config, error) {
	c := &config.Config{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("store: decode stored configuration: %w", err)
	}
	return c, nil
}

// publish makes a snapshot read from the database at version current,
// unless the node published another since it read: then only a newer one
// replaces that. (Versions restart after `migrations reset`; the database
// is the truth, so a snapshot read on an unchanged node always wins.)
func (s *Store) publish(next *config.Config, version, readAt int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != readAt && version <= s.version {
		return
	}
	s.version = version
	s.cur.Store(next)
	for _, fn := range s.subs {
		fn(next)
	}
}

// refresh reads the configuration if the database has a newer version than
// the node's. An unchanged configuration costs one short query.
func (s *Store) refresh() error {
	p := s.pg
	s.mu.Lock()
	have := s.version
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if !p.schemaOK.Load() {
		if err := checkSchema(ctx, conn.Conn()); err != nil {
			return err
		}
		p.schemaOK.Store(true)
	}
	var version int64
	var data []byte
	err = conn.QueryRow(ctx, `SELECT version, CASE WHEN version <> $1 THEN data END FROM `+configTable+` WHERE id = 1`, have).Scan(&version, &data)
	if err != nil {
		return err
	}
	if version == have {
		return nil
	}
	c, err := decodeConfig(data)
	if err != nil {
		return err
	}
	s.publish(c, version, have)
	return nil
}

// noteError records a failed database operation; the first of a run is
// logged, the rest would only repeat it.
func (p *pgBackend) noteError(err error) {
	if p.reachable.Swap(false) {
		p.log.Warn("database unreachable: serving the last configuration read, Admin API writes answer 503",
			"database", p.opts.Where(), "err", reason(err))
	}
}

// poll refreshes at UpdateFrequency, and at once when listen has news. It
// repairs whatever notifications missed: a change made while this node's
// listening connection was down, or a notification lost with it.
func (p *pgBackend) poll(s *Store) {
	defer p.done.Done()
	t := time.NewTicker(p.opts.UpdateFrequency)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.kick:
		}
		if d := p.opts.UpdatePropagation; d > 0 {
			select {
			case <-p.stop:
				return
			case <-time.After(d):
			}
		}
		if err := s.refresh(); err != nil {
			p.noteError(err)
			continue
		}
		if !p.reachable.Swap(true) {
			s.mu.Lock()
			v := s.version
			s.mu.Unlock()
			p.log.Info("database reachable again", "database", p.opts.Where(), "version", v)
		}
	}
}

func (p *pgBackend) wake() {
	select {
	case p.kick <- struct{}{}:
	default: // a refresh is already due
	}
}

// listen holds one connection LISTENing on the notification channel and
// wakes the poller for every version newer than the node's. A connection
// that goes quiet is pinged, so a silently dead one (a partition drops
// packets, it does not reset connections) is replaced within about
// UpdateFrequency plus pg_timeout instead of never.
func (p *pgBackend) listen(s *Store) {
	defer p.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.stop
		cancel()
	}()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := p.listenOnce(ctx, s)
		if ctx.Err() != nil {
			return
		}
		p.log.Debug("notification connection lost", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.opts.UpdateFrequency)
	}
}

func (p *pgBackend) listenOnce(ctx context.Context, s *Store) error {
	cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	conn, err := p.pool.Acquire(cctx)
	if err == nil {
		_, err = conn.Exec(cctx, `LISTEN `+pgx.Identifier{p.opts.channel()}.Sanitize())
	}
	cancel()
	if err != nil {
		if conn != nil {
			conn.Release()
		}
		return err
	}
	// The connection now carries session state (LISTEN): it never goes back
	// to the pool.
	raw := conn.Hijack()
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = raw.Close(c)
	}()
	// Whatever was committed while this node was not listening.
	p.wake()
	for {
		wctx, cancel := context.WithTimeout(ctx, p.opts.UpdateFrequency)
		n, err := raw.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			v, _ := strconv.ParseInt(n.Payload, 10, 64)
			s.mu.Lock()
			newer := v != s.version // smaller too: the database was reset
			s.mu.Unlock()
			if newer {
				p.wake()
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
			err = raw.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

func (p *pgBackend) close() {
	p.closeOnce.Do(func() {
		close(p.stop)
		p.done.Wait()
		p.pool.Close()
	})
}
