package balancer

import (
	"math"
	"sync"
	"sync/atomic"
)

// ewmaDecay is Kong's DECAY_TIME: a sample's weight halves in about 7 s.
const ewmaDecay = 10e9 // nanoseconds

// ewma is a target's exponentially weighted moving average of response time,
// decayed by the time since its last sample, as Kong's latency algorithm
// (peak EWMA, after Finagle) keeps it. Writers (Done) serialise on a mutex;
// Pick reads the two atomics lock-free: a value and time from different
// samples only blurs one score a little.
type ewma struct {
	mu    sync.Mutex
	value atomic.Uint64 // float64 bits, nanoseconds
	at    atomic.Int64  // unix nano of the last sample
}

func decay(value float64, at, now int64, sample float64) float64 {
	td := float64(now - at)
	if td < 0 {
		td = 0
	}
	w := math.Exp(-td / ewmaDecay)
	return value*w + sample*(1-w)
}

func (e *ewma) observe(now, start int64) {
	rtt := float64(now - start)
	if rtt < 0 {
		rtt = 0
	}
	e.mu.Lock()
	v := decay(math.Float64frombits(e.value.Load()), e.at.Load(), now, rtt)
	e.value.Store(math.Float64bits(v))
	e.at.Store(now)
	e.mu.Unlock()
}

// score is the decayed value now, without recording a sample.
func (e *ewma) score(now int64) float64 {
	v, at := math.Float64frombits(e.value.Load()), e.at.Load()
	if at == 0 || v == 0 {
		return v
	}
	return decay(v, at, now, 0)
}

func (e *ewma) set(v float64, at int64) {
	e.mu.Lock()
	e.value.Store(math.Float64bits(v))
	e.at.Store(at)
	e.mu.Unlock()
}

// seedEWMA gives targets new to the upstream the average of the others, so a
// newcomer is not flooded for having no history (Kong's slow start). Only
// targets with a value count; when none has one, nothing is seeded (Kong's
// calculate_slow_start_ewma returns nil): seeding a 0 stamped now would make
// the newcomer's first real sample count for only a sliver of its weight
// (10 s decay), so a 1 s target would read as ~0.1 s.
func seedEWMA(all, fresh []*target, now int64) {
	isFresh := make(map[*target]bool, len(fresh))
	for _, t := range fresh {
		isFresh[t] = true
	}
	sum, n := 0.0, 0
	for _, t := range all {
		if !isFresh[t] && t.ewma.at.Load() != 0 {
			sum += t.ewma.score(now)
			n++
		}
	}
	if n == 0 {
		return
	}
	for _, t := range fresh {
		t.ewma.set(sum/float64(n), now)
	}
}

// pickLatency picks the target with the lowest decayed response time per
// unit of weight (Kong's ewma / weight). Among more than two candidates it
// compares two drawn at random (power of two choices, Kong's PICK_SET_SIZE),
// which keeps a pick O(1) and spreads load away from a single fastest target;
// ties, such as targets with no history yet, rotate.
func (s *snapshot) pickLatency(n uint64, now int64, req *Request) int32 {
	el := s.eligible
	if len(el) == 0 {
		return -1
	}
	if len(el) > 2 && (req == nil || len(req.Tried) == 0) {
		r := mix64(n)
		a := el[r%uint64(len(el))]
		b := el[(r>>32)%uint64(len(el)-1)]
		if b == a {
			b = el[len(el)-1]
		}
		ea, eb := &s.entries[a], &s.entries[b]
		if ea.t.available() && eb.t.available() {
			if eb.t.ewma.score(now)/float64(eb.weight) < ea.t.ewma.score(now)/float64(ea.weight) {
				return b
			}
			return a
		}
	}
	start := int(n % uint64(len(el)))
	best, bestTried := int32(-1), int32(-1)
	var bestScore, trScore float64
	for k := range len(el) {
		i := el[(start+k)%len(el)]
		e := &s.entries[i]
		if !e.t.available() {
			continue
		}
		sc := e.t.ewma.score(now) / float64(e.weight)
		if tried(req, e.t) {
			if bestTried < 0 || sc < trScore {
				bestTried, trScore = i, sc
			}
			continue
		}
		if best < 0 || sc < bestScore {
			best, bestScore = i, sc
		}
	}
	if best < 0 {
		return bestTried
	}
	return best
}
