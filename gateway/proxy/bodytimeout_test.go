package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/balancer"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// testBodyTimeout is short so the table runs in seconds; the rule under test
// does not depend on its size.
const testBodyTimeout = 300 * time.Millisecond

// slack bounds how late a timeout may fire on a loaded 2-core CI machine
// (the race detector slows everything down several times).
const slack = 2 * time.Second

// countingUpstream counts requests and records how each one's body read ended.
type countingUpstream struct {
	srv      *httptest.Server
	requests atomic.Int64
	bodyErrs chan error
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{bodyErrs: make(chan error, 16)}
	u.srv = upstream(t, func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		_, err := io.Copy(io.Discard, r.Body)
		u.bodyErrs <- err
		w.Write([]byte("ok"))
	})
	return u
}

// readAnswer reads one response from c and reports whether the gateway then
// closed the connection (EOF within the deadline, not a timeout) and how long
// after the response the close came.
func readAnswer(t *testing.T, c net.Conn, within time.Duration) (status int, closed bool, closeDelay time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", within, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	answered := time.Now()
	_, err = br.ReadByte()
	return resp.StatusCode, err == io.EOF, time.Since(answered)
}

// TestClientBodyTimeout plays slow-POST clients over raw TCP: each stalls
// mid-body and must get 408 and a closed connection after the body timeout,
// while the upstream is spared (bodies up to replayLimit are buffered before
// an upstream is picked) or, for a larger streamed body, released without a
// retry and without a health failure against the target.
func TestClientBodyTimeout(t *testing.T) {
	big := strings.Repeat("x", replayLimit+4<<10) // beyond the buffer: streams
	tests := []struct {
		name         string
		head, body   string
		wantUpstream int64 // requests the upstream saw
	}{
		{"content-length, 10 of 100 bytes", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", "0123456789", 0},
		{"chunked, no last chunk", "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "a\r\n0123456789\r\n", 0},
		{"headers only, no body byte", "PUT /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", "", 0},
		{"streamed body beyond the buffer", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n", big, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newCountingUpstream(t)
			ring := newRing(addrOf(up.srv))
			svc := service("s1", "my-upstream:80")
			p := New(Options{ClientBodyTimeout: testBodyTimeout, Balancers: fakeLookup{"my-upstream": ring}})
			p.Apply(&config.Config{Services: []*config.Service{svc}, Routes: []*config.Route{route("r1", "s1", "/")},
				Upstreams: []*config.Upstream{{ID: "u1", Name: "my-upstream"}}})
			gw := gateway(t, p)
			c, err := net.Dial("tcp", addrOf(gw))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			io.WriteString(c, tc.head+tc.body)
			status, closed, closeDelay := readAnswer(t, c, 2*testBodyTimeout+slack)
			elapsed := time.Since(start) - closeDelay
			if status != http.StatusRequestTimeout || !closed {
				t.Errorf("status %d, closed %v; want 408 and the connection closed (nginx's client_body_timeout)", status, closed)
			}
			// The 408 ends the connection at once: a close one more body
			// timeout later means the server waited again for the body it
			// already gave up on (its discard of an unread body).
			if closeDelay >= testBodyTimeout {
				t.Errorf("closed %v after the 408, want under %v", closeDelay, testBodyTimeout)
			}
			// The timeout counts from the last read: it cannot fire earlier.
			if elapsed < testBodyTimeout || elapsed > testBodyTimeout+slack {
				t.Errorf("answered after %v, want within [%v, %v]", elapsed, testBodyTimeout, testBodyTimeout+slack)
			}
			if n := up.requests.Load(); n != tc.wantUpstream {
				t.Errorf("upstream saw %d requests, want %d", n, tc.wantUpstream)
			}
			if tc.wantUpstream > 0 {
				// The upstream connection that got part of the body is closed,
				// so the upstream's read fails instead of waiting forever.
				select {
				case err := <-up.bodyErrs:
					if err == nil {
						t.Error("upstream read the body to a clean end; want the connection cut")
					}
				case <-time.After(slack):
					t.Error("upstream still reading the body: its connection was not closed")
				}
			}
			picks, done, outstanding := ring.snapshot()
			if len(picks) != int(tc.wantUpstream) || outstanding != 0 {
				t.Errorf("picks %v, outstanding %d; want %d pick(s), none outstanding (no retry)", picks, outstanding, tc.wantUpstream)
			}
			for _, d := range done {
				if d.res != (balancer.Result{}) {
					t.Errorf("Done(%s, %+v): a slow client must not count against the target", d.addr, d.res)
				}
			}
		})
	}
}

// TestClientBodyTimeoutResets checks the timeout is per read, as nginx's is:
// a body that keeps coming, slower in total than the timeout, is proxied.
func TestClientBodyTimeoutResets(t *testing.T) {
	up := newCountingUpstream(t)
	p := New(Options{ClientBodyTimeout: testBodyTimeout})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up.srv))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	c, err := net.Dial("tcp", addrOf(gw))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n")
	// Four bytes, a third of the timeout apart: the whole body takes longer
	// than one timeout, no gap does. The pauses are the behaviour under test,
	// not synchronisation.
	for i := 0; i < 4; i++ {
		time.Sleep(testBodyTimeout / 3)
		io.WriteString(c, "x")
	}
	c.SetReadDeadline(time.Now().Add(slack))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || up.requests.Load() != 1 {
		t.Errorf("status %d, upstream requests %d; want 200 and 1", resp.StatusCode, up.requests.Load())
	}
}

