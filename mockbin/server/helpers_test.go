package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testClock pins startedDateTime.
var testTime = time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)

func newTest(opts ...Option) *Server {
	base := []Option{
		WithName("test"),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithClock(func() time.Time { return testTime }),
		WithSeed(42),
	}
	return New(append(base, opts...)...)
}

type reqSpec struct {
	method string
	target string
	hdr    map[string]string
	body   string
}

func (rs reqSpec) build() *http.Request {
	m := rs.method
	if m == "" {
		m = http.MethodGet
	}
	var body io.Reader
	if rs.body != "" {
		body = strings.NewReader(rs.body)
	}
	r := httptest.NewRequest(m, rs.target, body)
	for k, v := range rs.hdr {
		if strings.EqualFold(k, "Host") {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	return r
}

func serve(h http.Handler, rs reqSpec) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, rs.build())
	return rec
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return v
}

// field walks a decoded JSON value: field(v, "a", "b", 0) is v.a.b[0].
func field(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("path %v: %T is not an object", path, v)
			}
			v, ok = m[k]
			if !ok {
				t.Fatalf("path %v: no key %q in %v", path, k, m)
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("path %v: %v is not a list with index %d", path, v, k)
			}
			v = l[k]
		}
	}
	return v
}

// startServer runs s on a loopback listener for tests that need a real
// connection (redirects, drops, raw 1xx, streaming).
func startServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
