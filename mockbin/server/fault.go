package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is the instance fault mode a chaos scenario sets with
// PUT /__mockbin/fault. Every field is optional. For a matching request the
// server waits LatencyMS ± JitterMS, then closes DropRate of the connections
// without answering, then answers Status (if set) or 500 for FailureRate of
// the rest; anything left is served normally.
type Fault struct {
	Status      int     `json:"status,omitempty"`
	LatencyMS   int     `json:"latency_ms,omitempty"`
	JitterMS    int     `json:"jitter_ms,omitempty"`
	FailureRate float64 `json:"failure_rate,omitempty"`
	DropRate    float64 `json:"drop_rate,omitempty"`
	// Paths limits the fault to these path prefixes (all paths when empty,
	// the health path included).
	Paths []string `json:"paths,omitempty"`
	// ExcludePaths exempts path prefixes, e.g. "/__mockbin/health" to keep
	// probes green while traffic fails.
	ExcludePaths []string `json:"exclude_paths,omitempty"`
	// Seed makes the fault's random choices a fixed sequence.
	Seed *uint64 `json:"seed,omitempty"`
	// Pattern is a deterministic cycle of answers: the n-th matching request
	// (from 1) gets Pattern[(n-1) % len]: a status, or 0 to be served
	// normally. [500, 0] alternates fail, ok, fail, …. It replaces Status
	// and FailureRate (setting either with it is invalid).
	Pattern []int `json:"pattern,omitempty"`
}

// HeaderFaultSeq numbers the requests a fault matched (1, 2, …, per fault),
// on every answer the fault mode let through or made: a client reading
// answers out of order can still put them back in the order this instance
// saw them.
const HeaderFaultSeq = "X-Mockbin-Fault-Seq"

// maxPattern bounds Fault.Pattern.
const maxPattern = 1024

// maxFaultPaths bounds the prefix lists.
const maxFaultPaths = 64

// validate checks the fault against the server's limits.
func (f Fault) validate(maxDelay time.Duration) error {
	var errs []error
	if f.Status != 0 && (f.Status < 200 || f.Status > 999) {
		errs = append(errs, fmt.Errorf("status %d: must be 200-999", f.Status))
	}
	maxMS := int(maxDelay / time.Millisecond)
	if f.LatencyMS < 0 || f.LatencyMS > maxMS {
		errs = append(errs, fmt.Errorf("latency_ms %d: must be 0-%d", f.LatencyMS, maxMS))
	}
	if f.JitterMS < 0 || f.JitterMS > maxMS {
		errs = append(errs, fmt.Errorf("jitter_ms %d: must be 0-%d", f.JitterMS, maxMS))
	}
	if f.FailureRate < 0 || f.FailureRate > 1 {
		errs = append(errs, fmt.Errorf("failure_rate %g: must be 0-1", f.FailureRate))
	}
	if f.DropRate < 0 || f.DropRate > 1 {
		errs = append(errs, fmt.Errorf("drop_rate %g: must be 0-1", f.DropRate))
	}
	if len(f.Pattern) > 0 && (f.Status != 0 || f.FailureRate != 0) {
		errs = append(errs, errors.New("pattern: cannot be combined with status or failure_rate"))
	}
	if len(f.Pattern) > maxPattern {
		errs = append(errs, fmt.Errorf("pattern: at most %d entries", maxPattern))
	}
	for _, c := range f.Pattern {
		if c != 0 && (c < 200 || c > 999) {
			errs = append(errs, fmt.Errorf("pattern: status %d must be 0 (serve) or 200-999", c))
		}
	}
	for _, list := range []struct {
		name  string
		paths []string
	}{{"paths", f.Paths}, {"exclude_paths", f.ExcludePaths}} {
		if len(list.paths) > maxFaultPaths {
			errs = append(errs, fmt.Errorf("%s: at most %d entries", list.name, maxFaultPaths))
		}
		for _, p := range list.paths {
			if !strings.HasPrefix(p, "/") {
				errs = append(errs, fmt.Errorf("%s: %q must start with /", list.name, p))
			}
		}
	}
	return errors.Join(errs...)
}

type activeFault struct {
	Fault
	since time.Time
	mu    sync.Mutex
	rng   *rand.Rand // nil: the server's generator
	seq   atomic.Int64
}

type faultState struct {
	p atomic.Pointer[activeFault]
}

// SetFault switches the fault mode on (replacing any previous fault).
func (s *Server) SetFault(f Fault) error {
	if err := f.validate(s.maxDelay); err != nil {
		return fmt.Errorf("invalid fault: %w", err)
	}
	af := &activeFault{Fault: f, since: s.now()}
	if f.Seed != nil {
		af.rng = rand.New(rand.NewPCG(*f.Seed, *f.Seed^0x9e3779b97f4a7c15))
	}
	s.fault.p.Store(af)
	s.logger.Info("fault mode on", "instance", s.name, "status", f.Status, "latency_ms", f.LatencyMS,
		"jitter_ms", f.JitterMS, "failure_rate", f.FailureRate, "drop_rate", f.DropRate, "paths", f.Paths)
	return nil
}

