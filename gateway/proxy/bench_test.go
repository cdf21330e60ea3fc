package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// The benchmarks drive a real loopback path (client → gateway → upstream), so
// ns/op includes the client and the upstream; compare the gateway against the
// httputil.ReverseProxy baseline of the same run, not across machines.

var benchPayload = strings.Repeat("x", 256)

func benchUpstream(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, benchPayload)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
}

func runLoad(b *testing.B, url string) {
	client := benchClient()
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func benchConfig(addr string, routes int) *config.Config {
	cfg := &config.Config{Services: []*config.Service{service("s", addr)}}
	for i := 0; i < routes-1; i++ {
		cfg.Routes = append(cfg.Routes, route(fmt.Sprintf("r%d", i), "s", fmt.Sprintf("/other/%d", i)))
	}
	cfg.Routes = append(cfg.Routes, route("main", "s", "/bench"))
	return cfg
}

// benchGateway serves a proxy with benchConfig(addr, routes) on loopback
// until the benchmark ends.
func benchGateway(b *testing.B, addr string, routes int) *httptest.Server {
	p := New(Options{})
	p.Apply(benchConfig(addr, routes))
	gw := httptest.NewServer(p)
	b.Cleanup(func() {
		gw.Close()
		p.Close()
	})
	return gw
}

// BenchmarkProxy is the gateway end to end over loopback.
func BenchmarkProxy(b *testing.B) {
	up := benchUpstream(b)
	gw := benchGateway(b, up.Listener.Addr().String(), 1)
	runLoad(b, gw.URL+"/bench/x")
}

// BenchmarkProxyPost16K streams a 16 KiB request body through the gateway.
func BenchmarkProxyPost16K(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	gw := benchGateway(b, up.Listener.Addr().String(), 1)
	body := strings.Repeat("p", 16<<10)
	client := benchClient()
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(gw.URL+"/bench/up", "text/plain", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkProxy100Routes is the same with 99 other prefix routes to scan.
func BenchmarkProxy100Routes(b *testing.B) {
	up := benchUpstream(b)
	gw := benchGateway(b, up.Listener.Addr().String(), 100)
	runLoad(b, gw.URL+"/bench/x")
}

// BenchmarkBaselineReverseProxy is the naive design this package replaces.
func BenchmarkBaselineReverseProxy(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
	gw := httptest.NewServer(rp)
	defer gw.Close()
	runLoad(b, gw.URL+"/bench/x")
}

// BenchmarkBaselineDirect is the client against the upstream with no proxy.
func BenchmarkBaselineDirect(b *testing.B) {
	up := benchUpstream(b)
	runLoad(b, up.URL+"/x")
}

// discardWriter is a ResponseWriter that keeps nothing, for measuring the
// handler's own allocations.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkServeHTTP calls the handler directly (client side excluded). Its
// allocs/op include the in-process httptest upstream's (most of them: its
// net/http server parses every request); BenchmarkServeHTTPOwnAllocs counts
// the handler's alone.
func BenchmarkServeHTTP(b *testing.B) {
	up := benchUpstream(b)
	p := New(Options{})
	defer p.Close()
	p.Apply(benchConfig(up.Listener.Addr().String(), 1))
	req := httptest.NewRequest(http.MethodGet, "http://gw.example/bench/x", nil)
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		p.ServeHTTP(w, req)
	}
}

// cannedUpstream answers every request of a keep-alive connection with the
// same bytes and allocates nothing per request, so a benchmark in front of it
// counts only the gateway's allocations. It expects bodiless requests.
func cannedUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(benchPayload)) + "\r\n\r\n" + benchPayload)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for { // the head ends with an empty line
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkServeHTTPOwnAllocs is BenchmarkServeHTTP in front of an upstream
// that allocates nothing: allocs/op is the handler's own (routing, upstream
// request and response, the client's response header).
func BenchmarkServeHTTPOwnAllocs(b *testing.B) {
	p := New(Options{})
	defer p.Close()
	p.Apply(benchConfig(cannedUpstream(b), 1))
	req := httptest.NewRequest(http.MethodGet, "http://gw.example/bench/x", nil)
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		p.ServeHTTP(w, req)
	}
}

func BenchmarkRouterFind(b *testing.B) {
	cfg := benchConfig("127.0.0.1:1", 100)
	services := map[string]*compiledService{"s": {path: "/"}}
	rt, _ := compileRouter(cfg, services, nil)
	req := &routeRequest{method: "GET", host: "gw.example", serverPort: 8000, path: "/bench/x", header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := rt.find(req); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkApply1000Routes is one configuration change with 1,000 routes (a
// tenth of them regex), as an Admin API write costs the proxy.
func BenchmarkApply1000Routes(b *testing.B) {
	cfg := benchConfig("127.0.0.1:1", 1000)
	for i, r := range cfg.Routes {
		if i%10 == 0 {
			r.Paths = []string{fmt.Sprintf(`~/re/%d/(?P<id>\d+)$`, i)}
		}
	}
	p := New(Options{})
	defer p.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Apply(cfg)
	}
}
