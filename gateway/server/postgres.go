package server

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/store"
)

// PostgresSettings are Kong's pg_* and db_update_* settings, used with
// database=postgres (and by `gateway migrations`).
type PostgresSettings struct {
	Host     string
	Port     string
	User     string
	Password string
	Database string
	Schema   string
	// Timeout is Kong's pg_timeout: a bare number is milliseconds, as in
	// Kong ("5000"); a duration ("5s") works too.
	Timeout string
	SSL     string
	// UpdateFrequency and UpdatePropagation are Kong's db_update_frequency
	// and db_update_propagation (bare numbers are seconds, as in Kong).
	UpdateFrequency   time.Duration
	UpdatePropagation time.Duration
}

func (s *Settings) pgTable() []setting {
	p := &s.Postgres
	return []setting{
		{"pg-host", "PostgreSQL host (database=postgres)", []string{"GATEWAY_PG_HOST", "KONG_PG_HOST"}, "127.0.0.1", &p.Host},
		{"pg-port", "PostgreSQL port", []string{"GATEWAY_PG_PORT", "KONG_PG_PORT"}, "5432", &p.Port},
		{"pg-user", "PostgreSQL user", []string{"GATEWAY_PG_USER", "KONG_PG_USER"}, "kong", &p.User},
		{"pg-password", "PostgreSQL password", []string{"GATEWAY_PG_PASSWORD", "KONG_PG_PASSWORD"}, "", &p.Password},
		{"pg-database", "PostgreSQL database", []string{"GATEWAY_PG_DATABASE", "KONG_PG_DATABASE"}, "kong", &p.Database},
		{"pg-schema", "PostgreSQL schema of the gateway's tables (created by bootstrap; default: the server's search_path)", []string{"GATEWAY_PG_SCHEMA", "KONG_PG_SCHEMA"}, "", &p.Schema},
		{"pg-timeout", "bound on every PostgreSQL operation and connection attempt (bare number: ms, as Kong)", []string{"GATEWAY_PG_TIMEOUT", "KONG_PG_TIMEOUT"}, "5000", &p.Timeout},
		{"pg-ssl", "on: TLS to PostgreSQL (not verified, as Kong's pg_ssl_verify off)", []string{"GATEWAY_PG_SSL", "KONG_PG_SSL"}, "off", &p.SSL},
	}
}

func (s *Settings) pgDurations() []durationSetting {
	p := &s.Postgres
	return []durationSetting{
		{"db-update-frequency", "how often a node polls PostgreSQL for changes it was not notified of",
			[]string{"GATEWAY_DB_UPDATE_FREQUENCY", "KONG_DB_UPDATE_FREQUENCY"}, 5 * time.Second, &p.UpdateFrequency, false},
		{"db-update-propagation", "wait after learning of a change before reading it (replicated databases)",
			[]string{"GATEWAY_DB_UPDATE_PROPAGATION", "KONG_DB_UPDATE_PROPAGATION"}, 0, &p.UpdatePropagation, false},
	}
}

// StoreOptions checks the postgres settings and converts them for the
// store; an error names the setting. Empty fields are Kong's defaults, so a
// Settings literal needs only what differs.
func (p PostgresSettings) StoreOptions() (store.PostgresOptions, error) {
	o := store.PostgresOptions{
		Host: p.Host, User: p.User, Password: p.Password, Database: p.Database, Schema: p.Schema,
		UpdateFrequency: p.UpdateFrequency, UpdatePropagation: p.UpdatePropagation,
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.User == "" {
		o.User = "kong"
	}
	if o.Database == "" {
		o.Database = "kong"
	}
	o.Port = 5432
	if p.Port != "" {
		n, err := strconv.Atoi(strings.TrimSpace(p.Port))
		if err != nil || n < 1 || n > 65535 {
			return o, fmt.Errorf("pg-port %q: want a port number 1-65535", p.Port)
		}
		o.Port = n
	}
	o.Timeout = 5 * time.Second
	if t := strings.TrimSpace(p.Timeout); t != "" {
		if n, err := strconv.Atoi(t); err == nil {
			o.Timeout = time.Duration(n) * time.Millisecond
		} else if o.Timeout, err = ParseDuration(t); err != nil {
			return o, fmt.Errorf("pg-timeout %q: want milliseconds (5000) or a duration (5s)", p.Timeout)
		}
		if o.Timeout <= 0 {
			return o, fmt.Errorf("pg-timeout %q: want more than 0", p.Timeout)
		}
	}
	var err error
	if o.SSL, err = onOff("pg-ssl", p.SSL); err != nil {
		return o, err
	}
	if p.UpdateFrequency < 0 {
		return o, fmt.Errorf("db-update-frequency: want more than 0")
	}
	return o, nil
}

// pgConfiguration is what GET / shows of the postgres settings, as Kong's
// configuration does (the password masked).
func (p PostgresSettings) configuration(o store.PostgresOptions) map[string]any {
	pw := any(nil)
	if p.Password != "" {
		pw = "******"
	}
	return map[string]any{
		"pg_host": o.Host, "pg_port": o.Port, "pg_user": o.User, "pg_password": pw, "pg_database": o.Database, "pg_schema": nilIfEmpty(o.Schema),
		"pg_timeout": o.Timeout.Milliseconds(), "pg_ssl": o.SSL,
		"db_update_frequency":   o.UpdateFrequency.Seconds(),
		"db_update_propagation": o.UpdatePropagation.Seconds(),
	}
}

// openPostgres opens the shared store. A kong.yml seeds it only while the
// database holds no configuration, checked and written in one transaction,
// so nodes starting together with the same file seed it once.
func (g *Gateway) openPostgres() error {
	s := g.settings
	opts, err := s.Postgres.StoreOptions()
	if err != nil {
		return err
	}
	opts.Logger = g.log.With("component", "store")
	// The node id lives in the data dir, as with the embedded store.
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.DataDir, err)
	}
	st, err := store.OpenPostgres(opts)
	if err != nil {
		return fmt.Errorf("database postgres: %w", err)
	}
	g.store = st
	if s.DeclarativeConfig == "" {
		return nil
	}
	data, err := os.ReadFile(s.DeclarativeConfig)
	if err == nil {
		var c *config.Config
		if c, err = config.LoadDeclarativeWith(data, config.DeclarativeOptions{Plugins: pluginSchemas{}}); err == nil {
			seed := func() error {
				return st.Update(func(next *config.Config) error {
					if isEmpty(next) {
						*next = *c.Clone()
					}
					return nil
				})
			}
			if err = seed(); isDatabaseError(err) {
				// The node starts anyway; the file seeds the database once it
				// answers (if it is still empty then), never stands in for it.
				g.log.Warn("declarative config not applied yet: database unreachable; retrying", "path", s.DeclarativeConfig, "err", err)
				go func() {
					// Ends when the seed is written or refused, or the store
					// closes (ErrClosed is no database error).
					for isDatabaseError(err) {
						time.Sleep(opts.UpdateFrequency) // retry interval
						err = seed()
					}
					if err == nil {
						g.log.Info("declarative config applied (if the database was empty)", "path", s.DeclarativeConfig)
					}
				}()
				return nil
			}
		}
	}
	if err != nil {
		st.Close()
		return fmt.Errorf("declarative config %s: %w", s.DeclarativeConfig, err)
	}
	return nil
}

func isDatabaseError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce) && ce.Code == config.CodeDatabaseError
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}