// ClearFault switches the fault mode off.
func (s *Server) ClearFault() {
	if s.fault.p.Swap(nil) != nil {
		s.logger.Info("fault mode off", "instance", s.name)
	}
}

// CurrentFault returns the active fault, if any.
func (s *Server) CurrentFault() (Fault, bool) {
	af := s.fault.p.Load()
	if af == nil {
		return Fault{}, false
	}
	return af.Fault, true
}

func (af *activeFault) matches(path string) bool {
	for _, p := range af.ExcludePaths {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	if len(af.Paths) == 0 {
		return true
	}
	for _, p := range af.Paths {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (s *Server) faultFloat(af *activeFault) float64 {
	if af.rng == nil {
		return s.float64()
	}
	af.mu.Lock()
	defer af.mu.Unlock()
	return af.rng.Float64()
}

// applyFault runs the fault mode for one request; it reports whether the
// request was answered (or dropped) here.
func (s *Server) applyFault(rw *recorder, r *http.Request, path string) bool {
	af := s.fault.p.Load()
	if af == nil || !af.matches(path) {
		return false
	}
	seq := af.seq.Add(1)
	rw.Header().Set(HeaderFaultSeq, strconv.FormatInt(seq, 10))
	applied := false
	if af.LatencyMS > 0 || af.JitterMS > 0 {
		d := time.Duration(af.LatencyMS) * time.Millisecond
		if af.JitterMS > 0 {
			j := time.Duration(af.JitterMS) * time.Millisecond
			d += time.Duration((s.faultFloat(af)*2 - 1) * float64(j))
		}
		d = min(max(d, 0), s.maxDelay)
		applied = true
		if !sleepCtx(r.Context(), d) {
			s.stats.faultsApplied.Add(1)
			abort() // the client gave up or the drain ended: nobody to answer
		}
	}
	if af.DropRate > 0 && s.faultFloat(af) < af.DropRate {
		s.stats.faultsApplied.Add(1)
		s.stats.dropped.Add(1)
		dropConnection(rw)
		return true
	}
	status := af.Status
	if n := len(af.Pattern); n > 0 {
		status = af.Pattern[(seq-1)%int64(n)]
	}
	if status == 0 && af.FailureRate > 0 && s.faultFloat(af) < af.FailureRate {
		status = http.StatusInternalServerError
	}
	if status != 0 {
		s.stats.faultsApplied.Add(1)
		render(rw, r, status, Obj{
			{"error", "fault injected"},
			{"status", status},
			{"instance", s.name},
		})
		return true
	}
	if applied {
		s.stats.faultsApplied.Add(1)
	}
	return false
}

// dropConnection closes the connection without a response, with a TCP
// reset where possible so the client sees what a crashed upstream looks
// like. Where the connection cannot be taken over (HTTP/2) the handler is
// aborted, which resets the stream.
func dropConnection(w http.ResponseWriter) {
	conn, _, ok := hijack(w)
	if !ok {
		abort()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// faultView is the JSON shape of the fault mode for GET/PUT/DELETE.
func (s *Server) faultView() Obj {
	af := s.fault.p.Load()
	if af == nil {
		return Obj{{"active", false}}
	}
	paths := af.Paths
	if paths == nil {
		paths = []string{}
	}
	excl := af.ExcludePaths
	if excl == nil {
		excl = []string{}
	}
	o := Obj{
		{"active", true},
		{"since", af.since.UTC().Format(time.RFC3339Nano)},
		{"status", af.Status},
		{"latency_ms", af.LatencyMS},
		{"jitter_ms", af.JitterMS},
		{"failure_rate", af.FailureRate},
		{"drop_rate", af.DropRate},
		{"paths", paths},
		{"exclude_paths", excl},
	}
	if len(af.Pattern) > 0 {
		o = append(o, KV{"pattern", af.Pattern})
	}
	if af.Seed != nil {
		o = append(o, KV{"seed", int64(*af.Seed)})
	}
	return o
}

// handleFault serves GET|PUT|DELETE /__mockbin/fault. It is never subject
// to the fault mode itself, so a sick instance can always be healed.
func (s *Server) handleFault(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, s.faultView())
	case http.MethodPut, http.MethodPost:
		var f Fault
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			writeJSON(w, http.StatusBadRequest, errorBody("fault body: "+err.Error()))
			return
		}
		if err := s.SetFault(f); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody(err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, s.faultView())
	case http.MethodDelete:
		s.ClearFault()
		writeJSON(w, http.StatusOK, s.faultView())
	default:
		w.Header().Set("Allow", "GET, PUT, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("use GET, PUT or DELETE"))
	}
}
