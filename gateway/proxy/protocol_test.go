package proxy

import (
	"bufio"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// TestHTTP2Clients checks the handler under HTTP/2 over TLS and h2c, the way the
// integrator serves the proxy listeners.
func TestHTTP2Clients(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{})
	defer p.Close()
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/api")}})

	t.Run("h2 over TLS", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(p)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		defer srv.Close()
		client := srv.Client()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/h2?q=1", strings.NewReader("h2 body"))
		resp, body := do(t, client, req)
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("proto %s status %d", resp.Proto, resp.StatusCode)
		}
		s := decodeSeen(t, body)
		if s.URI != "/h2?q=1" || s.Body != "h2 body" || s.Header["X-Forwarded-Proto"][0] != "https" {
			t.Errorf("upstream saw %+v", s)
		}
		if resp.Header.Get("Via") != "1.1 kong/"+config.KongVersion || len(resp.Header.Get("X-Kong-Request-Id")) != 32 {
			t.Errorf("headers %v", resp.Header)
		}
		// A gateway-made error over h2.
		resp, body = get2(t, client, srv.URL+"/nothing")
		if resp.StatusCode != 404 || !strings.Contains(body, msgNoRoute) {
			t.Errorf("h2 404: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("h2c", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(p)
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
		defer srv.Close()
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		client := &http.Client{Transport: tr}
		resp, body := get2(t, client, srv.URL+"/api/plain")
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("proto %s status %d", resp.Proto, resp.StatusCode)
		}
		if s := decodeSeen(t, body); s.URI != "/plain" {
			t.Errorf("upstream saw %+v", s)
		}
	})
}

func get2(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	return do(t, c, req)
}

func TestHTTPSUpstream(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(echo))
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the tls_verify case makes it log a handshake error
	up.StartTLS()                                   // self-signed: Kong does not verify by default
	defer up.Close()
	svc := service("s1", addrOf(up))
	svc.Protocol = "https"
	verified := service("s2", addrOf(up))
	verified.Protocol, verified.TLSVerify, verified.Retries = "https", ptr(true), 0
	p := New(Options{})
	p.Apply(&config.Config{
		Services: []*config.Service{svc, verified},
		Routes:   []*config.Route{route("r1", "s1", "/tls"), route("r2", "s2", "/verified")},
	})
	gw := gateway(t, p)
	for i := 0; i < 3; i++ { // the second and third reuse the pooled TLS connection
		resp, body := get(t, gw.URL+"/tls/x")
		if resp.StatusCode != 200 || decodeSeen(t, body).URI != "/x" {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, gw.URL+"/verified/x"); resp.StatusCode != 502 {
		t.Errorf("tls_verify against a self-signed upstream: %d, want 502", resp.StatusCode)
	}
}

// TestMalformedRequests sends bytes no client library would; the answers come
// from net/http's server in front of the handler, and nothing may panic.
func TestMalformedRequests(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	srv := httptest.NewUnstartedServer(p)
	srv.Config.MaxHeaderBytes = 8 << 10
	srv.Start()
	defer srv.Close()
	tests := []struct {
		name, raw string
		want      int
	}{
		{"bad request line", "GARBAGE\r\n\r\n", 400},
		{"bad header", "GET / HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n", 400},
		{"missing host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"oversized headers", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 64<<10) + "\r\n\r\n", 431},
		{"valid", "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addrOf(srv))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestWebSocketTunnel proxies an HTTP/1.1 Upgrade: websocket handshake and then
// raw bytes both ways (the tunnel is byte-transparent, so no framing is needed).
func TestWebSocketTunnel(t *testing.T) {
	var gotConn, gotUpgrade string
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		gotConn, gotUpgrade = r.Header.Get("Connection"), r.Header.Get("Upgrade")
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n")
		io.Copy(conn, brw) // echo until the gateway half-closes
	})
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/ws")}})
	gw := gateway(t, p)

	conn, err := net.Dial("tcp", addrOf(gw))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /ws/chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != "abc" || resp.Header.Get("Upgrade") != "websocket" ||
		len(resp.Header.Get("X-Kong-Request-Id")) != 32 {
		t.Fatalf("handshake response %d %v", resp.StatusCode, resp.Header)
	}
	if gotConn != "keep-alive, Upgrade" || gotUpgrade != "websocket" {
		t.Errorf("upstream saw Connection %q Upgrade %q", gotConn, gotUpgrade)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 100000)} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %v", len(msg), err)
		}
	}
	conn.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after close: %q %v", rest, err)
	}
	eventually(t, 5*time.Second, func() bool { return p.ServerStatus()["connections_active"] == 0 }, "the hijacked connection is released")
}

// TestUpgradeResponseHeaders checks that a 101 handshake carries the gateway's
// headers exactly as a normal proxied response does: the upstream's Via with
// the gateway's appended in one field, Server when the upstream sent none, and
// only what Kong's `headers` setting enables.
func TestUpgradeResponseHeaders(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			w.Header().Set("Via", "1.0 proxy-a")
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nVia: 1.0 proxy-a\r\n\r\n")
	})
	compared := []string{"Via", "Server", "X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency", "X-Kong-Request-Id", "X-Kong-Upstream-Status"}
	for _, tc := range []struct {
		name    string
		headers Headers
		via     string
	}{
		{"default headers", DefaultHeaders(), "1.0 proxy-a, 1.1 kong/" + config.KongVersion},
		{"headers off", Headers{}, "1.0 proxy-a"},
		{"upstream status only", Headers{UpstreamStatus: true}, "1.0 proxy-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Options{Headers: &tc.headers})
			p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/ws")}})
			gw := gateway(t, p)

			req, err := http.NewRequest("GET", gw.URL+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := do(t, http.DefaultClient, req)
			conn, err := net.Dial("tcp", addrOf(gw))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n")
			upgraded, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if upgraded.StatusCode != http.StatusSwitchingProtocols || plain.StatusCode != http.StatusOK {
				t.Fatalf("statuses %d and %d, want 101 and 200", upgraded.StatusCode, plain.StatusCode)
			}
			if got := upgraded.Header["Via"]; len(got) != 1 || got[0] != tc.via {
				t.Errorf("101 Via %q, want one field %q", got, tc.via)
			}
			for _, k := range compared {
				u, n := upgraded.Header[k], plain.Header[k]
				same := len(u) == len(n) // latencies, ids and statuses differ: compare presence
				if k == "Via" || k == "Server" {
					same = slices.Equal(u, n)
				}
				if !same {
					t.Errorf("%s: 101 has %q, a proxied 200 has %q", k, u, n)
				}
			}
			if got := upgraded.Header.Get("X-Kong-Upstream-Status"); tc.headers.UpstreamStatus && got != "101" {
				t.Errorf("X-Kong-Upstream-Status %q, want 101", got)
			}
		})
	}
}
