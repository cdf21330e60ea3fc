package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// loopGateway serves p on the HTTP/1.1 connection loop and returns its address.
func loopGateway(t *testing.T, p *Proxy, header, idle time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &HTTP1Server{Proxy: p, HeaderTimeout: header, IdleTimeout: idle}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		p.Close()
	})
	return ln.Addr().String()
}

// loopUpstream answers every request 200 with the length of the body it
// got, and counts the requests.
func loopUpstream(t *testing.T) (addr string, n *atomic.Int64) {
	n = new(atomic.Int64)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %d bytes", len(b))
	})
	return addrOf(up), n
}

func loopProxy(t *testing.T, upAddr string, opts Options) *Proxy {
	p := New(opts)
	p.Apply(&config.Config{
		Services: []*config.Service{service("s", upAddr)},
		Routes:   []*config.Route{route("r", "s", "/")},
	})
	return p
}

// exchange sends raw on a fresh connection and reads until the gateway closes
// or wait passes; it returns the first status line and whether it closed.
func exchange(t *testing.T, addr, raw string, wait time.Duration) (status string, all string, closed bool) {
	t.Helper()
	all, err := sendRaw(t, addr, raw, wait)
	closed = err == nil || !isTimeout(err) // a reset is a close too
	status, _, _ = strings.Cut(all, "\r\n")
	return status, all, closed
}

