package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// denyRoute stands in for key-auth on one route: every request it matches is
// refused with Kong's 401.
type denyRoute string

func (d denyRoute) Access(ctx *plugins.Context) *plugins.Exit {
	if ctx.Route != nil && ctx.Route.ID == string(d) {
		return &plugins.Exit{Status: http.StatusUnauthorized, Message: "No API key found in request"}
	}
	return nil
}

// rawExchange writes raw to a new connection to addr and returns everything
// the gateway sent until it closed the connection, or until within passed
// (then closed is false).
func rawExchange(t *testing.T, addr, raw string, within time.Duration) (out string, closed bool) {
	t.Helper()
	out, err := sendRaw(t, addr, raw, within)
	return out, err == nil
}

// sendRaw writes raw to a new connection to addr and reads until the gateway
// closes it or within passes; err is the read's end (nil: a clean close).
func sendRaw(t *testing.T, addr, raw string, within time.Duration) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	return string(b), err
}

// responses parses every response in out (as answers to requests of method).
func responses(t *testing.T, out string) []*http.Response {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(out))
	var rs []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return rs
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rs = append(rs, resp)
	}
}

// TestPathNormalisation routes "/open" (open) and "/open/secret" (refused
// as key-auth would) and sends the encodings an attacker would try: every
// request is routed and forwarded by its normalised path, so the upstream
// never gets a dot segment it could resolve into the protected resource.
func TestPathNormalisation(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{Plugins: denyRoute("secret")})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))},
		Routes: []*config.Route{route("open", "s1", "/open"), route("secret", "s1", "/open/secret")}})
	gw := gateway(t, p)
	tests := []struct {
		path   string
		status int
		uri    string // what the upstream got, when proxied
	}{
		// Kong: normalised "/open../request/secret"; strip_path leaves
		// "../request/secret", whose leading "../" sanitize_uri_postfix drops.
		{"/open%2e%2e/request/secret", 200, "/request/secret"},
		{"/open/%2e%2e/open/secret", 401, ""}, // = /open/secret: the protected route decides
		{"/open/x/%2E%2E/secret", 401, ""},
		{"/open/./secret", 401, ""},
		{"/open//secret", 401, ""}, // merged slashes
		{"/open/x/%2e%2e/%2e%2e/secret", 404, ""},
		{"/open/a%2Fb", 200, "/a%2Fb"},             // reserved: stays encoded
		{"/open/a%2fb/%2e%2e", 200, "/"},           // "a%2Fb" is one segment, removed whole
		{"/open/%7euser%20x", 200, "/~user%20x"},   // unreserved decoded, space encoded again
		{"/open/%252e%252e/", 200, "/%252e%252e/"}, // an encoded "%" is not decoded twice
		{"/open/a%00b", 400, ""},                   // nginx: 400
		{"/open/%E2%82%AC", 200, "/%E2%82%AC"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			out, _ := rawExchange(t, addrOf(gw), "GET "+tc.path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 5*time.Second)
			rs := responses(t, out)
			if len(rs) != 1 || rs[0].StatusCode != tc.status {
				t.Fatalf("got %q; want one %d", out, tc.status)
			}
			if tc.uri != "" {
				body := out[strings.Index(out, "\r\n\r\n")+4:]
				if s := decodeSeen(t, body); s.URI != tc.uri {
					t.Errorf("upstream got %q, want %q", s.URI, tc.uri)
				}
			}
		})
	}
}

// TestFramingClosesOn426: the https redirect's "Connection: Upgrade" does not
// undo the close a chunked request asked for.
func TestFramingClosesOn426(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{})
	rt := route("r1", "s1", "/")
	rt.Protocols = []string{"https"}
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{rt}})
	gw := gateway(t, p)
	out, closed := rawExchange(t, addrOf(gw), "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", time.Second)
	if rs := responses(t, out); len(rs) != 1 || rs[0].StatusCode != http.StatusUpgradeRequired || !closed {
		t.Errorf("%d responses, closed %v: %.200q; want one 426 and a close", len(rs), closed, out)
	}
}

