package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/balancer"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// ringGateway starts a gateway whose service "svc" goes through an upstream
// named "ring" served by a ringPicker over addrs.
func ringGateway(t *testing.T, retries int, tune func(*config.Service), addrs ...string) (string, *ringPicker, *Proxy) {
	t.Helper()
	ring := newRing(addrs...)
	p := New(Options{Balancers: fakeLookup{"ring": ring}})
	svc := service("svc", "ring:80")
	svc.Retries = retries
	if tune != nil {
		tune(svc)
	}
	p.Apply(&config.Config{
		Services:  []*config.Service{svc},
		Routes:    []*config.Route{route("r", "svc", "/")},
		Upstreams: []*config.Upstream{{ID: "u", Name: "ring"}},
	})
	return gateway(t, p).URL, ring, p
}

// blackhole returns a loopback address whose listen queue is full, so a new
// connect gets no SYN-ACK and hangs until the dialer's timeout: the only way to
// see a connect timeout without leaving the machine.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skipf("bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skipf("listen: %v", err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr // the queue is full: connects now hang
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill the listen queue on this kernel")
	return ""
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stallHead := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	stallBody := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	trickle := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for i := 0; i < 5; i++ {
			time.Sleep(60 * time.Millisecond) // the upstream's pace, not synchronisation
			io.WriteString(w, "x")
			w.(http.Flusher).Flush()
		}
	})
	const readTimeout = 200 * time.Millisecond
	// Generous for a loaded 2-core machine under -race, yet it fails if the
	// timeout were not enforced (the upstreams stall until the test ends).
	const margin = 150 * time.Millisecond

	t.Run("read timeout before headers is 504 within read_timeout", func(t *testing.T) {
		gw, ring, _ := ringGateway(t, 0, func(s *config.Service) { s.ReadTimeout = int(readTimeout / time.Millisecond) }, addrOf(stallHead))
		start := time.Now()
		resp, body := get(t, gw+"/")
		elapsed := time.Since(start)
		if resp.StatusCode != 504 || !strings.Contains(body, msgTimeout) {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		t.Logf("504 after %v (read_timeout %v)", elapsed, readTimeout)
		if elapsed < readTimeout || elapsed > readTimeout+margin {
			t.Errorf("answered after %v, want within [%v, %v]", elapsed, readTimeout, readTimeout+margin)
		}
		_, done, _ := ring.snapshot()
		if len(done) != 1 || !done[0].res.Timeout {
			t.Errorf("Done calls %+v, want one timeout", done)
		}
	})

	t.Run("read timeout on a reused keep-alive connection is one read_timeout", func(t *testing.T) {
		// The first request leaves a pooled connection; the second stalls on it.
		// A timeout is a slow peer, not a dead connection: no second wait on a
		// fresh connection to the same peer (that would answer after 2×).
		var calls atomic.Int32
		slowSecond := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				return
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		gw, ring, _ := ringGateway(t, 0, func(s *config.Service) { s.ReadTimeout = int(readTimeout / time.Millisecond) }, addrOf(slowSecond))
		if resp, _ := get(t, gw+"/"); resp.StatusCode != 200 {
			t.Fatalf("first request: %d", resp.StatusCode)
		}
		start := time.Now()
		resp, body := get(t, gw+"/")
		elapsed := time.Since(start)
		if resp.StatusCode != 504 || !strings.Contains(body, msgTimeout) {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		if elapsed > readTimeout+margin {
			t.Errorf("answered after %v, want within %v", elapsed, readTimeout+margin)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("upstream saw %d requests, want 2 (no same-peer resend after a timeout)", n)
		}
		_, done, _ := ring.snapshot()
		if len(done) != 2 || !done[1].res.Timeout {
			t.Errorf("Done calls %+v, want the second one a timeout", done)
		}
	})

	t.Run("read timeout between body reads aborts the stream", func(t *testing.T) {
		gw, ring, _ := ringGateway(t, 0, func(s *config.Service) { s.ReadTimeout = int(readTimeout / time.Millisecond) }, addrOf(stallBody))
		start := time.Now()
		resp, err := http.Get(gw + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(start)
		if resp.StatusCode != 200 || err == nil || string(b) != "partial" {
			t.Fatalf("status %d body %q err %v: want a cut stream", resp.StatusCode, b, err)
		}
		t.Logf("stream cut after %v (read_timeout %v)", elapsed, readTimeout)
		if elapsed < readTimeout || elapsed > readTimeout+margin {
			t.Errorf("stream cut after %v, want within [%v, %v]", elapsed, readTimeout, readTimeout+margin)
		}
		eventually(t, time.Second, func() bool { _, d, _ := ring.snapshot(); return len(d) == 1 }, "Done after the stall")
		_, done, _ := ring.snapshot()
		if !done[0].res.Timeout || done[0].res.Status != 200 {
			t.Errorf("Done %+v, want status 200 with timeout", done[0].res)
		}
	})

	t.Run("read timeout is per read, not per response", func(t *testing.T) {
		gw, _, _ := ringGateway(t, 0, func(s *config.Service) { s.ReadTimeout = int(readTimeout / time.Millisecond) }, addrOf(trickle))
		resp, body := get(t, gw+"/")
		if resp.StatusCode != 200 || body != "xxxxx" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
	})

	t.Run("connect timeout is 504 and the next peer is tried", func(t *testing.T) {
		hole := blackhole(t)
		ok := upstream(t, echo)
		const connect = 150 * time.Millisecond
		gw, ring, _ := ringGateway(t, 0, func(s *config.Service) { s.ConnectTimeout = int(connect / time.Millisecond) }, hole)
		start := time.Now()
		resp, _ := get(t, gw+"/")
		elapsed := time.Since(start)
		if resp.StatusCode != 504 {
			t.Fatalf("status %d, want 504", resp.StatusCode)
		}
		t.Logf("504 after %v (connect_timeout %v)", elapsed, connect)
		if elapsed < connect || elapsed > connect+margin {
			t.Errorf("answered after %v, want within [%v, %v]", elapsed, connect, connect+margin)
		}
		_, done, _ := ring.snapshot()
		if len(done) != 1 || !done[0].res.Timeout {
			t.Errorf("Done %+v", done)
		}

		gw2, ring2, _ := ringGateway(t, 1, func(s *config.Service) { s.ConnectTimeout = int(connect / time.Millisecond) }, hole, addrOf(ok))
		if resp, body := get(t, gw2+"/"); resp.StatusCode != 200 {
			t.Fatalf("with a retry: status %d %s", resp.StatusCode, body)
		}
		picks, _, _ := ring2.snapshot()
		if len(picks) != 2 || picks[0] != hole || picks[1] != addrOf(ok) {
			t.Errorf("picks %v", picks)
		}
	})

	t.Run("write timeout when the upstream stops reading", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		var held []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, c) // accepted, never read
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range held {
				c.Close()
			}
		})
		const write = 200 * time.Millisecond
		gw, ring, _ := ringGateway(t, 0, func(s *config.Service) { s.WriteTimeout = int(write / time.Millisecond) }, l.Addr().String())
		body := strings.NewReader(strings.Repeat("z", 64<<20)) // far beyond any socket buffer
		req, _ := http.NewRequest(http.MethodPost, gw+"/upload", body)
		resp, out := do(t, nil, req)
		if resp.StatusCode != 504 || !strings.Contains(out, msgTimeout) {
			t.Fatalf("status %d body %s", resp.StatusCode, out)
		}
		_, done, _ := ring.snapshot()
		if len(done) != 1 || !done[0].res.Timeout {
			t.Errorf("Done %+v", done)
		}
	})
}

