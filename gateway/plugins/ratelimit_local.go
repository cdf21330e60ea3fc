package plugins

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// localStore is the "local" policy: counters in this process. A key's check and
// increment over all its periods happen under one shard mutex, so the count is
// exact under any concurrency (Kong reads, then increments in a timer, and
// over-admits). Shards keep unrelated keys from contending.
type localStore struct {
	seed   maphash.Seed
	shards [localShards]localShard
}

const (
	localShards = 64
	// sweepEvery bounds how long expired windows linger in memory.
	sweepEvery = 10 // seconds
)

type localShard struct {
	mu        sync.Mutex
	buckets   map[counterKey]*bucket
	nextSweep int64
	_         [32]byte // keep hot shard mutexes off one cache line
}

// bucket holds one key's counter per period, each tagged with the window it
// counts, so a new window starts from zero without a timer.
type bucket struct {
	start   [numPeriods]int64
	count   [numPeriods]int64
	expires int64 // end of the latest window counted; after it the bucket is dead
}

func newLocalStore() *localStore {
	s := &localStore{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].buckets = make(map[counterKey]*bucket)
	}
	return s
}

func (s *localStore) shard(k counterKey) *localShard {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(k.scope)
	h.WriteByte(0)
	h.WriteString(k.id)
	return &s.shards[h.Sum64()%localShards]
}

func (s *localStore) take(_ context.Context, key counterKey, w *windows, now time.Time) (bool, error) {
	sh := s.shard(key)
	nowSec := now.Unix()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if nowSec >= sh.nextSweep {
		sh.sweep(nowSec)
	}
	b := sh.buckets[key]
	if b == nil {
		b = &bucket{}
		sh.buckets[key] = b
	}
	admitted := true
	for i := 0; i < w.n; i++ {
		p := w.period[i]
		if b.start[p] != w.start[i] {
			b.start[p] = w.start[i]
			b.count[p] = 0
		}
		w.count[i] = b.count[p]
		if b.count[p] >= w.limit[i] {
			admitted = false
		}
	}
	if !admitted {
		return false, nil
	}
	for i := 0; i < w.n; i++ {
		p := w.period[i]
		b.count[p]++
		w.count[i] = b.count[p]
		b.expires = max(b.expires, w.end[i])
	}
	return true, nil
}

// sweep drops buckets whose every window has ended, which bounds memory to the
// keys seen in the live windows.
func (sh *localShard) sweep(nowSec int64) {
	for k, b := range sh.buckets {
		if b.expires <= nowSec {
			delete(sh.buckets, k)
		}
	}
	sh.nextSweep = nowSec + sweepEvery
}

// size counts live buckets (tests check that expired windows are swept).
func (s *localStore) size() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += len(s.shards[i].buckets)
		s.shards[i].mu.Unlock()
	}
	return n
}
