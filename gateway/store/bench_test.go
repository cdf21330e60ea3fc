package store

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/store/pgtest"
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

// BenchmarkPropagation is one change written on node a until node b has it
// (LISTEN/NOTIFY; polling is an hour apart), reported as p50 and p99 over
// b.N changes: go test -run XXX -bench Propagation -benchtime 1000x ./gateway/store/
func BenchmarkPropagation(b *testing.B) {
	opts := testDatabase(b, pgtest.Shared(b))
	na, err := OpenPostgres(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer na.Close()
	nb, err := OpenPostgres(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	arrived := make(chan int, 1)
	nb.Subscribe(func(c *config.Config) {
		select {
		case arrived <- len(c.Services):
		default:
		}
	})
	<-arrived
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := na.Update(func(c *config.Config) error {
			_, err := c.Insert(config.TableServices, map[string]any{"name": fmt.Sprint("s", i), "host": "h"}, config.WriteOptions{})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		for n := -1; n != i+1; {
			select {
			case n = <-arrived:
			case <-time.After(10 * time.Second):
				b.Fatalf("change %d not on node b after 10s", i)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
