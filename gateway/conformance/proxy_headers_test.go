package conformance

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

// Kong 3.9 spec/02-integration/05-proxy/03-upstream_headers_spec.lua: the
// headers the upstream gets (hop-by-hop, X-Forwarded-*, X-Real-IP, Host).

var _ = register("proxy-upstream-headers", proxyUpstreamHeaderCases)

const (
	skipProxyProtocol = "proxy_protocol listeners"
	skipPortMaps      = "port_maps setting"
	skipReqTransform  = "request-transformer plugin"
)

// upHeadersRoutes is the spec's start_kong routes (one service each).
func upHeadersRoutes() []Step {
	return steps(
		pxSvcRoute("inspect", "", obj{"hosts": arr{"headers-inspect.test"}}),
		pxSvcRoute("preserved", "", obj{"hosts": arr{"preserved.test"}, "preserve_host": true}),
		pxSvcRoute("foo", "", obj{"paths": arr{"/foo"}, "strip_path": true}),
		pxSvcRoute("status200", "", obj{"paths": arr{"/status/200"}, "strip_path": false}),
		pxSvcRoute("root", "", obj{"paths": arr{"/"}, "strip_path": true}),
	)
}

// fwdPortIsProxy checks X-Forwarded-Port is the proxy listener's port
// (helpers.get_proxy_port(false)).
func fwdPortIsProxy(t *testing.T, g *GW) {
	_, port, _ := net.SplitHostPort(g.Vars["proxy_host"])
	if last := g.Echo.Last(); last == nil || last.Headers["x-forwarded-port"] != port {
		t.Errorf("x-forwarded-port: want the proxy port %s, upstream saw %+v", port, last)
	}
}

// fwdRow is one request_headers(...) it of the forwarding blocks.
type fwdRow struct {
	line, name string
	path       string
	hdr        []string // name, value pairs (Host defaults to headers-inspect.test)
	seen       obj
	port       bool // X-Forwarded-Port must be the proxy's port
}

func fwdCases(rows []fwdRow, settings ...func(*server.Settings)) []Case {
	var out []Case
	for _, r := range rows {
		path := r.path
		if path == "" {
			path = "/"
		}
		host := "headers-inspect.test"
		var hdr []string
		for i := 0; i+1 < len(r.hdr); i += 2 {
			if r.hdr[i] == "Host" {
				host = r.hdr[i+1]
				continue
			}
			hdr = append(hdr, r.hdr[i], r.hdr[i+1])
		}
		if r.path != "" && !hostGiven(r.hdr) {
			host = "" // the spec sends no Host for these: the route matches on path
		}
		c := Case{Spec: specUpHeaders + ":" + r.line, Name: r.name, Setup: upHeadersRoutes(),
			Steps: []Step{px("GET", path, host, hdr...).with(200, nil, r.seen)}}
		if r.port {
			c.Run = fwdPortIsProxy
		}
		if len(settings) > 0 {
			c.Settings = settings[0]
		}
		out = append(out, c)
	}
	return out
}

func hostGiven(hdr []string) bool {
	for i := 0; i < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			return true
		}
	}
	return false
}

// untrustedRows are the blocks where the client (127.0.0.1) is not trusted:
// "(using the default configuration values)" and "(using the non-trusted
// configuration values)", trusted_ips = 10.0.0.1.
func untrustedRows(lines []string, pathValue string) []fwdRow {
	n := 0
	next := func() string { n++; return lines[n-1] }
	return []fwdRow{
		{line: next(), name: "should be added if not present in request", seen: obj{"headers.x-real-ip": "127.0.0.1"}},
		{line: next(), name: "should be replaced if present in request", hdr: []string{"X-Real-IP", "10.0.0.1"}, seen: obj{"headers.x-real-ip": "127.0.0.1"}},
		{line: next(), name: "should be added if not present in request", seen: obj{"headers.x-forwarded-for": "127.0.0.1"}},
		{line: next(), name: "should be appended if present in request", hdr: []string{"X-Forwarded-For", "10.0.0.1"}, seen: obj{"headers.x-forwarded-for": "10.0.0.1, 127.0.0.1"}},
		{line: next(), name: "should be added if not present in request", seen: obj{"headers.x-forwarded-proto": "http"}},
		{line: next(), name: "should be replaced if present in request", hdr: []string{"X-Forwarded-Proto", "https"}, seen: obj{"headers.x-forwarded-proto": "http"}},
		{line: next(), name: "should be added if not present in request", seen: obj{"headers.x-forwarded-host": "headers-inspect.test"}},
		{line: next(), name: "should be replaced if present in request", hdr: []string{"X-Forwarded-Host", "example.test"}, seen: obj{"headers.x-forwarded-host": "headers-inspect.test"}},
		{line: next(), name: "should be added if not present in request", port: true},
		{line: next(), name: "should be replaced if present in request", hdr: []string{"X-Forwarded-Port", "80"}, port: true},
		{line: next(), name: "should be added if not present in request", seen: obj{"headers.x-forwarded-path": "/"}},
		{line: next(), name: "should be replaced if present in request", hdr: []string{"X-Forwarded-Path", pathValue}, seen: obj{"headers.x-forwarded-path": "/"}},
		{line: next(), name: "should be added if path was stripped", path: "/foo/status/200", seen: obj{"headers.x-forwarded-prefix": "/foo"}},
		{line: next(), name: "should be replaced if present in request and path was stripped", path: "/foo", hdr: []string{"X-Forwarded-Prefix", "/replaced"}, seen: obj{"headers.x-forwarded-prefix": "/foo"}},
		{line: next(), name: "should not be added if path was not stripped", path: "/status/200", seen: obj{"headers.x-forwarded-prefix": Absent}},
		{line: next(), name: "should not be added if / was stripped", path: "/", seen: obj{"headers.x-forwarded-prefix": Absent}},
	}
}