// scripted is a raw HTTP/1.1 upstream: for each request it calls act with the
// connection's index and the request's index on that connection. act writes a
// response, or returns false to close the connection without answering.
type scripted struct {
	l     net.Listener
	hits  atomic.Int64
	conns atomic.Int64
	mu    sync.Mutex
	open  []net.Conn
	body  []string
}

func newScripted(t *testing.T, act func(conn, n int, req *http.Request, w *bufio.Writer) bool) *scripted {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			idx := int(s.conns.Add(1)) - 1
			s.mu.Lock()
			s.open = append(s.open, c)
			s.mu.Unlock()
			go func() {
				defer c.Close()
				br, bw := bufio.NewReader(c), bufio.NewWriter(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					s.hits.Add(1)
					s.mu.Lock()
					s.body = append(s.body, string(b))
					s.mu.Unlock()
					if !act(idx, n, req, bw) {
						return
					}
					bw.Flush()
				}
			}()
		}
	}()
	t.Cleanup(s.kill)
	return s
}

func (s *scripted) addr() string { return s.l.Addr().String() }

// kill closes the listener and every connection, like a SIGKILLed process.
func (s *scripted) kill() {
	s.l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
}

func okResponse(w *bufio.Writer, body string) bool {
	w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return true
}

func TestRetries(t *testing.T) {
	t.Run("count: 1 + retries tries, each on another peer", func(t *testing.T) {
		a, b, c, d := deadAddr(t), deadAddr(t), deadAddr(t), deadAddr(t)
		gw, ring, _ := ringGateway(t, 2, nil, a, b, c, d)
		resp, _ := get(t, gw+"/")
		if resp.StatusCode != 502 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		picks, done, out := ring.snapshot()
		if len(picks) != 3 || picks[0] == picks[1] || picks[1] == picks[2] || picks[0] == picks[2] {
			t.Errorf("picks %v, want 3 distinct peers", picks)
		}
		if len(done) != 3 || out != 0 {
			t.Fatalf("Done %+v outstanding %d", done, out)
		}
		for _, d := range done {
			if !d.res.TCPFailure || d.res.Timeout || d.res.Status != 0 {
				t.Errorf("Done %+v, want a TCP failure", d)
			}
		}
	})

	t.Run("stops when the balancer has no further peer", func(t *testing.T) {
		gw, ring, _ := ringGateway(t, 5, nil, deadAddr(t), deadAddr(t))
		if resp, _ := get(t, gw+"/"); resp.StatusCode != 502 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if picks, _, _ := ring.snapshot(); len(picks) != 2 {
			t.Errorf("picks %v", picks)
		}
	})

	t.Run("next target after a refused connection, for POST too", func(t *testing.T) {
		good := newScripted(t, func(_, _ int, req *http.Request, w *bufio.Writer) bool { return okResponse(w, "good") })
		dead := deadAddr(t)
		gw, ring, _ := ringGateway(t, 1, nil, dead, good.addr())
		req, _ := http.NewRequest(http.MethodPost, gw+"/", strings.NewReader("payload"))
		resp, body := do(t, nil, req)
		if resp.StatusCode != 200 || body != "good" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		if good.body[0] != "payload" {
			t.Errorf("upstream body %q", good.body[0])
		}
		picks, done, _ := ring.snapshot()
		if len(picks) != 2 || picks[0] != dead || done[1].res.Status != 200 {
			t.Errorf("picks %v done %+v", picks, done)
		}
	})

	t.Run("never on a 5xx response", func(t *testing.T) {
		failing := upstream(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
		good := upstream(t, echo)
		gw, ring, _ := ringGateway(t, 5, nil, addrOf(failing), addrOf(good))
		resp, body := get(t, gw+"/")
		if resp.StatusCode != 500 || !strings.Contains(body, "boom") {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		picks, done, _ := ring.snapshot()
		if len(picks) != 1 || len(done) != 1 || done[0].res.Status != 500 || done[0].res.TCPFailure {
			t.Errorf("picks %v done %+v", picks, done)
		}
	})

	t.Run("a GET that timed out goes to the next target", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		stall := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		good := upstream(t, echo)
		gw, ring, _ := ringGateway(t, 2, func(s *config.Service) { s.ReadTimeout = 100 }, addrOf(stall), addrOf(good))
		if resp, body := get(t, gw+"/"); resp.StatusCode != 200 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		_, done, _ := ring.snapshot()
		if len(done) != 2 || !done[0].res.Timeout || done[0].addr != addrOf(stall) || done[1].res.Status != 200 {
			t.Errorf("Done %+v", done)
		}
	})

	// An upstream that reads the request and then drops the connection.
	dropper := func(t *testing.T) *scripted {
		return newScripted(t, func(_, _ int, _ *http.Request, _ *bufio.Writer) bool { return false })
	}

	t.Run("GET that reached the upstream is retried on the next target", func(t *testing.T) {
		a := dropper(t)
		b := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool { return okResponse(w, "b") })
		gw, _, _ := ringGateway(t, 1, nil, a.addr(), b.addr())
		resp, body := get(t, gw+"/")
		if resp.StatusCode != 200 || body != "b" || a.hits.Load() != 1 || b.hits.Load() != 1 {
			t.Fatalf("status %d body %q hits a=%d b=%d", resp.StatusCode, body, a.hits.Load(), b.hits.Load())
		}
	})

	t.Run("PUT body is replayed on the next target", func(t *testing.T) {
		a := dropper(t)
		b := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool { return okResponse(w, "b") })
		gw, _, _ := ringGateway(t, 1, nil, a.addr(), b.addr())
		payload := strings.Repeat("p", 50000)
		req, _ := http.NewRequest(http.MethodPut, gw+"/", strings.NewReader(payload))
		resp, _ := do(t, nil, req)
		if resp.StatusCode != 200 || b.hits.Load() != 1 || b.body[0] != payload {
			t.Fatalf("status %d, b hits %d, b body %d bytes", resp.StatusCode, b.hits.Load(), len(strings.Join(b.body, "")))
		}
	})

	t.Run("POST that reached the upstream is not re-sent", func(t *testing.T) {
		a := dropper(t)
		b := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool { return okResponse(w, "b") })
		gw, ring, _ := ringGateway(t, 3, nil, a.addr(), b.addr())
		req, _ := http.NewRequest(http.MethodPost, gw+"/", strings.NewReader("once"))
		resp, _ := do(t, nil, req)
		if resp.StatusCode != 502 {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		if a.hits.Load() != 1 || b.hits.Load() != 0 {
			t.Errorf("hits a=%d b=%d, want 1 and 0", a.hits.Load(), b.hits.Load())
		}
		if picks, _, _ := ring.snapshot(); len(picks) != 1 {
			t.Errorf("picks %v", picks)
		}
	})

	t.Run("a large streamed body cannot be replayed", func(t *testing.T) {
		a := dropper(t)
		b := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool { return okResponse(w, "b") })
		gw, _, _ := ringGateway(t, 1, nil, a.addr(), b.addr())
		req, _ := http.NewRequest(http.MethodPut, gw+"/", strings.NewReader(strings.Repeat("p", replayLimit+1)))
		resp, _ := do(t, nil, req)
		if resp.StatusCode != 502 || b.hits.Load() != 0 {
			t.Fatalf("status %d, b hits %d: want 502 and no second send", resp.StatusCode, b.hits.Load())
		}
	})
}