// TestClientBodyTimeoutH2 checks the same rule on HTTP/2 streams, where the
// deadline is the stream's, not the connection's: h2c and h2 over TLS.
func TestClientBodyTimeoutH2(t *testing.T) {
	up := newCountingUpstream(t)
	p := New(Options{ClientBodyTimeout: testBodyTimeout})
	defer p.Close()
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up.srv))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	for _, tlsOn := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(p)
		var client *http.Client
		if tlsOn {
			srv.EnableHTTP2 = true
			srv.StartTLS()
			client = srv.Client()
		} else {
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetHTTP1(true)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Start()
			tr := &http.Transport{Protocols: new(http.Protocols)}
			tr.Protocols.SetUnencryptedHTTP2(true)
			client = &http.Client{Transport: tr}
		}
		client.Timeout = testBodyTimeout + slack
		pr, pw := io.Pipe()
		go pw.Write([]byte("0123456789")) // then nothing more
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/p", pr)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("tls %v: %v", tlsOn, err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("tls %v: %s %d; want HTTP/2 408", tlsOn, resp.Proto, resp.StatusCode)
		}
		if d := time.Since(start); d < testBodyTimeout {
			t.Errorf("tls %v: answered after %v, before the timeout %v", tlsOn, d, testBodyTimeout)
		}
		pw.Close()
		client.CloseIdleConnections()
		srv.Close()
	}
	if n := up.requests.Load(); n != 0 {
		t.Errorf("upstream saw %d requests; a buffered body never reaches it unfinished", n)
	}
}

// TestClientBodyTimeoutOff keeps the unsafe setting honest: disabled, a
// stalled body is still waiting after several timeouts.
func TestClientBodyTimeoutOff(t *testing.T) {
	up := newCountingUpstream(t)
	p := New(Options{ClientBodyTimeout: -1})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up.srv))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	c, err := net.Dial("tcp", addrOf(gw))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
	c.SetReadDeadline(time.Now().Add(3 * testBodyTimeout))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("read = %v; want our own read deadline, the gateway still waiting for the body", err)
	}
}

// TestSendTimeout plays a slow-read client: it asks for a large response and
// stops reading. Once the socket buffers are full, the gateway's next write
// waits at most the send timeout (nginx's send_timeout), then the client is
// cut and the upstream connection released, without a health failure.
func TestSendTimeout(t *testing.T) {
	upErr := make(chan error, 1)
	chunk := make([]byte, 32<<10)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		// 256 MiB: far more than loopback socket buffers and the gateway's
		// own buffers hold, so the gateway must block writing to the client.
		w.Header().Set("Content-Length", strconv.Itoa(256<<20))
		var err error
		for i := 0; i < (256<<20)/len(chunk) && err == nil; i++ {
			_, err = w.Write(chunk)
		}
		upErr <- err
	})
	ring := newRing(addrOf(up))
	p := New(Options{SendTimeout: testBodyTimeout, Balancers: fakeLookup{"my-upstream": ring}})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", "my-upstream:80")}, Routes: []*config.Route{route("r1", "s1", "/")},
		Upstreams: []*config.Upstream{{ID: "u1", Name: "my-upstream"}}})
	gw := gateway(t, p)
	c, err := net.Dial("tcp", addrOf(gw))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
	c.Read(make([]byte, 1024)) // the head arrives; then the client stops reading
	select {
	case err := <-upErr:
		if err == nil {
			t.Fatal("the upstream wrote 256 MiB to a client that stopped reading")
		}
	case <-time.After(testBodyTimeout + 5*slack): // buffers fill in well under a second; the rest is slack
		t.Fatal("the upstream is still held by a client that stopped reading")
	}
	eventually(t, slack, func() bool { _, _, out := ring.snapshot(); return out == 0 }, "the pick is released")
	_, done, _ := ring.snapshot()
	if len(done) != 1 || done[0].res.TCPFailure || done[0].res.Timeout {
		t.Errorf("Done calls %+v; want one, without a failure: the client was slow, not the target", done)
	}
}

// TestSendTimeoutIdleUpstream checks the send timeout bounds writes only: a
// response whose upstream pauses longer than it between two pieces (an event
// stream) is delivered whole, on HTTP/1.1 and on h2c, where a stream's expired
// write deadline would otherwise reset it.
func TestSendTimeoutIdleUpstream(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("a"))
		w.(http.Flusher).Flush()
		time.Sleep(3 * testBodyTimeout) // the pause under test, not synchronisation
		w.Write([]byte("b"))
	})
	p := New(Options{SendTimeout: testBodyTimeout})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	srv := httptest.NewUnstartedServer(p)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	defer p.Close()
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(!h2)
		tr.Protocols.SetUnencryptedHTTP2(h2)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events", nil)
		resp, body := do(t, &http.Client{Transport: tr}, req)
		if resp.StatusCode != 200 || body != "ab" {
			t.Errorf("%s: status %d body %q; want 200 \"ab\"", resp.Proto, resp.StatusCode, body)
		}
		tr.CloseIdleConnections()
	}
}

// TestUnreadBodyBounded covers a request the gateway answers without reading
// its body (here a plugin's 401): net/http then discards the body to keep the
// connection, and a client that stalls mid-body must not hold it forever.
func TestUnreadBodyBounded(t *testing.T) {
	up := newCountingUpstream(t)
	p := New(Options{ClientBodyTimeout: testBodyTimeout, Plugins: denyRoute("r1")})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up.srv))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	out, closed := rawExchange(t, addrOf(gw), "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789", testBodyTimeout+slack)
	rs := responses(t, out)
	if len(rs) != 1 || rs[0].StatusCode != http.StatusUnauthorized || !closed {
		t.Errorf("%d responses, closed %v: %.120q; want one 401 and the connection closed within %v",
			len(rs), closed, out, testBodyTimeout+slack)
	}
}