var proxyUpstreamHeaderCases = rows(
	Case{
		Spec: specUpHeaders + ":127", Name: "are removed from request", Setup: upHeadersRoutes(),
		Steps: []Step{px("GET", "/", "headers-inspect.test",
			"Connection", "X-Foo, X-Bar",
			"Keep-Alive", "timeout=5, max=1000",
			"Proxy", "Remove-Me",
			"Proxy-Connection", "close",
			"Proxy-Authenticate", "Basic",
			"Proxy-Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
			"TE", "trailers, deflate;q=0.5",
			"Upgrade", "example/1, foo/2",
			"X-Foo", "Remove-Me",
			"X-Bar", "Remove-Me",
			"X-Foo-Bar", "Keep-Me",
			"Close", "Keep-Me",
		).with(200, nil, obj{
			"headers.keep-alive": Absent, "headers.proxy": Absent, "headers.proxy-connection": Absent,
			"headers.upgrade": Absent, "headers.x-foo": Absent, "headers.x-bar": Absent,
			"headers.proxy-authenticate": "Basic", "headers.proxy-authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
			"headers.te": "trailers", "headers.x-foo-bar": "Keep-Me", "headers.close": "Keep-Me",
		})},
	},
	Case{
		Spec: specUpHeaders + ":163", Name: "are removed from response",
		Run: func(t *testing.T, g *GW) {
			addr := upstream(t, hopByHop)
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "hop", "url": "http://" + addr}})
			g.mustDo(t, pxRoute("hop", obj{"hosts": arr{"headers-inspect.test"}}))
			resp := rawResponse(t, rawExchange(t, g.Vars["proxy_host"], "GET /hop-by-hop HTTP/1.1\r\nHost: headers-inspect.test\r\nConnection: close\r\n\r\n"))
			if resp.StatusCode != 200 || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("Upgrade") != "" ||
				len(resp.Trailer) != 0 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("hop-by-hop response headers reached the client: status %d, header %v, trailer %v, transfer-encoding %v",
					resp.StatusCode, resp.Header, resp.Trailer, resp.TransferEncoding)
			}
		},
	},
	Case{
		Spec: specUpHeaders + ":192", Name: "keeps trailer when requested",
		Run: func(t *testing.T, g *GW) {
			addr := upstream(t, hopByHop)
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "hop", "url": "http://" + addr}})
			g.mustDo(t, pxRoute("hop", obj{"hosts": arr{"headers-inspect.test"}}))
			out := rawExchange(t, g.Vars["proxy_host"], "GET /hop-by-hop HTTP/1.1\r\nHost: headers-inspect.test\r\nTE: trailers\r\nConnection: close\r\n\r\n")
			if resp := rawResponse(t, out); resp.StatusCode != 200 || !strings.Contains(out, "\r\nTrailer: Expires\r\n") {
				t.Errorf("want Trailer: Expires with TE: trailers, got %q", out)
			}
		},
	},
	Case{
		Spec: specUpHeaders + ":209", Name: "keeps upgrade when upgrading", Setup: upHeadersRoutes(),
		Steps: []Step{px("GET", "/get", "headers-inspect.test", "Connection", "keep-alive, Upgrade", "Upgrade", "websocket").
			with(200, nil, obj{"headers.connection": "keep-alive, Upgrade", "headers.upgrade": "websocket"})},
	},
	Case{Spec: specUpHeaders + ":225", Name: "keeps proxy-authorization header when a plugin specifies it", Skip: skipReqTransform},
	Case{Spec: specUpHeaders + ":237", Name: "keeps proxy-authorization header if plugin specifies same value as in requests", Skip: skipReqTransform},
	charsetCase(":296", "does not add charset if the response from upstream contains no charset when charset is turned off", "text/plain"),
	charsetCase(":309", "charset remain unchanged if the response from upstream contains charset when charset is turned off", "text/plain; charset=utf-8"),
	fwdCases(untrustedRows([]string{"334", "342", "353", "361", "372", "380", "391", "399", "410", "418", "429", "437", "448", "454", "462", "468"}, "/replaced")),
	Case{
		Spec: specUpHeaders + ":476", Name: "should be added if not present in request while preserving the downstream host", Setup: upHeadersRoutes(),
		Steps: []Step{px("GET", "/", "preserved.test").with(200, nil, obj{"host": "preserved.test", "headers.x-real-ip": "127.0.0.1",
			"headers.x-forwarded-for": "127.0.0.1", "headers.x-forwarded-proto": "http", "headers.x-forwarded-host": "preserved.test",
			"headers.x-forwarded-path": "/"})},
		Run: fwdPortIsProxy,
	},
	Case{
		Spec: specUpHeaders + ":490", Name: "should be added if present in request while preserving the downstream host", Setup: upHeadersRoutes(),
		Steps: []Step{px("GET", "/", "preserved.test", "X-Real-IP", "10.0.0.1", "X-Forwarded-For", "10.0.0.1", "X-Forwarded-Proto", "https",
			"X-Forwarded-Host", "example.test", "X-Forwarded-Port", "80").with(200, nil, obj{"host": "preserved.test",
			"headers.x-real-ip": "127.0.0.1", "headers.x-forwarded-for": "10.0.0.1, 127.0.0.1", "headers.x-forwarded-proto": "http",
			"headers.x-forwarded-host": "preserved.test", "headers.x-forwarded-path": "/"})},
		Run: fwdPortIsProxy,
	},
	Case{
		Spec: specUpHeaders + ":511", Name: "should be added if not present in request while discarding the downstream host", Setup: upHeadersRoutes(),
		Steps: []Step{px("GET", "/", "headers-inspect.test").with(200, nil, obj{"host": "{{echo}}", "headers.x-real-ip": "{{echo_host}}",
			"headers.x-forwarded-for": "{{echo_host}}", "headers.x-forwarded-proto": "http", "headers.x-forwarded-host": "headers-inspect.test",
			"headers.x-forwarded-path": "/"})},
		Run: fwdPortIsProxy,
	},
	Case{
		Spec: specUpHeaders + ":527", Name: "if present in request while discarding the downstream host", Setup: upHeadersRoutes(),
		Steps: []Step{px("GET", "/", "headers-inspect.test", "X-Real-IP", "10.0.0.1", "X-Forwarded-For", "10.0.0.1", "X-Forwarded-Proto", "https",
			"X-Forwarded-Host", "example.test", "X-Forwarded-Port", "80").with(200, nil, obj{"host": "{{echo}}",
			"headers.x-real-ip": "127.0.0.1", "headers.x-forwarded-for": "10.0.0.1, 127.0.0.1", "headers.x-forwarded-proto": "http",
			"headers.x-forwarded-host": "headers-inspect.test", "headers.x-forwarded-path": "/"})},
		Run: fwdPortIsProxy,
	},
	// "(using the trusted configuration values)": trusted_ips = 127.0.0.1.
	fwdCases([]fwdRow{
		{line: "562", name: "should be added if not present in request", seen: obj{"headers.x-real-ip": "127.0.0.1"}},
		{line: "570", name: "should be forwarded if present in request", hdr: []string{"X-Real-IP", "10.0.0.1"}, seen: obj{"headers.x-real-ip": "10.0.0.1"}},
		{line: "582", name: "should be added if not present in request", seen: obj{"headers.x-forwarded-for": "127.0.0.1"}},
		{line: "590", name: "should be appended if present in request", hdr: []string{"X-Forwarded-For", "10.0.0.1"}, seen: obj{"headers.x-forwarded-for": "10.0.0.1, 127.0.0.1"}},
		{line: "602", name: "should be added if not present in request", seen: obj{"headers.x-forwarded-proto": "http"}},
		{line: "610", name: "should be forwarded if present in request", hdr: []string{"X-Forwarded-Proto", "https"}, seen: obj{"headers.x-forwarded-proto": "https"}},
		{line: "621", name: "should be added if not present in request", seen: obj{"headers.x-forwarded-host": "headers-inspect.test"}},
		{line: "629", name: "should be forwarded if present in request", hdr: []string{"X-Forwarded-Host", "example.test"}, seen: obj{"headers.x-forwarded-host": "example.test"}},
		{line: "640", name: "should be added if not present in request", port: true},
		{line: "648", name: "should be forwarded if present in request", hdr: []string{"X-Forwarded-Port", "80"}, seen: obj{"headers.x-forwarded-port": "80"}},
		{line: "659", name: "should be added if not present in request", seen: obj{"headers.x-forwarded-path": "/"}},
		{line: "667", name: "should be forwarded if present in request", hdr: []string{"X-Forwarded-Path", "/original-path"}, seen: obj{"headers.x-forwarded-path": "/original-path"}},
		{line: "678", name: "should be preserved even if path was stripped", path: "/foo/status/200", hdr: []string{"X-Forwarded-Prefix", "/preserved"}, seen: obj{"headers.x-forwarded-prefix": "/preserved"}},
		{line: "686", name: "should be preserved even if path was stripped", path: "/status/200", hdr: []string{"X-Forwarded-Prefix", "/preserved"}, seen: obj{"headers.x-forwarded-prefix": "/preserved"}},
	}, func(s *server.Settings) { s.TrustedIPs = "127.0.0.1" }),
	fwdCases(untrustedRows([]string{"707", "715", "727", "735", "747", "755", "766", "774", "785", "793", "804", "812", "823", "829", "837", "843"}, "/untrusted"),
		func(s *server.Settings) { s.TrustedIPs = "10.0.0.1" }),
	// "(using the recursive trusted configuration values)".
	fwdCases([]fwdRow{
		{line: "864", name: "should be added if not present in request", seen: obj{"headers.x-real-ip": "127.0.0.1", "headers.x-forwarded-for": "127.0.0.1"}},
		{line: "873", name: "should be changed according to rules if present in request",
			hdr:  []string{"X-Forwarded-For", "127.0.0.1, 10.0.0.1, 192.168.0.1, 127.0.0.1, 172.16.0.1", "X-Real-IP", "10.0.0.2"},
			seen: obj{"headers.x-real-ip": "10.0.0.1", "headers.x-forwarded-for": "127.0.0.1, 10.0.0.1, 192.168.0.1, 127.0.0.1, 172.16.0.1, 127.0.0.1"}},
		{line: "886", name: "should be forwarded even if X-Forwarded-For header has a port in it",
			hdr: []string{"X-Forwarded-For", "127.0.0.1:14, 10.0.0.1:15, 192.168.0.1:16, 127.0.0.1:17, 172.16.0.1:18", "X-Real-IP", "10.0.0.2", "X-Forwarded-Port", "14"},
			seen: obj{"headers.x-real-ip": "10.0.0.1", "headers.x-forwarded-for": "127.0.0.1:14, 10.0.0.1:15, 192.168.0.1:16, 127.0.0.1:17, 172.16.0.1:18, 127.0.0.1",
				"headers.x-forwarded-port": "14"}},
	}, recursive("127.0.0.1,172.16.0.1,192.168.0.1")),
	// "(using the recursive non-trusted configuration values)".
	fwdCases([]fwdRow{
		{line: "926", name: "should be added if not present in request", seen: obj{"headers.x-real-ip": "127.0.0.1", "headers.x-forwarded-for": "127.0.0.1"}},
		{line: "935", name: "should be changed according to rules if present in request",
			hdr:  []string{"X-Forwarded-For", "10.0.0.1, 127.0.0.2, 10.0.0.1, 192.168.0.1, 172.16.0.1", "X-Real-IP", "10.0.0.2"},
			seen: obj{"headers.x-real-ip": "127.0.0.1", "headers.x-forwarded-for": "10.0.0.1, 127.0.0.2, 10.0.0.1, 192.168.0.1, 172.16.0.1, 127.0.0.1"}},
		{line: "948", name: "should be replaced even if X-Forwarded-Port and X-Forwarded-For headers have a port in it",
			hdr:  []string{"X-Forwarded-For", "127.0.0.1:14, 10.0.0.1:15, 192.168.0.1:16, 127.0.0.1:17, 172.16.0.1:18", "X-Real-IP", "10.0.0.2", "X-Forwarded-Port", "14"},
			seen: obj{"headers.x-real-ip": "127.0.0.1", "headers.x-forwarded-for": "127.0.0.1:14, 10.0.0.1:15, 192.168.0.1:16, 127.0.0.1:17, 172.16.0.1:18, 127.0.0.1"}, port: true},
		{line: "961", name: "should not take a port from X-Forwarded-For header if it has a port in it",
			hdr:  []string{"X-Forwarded-For", "127.0.0.1:14, 10.0.0.1:15, 192.168.0.1:16, 127.0.0.1:17, 172.16.0.1:18", "X-Real-IP", "10.0.0.2"},
			seen: obj{"headers.x-real-ip": "127.0.0.1", "headers.x-forwarded-for": "127.0.0.1:14, 10.0.0.1:15, 192.168.0.1:16, 127.0.0.1:17, 172.16.0.1:18, 127.0.0.1"}, port: true},
	}, recursive("10.0.0.1,172.16.0.1,192.168.0.1")),
	skipped(specUpHeaders, skipProxyProtocol, "993:should be added if not present in request", "1020:should be changed according to rules if present in request",
		"1050:should be forwarded even if proxy protocol and X-Forwarded-For header has a port in it",
		"1099:should be added if not present in request", "1126:should be changed according to rules if present in request",
		"1156:should be replaced even if proxy protocol, X-Forwarded-Port and X-Forwarded-For headers have a port in it"),
	skipped(specUpHeaders, skipPortMaps, "1201:should be added if not present in request", "1209:should be replaced if present in request"),
	Case{
		Spec: specUpHeaders + ":1283", Name: "when retries to upstream happen",
		Run: func(t *testing.T, g *GW) {
			// Every odd request is dropped without an answer (ngx.HTTP_CLOSE);
			// the retry must still carry the upstream's host_header.
			var n atomic.Int64
			addr := upstream(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1)%2 != 0 {
					panic(http.ErrAbortHandler)
				}
				fmt.Fprintln(w, r.Host)
			})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "foo", "host_header": "foo.com"}})
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/foo/targets", Body: obj{"target": addr, "weight": 50}})
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "retry_service", "host": "foo", "retries": 5}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/retry_service/routes", Body: obj{"paths": arr{"/hello"}, "strip_path": false}})
			g.mustDo(t, Step{To: Proxy, Path: "/hello", Status: 200, BodyText: "foo.com\n"})
		},
	},
)