func TestBrokenKeepAlive(t *testing.T) {
	// The upstream answers the first request of each connection and drops the
	// connection when a second request arrives on it: a keep-alive connection
	// that died while pooled, noticed only when used.
	var closeOnReuse = func(t *testing.T) *scripted {
		return newScripted(t, func(_, n int, _ *http.Request, w *bufio.Writer) bool {
			if n > 0 {
				return false
			}
			return okResponse(w, "fresh")
		})
	}
	t.Run("GET goes out again on a fresh connection, no retry needed", func(t *testing.T) {
		up := closeOnReuse(t)
		gw, ring, _ := ringGateway(t, 0, nil, up.addr())
		for i := 0; i < 3; i++ {
			resp, body := get(t, gw+"/")
			if resp.StatusCode != 200 || body != "fresh" {
				t.Fatalf("request %d: status %d body %q", i, resp.StatusCode, body)
			}
		}
		if n := up.conns.Load(); n != 3 {
			t.Errorf("upstream saw %d connections, want 3", n)
		}
		if picks, _, out := ring.snapshot(); len(picks) != 3 || out != 0 {
			t.Errorf("picks %v outstanding %d", picks, out)
		}
	})
	t.Run("POST on a dead keep-alive connection is not re-sent", func(t *testing.T) {
		up := closeOnReuse(t)
		gw, _, _ := ringGateway(t, 0, nil, up.addr())
		get(t, gw+"/")
		req, _ := http.NewRequest(http.MethodPost, gw+"/", strings.NewReader("x"))
		if resp, _ := do(t, nil, req); resp.StatusCode != 502 {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		if up.hits.Load() != 2 {
			t.Errorf("upstream hits %d, want 2 (the POST once)", up.hits.Load())
		}
	})
	t.Run("a pooled connection to a killed target is noticed before use", func(t *testing.T) {
		a := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool { return okResponse(w, "a") })
		b := newScripted(t, func(_, _ int, _ *http.Request, w *bufio.Writer) bool { return okResponse(w, "b") })
		gw, ring, _ := ringGateway(t, 1, nil, a.addr(), b.addr())
		get(t, gw+"/") // a: pooled
		get(t, gw+"/") // b: pooled
		a.kill()
		for i := 0; i < 4; i++ {
			req, _ := http.NewRequest(http.MethodPost, gw+"/", strings.NewReader("x"))
			if resp, body := do(t, nil, req); resp.StatusCode != 200 || body != "b" {
				t.Fatalf("request %d: status %d body %q", i, resp.StatusCode, body)
			}
		}
		_, done, _ := ring.snapshot()
		failures := 0
		for _, d := range done {
			if d.res.TCPFailure {
				failures++
			}
		}
		// One refused dial per request (this ring has no health checks); no
		// POST was written to the dead pooled connection.
		if failures != 4 {
			t.Errorf("%d TCP failures reported for the killed target, want 4 (refused dials): %+v", failures, done)
		}
	})
}

