package conformance

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// EchoRequest is what the echo upstream received.
type EchoRequest struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"` // the raw request-target's path (escaped as sent)
	RawQuery string              `json:"raw_query"`
	URI      string              `json:"uri"` // the request-target exactly as sent
	Query    map[string][]string `json:"query"`
	Host     string              `json:"host"` // the Host header
	Proto    string              `json:"proto"`
	Headers  map[string]string   `json:"headers"`  // lower-case name → values joined by ", "
	Header   http.Header         `json:"-"`        // the headers as received
	Trailers map[string]string   `json:"trailers"` // lower-case name → value, after the body
	Body     string              `json:"body"`
}

func (e *EchoRequest) doc() any {
	b, _ := json.Marshal(e)
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

// Echo is an upstream that answers every request with 200 and the JSON of
// the EchoRequest it received (Content-Type application/json), and keeps the
// requests for Last/All.
//
// Special paths shape its answer: a query "status=N" answers with status N;
// "header=Name:Value" (repeatable) adds response headers.
type Echo struct {
	Addr string // host:port
	URL  string // http://host:port

	mu   sync.Mutex
	seen []*EchoRequest
}

// echoUpstream starts an echo upstream for the test.
func echoUpstream(t *testing.T) *Echo {
	t.Helper()
	e := &Echo{}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	e.Addr = strings.TrimPrefix(srv.URL, "http://")
	return e
}

// Last is the most recent request the upstream saw, nil if none.
func (e *Echo) Last() *EchoRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) == 0 {
		return nil
	}
	return e.seen[len(e.seen)-1]
}

// All is every request the upstream saw, oldest first.
func (e *Echo) All() []*EchoRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*EchoRequest(nil), e.seen...)
}

func (e *Echo) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	er := &EchoRequest{
		Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, URI: r.RequestURI,
		Query: r.URL.Query(), Host: r.Host, Proto: r.Proto,
		Headers: map[string]string{}, Header: r.Header.Clone(), Trailers: map[string]string{},
		Body: string(body),
	}
	for k, vs := range r.Header {
		er.Headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	for k, vs := range r.Trailer {
		er.Trailers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	e.mu.Lock()
	e.seen = append(e.seen, er)
	e.mu.Unlock()

	for _, h := range r.URL.Query()["header"] {
		if k, v, ok := strings.Cut(h, ":"); ok {
			w.Header().Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	status := http.StatusOK
	if s := r.URL.Query().Get("status"); s != "" {
		if n, err := atoi(s); err == nil && n >= 100 && n <= 999 {
			status = n
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(er)
}

func atoi(s string) (int, error) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, io.ErrUnexpectedEOF
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