// TestFramingCloses sends, over raw TCP, the framings a front end and this
// server could read differently, each followed by a pipelined request: the
// gateway must answer the first request once and close, so the trailing bytes
// are never served as a request of their own (smuggling). A Content-Length
// request keeps the connection, proving the rule is not "close always".
func TestFramingCloses(t *testing.T) {
	var seenSmuggled atomic.Bool
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.RequestURI, "smuggled") {
			seenSmuggled.Store(true)
		}
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	})
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	const next = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	tests := []struct {
		name      string
		raw       string
		responses int  // answered before the connection ended
		closed    bool // the gateway closed it
	}{
		{"content-length and transfer-encoding",
			"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + next, 1, true},
		{"transfer-encoding, then content-length",
			"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + next, 1, true},
		{"plain chunked (closed too: it cannot be told apart)",
			"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + next, 1, true},
		{"HTTP/1.0 keep-alive with transfer-encoding (ignored by net/http)",
			"POST /a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + next, 1, true},
		{"HTTP/1.0 keep-alive, no body",
			"GET /a HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n" + next, 1, true},
		{"content-length only: keep-alive and pipelining still work",
			"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n", 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// 1s: an open connection is noticed by our own deadline; a
			// closing gateway answers in milliseconds.
			out, closed := rawExchange(t, addrOf(gw), tc.raw, time.Second)
			rs := responses(t, out)
			if len(rs) != tc.responses || closed != tc.closed {
				t.Errorf("%d responses, closed %v; want %d, %v:\n%s", len(rs), closed, tc.responses, tc.closed, out)
			}
			for _, r := range rs {
				if r.StatusCode != 200 {
					t.Errorf("status %d, want 200", r.StatusCode)
				}
			}
		})
	}
	if seenSmuggled.Load() {
		t.Error("a trailing request reached the upstream")
	}
}

// TestHopByHopHeaders is Kong's header rules, one row per request header: what
// the upstream gets. httpoxy's Proxy header is the reason for the table.
func TestHopByHopHeaders(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	tests := []struct {
		name     string
		header   http.Header
		check    string // the upstream header to look at
		upstream string // its values there, joined; "" = absent
	}{
		{"Proxy is dropped (httpoxy)", http.Header{"Proxy": {"http://evil:3128"}}, "Proxy", ""},
		{"Proxy-Connection is dropped", http.Header{"Proxy-Connection": {"keep-alive"}}, "Proxy-Connection", ""},
		{"Proxy-Authorization passes (end-to-end in Kong)", http.Header{"Proxy-Authorization": {"Basic eA=="}}, "Proxy-Authorization", "Basic eA=="},
		{"a header named in Connection is dropped", http.Header{"Connection": {"keep-alive, X-Secret"}, "X-Secret": {"1"}}, "X-Secret", ""},
		{"Proxy-Authorization named in Connection is dropped", http.Header{"Connection": {"Proxy-Authorization"}, "Proxy-Authorization": {"Basic eA=="}}, "Proxy-Authorization", ""},
		{"TE is reduced to trailers", http.Header{"Te": {"gzip, trailers"}}, "Te", "trailers"},
		{"TE without trailers is dropped", http.Header{"Te": {"gzip"}}, "Te", ""},
		{"Keep-Alive is dropped", http.Header{"Keep-Alive": {"timeout=5"}}, "Keep-Alive", ""},
		{"Upgrade without a WebSocket handshake is dropped", http.Header{"Upgrade": {"h2c"}}, "Upgrade", ""},
		{"Trailer is dropped (request trailers are not forwarded)", http.Header{"Trailer": {"X-T"}}, "Trailer", ""},
		{"an ordinary header passes", http.Header{"X-Plain": {"a", "b"}}, "X-Plain", "a,b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, gw.URL+"/h", nil)
			for k, vv := range tc.header {
				req.Header[k] = vv
			}
			resp, body := do(t, nil, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := strings.Join(decodeSeen(t, body).Header[tc.check], ","); got != tc.upstream {
				t.Errorf("upstream %s = %q, want %q", tc.check, got, tc.upstream)
			}
		})
	}

	t.Run("response", func(t *testing.T) {
		up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Proxy-Authenticate", `Basic realm="up"`)
			w.Header().Set("Connection", "X-Conn-Only")
			w.Header().Set("X-Conn-Only", "1")
			w.Header().Set("Proxy-Connection", "keep-alive")
		})
		p := New(Options{})
		p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
		gw := gateway(t, p)
		resp, _ := get(t, gw.URL+"/")
		if got := resp.Header.Get("Proxy-Authenticate"); got != `Basic realm="up"` {
			t.Errorf("Proxy-Authenticate = %q; it is end-to-end", got)
		}
		if resp.Header.Get("X-Conn-Only") != "" || resp.Header.Get("Proxy-Connection") != "" {
			t.Errorf("hop-by-hop response headers passed: %v", resp.Header)
		}
	})
}