func TestKillTargetUnderLoad(t *testing.T) {
	a := upstream(t, echo)
	b := upstream(t, echo)
	gw, _, _ := ringGateway(t, 5, nil, addrOf(a), addrOf(b))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	const workers, perWorker = 8, 150
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	killAt := int64(workers * perWorker / 3)
	var killOnce sync.Once
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if sent.Add(1) == killAt {
					killOnce.Do(func() {
						a.Listener.Close()
						a.CloseClientConnections()
					})
				}
				resp, err := client.Get(gw + "/load")
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed after a target was killed, want 0", f, workers*perWorker)
	}
}

func TestApplyDoesNotDisturbInFlight(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	})
	p := New(Options{})
	cfg := &config.Config{Services: []*config.Service{service("s1", addrOf(slow))}, Routes: []*config.Route{route("r1", "s1", "/old")}}
	p.Apply(cfg)
	gw := gateway(t, p)

	type result struct {
		status int
		body   string
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(gw.URL + "/old/slow")
		if err != nil {
			res <- result{-1, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{resp.StatusCode, string(b)}
	}()
	<-entered
	// Replace the configuration while the request is upstream: the old route
	// disappears, a new one appears.
	applied := make(chan struct{})
	go func() {
		p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(slow))}, Routes: []*config.Route{route("r2", "s1", "/new")}})
		close(applied)
	}()
	<-applied // Apply returned while the request is still in flight: it never waits for requests
	if resp, _ := get(t, gw.URL+"/old/x"); resp.StatusCode != 404 {
		t.Errorf("old route after Apply: %d", resp.StatusCode)
	}
	if resp, body := get(t, gw.URL+"/new/x"); resp.StatusCode != 200 || body != "done" {
		t.Errorf("new route after Apply: %d %q", resp.StatusCode, body)
	}
	close(release)
	if r := <-res; r.status != 200 || r.body != "done" {
		t.Fatalf("in-flight request: %d %q", r.status, r.body)
	}
}

