package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/gateway/proxy"
)

// Requests that net/http's HTTP/1.x server refuses before any handler runs
// (a request line or head it cannot parse, HTTP/1.1 without Host, a head
// over MaxHeaderBytes) get its canned plain-text answer, written straight to
// the connection: "400 Bad Request: missing required Host header", with no
// Server header. nginx refuses the same requests and Kong's error handler
// words them: 400 "Bad request", and a head too large is nginx's 494, which
// Kong turns into 400 "Request header or cookie too large"
// (02-router_spec.lua:379, 13-error_handlers_spec.lua:30). The proxy
// listener's plain-TCP connections are wrapped so those canned answers are
// replaced, byte for byte, with Kong's: same status rules, Kong's body in
// error_default_type (text/plain: the request's Accept was never parsed),
// Server, X-Kong-Request-Id and X-Kong-Response-Latency per the headers
// setting. Answers net/http makes for other statuses (501 for an unknown
// transfer coding, 505) are nginx's own pages in Kong too and pass unchanged.
// TLS connections are not wrapped: net/http needs the *tls.Conn itself for
// HTTP/2 and r.TLS.

// cannedHeaders is net/http's errorHeaders (net/http/server.go).
const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

type kongErrors struct {
	server    string // "kong/" + config.KongVersion; "" when headers leave Server out
	requestID bool
	latency   bool
}

// kongErrorPage returns Kong's replacement for one of net/http's canned
// answers, or nil when p is not exactly one (a write of response bytes).
func (k *kongErrors) kongErrorPage(p []byte) []byte {
	const prefix = "HTTP/1.1 "
	if !bytes.HasPrefix(p, []byte(prefix)) {
		return nil
	}
	i := bytes.Index(p, []byte(cannedHeaders))
	if i < 0 {
		return nil
	}
	status, body := p[len(prefix):i], p[i+len(cannedHeaders):]
	// The canned forms repeat the status text as the body: "400 Bad Request",
	// "400 Bad Request: <why>", "431 Request Header Fields Too Large".
	if !bytes.Equal(status, body) {
		return nil
	}
	var msg string
	switch {
	case bytes.HasPrefix(status, []byte("400 ")):
		msg = "Bad request"
	case bytes.HasPrefix(status, []byte("431 ")):
		msg = "Request header or cookie too large"
	default:
		return nil
	}
	var idb [16]byte
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	text := msg + "\nrequest_id: " + id + "\n"
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(text)))
	b.WriteString("\r\nConnection: close\r\n")
	if k.server != "" {
		b.WriteString("Server: " + k.server + "\r\n")
	}
	if k.requestID {
		b.WriteString("X-Kong-Request-Id: " + id + "\r\n")
	}
	if k.latency {
		b.WriteString("X-Kong-Response-Latency: 0\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(text)
	return b.Bytes()
}

func newKongErrors(version string, h proxy.Headers) *kongErrors {
	k := &kongErrors{requestID: h.RequestID, latency: h.ResponseLatency}
	if h.Server {
		k.server = "kong/" + version
	}
	return k
}

// kongErrListener wraps accepted connections in kongErrConn.
type kongErrListener struct {
	net.Listener
	k *kongErrors
}

func (l kongErrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &kongErrConn{Conn: c, k: l.k}, nil
}

type kongErrConn struct {
	net.Conn
	k *kongErrors
}

func (c *kongErrConn) Write(p []byte) (int, error) {
	if len(p) > 9 && p[0] == 'H' {
		if page := c.k.kongErrorPage(p); page != nil {
			if _, err := c.Conn.Write(page); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite keeps net/http's lingering close after a 431 (closeWriteAndWait).
func (c *kongErrConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the kernel's splice/sendfile path for bodies copied with
// io.Copy (they never hold a canned answer).
func (c *kongErrConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// adminHeaders applies Kong's `headers` setting to the Admin API's own
// headers (14-server_tokens_spec.lua:934-1030): Server with server_tokens or
// Server, X-Kong-Admin-Latency with latency_tokens or its name; the Admin
// API sets both, this removes what the setting leaves out.
func adminHeaders(next http.Handler, h proxy.Headers) http.Handler {
	if h.Server && h.AdminLatency {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&adminHeaderWriter{ResponseWriter: w, h: h}, r)
	})
}

type adminHeaderWriter struct {
	http.ResponseWriter
	h     proxy.Headers
	wrote bool
}

func (w *adminHeaderWriter) strip() {
	if w.wrote {
		return
	}
	w.wrote = true
	if !w.h.Server {
		w.Header().Del("Server")
	}
	if !w.h.AdminLatency {
		w.Header().Del("X-Kong-Admin-Latency")
	}
}

func (w *adminHeaderWriter) WriteHeader(code int) {
	w.strip()
	w.ResponseWriter.WriteHeader(code)
}

func (w *adminHeaderWriter) Write(b []byte) (int, error) {
	w.strip()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *adminHeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
