package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault endpoints in go-httpbin's style. Each random choice can be pinned
// with ?seed=N (one deterministic draw per request); without it the server's
// generator is used (itself deterministic under WithSeed).

type weighted struct {
	code   int
	weight float64
}

// parseWeighted reads "200:0.7,503:0.3"; a code without a weight counts 1.
func parseWeighted(spec string) ([]weighted, error) {
	var out []weighted
	for part := range strings.SplitSeq(spec, ",") {
		cs, ws, hasW := strings.Cut(part, ":")
		code, err := strconv.Atoi(strings.TrimSpace(cs))
		if err != nil || code < 200 || code > 999 {
			return nil, fmt.Errorf("invalid status code %q in %q, must be 200-999", cs, spec)
		}
		w := 1.0
		if hasW {
			w, err = strconv.ParseFloat(strings.TrimSpace(ws), 64)
			if err != nil || w < 0 || w != w {
				return nil, fmt.Errorf("invalid weight %q in %q", ws, spec)
			}
		}
		out = append(out, weighted{code, w})
	}
	total := 0.0
	for _, c := range out {
		total += c.weight
	}
	if total <= 0 {
		return nil, fmt.Errorf("weights in %q sum to zero", spec)
	}
	return out, nil
}

// pickWeighted maps f in [0,1) onto the cumulative weights.
func pickWeighted(choices []weighted, f float64) int {
	total := 0.0
	for _, c := range choices {
		total += c.weight
	}
	x := f * total
	for _, c := range choices {
		if x < c.weight {
			return c.code
		}
		x -= c.weight
	}
	return choices[len(choices)-1].code
}

// draw returns one number in [0,1): from ?seed= when given, else from the
// server's generator.
func (s *Server) draw(r *http.Request) (float64, error) {
	raw := r.URL.Query().Get("seed")
	if raw == "" {
		return s.float64(), nil
	}
	seed, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid seed %q: %w", raw, err)
	}
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Float64(), nil
}

// unstable answers 500 for failure_rate (default 0.5) of the requests and
// 200 for the rest.
func (s *Server) unstable(w http.ResponseWriter, r *http.Request) {
	rate := 0.5
	if raw := r.URL.Query().Get("failure_rate"); raw != "" {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < 0 || v > 1 {
			render(w, r, http.StatusBadRequest, errorBody("invalid failure_rate "+strconv.Quote(raw)+", must be 0-1"))
			return
		}
		rate = v
	}
	f, err := s.draw(r)
	if err != nil {
		render(w, r, http.StatusBadRequest, errorBody(err.Error()))
		return
	}
	code := http.StatusOK
	if f < rate {
		code = http.StatusInternalServerError
	}
	render(w, r, code, Obj{{"code", strconv.Itoa(code)}, {"message", http.StatusText(code)}})
}

// parseDuration accepts Go durations ("1.5s", "200ms") and bare seconds
// ("2", "0.5") like go-httpbin.
func parseDuration(raw string) (time.Duration, error) {
	if d, err := time.ParseDuration(raw); err == nil {
		return d, nil
	}
	secs, err := strconv.ParseFloat(raw, 64)
	if err != nil || secs != secs {
		return 0, fmt.Errorf("invalid duration %q", raw)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// maxDripTicks bounds how many separate writes a drip makes, so a large
// numbytes is sent in evenly sized slices rather than byte by byte.
const maxDripTicks = 1000

// drip waits delay, then sends numbytes '*' bytes spread evenly over
// duration, with status code (defaults: 2s, 10, 200, 2s as go-httpbin).
func (s *Server) drip(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	duration, delay := 2*time.Second, 2*time.Second
	numBytes, code := int64(10), http.StatusOK
	var errs []error
	if raw := q.Get("duration"); raw != "" {
		d, err := parseDuration(raw)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("duration: %q", raw))
		}
		duration = d
	}
	if raw := q.Get("delay"); raw != "" {
		d, err := parseDuration(raw)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("delay: %q", raw))
		}
		delay = d
	}
	if raw := q.Get("numbytes"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > s.maxBody {
			errs = append(errs, fmt.Errorf("numbytes: %q must be 0-%d", raw, s.maxBody))
		}
		numBytes = n
	}
	if raw := q.Get("code"); raw != "" {
		c, err := strconv.Atoi(raw)
		if err != nil || c < 200 || c > 999 {
			errs = append(errs, fmt.Errorf("code: %q must be 200-999", raw))
		}
		code = c
	}
	if len(errs) == 0 && duration+delay > s.maxDelay {
		errs = append(errs, fmt.Errorf("duration+delay %s exceeds the %s limit", duration+delay, s.maxDelay))
	}
	if err := errors.Join(errs...); err != nil {
		render(w, r, http.StatusBadRequest, errorBody("invalid drip parameters: "+strings.ReplaceAll(err.Error(), "\n", "; ")))
		return
	}
	if !sleepCtx(r.Context(), delay) {
		abort()
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if bodyAllowed(code) {
		h.Set("Content-Length", strconv.FormatInt(numBytes, 10))
	}
	w.WriteHeader(code)
	if numBytes == 0 || !bodyAllowed(code) {
		return
	}
	ticks := min(numBytes, maxDripTicks)
	pause := duration / time.Duration(ticks)
	rc := http.NewResponseController(w)
	chunk := make([]byte, numBytes/ticks+1)
	for i := range chunk {
		chunk[i] = '*'
	}
	sent := int64(0)
	for i := int64(0); i < ticks; i++ {
		// Slice i ends at byte (i+1)*numBytes/ticks, so sizes differ by at
		// most one and the total is exact.
		end := (i + 1) * numBytes / ticks
		if _, err := w.Write(chunk[:end-sent]); err != nil {
			return
		}
		sent = end
		_ = rc.Flush()
		if i < ticks-1 && !sleepCtx(r.Context(), pause) {
			abort() // the Content-Length promised more: cut, never a short success
		}
	}
}

// bytes answers :n random bytes (at most the body limit); ?seed= makes
// them reproducible.
func (s *Server) bytes(w http.ResponseWriter, r *http.Request, rest string) {
	p, ok := params(rest, 1)
	if !ok || len(p) != 1 {
		notFound(w, r)
		return
	}
	n, err := strconv.ParseInt(p[0], 10, 64)
	if err != nil || n < 0 || n > s.maxBody {
		render(w, r, http.StatusBadRequest, errorBody(fmt.Sprintf("invalid byte count %q, must be 0-%d", p[0], s.maxBody)))
		return
	}
	var src *rand.Rand
	if raw := r.URL.Query().Get("seed"); raw != "" {
		seed, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			render(w, r, http.StatusBadRequest, errorBody("invalid seed "+strconv.Quote(raw)))
			return
		}
		src = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	} else {
		s.rngMu.Lock()
		seed := s.rng.Uint64()
		s.rngMu.Unlock()
		src = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, min(n, 32<<10))
	for left := n; left > 0; {
		m := min(left, int64(len(buf)))
		for i := int64(0); i < m; i += 8 {
			v := src.Uint64()
			for j := i; j < i+8 && j < m; j++ {
				buf[j] = byte(v)
				v >>= 8
			}
		}
		if _, err := w.Write(buf[:m]); err != nil {
			return
		}
		left -= m
	}
}