// TestNginxRefusals are the requests nginx answers itself, in Kong's error
// shape: heads beyond large_client_header_buffers (4 8k) and TRACE. None may
// reach the upstream.
func TestNginxRefusals(t *testing.T) {
	var hits atomic.Int64
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	line := func(name string, n int) string { // a header line of n bytes with its CRLF
		return name + ": " + strings.Repeat("v", n-len(name)-4) + "\r\n"
	}
	tests := []struct {
		name   string
		raw    string
		status int
		msg    string // Kong's message; "" for a proxied 200
		closed bool
	}{
		{"header line of 8 KiB fits", "GET / HTTP/1.1\r\nHost: a\r\n" + line("X-Big", 8<<10) + "Connection: close\r\n\r\n", 200, "", true},
		{"header line over 8 KiB", "GET / HTTP/1.1\r\nHost: a\r\n" + line("X-Big", 8<<10+1) + "\r\n", 400, "Request header or cookie too large", true},
		{"a cookie over 8 KiB", "GET / HTTP/1.1\r\nHost: a\r\n" + line("Cookie", 9<<10) + "\r\n", 400, "Request header or cookie too large", true},
		{"three 8 KiB lines fit 32 KiB", "GET / HTTP/1.1\r\nHost: a\r\n" + line("X-A", 8<<10) + line("X-B", 8<<10) + line("X-C", 8<<10) + "Connection: close\r\n\r\n", 200, "", true},
		{"head over 32 KiB in small lines", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat(line("X-Many", 1<<10), 33) + "\r\n", 400, "Request header or cookie too large", true},
		{"request line over 8 KiB", "GET /" + strings.Repeat("a", 8<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, "URI too long", true},
		{"TRACE", "TRACE / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 405, "Method not allowed", true},
		{"TRACE keeps the connection (nginx does)", "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "Method not allowed", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			out, closed := rawExchange(t, addrOf(gw), tc.raw, time.Second)
			rs := responses(t, out)
			if len(rs) != 1 || rs[0].StatusCode != tc.status || closed != tc.closed {
				t.Fatalf("%d responses, closed %v: %.200q; want one %d, closed %v", len(rs), closed, out, tc.status, tc.closed)
			}
			if tc.msg != "" {
				// Kong's error handler: text/plain (error_default_type)
				// when the request has no Accept and no Content-Type.
				if !strings.Contains(out, "\r\n\r\n"+tc.msg+"\nrequest_id: ") {
					t.Errorf("body %.300q lacks Kong's message %q", out, tc.msg)
				}
				if hits.Load() != before {
					t.Error("the refused request reached the upstream")
				}
			}
		})
	}
}

// pathLimit stands in for rate-limiting with limit_by=path: it refuses one
// path, compared as Kong's plugins compare it, to kong.request.get_path().
type pathLimit string

func (l pathLimit) Access(ctx *plugins.Context) *plugins.Exit {
	if ctx.Request.URL.Path == string(l) {
		return &plugins.Exit{Status: http.StatusTooManyRequests, Message: "API rate limit exceeded"}
	}
	return nil
}

// TestPluginsSeeNormalisedPath: a plugin keyed on the path cannot be dodged
// by spelling the same path another way.
func TestPluginsSeeNormalisedPath(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{Plugins: pathLimit("/api/limited")})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	for _, path := range []string{"/api/limited", "/api/./limited", "/api//limited", "/api/x/../limited", "/%61pi/limited", "/api/limit%65d"} {
		out, _ := rawExchange(t, addrOf(gw), "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 5*time.Second)
		if rs := responses(t, out); len(rs) != 1 || rs[0].StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s: %.60q; want 429, the path is /api/limited", path, out)
		}
	}
}
