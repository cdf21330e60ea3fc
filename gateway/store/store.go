// Package store keeps the gateway's configuration: one immutable *config.Config
// snapshot that readers load without locks, replaced copy-on-write by writers,
// and persisted either in a bbolt file (embedded: one node, survives restarts
// and crashes) or in PostgreSQL (shared by every node of a cluster; see
// postgres.go).
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// FileName is the bbolt file Open creates in its directory.
const FileName = "gauntlet.db"

var (
	bucketName  = []byte("config")
	snapshotKey = []byte("snapshot")
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// Store holds the current configuration.
type Store struct {
	cur atomic.Pointer[config.Config]

	// mu serialises writers and subscriber calls, so subscribers see commits
	// one at a time and in commit order.
	mu     sync.Mutex
	db     *bolt.DB // nil: in memory only (database=off), or pg
	subs   []func(*config.Config)
	closed bool

	// pg is set for database=postgres. The database is then the source of
	// truth and cur its cache: version is the database version cur was read
	// at (guarded by mu), so a refresh never replaces a newer snapshot with
	// an older one.
	pg      *pgBackend
	version int64
}

// Open opens (creating if needed) the embedded store in dir. The whole
// configuration is one value written in one bbolt transaction, so a crash at
// any point leaves either the previous or the new configuration on disk.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	cfg := &config.Config{}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		if data := b.Get(snapshotKey); data != nil {
			if err := json.Unmarshal(data, cfg); err != nil {
				return fmt.Errorf("decode stored configuration: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: load %s: %w", path, err)
	}
	s := &Store{db: db}
	s.cur.Store(cfg)
	return s, nil
}

// OpenMemory returns a store that keeps nothing on disk (DB-less mode).
func OpenMemory() *Store {
	s := &Store{}
	s.cur.Store(&config.Config{})
	return s
}

// Current returns the published snapshot. Callers must not modify it.
func (s *Store) Current() *config.Config { return s.cur.Load() }

// Subscribe registers fn to be called after every commit, in commit order,
// and calls it once right away with the current configuration. fn runs while
// the store holds its writer lock: it must not call Update or Replace.
func (s *Store) Subscribe(fn func(*config.Config)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
	fn(s.cur.Load())
}

// Update runs fn on a private deep copy of the current configuration and, if
// fn returns nil, persists and publishes it. An error from fn (or from the
// disk) leaves the published snapshot and the file unchanged.
func (s *Store) Update(fn func(next *config.Config) error) error {
	if s.pg != nil {
		return s.pgCommit(func(base *config.Config) (*config.Config, error) {
			next := base.Clone()
			if err := fn(next); err != nil {
				return nil, err
			}
			return next, nil
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	next := s.cur.Load().Clone()
	if err := fn(next); err != nil {
		return err
	}
	return s.commitLocked(next)
}

// Replace swaps in a whole configuration (POST /config, kong.yml at start).
// The store keeps its own copy: the caller may go on using c.
func (s *Store) Replace(c *config.Config) error {
	if s.pg != nil {
		next := c.Clone()
		return s.pgCommit(func(*config.Config) (*config.Config, error) { return next, nil })
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.commitLocked(c.Clone())
}

func (s *Store) commitLocked(next *config.Config) error {
	if s.db != nil {
		data, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("store: encode configuration: %w", err)
		}
		err = s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketName).Put(snapshotKey, data)
		})
		if err != nil {
			return fmt.Errorf("store: write configuration: %w", err)
		}
	}
	s.cur.Store(next)
	for _, fn := range s.subs {
		fn(next)
	}
	return nil
}

// Close releases the file or the database connections. Reads keep working;
// writes fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.pg != nil {
		// Outside mu: the refresher being stopped may be waiting for it.
		s.pg.close()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("store: close: %w", err)
		}
	}
	return nil
}
