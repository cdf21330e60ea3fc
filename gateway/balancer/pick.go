package balancer

// buildWheel lays out one cycle of nginx's smooth weighted round-robin over
// the eligible entries: each pick is then one atomic increment and an index,
// with no lock on the hot path. Weights are reduced by their gcd; a cycle
// longer than maxWheel is scaled down proportionally (the error per target is
// below 1/maxWheel of the total).
func buildWheel(idx []int32, weights []int) []int32 {
	if len(idx) == 0 {
		return nil
	}
	g := 0
	total := 0
	for _, w := range weights {
		g = gcd(g, w)
		total += w
	}
	ws := make([]int, len(weights))
	sum := 0
	for i, w := range weights {
		ws[i] = w / g
		sum += ws[i]
	}
	limit := max(maxWheel, 4*len(idx))
	if sum > limit {
		sum = 0
		for i, w := range weights {
			ws[i] = max(1, int(int64(w)*int64(limit)/int64(total)))
			sum += ws[i]
		}
	}
	wheel := make([]int32, sum)
	cur := make([]int, len(ws))
	for k := range wheel {
		best := 0
		for i := range ws {
			cur[i] += ws[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		wheel[k] = idx[best]
	}
	return wheel
}

const maxWheel = 4096

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// pickRR takes the next wheel slot. A target that went down after this
// snapshot was built, or one this request already tried, is stepped over; a
// tried target is used again only when no other is available.
func (s *snapshot) pickRR(n uint64, req *Request) int32 {
	w := s.wheel
	if len(w) == 0 {
		return -1
	}
	start := int(n % uint64(len(w)))
	i := w[start]
	t := s.entries[i].t
	if t.available() && (req == nil || len(req.Tried) == 0) {
		return i
	}
	return s.scan(w, start, req)
}

// scan walks order (wheel or ring; -1 marks an empty ring slot) from start
// and returns the first available target this request has not tried; a
// tried one only when no other is available, -1 when none is.
func (s *snapshot) scan(order []int32, start int, req *Request) int32 {
	fallback := int32(-1)
	for k := range len(order) {
		i := order[(start+k)%len(order)]
		if i < 0 {
			continue
		}
		t := s.entries[i].t
		if !t.available() {
			continue
		}
		if tried(req, t) {
			if fallback < 0 {
				fallback = i
			}
			continue
		}
		return i
	}
	return fallback
}

// pickLeastConn picks the eligible target with the fewest requests in flight
// relative to its weight ((active+1)/weight, as Kong does); the scan starts at
// a rotating offset so ties spread round-robin.
func (s *snapshot) pickLeastConn(n uint64, req *Request) int32 {
	el := s.eligible
	if len(el) == 0 {
		return -1
	}
	start := int(n % uint64(len(el)))
	best, bestTried := int32(-1), int32(-1)
	var bestA, bestW, trA, trW int64
	for k := range len(el) {
		i := el[(start+k)%len(el)]
		e := &s.entries[i]
		if !e.t.available() {
			continue
		}
		a, w := e.t.active.Load()+1, int64(e.weight)
		if tried(req, e.t) {
			if bestTried < 0 || a*trW < trA*w {
				bestTried, trA, trW = i, a, w
			}
			continue
		}
		if best < 0 || a*bestW < bestA*w {
			best, bestA, bestW = i, a, w
		}
	}
	if best < 0 {
		return bestTried
	}
	return best
}
