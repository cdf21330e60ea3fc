package server

import (
	"net/http"
	"strings"
	"sync"
)

// The request log answers "which requests reached this instance, and how
// often": scenarios send each non-idempotent request with a unique key in a
// header and read back, per instance, how many times each key arrived. A key
// counted twice anywhere is a request the gateway delivered twice.
//
//	GET    /__mockbin/requests[?header=Idempotency-Key]
//	       {"header":"Idempotency-Key","requests":n,"dropped":n,"keys":{"k1":1,...}}
//	DELETE /__mockbin/requests   forget every key
//
// A request is logged when its head has arrived, before the fault mode runs,
// so one the instance then holds, drops or fails still counts as delivered.
// Requests without the header and the control endpoints are not logged.

// PathRequests is the request log's endpoint.
const PathRequests = "/__mockbin/requests"

// DefaultKeyHeader is the header whose values the request log counts.
const DefaultKeyHeader = "Idempotency-Key"

// Bounds of the request log: a client sending endless distinct keys costs at
// most maxLoggedKeys × (maxKeyLen + map overhead), about 30 MiB; keys beyond
// that are counted in "dropped", longer values are cut.
const (
	maxLoggedKeys = 100_000
	maxKeyLen     = 128
)

// WithKeyHeader names the header the request log counts (default
// Idempotency-Key).
func WithKeyHeader(name string) Option {
	return func(s *Server) { s.reqLog.header = http.CanonicalHeaderKey(name) }
}

type requestLog struct {
	header string // canonical

	mu       sync.Mutex
	counts   map[string]int64
	requests int64
	dropped  int64
}

// RequestLog is a snapshot of the request log.
type RequestLog struct {
	Header   string           `json:"header"`
	Requests int64            `json:"requests"`
	Dropped  int64            `json:"dropped"`
	Keys     map[string]int64 `json:"keys"`
}

func (l *requestLog) record(r *http.Request) {
	vs := r.Header[l.header]
	if len(vs) == 0 {
		return
	}
	key := vs[0]
	if len(key) > maxKeyLen {
		key = key[:maxKeyLen]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	if _, ok := l.counts[key]; !ok && len(l.counts) >= maxLoggedKeys {
		l.dropped++
		return
	}
	if l.counts == nil {
		l.counts = make(map[string]int64)
	}
	l.counts[key]++
}

// RequestLog returns a snapshot of the request log.
func (s *Server) RequestLog() RequestLog {
	l := &s.reqLog
	l.mu.Lock()
	defer l.mu.Unlock()
	out := RequestLog{Header: l.header, Requests: l.requests, Dropped: l.dropped, Keys: make(map[string]int64, len(l.counts))}
	for k, n := range l.counts {
		out.Keys[k] = n
	}
	return out
}

// ClearRequestLog forgets every key.
func (s *Server) ClearRequestLog() {
	l := &s.reqLog
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts, l.requests, l.dropped = nil, 0, 0
}

func (s *Server) handleRequests(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if h := r.URL.Query().Get("header"); h != "" && !strings.EqualFold(h, s.reqLog.header) {
			writeJSON(w, http.StatusBadRequest, errorBody("this instance logs header "+s.reqLog.header+", not "+h))
			return
		}
		lg := s.RequestLog()
		keys := make(Obj, 0, len(lg.Keys))
		for _, k := range sortedKeys(lg.Keys) {
			keys = append(keys, KV{k, lg.Keys[k]})
		}
		writeJSON(w, http.StatusOK, Obj{
			{"header", lg.Header},
			{"requests", lg.Requests},
			{"dropped", lg.Dropped},
			{"keys", keys},
		})
	case http.MethodDelete:
		s.ClearRequestLog()
		writeJSON(w, http.StatusOK, Obj{{"header", s.reqLog.header}, {"requests", 0}, {"dropped", 0}, {"keys", Obj{}}})
	default:
		methodNotAllowed(w, r, "GET, HEAD, DELETE")
	}
}
