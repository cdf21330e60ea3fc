package store

import (
	"fmt"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// BenchmarkUpdate measures one admin-style write (clone, insert with
// uniqueness checks, publish) against a configuration of 1,000 services and
// 1,000 routes, in memory, with the bbolt file (fsync per commit) and with
// PostgreSQL (one transaction: row lock, jsonb write, notify).
func BenchmarkUpdate(b *testing.B) {
	for _, mode := range append([]string{"memory"}, persistent...) {
		b.Run(mode, func(b *testing.B) {
			s := newBackend(b, mode).open(b)
			defer s.Close()
			base := &config.Config{}
			for i := 0; i < 1000; i++ {
				sv, err := base.Insert(config.TableServices, map[string]any{"name": fmt.Sprint("s", i), "host": "h"}, config.WriteOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := base.Insert(config.TableRoutes, map[string]any{"paths": []any{fmt.Sprint("/p", i)}, "service": map[string]any{"id": sv.EntityID()}}, config.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Replace(base); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				err := s.Update(func(c *config.Config) error {
					_, err := c.Insert(config.TableServices, map[string]any{"name": fmt.Sprint("new", i), "host": "h"}, config.WriteOptions{})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCurrent is the proxy's read: one atomic load.
func BenchmarkCurrent(b *testing.B) {
	s := OpenMemory()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.Current() == nil {
				b.Fatal("nil snapshot")
			}
		}
	})
}
