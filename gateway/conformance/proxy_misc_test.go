package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

// Kong 3.9's 01-proxy_spec (listeners), 06-ssl_spec (what applies without
// certificates/SNIs), 07-upstream_timeouts and 09-websockets.

const (
	specProxyListen = "spec/02-integration/05-proxy/01-proxy_spec.lua"
	specSSL         = "spec/02-integration/05-proxy/06-ssl_spec.lua"
	specTimeouts    = "spec/02-integration/05-proxy/07-upstream_timeouts_spec.lua"
	specWS          = "spec/02-integration/05-proxy/09-websockets_spec.lua"

	skipCtxChecker  = "ctx-checker-last fixture plugin"
	skipPreFunction = "pre-function plugin"
	skipFixtureOnly = "not applicable: checks Kong's mock upstream fixture alone, with no gateway in the path"
)

var _ = register("proxy-misc", proxyMiscCases)

// tlsUpstream is an HTTPS upstream answering with the SNI it was given
// ({"ssl_server_name": ...}, "no SNI" when none), as Kong's mock reports
// vars.ssl_server_name.
func tlsUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni := r.TLS.ServerName
		if sni == "" {
			sni = "no SNI"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"vars": map[string]any{"ssl_server_name": sni}})
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

// sslRoutes is 06-ssl_spec.lua's routes, on an HTTPS upstream at addr.
func sslRoutes(t *testing.T, g *GW, addr string) {
	_, port, _ := net.SplitHostPort(addr)
	mk := func(name, url string, svc obj, route obj) {
		b := obj{"name": name, "url": url}
		for k, v := range svc {
			b[k] = v
		}
		g.mustDo(t, Step{Method: "POST", Path: "/services", Body: b})
		g.mustDo(t, Step{Method: "POST", Path: "/services/" + name + "/routes", Body: route})
	}
	mock := "https://localhost:" + port
	mk("global-cert", mock, nil, obj{"protocols": arr{"https"}, "hosts": arr{"global.com"}})
	mk("api-1", mock, nil, obj{"protocols": arr{"https"}, "hosts": arr{"example.com", "ssl1.com"}})
	g.mustDo(t, Step{Method: "POST", Path: "/services/api-1/routes", Body: obj{"protocols": arr{"https"}, "hosts": arr{"sni.example.com"}, "snis": arr{"sni.example.com"}}})
	mk("api-3", mock, nil, obj{"protocols": arr{"https"}, "hosts": arr{"ssl3.com"}, "preserve_host": true})
	mk("api-4", mock, nil, obj{"protocols": arr{"https"}, "hosts": arr{"no-sni.com"}, "preserve_host": false})
	mk("api-5", "https://127.0.0.1:"+port, nil, obj{"protocols": arr{"https"}, "hosts": arr{"nil-sni.com"}, "preserve_host": false})
	mk("service-7", mock, nil, obj{"protocols": arr{"https"}, "hosts": arr{"example.com"}, "paths": arr{"/redirect-301"},
		"https_redirect_status_code": 301, "preserve_host": false})
	mk("service-8", mock, nil, obj{"protocols": arr{"https"}, "hosts": arr{"example.com"}, "paths": arr{"/redirect-302"},
		"https_redirect_status_code": 302, "preserve_host": false})
	// Kong turns nginx_http_proxy_ssl_verify on for the whole node; the
	// gateway verifies per service (tls_verify), the test upstream's
	// certificate being untrusted.
	mk("service-example2", mock, obj{"tls_verify": true}, obj{"protocols": arr{"http"}, "hosts": arr{"example2.com"}, "paths": arr{"/"}})
	g.mustDo(t, Step{Method: "POST", Path: "/services/service-8/routes", Body: obj{"protocols": arr{"http"}, "hosts": arr{"example-clear.com"}, "paths": arr{"/"}}})
}

func sslCase(line, name string, settings func(*server.Settings), steps ...Step) Case {
	return Case{
		Spec: specSSL + ":" + line, Name: name, Settings: settings,
		Run: func(t *testing.T, g *GW) {
			sslRoutes(t, g, tlsUpstream(t))
			for _, s := range steps {
				g.mustDo(t, s)
			}
		},
	}
}

func trustLocal(s *server.Settings) { s.TrustedIPs = "127.0.0.1" }

// blackholeAddr is a listener whose accept queue is full: a connect to it
// hangs until the client's timeout, as one to Kong's blackhole host does.
func blackholeAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue; the connects after these get no SYN-ACK.
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