// TestLoopSmuggling is the request-smuggling corpus: every ambiguous framing
// is refused before anything reaches an upstream. The nginx column is what
// nginx 1.22.1 answered to the same bytes (a plain `return 200` location;
// probed with a raw socket), and the gateway answers the same unless the
// column says why not.
func TestLoopSmuggling(t *testing.T) {
	upAddr, forwarded := loopUpstream(t)
	addr := loopGateway(t, loopProxy(t, upAddr, Options{}), time.Second, 5*time.Second)
	const ok = "HTTP/1.1 200 OK"
	tests := []struct {
		name, raw string
		nginx     string // nginx 1.22.1's status line ("" : its answer is described in note)
		want      string // the gateway's status line
		forwarded int64  // requests the upstream got
		keepOpen  bool   // the connection stays open afterwards
		note      string
	}{
		// CL.TE and TE.CL: both framings present.
		{"CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"CL.TE with smuggled request", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		// TE.TE: obfuscated Transfer-Encoding.
		{"TE chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "501 Not Implemented", "HTTP/1.1 501 Not Implemented", 0, false, ""},
		{"TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", "501 Not Implemented", "HTTP/1.1 501 Not Implemented", 0, false, ""},
		{"TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "501 Not Implemented", "HTTP/1.1 501 Not Implemented", 0, false, ""},
		{"TE space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"TE tab before value", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", "501 Not Implemented", "HTTP/1.1 501 Not Implemented", 0, false, ""},
		{"TE case games", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "200 OK (kept alive)", ok, 1, false,
			"read as chunked, as nginx does; the gateway closes after any chunked request (mayHideFraming)"},
		{"TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		// Content-Length games.
		{"CL twice, different", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"CL twice, same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"CL with plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nab", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nab", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"CL overflowing", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		// Chunk sizes.
		{"chunk size not hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"chunk size negative", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"chunk size overflowing", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nab\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"chunk longer than its size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		// Line endings and bytes that parsers disagree on.
		{"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", "200 OK (kept alive)", "", 0, false,
			"nginx accepts LF as a line end; fasthttp waits for a byte past a bare-LF head, so a lone one is closed at client_header_timeout, never forwarded"},
		{"bare LF line ends, then another request", "GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "200 OK (kept alive)", ok, 2, true,
			"read as nginx reads it; the upstream gets the request re-framed with CRLF"},
		{"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"NUL in a name", "GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: b\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"space in a name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"control byte in the target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		// Request lines.
		{"HTTP/0.9 request line", "GET /\r\n\r\n", "", "HTTP/1.1 400 Bad Request", 0, false,
			"nginx answers a 0.9 simple request with a bare body and closes; the gateway refuses it and closes"},
		{"HTTP/2.0 in an HTTP/1 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "505 HTTP Version Not Supported", "HTTP/1.1 505 HTTP Version Not Supported", 0, false, ""},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "200 OK (kept alive)", ok, 1, true, "a later 1.x is served as 1.1"},
		{"lower-case method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"no Host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		// Sizes (large_client_header_buffers 4 8k).
		{"request line over 8 KiB", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414 Request-URI Too Large", "HTTP/1.1 414 Request URI Too Long", 0, false, ""},
		{"request line over the loop's buffer", "GET /" + strings.Repeat("a", 60000) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414 Request-URI Too Large", "HTTP/1.1 414 Request URI Too Long", 0, false, ""},
		{"header line over 8 KiB", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, "nginx's 494, which Kong words as 400"},
		{"head over 32 KiB", "GET / HTTP/1.1\r\nHost: a\r\n" + manyHeaders(10, 4000) + "\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"head over the loop's buffer", "GET / HTTP/1.1\r\nHost: a\r\n" + manyHeaders(20, 4000) + "\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		{"1,001 header lines", "GET / HTTP/1.1\r\nHost: a\r\n" + manyHeaders(1001, 1) + "\r\n", "400 Bad Request", "HTTP/1.1 400 Bad Request", 0, false, ""},
		// Sound requests, for contrast.
		{"Content-Length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "200 OK (kept alive)", ok, 1, true, ""},
		{"chunked body with a trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", "200 OK (kept alive)", ok, 1, false, "closed after a chunked request, see above"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := forwarded.Load()
			status, all, closed := exchange(t, addr, tc.raw, 1500*time.Millisecond)
			if status != tc.want {
				t.Errorf("answer %q, want %q (nginx: %s)\n%s", status, tc.want, tc.nginx, all)
			}
			if got := forwarded.Load() - before; got != tc.forwarded {
				t.Errorf("upstream got %d requests, want %d", got, tc.forwarded)
			}
			if closed == tc.keepOpen {
				t.Errorf("connection closed %v, want %v", closed, !tc.keepOpen)
			}
			if tc.want != ok && tc.want != "" && !strings.Contains(all, "X-Kong-Request-Id: ") {
				t.Errorf("refusal without Kong's headers:\n%s", all)
			}
		})
	}
}

func manyHeaders(n, size int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "X-H%d: %s\r\n", i, strings.Repeat("a", size))
	}
	return b.String()
}

// TestLoopTimeouts: client_header_timeout (slowloris), client_body_timeout
// (408 and close), keepalive_timeout, on the loop.
func TestLoopTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const slack = 2 * time.Second
	upAddr, forwarded := loopUpstream(t)
	p := loopProxy(t, upAddr, Options{ClientBodyTimeout: timeout})
	addr := loopGateway(t, p, timeout, timeout)
	tests := []struct {
		name, raw string
		trickle   bool   // send one byte every timeout/3 instead of all at once
		want      string // the start of the answer before the close ("" none)
	}{
		{"head never ends", "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\n", false, ""},
		{"head trickled (slowloris)", "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 1111111111111111111111111111\r\n\r\n", true, ""},
		{"body stalls", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345", false, "HTTP/1.1 408 "},
		{"chunked body stalls", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12", false, "HTTP/1.1 408 "},
		{"idle keep-alive connection", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, "HTTP/1.1 200 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.trickle {
				go func() {
					for i := 0; i < len(tc.raw); i++ {
						if _, err := c.Write([]byte{tc.raw[i]}); err != nil {
							return
						}
						time.Sleep(timeout / 3)
					}
				}()
			} else if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(timeout + slack))
			b, err := io.ReadAll(bufio.NewReader(c))
			if err != nil && isTimeout(err) { // a reset is a close too (bytes were unread)
				t.Fatalf("not closed within %v: %v (got %q)", timeout+slack, err, b)
			}
			if tc.want == "" && len(b) > 0 || !strings.HasPrefix(string(b), tc.want) {
				t.Errorf("got %q, want a close after %q", b, tc.want)
			}
			if el := time.Since(start); el < timeout {
				t.Errorf("closed after %v, before the %v timeout", el, timeout)
			}
		})
	}
	if n := forwarded.Load(); n != 1 {
		t.Errorf("upstream got %d requests, want 1 (the idle connection's)", n)
	}
}

// TestLoopHeaderTimeoutEndsWithTheHead: client_header_timeout bounds the
// head only (nginx). A body may arrive after it has passed; with the body
// timeout disabled nothing bounds its reads at all. The first head's deadline
// runs from the accept, so a body read that kept it would fail at 200 ms.
func TestLoopHeaderTimeoutEndsWithTheHead(t *testing.T) {
	const headerTimeout = 200 * time.Millisecond
	upAddr, forwarded := loopUpstream(t)
	addr := loopGateway(t, loopProxy(t, upAddr, Options{ClientBodyTimeout: -1}), headerTimeout, headerTimeout)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The body's 4 bytes 150 ms apart: the last arrives 600 ms after the
	// accept, 3 header timeouts later (pacing of the client, not a wait).
	for _, b := range []byte("body") {
		time.Sleep(150 * time.Millisecond)
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Fatalf("got %q, %v; want 200 for a body sent after the header timeout", line, err)
	}
	if n := forwarded.Load(); n != 1 {
		t.Errorf("upstream got %d requests, want 1", n)
	}
}

// TestLoopKeepAlivePipelining: requests on one connection, pipelined in one
// write, are answered in order, bodies framed.
func TestLoopKeepAlivePipelining(t *testing.T) {
	upAddr, forwarded := loopUpstream(t)
	addr := loopGateway(t, loopProxy(t, upAddr, Options{}), time.Second, time.Second)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab" +
		"GET /b HTTP/1.1\r\nHost: a\r\n\r\n" +
		"HEAD /c HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	io.WriteString(c, req)
	br := bufio.NewReader(c)
	for i, want := range []string{"got 2 bytes", "got 0 bytes", "", "got 0 bytes"} {
		method := "GET"
		if i == 2 {
			method = "HEAD"
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("response %d: %d %q, want 200 %q", i, resp.StatusCode, b, want)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after Connection: close: %v, want EOF", err)
	}
	if n := forwarded.Load(); n != 4 {
		t.Errorf("upstream got %d, want 4", n)
	}
}

// TestLoopClientGone: a client that leaves while its request waits for a
// slow upstream cancels the upstream exchange (the connection's context).
func TestLoopClientGone(t *testing.T) {
	gone := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(10 * time.Second):
		}
	})
	addr := loopGateway(t, loopProxy(t, addrOf(up), Options{}), time.Second, time.Second)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(2 * watchDelay)
	c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client left")
	}
}

// TestLoopH2C: a connection that opens with the HTTP/2 preface is handed to
// the net/http server (h2c with prior knowledge) and proxied by the same core.
func TestLoopH2C(t *testing.T) {
	upAddr, forwarded := loopUpstream(t)
	p := loopProxy(t, upAddr, Options{})
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &HTTP1Server{Proxy: p, HeaderTimeout: time.Second, IdleTimeout: time.Second,
		H2C: &http.Server{Handler: p, Protocols: &protos}}
	go s.Serve(ln)
	defer s.Shutdown(context.Background())
	var clientProtos http.Protocols
	clientProtos.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &clientProtos}}
	resp, err := client.Post("http://"+ln.Addr().String()+"/x", "text/plain", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(b) != "got 3 bytes" {
		t.Errorf("%s %d %q, want HTTP/2.0 200 \"got 3 bytes\"", resp.Proto, resp.StatusCode, b)
	}
	if forwarded.Load() != 1 {
		t.Errorf("upstream got %d requests, want 1", forwarded.Load())
	}
}
