// Package server is mockbin: a Go clone of Kong's mockbin (the upstream in
// Kong's getting-started tutorial) plus go-httpbin style fault endpoints and
// an instance-wide fault mode that chaos scenarios steer over HTTP.
//
// Every response carries X-Mockbin-Instance (the instance name) so load
// tools can count which target answered, plus X-Powered-By: mockbin and
// CORS headers. Answers are negotiated from Accept like mockbin: JSON by
// default, YAML (also for text/plain), XML (<response>), HTML; X-Pretty-Print
// sets the indentation (0 = compact). A POST may carry its real method in
// X-HTTP-Method-Override or ?__method=.
//
// mockbin endpoints (any method): /, /ip, /ips, /agent,
// /status/:code/:reason?, /headers, /header/:name[/:value], /cookies,
// /cookie/:name[/:value], /forwarded, /redirect/:status/:count?[?to=],
// /delay/:ms?, /stream/:chunks?, /echo*, /request*, /har*, /gzip/<any of
// these>; bins: POST /bin/create, /bin/:id*, GET /bin/:id/view|sample|log,
// DELETE /bin/:id/delete.
//
// Fault endpoints: /status/200:0.7,503:0.3 (weighted, ?seed=),
// /unstable?failure_rate=&seed=, /drip?duration=&numbytes=&delay=&code=,
// /bytes/:n?seed=.
//
// Control endpoints, never subject to the fault mode except health:
//
//	GET    /__mockbin/health   {"status":"ok","name":...}
//	GET    /__mockbin/fault    {"active":false} or the active Fault
//	PUT    /__mockbin/fault    body: Fault as JSON; 400 with reasons if invalid
//	DELETE /__mockbin/fault    back to healthy
//	GET    /__mockbin/stats    {"name","started","uptime_s","total","in_flight",
//	                            "faults_applied","dropped","status":{"200":n},
//	                            "paths":{"/request":n}}
//	GET    /__mockbin/requests {"header","requests","dropped","keys":{"k":n}}
//	DELETE /__mockbin/requests (the request log, see requestlog.go)
package server

import (
	"bufio"
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults for the hard limits; a client can never pin the server longer or
// make it buffer more than these.
const (
	DefaultMaxBodySize = 10 << 20
	DefaultMaxDelay    = 60 * time.Second
	DefaultMaxBins     = 256
	binLogSize         = 100
	// binContentBudget bounds the stored responses of all bins together;
	// the oldest bins are evicted to make room.
	binContentBudget = 64 << 20
	// binLogBudget bounds one bin's request log (bodies and heads); the
	// oldest entries go first, and a single huge body is cut to fit.
	binLogBudget = 1 << 20
)

// Paths of the instance's own control endpoints.
const (
	PathHealth = "/__mockbin/health"
	PathFault  = "/__mockbin/fault"
	PathStats  = "/__mockbin/stats"
)

// HeaderInstance names the instance that answered.
const HeaderInstance = "X-Mockbin-Instance"

// Server is the mockbin handler. Create it with New; it is safe for
// concurrent use.
type Server struct {
	name     string
	maxBody  int64
	maxDelay time.Duration
	maxBins  int
	logger   *slog.Logger
	now      func() time.Time

	rngMu sync.Mutex
	rng   *rand.Rand

	fault  faultState
	stats  stats
	bins   *binStore
	reqLog requestLog

	instanceHdr []string
}

// Option configures a Server.
type Option func(*Server)

// WithName sets the instance name sent in X-Mockbin-Instance (default: the
// hostname).
func WithName(name string) Option { return func(s *Server) { s.name = name } }

// WithMaxBodySize bounds request bodies; larger ones get 413.
func WithMaxBodySize(n int64) Option { return func(s *Server) { s.maxBody = n } }

// WithMaxDelay caps every wait the server does on a client's behalf
// (/delay, /drip, fault latency).
func WithMaxDelay(d time.Duration) Option { return func(s *Server) { s.maxDelay = d } }

// WithMaxBins bounds the in-memory bin store; the oldest bin is evicted.
func WithMaxBins(n int) Option { return func(s *Server) { s.maxBins = n } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// WithSeed makes every random choice that has no per-request seed (weighted
// /status, the fault mode's rates) a deterministic sequence.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithClock replaces time.Now (tests pin startedDateTime with it).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New builds a Server.
func New(opts ...Option) *Server {
	s := &Server{
		maxBody:  DefaultMaxBodySize,
		maxDelay: DefaultMaxDelay,
		maxBins:  DefaultMaxBins,
		now:      time.Now,
		reqLog:   requestLog{header: DefaultKeyHeader},
	}
	for _, o := range opts {
		o(s)
	}
	if s.name == "" {
		s.name, _ = os.Hostname()
		if s.name == "" {
			s.name = "mockbin"
		}
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if s.maxBins <= 0 {
		s.maxBins = DefaultMaxBins
	}
	s.bins = newBinStore(s.maxBins)
	s.stats.started = s.now()
	s.instanceHdr = []string{s.name}
	return s
}

// Name is the instance name.
func (s *Server) Name() string { return s.name }

// float64 draws from the server's shared generator.
func (s *Server) float64() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

// ServeHTTP is the middleware chain of every request: instance header and
// counters, body limit, method override, CORS, the fault mode, then routing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h[HeaderInstance] = s.instanceHdr
	s.stats.inFlight.Add(1)
	rw := getRecorder(w)
	debug := s.logger.Enabled(r.Context(), slog.LevelDebug)
	var start time.Time
	if debug {
		start = time.Now()
	}
	defer func() {
		// Counted before in_flight drops, so a reader that waits for
		// in_flight 0 sees this request in total.
		s.stats.record(r.URL.Path, rw.status)
		s.stats.inFlight.Add(-1)
		if debug {
			s.logger.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
				"duration", time.Since(start), "remote", r.RemoteAddr)
		}
		putRecorder(rw)
	}()

	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	}
	r = methodOverride(r)
	setCORS(h, r)
	h["X-Powered-By"] = poweredBy

	path := r.URL.Path
	if strings.HasPrefix(path, "/__mockbin/") {
		switch path {
		case PathFault:
			s.handleFault(rw, r)
			return
		case PathStats:
			s.handleStats(rw, r)
			return
		case PathRequests:
			s.handleRequests(rw, r)
			return
		}
	} else {
		s.reqLog.record(r)
	}
	if s.applyFault(rw, r, path) {
		return
	}
	s.route(rw, r, path)
}