var proxyMiscCases = rows(
	// 01-proxy_spec.lua
	Case{
		Spec: specProxyListen + ":44", Name: "disabled",
		Run: func(t *testing.T, _ *GW) {
			g, err := server.Start(server.Settings{ProxyListen: "off", AdminListen: "127.0.0.1:0", Database: "embedded", DataDir: t.TempDir()}, discardLog)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Shutdown(context.Background())
			if len(g.ProxyAddrs()) != 0 || len(g.AdminAddrs()) != 1 {
				t.Errorf("proxy_listen=off: proxy %v, admin %v", g.ProxyAddrs(), g.AdminAddrs())
			}
		},
	},
	Case{
		Spec: specProxyListen + ":54", Name: "multiple",
		Settings: func(s *server.Settings) { s.ProxyListen = "127.0.0.1:0, 127.0.0.1:0" },
		Run: func(t *testing.T, g *GW) {
			if len(g.ProxyAddrs()) != 2 {
				t.Fatalf("proxy listeners %v", g.ProxyAddrs())
			}
			for _, a := range g.ProxyAddrs() {
				resp, err := http.Get(a.URL() + "/")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 404 || resp.Header.Get("Server") != kongServer {
					t.Errorf("GET %s/ = %d (Server %q), want Kong's 404", a.URL(), resp.StatusCode, resp.Header.Get("Server"))
				}
			}
		},
	},
	skipped(specProxyListen, skipStreamRoute, "93:disabled", "101:multiple", "269:routes by destination port without port map",
		"278:uses port maps configuration to route by destination port",
		"287:fails to route when no port map is specified and route is not found", "300:destinations has more than 3 items"),

	// 06-ssl_spec.lua
	sslCase("271", "prevents requests to upstream that does not possess a trusted certificate", trustLocal,
		Step{To: Proxy, Path: "/", Host: "example2.com", Status: 502, BodyText: Contains("An invalid response was received from the upstream server")}),
	sslCase("288", "trusted certificate, request goes through", trustLocal,
		Step{To: Proxy, Path: "/", Host: "example-clear.com", Status: 200}),
	sslCase("301", "fallbacks on the default proxy SSL certificate when SNI is not provided by client", trustLocal,
		Step{To: ProxyTLS, Path: "/status/200", Host: "global.com", Status: 200}),
	skipped(specSSL, skipSNI, "314:sets the default fallback SSL certificate if no SNI match", "319:sets the configured SSL certificate if SNI match",
		"328:matches *.wildcard.com (prefix)", "333:matches wildcard.* (suffix)", "338:respects matching priorities (exact first)",
		"343:respects matching priorities (prefix second)", "348:respects matching priorities (suffix third)", "353:matches *.www.wildcard.com"),
	sslCase("361", "blocks request without HTTPS if protocols = { http }", trustLocal,
		Step{To: Proxy, Path: "/", Host: "example.com", Status: 426, JSON: obj{"message": Contains("Please use HTTPS protocol")},
			Headers: obj{"Connection": Contains("Upgrade"), "Upgrade": "TLS/1.2, HTTP/1.1"}},
		Step{To: Proxy, Path: "/", Host: "sni.example.com", Status: 426, JSON: obj{"message": Contains("Please use HTTPS protocol")},
			Headers: obj{"Connection": Contains("Upgrade"), "Upgrade": "TLS/1.2, HTTP/1.1"}}),
	sslCase("394", "returns 301 when route has https_redirect_status_code set to 301", trustLocal,
		Step{To: Proxy, Path: "/redirect-301", Host: "example.com", Status: 301, Headers: obj{"Location": "https://example.com/redirect-301"}}),
	sslCase("407", "returns 302 when route has https_redirect_status_code set to 302", trustLocal,
		Step{To: Proxy, Path: "/redirect-302?foo=bar", Host: "example.com", Status: 302, Headers: obj{"Location": "https://example.com/redirect-302?foo=bar"}}),
	sslCase("432", "blocks HTTP request with HTTPS in x-forwarded-proto", nil,
		Step{To: Proxy, Path: "/status/200", Host: "ssl1.com", Header: http.Header{"X-Forwarded-Proto": {"https"}}, Status: 426}),
	sslCase("457", "allows HTTP requests with x-forwarded-proto", trustLocal,
		Step{To: Proxy, Path: "/status/200", Host: "example.com", Header: http.Header{"X-Forwarded-Proto": {"https"}}, Status: 200}),
	sslCase("469", "blocks HTTP requests with invalid x-forwarded-proto", trustLocal,
		Step{To: Proxy, Path: "/status/200", Host: "example.com", Header: http.Header{"X-Forwarded-Proto": {"httpsa"}}, Status: 426}),
	sslCase("499", "blocks with https x-forwarded-proto from untrusted client", func(s *server.Settings) { s.TrustedIPs = "1.2.3.4" },
		Step{To: Proxy, Path: "/status/200", Host: "example.com", Header: http.Header{"X-Forwarded-Proto": {"https"}}, Status: 426}),
	sslCase("531", "true", nil,
		Step{To: ProxyTLS, Path: "/", Host: "ssl3.com", Status: 200, JSON: obj{"vars.ssl_server_name": "ssl3.com"}}),
	sslCase("544", "false", nil,
		Step{To: ProxyTLS, Path: "/", Host: "no-sni.com", Status: 200, JSON: obj{"vars.ssl_server_name": "localhost"}}),
	sslCase("557", "false and IP-based upstream_url", nil,
		Step{To: ProxyTLS, Path: "/", Host: "nil-sni.com", Status: 200, JSON: obj{"vars.ssl_server_name": "no SNI"}}),
	skipped(specSSL, skipSNI, "629:sets the default certificate of '*' SNI", "650:using FQDN (regression for issue 7550)",
		"717:sets the default certificate of '*' SNI", "742:normal sni", "748:must not have a port", "754:must not have a port (invalid port)",
		"760:must not be an IP", "766:must not be an IP (with port)", "772:invalid value", "778:only one wildcard must be specified",
		"784:wildcard must be leftmost or rightmost character"),

	// 07-upstream_timeouts_spec.lua
	Case{
		Spec: specTimeouts + ":133", Name: "sets upstream connect timeout value",
		Run: func(t *testing.T, g *GW) {
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "api-1", "url": "http://" + blackholeAddr(t), "connect_timeout": 1}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/api-1/routes", Body: obj{"methods": arr{"HEAD"}}})
			g.mustDo(t, Step{Method: "HEAD", To: Proxy, Path: "/", Status: 504})
		},
	},
	Case{
		Spec: specTimeouts + ":144", Name: "sets upstream read timeout value",
		Run: func(t *testing.T, g *GW) {
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "api-3", "url": "http://" + silentUpstream(t), "read_timeout": 1}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/api-3/routes", Body: obj{"methods": arr{"GET"}}})
			g.mustDo(t, Step{To: Proxy, Path: "/delay/2", Status: 504})
		},
	},
	Case{Spec: specTimeouts + ":152", Name: "sets status for last try", Skip: skipCtxChecker},
	Case{
		Spec: specTimeouts + ":175", Name: "sets upstream send timeout value",
		Run: func(t *testing.T, g *GW) {
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "api-2", "url": "http://" + silentUpstream(t), "write_timeout": 1}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/api-2/routes", Body: obj{"methods": arr{"POST"}}})
			body, _ := json.Marshal(map[string]string{"huge": strings.Repeat("a", 1<<25)})
			resp, err := http.Post(g.ProxyURL+"/post", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 504 {
				t.Errorf("status %d, want 504", resp.StatusCode)
			}
		},
	},
	Case{Spec: specTimeouts + ":192", Name: "sets upstream send timeout value", Skip: skipPreFunction},

	// 09-websockets_spec.lua
	Case{Spec: specWS + ":98", Name: "returns correct headers on handshake without Kong", Skip: skipFixtureOnly},
	wsCase("102", "returns correct headers on handshake with Kong", func(t *testing.T, c net.Conn, br *bufio.Reader, head string) {
		for _, want := range []string{"HTTP/1.1 101 Switching Protocols", "Connection: upgrade", "Upgrade: websocket", "Via: 1.1 kong"} {
			if !strings.Contains(head, want) {
				t.Errorf("handshake response lacks %q:\n%s", want, head)
			}
		}
	}),
	Case{Spec: specWS + ":122", Name: "sends and gets text without Kong", Skip: skipFixtureOnly},
	wsCase("126", "sends and gets text with Kong", wsText),
	wsTLSCase("131", "sends and gets text with kong under HTTPS", wsText),
	Case{Spec: specWS + ":152", Name: "plays ping-pong without Kong", Skip: skipFixtureOnly},
	wsCase("156", "plays ping-pong with Kong", wsPing),
	wsTLSCase("161", "plays ping-pong with kong under HTTPS", wsPing),
)

