package proxy

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// panicWatch collects what the proxy and net/http log about panics.
type panicWatch struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *panicWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *panicWatch) panicked() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.buf.String(); strings.Contains(s, "panic") {
		return s
	}
	return ""
}

// FuzzProxyRequest sends arbitrary bytes, as a client would over TCP, to a
// gateway in front of a live upstream: whatever arrives, nothing panics (the
// proxy's recoverPanic and net/http's own recovery both log, and the log is
// watched) and the gateway answers or closes within its timeouts.
func FuzzProxyRequest(f *testing.F) {
	for _, s := range []string{
		"GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /api/x HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET /api%2e%2e/x/%2E%2E/%2fy HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /api/%00 HTTP/1.1\r\nHost: a\r\n\r\n",
		"TRACE /api HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /api HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		"GET http://other/api/x?q=1 HTTP/1.1\r\nHost: a\r\nProxy: x\r\nTE: trailers\r\n\r\n",
		"PUT /api HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	watch := &panicWatch{}
	up := httptest.NewServer(http.HandlerFunc(echo))
	defer up.Close()
	p := New(Options{ClientBodyTimeout: 100 * time.Millisecond, SendTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(watch, nil))})
	defer p.Close()
	svc := service("s1", up.Listener.Addr().String())
	svc.Retries, svc.ConnectTimeout, svc.ReadTimeout, svc.WriteTimeout = 0, 1000, 1000, 1000
	p.Apply(&config.Config{Services: []*config.Service{svc}, Routes: []*config.Route{route("r1", "s1", "/api"), route("r2", "s1", "~/re/(?<id>\\d+)")}})
	srv := httptest.NewUnstartedServer(p)
	srv.Config.ReadHeaderTimeout = 100 * time.Millisecond
	srv.Config.MaxHeaderBytes = 64 << 10
	srv.Config.ErrorLog = log.New(watch, "", 0)
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	f.Fuzz(func(t *testing.T, raw []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(raw)
		c.(*net.TCPConn).CloseWrite() // no more bytes: an unfinished request ends now
		// Every wait in the gateway is bounded (100ms here) and the upstream
		// answers at once, so 5s is only ever reached by a hang.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after 5s for %q", raw)
			}
		}
		if s := watch.panicked(); s != "" {
			t.Fatalf("input %q: %s", raw, s)
		}
	})
}
