package server

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxPathKeys bounds the per-prefix counters: a client sending random
// paths must not grow the map without limit.
const maxPathKeys = 64

// otherPaths collects prefixes beyond maxPathKeys.
const otherPaths = "other"

// stats are the instance's request counters, cheap enough for every request.
type stats struct {
	started       time.Time
	total         atomic.Int64
	inFlight      atomic.Int64
	faultsApplied atomic.Int64
	dropped       atomic.Int64
	status        [1000]atomic.Int64

	pathMu sync.RWMutex
	paths  map[string]*atomic.Int64
}

// Stats is a snapshot of the counters, as served at /__mockbin/stats.
type Stats struct {
	Name          string           `json:"name"`
	Started       time.Time        `json:"started"`
	Total         int64            `json:"total"`
	InFlight      int64            `json:"in_flight"`
	FaultsApplied int64            `json:"faults_applied"`
	Dropped       int64            `json:"dropped"`
	Status        map[string]int64 `json:"status"`
	Paths         map[string]int64 `json:"paths"`
}

// pathPrefix is the counter key of a path: its first segment ("/request"
// for "/request/a/b"), or the first two under "/__mockbin" and "/gzip".
func pathPrefix(p string) string {
	if p == "" || p == "/" {
		return "/"
	}
	end := strings.IndexByte(p[1:], '/')
	if end < 0 {
		return p
	}
	first := p[:end+1]
	if first == "/__mockbin" || first == "/gzip" {
		rest := p[end+1:]
		if e2 := strings.IndexByte(rest[1:], '/'); e2 >= 0 {
			return first + rest[:e2+1]
		}
		return p
	}
	return first
}

// record counts one finished request. A request that never answered (a
// dropped connection) has status 0 and is counted only in total.
func (st *stats) record(path string, status int) {
	st.total.Add(1)
	if status >= 100 && status < len(st.status) {
		st.status[status].Add(1)
	}
	key := pathPrefix(path)
	if len(key) > 64 {
		key = key[:64]
	}
	st.pathMu.RLock()
	c := st.paths[key]
	st.pathMu.RUnlock()
	if c == nil {
		st.pathMu.Lock()
		if st.paths == nil {
			st.paths = make(map[string]*atomic.Int64)
		}
		if c = st.paths[key]; c == nil {
			if len(st.paths) >= maxPathKeys {
				key = otherPaths
				c = st.paths[key]
			}
			if c == nil {
				c = new(atomic.Int64)
				st.paths[key] = c
			}
		}
		st.pathMu.Unlock()
	}
	c.Add(1)
}

// Stats returns a snapshot of the counters. The request asking for it is
// not yet counted.
func (s *Server) Stats() Stats {
	st := &s.stats
	out := Stats{
		Name:          s.name,
		Started:       st.started.UTC(),
		Total:         st.total.Load(),
		InFlight:      st.inFlight.Load(),
		FaultsApplied: st.faultsApplied.Load(),
		Dropped:       st.dropped.Load(),
		Status:        map[string]int64{},
		Paths:         map[string]int64{},
	}
	for code := range st.status {
		if n := st.status[code].Load(); n > 0 {
			out.Status[strconv.Itoa(code)] = n
		}
	}
	st.pathMu.RLock()
	for k, c := range st.paths {
		out.Paths[k] = c.Load()
	}
	st.pathMu.RUnlock()
	return out
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	st := s.Stats()
	status := make(Obj, 0, len(st.Status))
	for _, k := range sortedKeys(st.Status) {
		status = append(status, KV{k, st.Status[k]})
	}
	paths := make(Obj, 0, len(st.Paths))
	for _, k := range sortedKeys(st.Paths) {
		paths = append(paths, KV{k, st.Paths[k]})
	}
	writeJSON(w, http.StatusOK, Obj{
		{"name", st.Name},
		{"started", st.Started.Format(time.RFC3339Nano)},
		{"uptime_s", s.now().Sub(st.Started).Seconds()},
		{"total", st.Total},
		{"in_flight", st.InFlight},
		{"faults_applied", st.FaultsApplied},
		{"dropped", st.Dropped},
		{"status", status},
		{"paths", paths},
	})
}

// writeJSON answers with JSON regardless of Accept: the control endpoints
// are for tools, not browsers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	bp := getBuf()
	defer putBuf(bp)
	b := appendJSON((*bp)[:0], v, 2, 0)
	b = append(b, '\n')
	*bp = b
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	render(w, r, http.StatusMethodNotAllowed, errorBody("method "+r.Method+" not allowed; use "+allow))
}