func TestClientAbortReleasesUpstream(t *testing.T) {
	entered := make(chan struct{}, 1)
	upstreamSawClose := make(chan struct{})
	stall := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done() // closed by the gateway, long before read_timeout
		close(upstreamSawClose)
	})
	gw, ring, _ := ringGateway(t, 0, nil, addrOf(stall)) // read_timeout 60 s
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	conn.Close()
	select {
	case <-upstreamSawClose:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream connection was kept after the client left")
	}
	eventually(t, 5*time.Second, func() bool { _, d, _ := ring.snapshot(); return len(d) == 1 }, "Done reported")
	if _, done, _ := ring.snapshot(); done[0].res != (balancer.Result{}) {
		t.Errorf("Done %+v: a client abort must not count against the target", done[0].res)
	}
}

// cookiePicker hashes like hash_on=cookie/uri_capture would: it records the
// captures it was given and hands out a cookie.
type cookiePicker struct {
	*ringPicker
	captures map[string]string
}

func (c *cookiePicker) Pick(req *balancer.Request) (balancer.Peer, error) {
	c.mu.Lock()
	c.captures = req.URICaptures
	c.mu.Unlock()
	if req.SetCookie == nil {
		req.SetCookie = &http.Cookie{Name: "sticky", Value: "t0", Path: "/"}
	}
	return c.ringPicker.Pick(req)
}

