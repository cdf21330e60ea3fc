package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Benchmarks for the hot endpoints: the handler alone (what mockbin costs
// per request) and through a loopback server with a keep-alive client (what
// a load tool sees, client cost included).

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }

// gatewayHeaders is what a request looks like after a load tool and the
// gateway: a few client headers plus the proxy's X-Forwarded-*.
func gatewayHeaders(r *http.Request) {
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	r.Header.Set("Accept-Encoding", "gzip")
	r.Header.Set("X-Forwarded-For", "172.18.0.1")
	r.Header.Set("X-Forwarded-Proto", "http")
	r.Header.Set("X-Forwarded-Host", "localhost")
	r.Header.Set("X-Forwarded-Port", "8000")
	r.Header.Set("X-Forwarded-Path", "/mockbin/request")
	r.Header.Set("X-Real-Ip", "172.18.0.1")
}

func benchHandler(b *testing.B, method, target, body string) {
	s := New(WithName("bench"), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	r := httptest.NewRequest(method, target, nil)
	gatewayHeaders(r)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := &discardWriter{h: make(http.Header, 16)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if body != "" {
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		s.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

func BenchmarkRequestHello(b *testing.B) { benchHandler(b, "GET", "/", "") }

func BenchmarkRequestRequest(b *testing.B) { benchHandler(b, "GET", "/request?a=1&b=2", "") }

func BenchmarkRequestRequestPOST(b *testing.B) {
	benchHandler(b, "POST", "/request", `{"id":42,"name":"gauntlet","tags":["a","b"]}`)
}

func BenchmarkRequestStatus(b *testing.B) { benchHandler(b, "GET", "/status/200", "") }

func benchServer(b *testing.B, path string) {
	s := New(WithName("bench"), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ts := httptest.NewServer(s)
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			gatewayHeaders(req)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkRequestServerHello(b *testing.B) { benchServer(b, "/") }

func BenchmarkRequestServerRequest(b *testing.B) { benchServer(b, "/request") }