// hopByHop is Kong's mock /hop-by-hop location.
func hopByHop(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Keep-Alive", "timeout=5, max=1000")
	h.Set("Proxy", "Remove-Me")
	h.Set("Proxy-Connection", "close")
	h.Set("Proxy-Authenticate", "Basic")
	h.Set("Proxy-Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
	h.Set("TE", "trailers, deflate;q=0.5")
	h.Set("Trailer", "Expires")
	h.Set("Upgrade", "example/1, foo/2")
	w.WriteHeader(200)
	fmt.Fprint(w, "hello\r\n\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n")
}

// charsetCase: the upstream's Content-Type passes unchanged (nginx_http_charset = off).
func charsetCase(line, name, ctype string) Case {
	return Case{
		Spec: specUpHeaders + line, Name: name,
		Run: func(t *testing.T, g *GW) {
			addr := upstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ctype)
				fmt.Fprintln(w, "Hello World!")
			})
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "charset", "url": "http://" + addr}})
			g.mustDo(t, pxRoute("charset", obj{"hosts": arr{"headers-charset.test"}}))
			g.mustDo(t, Step{To: Proxy, Path: "/nocharset", Host: "headers-charset.test", Status: 200, Headers: obj{"Content-Type": ctype}})
		},
	}
}

// recursive is real_ip_header = X-Forwarded-For, real_ip_recursive = on.
func recursive(trusted string) func(*server.Settings) {
	return func(s *server.Settings) {
		s.TrustedIPs, s.RealIPHeader, s.RealIPRecursive = trusted, "X-Forwarded-For", "on"
	}
}

// skipped lists "line:name" its of spec as skipped for reason.
func skipped(spec, reason string, its ...string) []Case {
	var out []Case
	for _, it := range its {
		line, name, _ := strings.Cut(it, ":")
		out = append(out, Case{Spec: spec + ":" + line, Name: name, Skip: reason})
	}
	return out
}