func TestBalancerHashInputs(t *testing.T) {
	up := upstream(t, echo)
	cp := &cookiePicker{ringPicker: newRing(addrOf(up))}
	p := New(Options{Balancers: fakeLookup{"ring": cp}})
	svc := service("svc", "ring:80")
	p.Apply(&config.Config{
		Services: []*config.Service{svc},
		Routes:   []*config.Route{route("r", "svc", `~/users/(?P<user>[a-z]+)/(\d+)`)},
	})
	gw := gateway(t, p)
	resp, _ := get(t, gw.URL+"/users/alice/42/x")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cp.mu.Lock()
	got := cp.captures
	cp.mu.Unlock()
	if got["user"] != "alice" || got["1"] != "alice" || got["2"] != "42" {
		t.Errorf("captures %v", got)
	}
	if c := resp.Header.Get("Set-Cookie"); c != "sticky=t0; Path=/" {
		t.Errorf("Set-Cookie %q", c)
	}
}

func TestClientAbortDuringConnect(t *testing.T) {
	hole := blackhole(t)
	gw, ring, _ := ringGateway(t, 3, func(s *config.Service) { s.ConnectTimeout = 10000 }, hole, deadAddr(t))
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	eventually(t, 5*time.Second, func() bool { p, _, _ := ring.snapshot(); return len(p) == 1 }, "the first pick")
	conn.Close()
	eventually(t, 5*time.Second, func() bool { _, d, _ := ring.snapshot(); return len(d) == 1 }, "Done after the client left")
	picks, done, _ := ring.snapshot()
	if done[0].res != (balancer.Result{}) || len(picks) != 1 {
		t.Errorf("picks %v done %+v: a client that leaves must neither count against the target nor trigger retries", picks, done)
	}
}

func TestEarlyUpstreamAnswer(t *testing.T) {
	// The upstream rejects an upload after its head and closes with the body
	// unread (the kernel then resets the connection).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!")
			}()
		}
	}()
	gw, ring, _ := ringGateway(t, 2, nil, l.Addr().String())
	req, _ := http.NewRequest(http.MethodPost, gw+"/upload", strings.NewReader(strings.Repeat("u", 32<<20)))
	resp, body := do(t, nil, req)
	if resp.StatusCode != 413 || body != "too big!" {
		t.Fatalf("status %d body %q, want the upstream's 413", resp.StatusCode, body)
	}
	if picks, done, _ := ring.snapshot(); len(picks) != 1 || done[0].res.Status != 413 {
		t.Errorf("picks %v done %+v", picks, done)
	}
}