var poweredBy = []string{"mockbin"}

// methodOverride follows the method-override middleware mockbin installs:
// a POST may carry its real method in X-HTTP-Method-Override or ?__method=.
func methodOverride(r *http.Request) *http.Request {
	if r.Method != http.MethodPost {
		return r
	}
	m := r.Header.Get("X-HTTP-Method-Override")
	if m == "" && strings.Contains(r.URL.RawQuery, "__method=") {
		m = r.URL.Query().Get("__method")
	}
	if m == "" || !validMethod(m) {
		return r
	}
	r2 := *r
	r2.Method = strings.ToUpper(m)
	return &r2
}

func validMethod(m string) bool {
	if len(m) > 20 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// setCORS mirrors mockbin's cors middleware: the caller's origin, method and
// headers are allowed back, with credentials.
func setCORS(h http.Header, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		h["Access-Control-Allow-Origin"] = []string{o}
	} else {
		h["Access-Control-Allow-Origin"] = star
	}
	if m := r.Header.Get("Access-Control-Request-Method"); m != "" {
		h["Access-Control-Allow-Methods"] = []string{m}
	} else {
		h["Access-Control-Allow-Methods"] = []string{r.Method}
	}
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h["Access-Control-Allow-Headers"] = []string{rh}
	} else {
		h["Access-Control-Allow-Headers"] = []string{requestHeaderNames(r)}
	}
	h["Access-Control-Allow-Credentials"] = trueVal
}

var (
	star    = []string{"*"}
	trueVal = []string{"true"}
)

// requestHeaderNames lists the request's header names lower-cased, host
// first (Node keeps Host among the headers; Go does not), the rest sorted.
func requestHeaderNames(r *http.Request) string {
	var sb strings.Builder
	sb.Grow(16 * (len(r.Header) + 1))
	if r.Host != "" {
		sb.WriteString("host")
	}
	names := make([]string, 0, 16)
	for k := range r.Header {
		names = append(names, k)
	}
	sortSmall(names)
	for _, k := range names {
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// sortSmall is an insertion sort: header lists are short, and it avoids the
// interface conversion sort.Strings costs on the hot path.
func sortSmall(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// recorder remembers the status for the counters and keeps Flush/Hijack
// reachable through Unwrap (http.ResponseController).
type recorder struct {
	http.ResponseWriter
	status int
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

func getRecorder(w http.ResponseWriter) *recorder {
	rw := recorderPool.Get().(*recorder)
	rw.ResponseWriter = w
	rw.status = 0
	return rw
}

func putRecorder(rw *recorder) {
	rw.ResponseWriter = nil
	recorderPool.Put(rw)
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *recorder) Flush() {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// markStatus records a status that bypassed WriteHeader (a raw answer on a
// hijacked connection).
func (rw *recorder) markStatus(code int) {
	if rw.status == 0 {
		rw.status = code
	}
}

// abort ends a response without answering: net/http closes the connection.
// A handler whose wait was cut short (client gone, drain deadline) must not
// simply return, or net/http answers an empty 200 that reads as a success.
func abort() { panic(http.ErrAbortHandler) }

// sleepCtx waits d or until ctx ends; it reports whether the full wait
// elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hijack takes the connection over for answers net/http cannot give (drop
// without answering, a final 1xx). ok is false when the writer does not
// support it (HTTP/2, recorders).
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, false
	}
	return conn, brw, true
}

// errorBody is the JSON error shape used for mockbin's own errors.
func errorBody(msg string) Obj { return Obj{{"error", msg}} }

// notFound is mockbin's not-found handler.
func notFound(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusNotFound, Obj{{"error", Obj{{"code", "404"}, {"message", "Not Found"}}}})
}