// --- WebSocket: a minimal RFC 6455 echo upstream and client -----------------

// wsUpstream answers the handshake (Connection: upgrade, as the mock does)
// and echoes text frames and answers pings with pongs.
func wsUpstream(t *testing.T) string {
	return upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not a websocket request", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		for {
			op, payload, err := readFrame(brw.Reader)
			if err != nil {
				return
			}
			switch op {
			case 0x1:
				writeFrame(conn, 0x1, payload, false)
			case 0x9:
				writeFrame(conn, 0xA, payload, false)
			case 0x8:
				writeFrame(conn, 0x8, payload, false)
				return
			}
		}
	})
}

func wsAccept(key string) string {
	return base64.StdEncoding.EncodeToString(sha1Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")))
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

func readFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	op, masked, n := h[0]&0x0f, h[1]&0x80 != 0, uint64(h[1]&0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var mask [4]byte
	if masked {
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return op, p, nil
}

func writeFrame(w io.Writer, op byte, p []byte, mask bool) error {
	b := []byte{0x80 | op}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch {
	case len(p) < 126:
		b = append(b, m|byte(len(p)))
	default:
		b = append(b, m|126, byte(len(p)>>8), byte(len(p)))
	}
	body := append([]byte(nil), p...)
	if mask {
		var k [4]byte
		rand.Read(k[:])
		b = append(b, k[:]...)
		for i := range body {
			body[i] ^= k[i%4]
		}
	}
	_, err := w.Write(append(b, body...))
	return err
}

type wsCheck func(t *testing.T, c net.Conn, br *bufio.Reader, head string)

// wsOpen routes /up-ws (strip_path) to the echo upstream's /ws, dials the
// proxy (TLS when tlsOn) and does the handshake; check runs on the open socket.
func wsRun(t *testing.T, g *GW, tlsOn bool, check wsCheck) {
	addr := wsUpstream(t)
	g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "ws", "url": "http://" + addr + "/ws"}})
	g.mustDo(t, Step{Method: "POST", Path: "/services/ws/routes", Body: obj{"protocols": arr{"http", "https"}, "paths": arr{"/up-ws"}, "strip_path": true}})
	target := strings.TrimPrefix(g.ProxyURL, "http://")
	var c net.Conn
	var err error
	if tlsOn {
		target = strings.TrimPrefix(g.ProxyTLSURL, "https://")
		c, err = tls.Dial("tcp", target, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	} else {
		c, err = net.Dial("tcp", target)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var key [16]byte
	rand.Read(key[:])
	fmt.Fprintf(c, "GET /up-ws HTTP/1.1\r\nUpgrade: websocket\r\nHost: %s\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nConnection: Upgrade\r\n\r\n",
		target, base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("handshake: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	if !strings.HasPrefix(head.String(), "HTTP/1.1 101") {
		t.Fatalf("handshake answered %q", head.String())
	}
	check(t, c, br, head.String())
}

func wsCase(line, name string, check wsCheck) Case {
	return Case{Spec: specWS + ":" + line, Name: name, Run: func(t *testing.T, g *GW) { wsRun(t, g, false, check) }}
}

func wsTLSCase(line, name string, check wsCheck) Case {
	return Case{Spec: specWS + ":" + line, Name: name, Run: func(t *testing.T, g *GW) { wsRun(t, g, true, check) }}
}

func wsText(t *testing.T, c net.Conn, br *bufio.Reader, _ string) {
	payload := []byte(`{"message":"hello websocket"}`)
	if err := writeFrame(c, 0x1, payload, true); err != nil {
		t.Fatal(err)
	}
	op, got, err := readFrame(br)
	if err != nil || op != 0x1 || !bytes.Equal(got, payload) {
		t.Errorf("echo: op %#x %q %v, want text %q", op, got, err, payload)
	}
	writeFrame(c, 0x8, nil, true)
}

func wsPing(t *testing.T, c net.Conn, br *bufio.Reader, _ string) {
	if err := writeFrame(c, 0x9, []byte("ping!"), true); err != nil {
		t.Fatal(err)
	}
	op, got, err := readFrame(br)
	if err != nil || op != 0xA || string(got) != "ping!" {
		t.Errorf("pong: op %#x %q %v", op, got, err)
	}
	writeFrame(c, 0x8, nil, true)
}
