package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/balancer"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

func ptr[T any](v T) *T { return &v }

// service returns an enabled service with Kong's defaults pointing at addr.
func service(id, addr string) *config.Service {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	n, _ := strconv.Atoi(port)
	return &config.Service{
		ID: id, Name: ptr(id), Protocol: "http", Host: host, Port: n,
		Retries: 5, ConnectTimeout: 60000, WriteTimeout: 60000, ReadTimeout: 60000, Enabled: true,
	}
}

// route returns a route with Kong's defaults for service svc.
func route(id, svc string, paths ...string) *config.Route {
	return &config.Route{
		ID: id, Name: ptr(id), Protocols: []string{"http", "https"}, Paths: paths,
		HTTPSRedirectStatusCode: 426, StripPath: true, PathHandling: "v0",
		Service: &config.Ref{ID: svc},
	}
}

// gateway starts p behind an httptest server wired like the integrator does.
func gateway(t *testing.T, p *Proxy) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(p)
	srv.Config.ConnState = p.ConnState
	srv.Config.ErrorLog = nil
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	return srv
}

// upstream starts an httptest server running h.
func upstream(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func addrOf(s *httptest.Server) string { return s.Listener.Addr().String() }

// fakeLookup serves one picker for one upstream name.
type fakeLookup map[string]balancer.Picker

func (f fakeLookup) Picker(name string) balancer.Picker {
	if p, ok := f[name]; ok {
		return p
	}
	return nil
}

// ringPicker is a small real round-robin picker that skips peers already
// tried by the request and records every Done.
type ringPicker struct {
	mu    sync.Mutex
	peers []balancer.Peer
	next  int
	picks []string
	done  []doneCall
	// outstanding counts Picks without their Done yet.
	outstanding int
}

type doneCall struct {
	addr string
	res  balancer.Result
}

func newRing(addrs ...string) *ringPicker {
	rp := &ringPicker{}
	for i, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(port)
		rp.peers = append(rp.peers, balancer.Peer{TargetID: "t" + strconv.Itoa(i), Host: host, Port: n, Addr: a})
	}
	return rp
}

func (rp *ringPicker) Pick(req *balancer.Request) (balancer.Peer, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for i := 0; i < len(rp.peers); i++ {
		p := rp.peers[(rp.next+i)%len(rp.peers)]
		tried := false
		for _, t := range req.Tried {
			if t.Addr == p.Addr {
				tried = true
			}
		}
		if tried {
			continue
		}
		rp.next = (rp.next + i + 1) % len(rp.peers)
		rp.picks = append(rp.picks, p.Addr)
		rp.outstanding++
		return p, nil
	}
	return balancer.Peer{}, balancer.ErrNoPeer
}

func (rp *ringPicker) Done(p balancer.Peer, res balancer.Result) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.outstanding--
	rp.done = append(rp.done, doneCall{p.Addr, res})
}

func (rp *ringPicker) snapshot() (picks []string, done []doneCall, outstanding int) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]string(nil), rp.picks...), append([]doneCall(nil), rp.done...), rp.outstanding
}

// deadAddr returns a loopback address nothing listens on (connection refused).
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// do sends a request through the gateway and returns status, headers, body.
func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, nil, req)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %s", d, msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
