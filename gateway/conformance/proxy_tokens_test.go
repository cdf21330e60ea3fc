package conformance

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

// Kong 3.9's proxy specs on Kong's own response headers and error pages:
// 12-error_default_type, 13-error_handlers, 14-server_tokens,
// 15-upstream-status-header, 33-request-id-header, 35-via, 08-uri_encoding.

var _ = register("proxy-headers-errors", proxyTokenCases)

const (
	kongServer = "kong/" + config.KongVersion
	kongVia    = "1.1 kong/" + config.KongVersion

	skipErrorGenerator = "error-generator fixture plugin"
	skipReqTermination = "request-termination plugin"
	skipPostFunction   = "post-function plugin"
	skipErrorTemplates = "error_template_* settings (custom error templates)"
	skipDummyPlugin    = "dummy fixture plugin"
	skipProxyCache     = "proxy-cache plugin"
)

// tokenRoutes is 14-server_tokens_spec.lua's start(): a route on the echo
// upstream for headers-inspect.test and one whose service is on port 1
// (nothing listens: 502). The echo upstream answers with its own Server
// header, as Kong's mock upstream does.
func tokenRoutes() []Step {
	return steps(
		pxSvcRoute("inspect", "", obj{"hosts": arr{"headers-inspect.test"}}),
		Step{Method: "POST", Path: "/services", Body: obj{"name": "bad", "url": "http://127.0.0.1:1"}},
		pxRoute("bad", obj{"hosts": arr{"502.test"}}),
	)
}

// proxied and notProxied are the two requests of most token rows: the
// upstream answers with Server: mock-upstream (openresty in Kong's).
var (
	proxiedReq    = px("GET", "/get?header=Server:mock-upstream", "headers-inspect.test")
	notProxiedReq = px("GET", "/get", "404.test")
)

func tokenCase(line, name string, settings func(*server.Settings), s Step) Case {
	return Case{Spec: specTokens + ":" + line, Name: name, Settings: settings, Setup: tokenRoutes(), Steps: []Step{s}}
}

// latency expectations: which of upstream, proxy, response latency are present.
func latency(up, proxy, resp bool) map[string]any {
	m := map[string]any{}
	for k, on := range map[string]bool{"X-Kong-Upstream-Latency": up, "X-Kong-Proxy-Latency": proxy, "X-Kong-Response-Latency": resp} {
		if on {
			m[k] = Match(`^\d+$`)
		} else {
			m[k] = Absent
		}
	}
	return m
}

// silentUpstream accepts connections and never answers: a read_timeout of
// 1 ms then gives Kong's 504 "The upstream server is timing out", as the
// spec's blackhole host with connect_timeout = 1 does.
func silentUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(done)
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// timeoutCase is a 12-error_default_type_spec.lua row: GET / (or HEAD) on a
// route to a silent upstream, with accept ("" sends no Accept), checking the
// body against want (a %s for the message and a %s for the request id).
func timeoutCase(line, name, errDefault, method, accept string, check func(t *testing.T, r *Resp)) Case {
	return Case{
		Spec: specErrType + ":" + line, Name: name,
		Settings: func(s *server.Settings) { s.ErrorDefaultType = errDefault },
		Run: func(t *testing.T, g *GW) {
			addr := silentUpstream(t)
			g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "api-1", "url": "http://" + addr, "read_timeout": 1, "retries": 0}})
			g.mustDo(t, Step{Method: "POST", Path: "/services/api-1/routes", Body: obj{"methods": arr{"GET", "HEAD"}}})
			s := px(method, "/", "")
			if accept != "" {
				s.Header.Set("Accept", accept)
			}
			s.Status = 504
			s.Check = check
			g.mustDo(t, s)
		},
	}
}

// bodyIs compares the body, stripped as Kong's assert.res_status does, with
// the template filled with the message and the response's request id.
func bodyIs(template string) func(t *testing.T, r *Resp) {
	return func(t *testing.T, r *Resp) {
		id := r.Header.Get("X-Kong-Request-Id")
		want := strings.TrimSpace(fmt.Sprintf(template, "The upstream server is timing out", id))
		if got := strings.TrimSpace(string(r.Body)); got != want || id == "" {
			t.Errorf("body %q, want %q", got, want)
		}
	}
}

const (
	xmlTemplate   = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>%s</message>\n  <requestid>%s</requestid>\n</error>"
	htmlTemplate  = "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>"
	plainTemplate = "%s\nrequest_id: %s"
)

var proxyTokenCases = rows(
	// 12-error_default_type_spec.lua
	timeoutCase("84", "no Accept header uses error_default_type", "text/html", "GET", "", bodyIs(htmlTemplate)),
	timeoutCase("99", "HEAD request does not return a body", "text/html", "HEAD", "", func(t *testing.T, r *Resp) {
		if len(r.Body) != 0 {
			t.Errorf("HEAD body %q", r.Body)
		}
	}),
	timeoutCase("152", "default error_default_type = text/plain", "", "GET", "", bodyIs(plainTemplate)),
	timeoutCase("172", "text/html", "", "GET", "text/html", bodyIs(htmlTemplate)),
	timeoutCase("187", "application/json", "", "GET", "application/json", func(t *testing.T, r *Resp) {
		if m, _ := r.JSON.(map[string]any); m == nil || m["message"] != "The upstream server is timing out" {
			t.Errorf("body %s", r.Body)
		}
	}),
	timeoutCase("201", "application/xml", "", "GET", "application/xml", bodyIs(xmlTemplate)),
	skipped(specErrType, skipErrorTemplates, "274:text/html", "290:text/plain", "306:application/json", "320:application/xml",
		"337:defaults to 1 when q-value is not specified", "353:picks highest q-value (json)"),

	// 13-error_handlers_spec.lua
	Case{
		Spec: specErrHandle + ":30", Name: "HTTP 400",
		Steps: []Step{px("GET", "/", "", "X-Large", strings.Repeat("a", 10<<10)).with(400, map[string]any{"Server": Contains("kong/")}, nil)},
		Run: func(t *testing.T, g *GW) {
			r := g.Do(t, px("GET", "/", "", "X-Large", strings.Repeat("a", 10<<10)))
			if r == nil || !strings.Contains(string(r.Body), "Request header or cookie too large") {
				t.Errorf("body %v", r)
			}
		},
	},
	Case{
		Spec: specErrHandle + ":44", Name: "Request For Routers With Trace Method Not Allowed",
		Steps: []Step{{Method: "TRACE", Path: "/", To: Proxy, Status: 405, Headers: obj{"Server": Contains("kong/")},
			BodyText: Match(`^Method not allowed\nrequest_id: [0-9a-f]+\n$`)}},
	},

	// 14-server_tokens_spec.lua: Server/Via
	tokenCase("87", "should return Kong 'Via' header but not change the 'Server' header when request was proxied", nil,
		proxiedReq.with(200, obj{"Server": Not(kongServer), "Via": kongVia}, nil)),
	tokenCase("101", "should return Kong 'Server' header but not the Kong 'Via' header when no API matched (no proxy)", nil,
		notProxiedReq.with(404, obj{"Server": kongServer, "Via": Absent}, nil)),
	Case{Spec: specTokens + ":115", Name: "should not return Kong 'Server' header when short-circuited with a matching Kong 'Via' #new", Skip: skipReqTermination},
	tokenCase("139", "should return Kong 'Via' header but not touch 'Server' header when request was proxied", withHeaders("Via"),
		proxiedReq.with(200, obj{"Via": kongVia, "Server": Not(kongVia)}, nil)),
	tokenCase("153", "should not return Kong 'Via' header or Kong 'Via' header when no API matched (no proxy)", withHeaders("Via"),
		notProxiedReq.with(404, obj{"Via": Absent, "Server": Absent}, nil)),
	tokenCase("177", "should not return Kong 'Via' header but not change the 'Server' header when request was proxied", withHeaders("Server"),
		proxiedReq.with(200, obj{"Server": Not(kongServer), "Via": Absent}, nil)),
	tokenCase("191", "should return Kong 'Server' header but not the Kong 'Via' header when no API matched (no proxy)", withHeaders("Server"),
		notProxiedReq.with(404, obj{"Server": kongServer, "Via": Absent}, nil)),
	tokenCase("215", "should return Kong 'Via' header but not change the 'Server' header when request was proxied", withHeaders("server_tokens"),
		proxiedReq.with(200, obj{"Server": Not(kongServer), "Via": kongVia}, nil)),
	tokenCase("229", "should return Kong 'Server' header but not the Kong 'Via' header when no API matched (no proxy)", withHeaders("server_tokens"),
		notProxiedReq.with(404, obj{"Server": kongServer, "Via": Absent}, nil)),
	tokenCase("253", "should not return Kong 'Via' header but it should forward the 'Server' header when request was proxied", withHeaders("off"),
		proxiedReq.with(200, obj{"Server": Not(kongServer), "Via": Absent}, nil)),
	tokenCase("268", "should not return Kong 'Server' or 'Via' headers when no API matched (no proxy)", withHeaders("off"),
		notProxiedReq.with(404, obj{"Server": Absent, "Via": Absent}, nil)),

	// 14-server_tokens_spec.lua: latency headers
	tokenCase("377", "should be returned when request was proxied", nil, proxiedReq.with(200, latency(true, true, false), nil)),
	tokenCase("392", "should not be returned when no API matched (no proxy)", nil, notProxiedReq.with(404, latency(false, false, true), nil)),
	Case{Spec: specTokens + ":407", Name: "should not be returned when request is short-circuited", Skip: skipReqTermination},
	Case{
		Spec: specTokens + ":422", Name: "should be returned when response status code is included in error_page directive (error_page not executing)",
		Setup: tokenRoutes(),
		Run: func(t *testing.T, g *GW) {
			for _, code := range []int{400, 404, 408, 411, 412, 413, 414, 417, 494, 500, 502, 503, 504} {
				g.mustDo(t, px("GET", fmt.Sprintf("/status/%d?status=%d", code, code), "headers-inspect.test").with(code, latency(true, true, false), nil))
			}
		},
	},
	tokenCase("439", "should be returned with 502 errors (error_page executing)", nil,
		px("GET", "/get", "502.test").with(502, latency(true, true, false), nil)),
	Case{Spec: specTokens + ":456", Name: "should not be returned when plugin errors on rewrite phase", Skip: skipErrorGenerator},
	Case{Spec: specTokens + ":496", Name: "should not be returned when plugin errors on access phase", Skip: skipErrorGenerator},
	tokenCase("538", "should be returned when request was proxied", withHeaders("latency_tokens"), proxiedReq.with(200, latency(true, true, false), nil)),
	tokenCase("553", "should not be returned when no API matched (no proxy)", withHeaders("latency_tokens"), notProxiedReq.with(404, latency(false, false, true), nil)),
	tokenCase("578", "should return 'X-Kong-Upstream-Latency' header but not 'X-Kong-Proxy-Latency' when request was proxied", withHeaders("X-Kong-Upstream-Latency"),
		proxiedReq.with(200, latency(true, false, false), nil)),
	tokenCase("593", "should not return any latency header when no API matched (no proxy)", withHeaders("X-Kong-Upstream-Latency"),
		notProxiedReq.with(404, latency(false, false, false), nil)),
	tokenCase("618", "should return 'X-Kong-Proxy-Latency' header but not 'X-Kong-Upstream-Latency' when request was proxied", withHeaders("X-Kong-Proxy-Latency"),
		proxiedReq.with(200, latency(false, true, false), nil)),
	tokenCase("633", "should not return any latency header when no API matched (no proxy)", withHeaders("X-Kong-Proxy-Latency"),
		notProxiedReq.with(404, latency(false, false, false), nil)),
	tokenCase("658", "should not return 'X-Kong-Proxy-Latency', 'X-Kong-Upstream-Latency' or 'X-Kong-Response-Latency' headers when request was proxied", withHeaders("X-Kong-Response-Latency"),
		proxiedReq.with(200, latency(false, false, false), nil)),
	tokenCase("673", "should return 'X-Kong-Response-Latency' when no API matched (no proxy)", withHeaders("X-Kong-Response-Latency"),
		notProxiedReq.with(404, latency(false, false, true), nil)),
	tokenCase("698", "should not be returned when request was proxied", withHeaders("off"), proxiedReq.with(200, latency(false, false, false), nil)),
	tokenCase("713", "should not be returned when no API matched (no proxy)", withHeaders("off"), notProxiedReq.with(404, latency(false, false, false), nil)),
	tokenCase("738", "should return Kong 'Via' and 'X-Kong-Proxy-Latency' header but not change the 'Server' header when request was proxied", withHeaders("server_tokens, X-Kong-Proxy-Latency"),
		proxiedReq.with(200, obj{"Server": Not(kongServer), "Via": kongVia, "X-Kong-Proxy-Latency": Present, "X-Kong-Response-Latency": Absent}, nil)),
	tokenCase("754", "should return Kong 'Server' header but not the Kong 'Via' or 'X-Kong-Proxy-Latency' header when no API matched (no proxy)", withHeaders("server_tokens, X-Kong-Proxy-Latency"),
		notProxiedReq.with(404, obj{"Server": kongServer, "Via": Absent, "X-Kong-Proxy-Latency": Absent, "X-Kong-Response-Latency": Absent}, nil)),
	Case{
		// The spec restarts Kong with spec/fixtures/headers.conf; the gateway
		// has no kong.conf, so the setting is given as KONG_HEADERS would.
		Spec: specTokens + ":770", Name: "can be specified via configuration file", Settings: withHeaders("server_tokens, X-Kong-Proxy-Latency"),
		Steps: []Step{{Path: "/", Status: 200, JSON: obj{"configuration.headers.0": "server_tokens", "configuration.headers.1": "X-Kong-Proxy-Latency"}}},
	},
	tokenCase("799", "should return Kong 'Via' and 'X-Kong-Proxy-Latency' header as 'off' will not take effect", withHeaders("server_tokens, off, X-Kong-Proxy-Latency"),
		proxiedReq.with(200, obj{"Server": Not(kongServer), "Via": kongVia, "X-Kong-Proxy-Latency": Present, "X-Kong-Response-Latency": Absent}, nil)),
	tokenCase("815", "should return Kong 'Server' header as 'off' will not take effect", withHeaders("server_tokens, off, X-Kong-Proxy-Latency"),
		notProxiedReq.with(404, obj{"Server": kongServer, "Via": Absent, "X-Kong-Proxy-Latency": Absent, "X-Kong-Response-Latency": Absent}, nil)),
	tokenCase("877", "should return Kong 'Via' and 'X-Kong-Proxy-Latency' header", withHeaders("serVer_TokEns, x-kOng-pRoXy-lAtency"),
		proxiedReq.with(200, obj{"Server": Not(kongServer), "Via": kongVia, "X-Kong-Proxy-Latency": Present, "X-Kong-Response-Latency": Absent}, nil)),
	tokenCase("893", "should return Kong 'Server' header", withHeaders("serVer_TokEns, x-kOng-pRoXy-lAtency"),
		notProxiedReq.with(404, obj{"Server": kongServer, "Via": Absent, "X-Kong-Proxy-Latency": Absent, "X-Kong-Response-Latency": Absent}, nil)),
	// 14-server_tokens_spec.lua: Admin API
	adminTokenCase("939", "should be returned when admin api is requested", nil, "Server", true),
	adminTokenCase("952", "should be returned when admin api is requested", withHeaders("server_tokens"), "Server", true),
	adminTokenCase("965", "should be returned when admin api is requested", withHeaders("Server"), "Server", true),
	adminTokenCase("978", "should not be returned when admin api is requested", withHeaders("off"), "Server", false),
	adminTokenCase("991", "should be returned when admin api is requested", nil, "X-Kong-Admin-Latency", true),
	adminTokenCase("1004", "should be returned when admin api is requested", withHeaders("latency_tokens"), "X-Kong-Admin-Latency", true),
	adminTokenCase("1017", "should be returned when admin api is requested", withHeaders("latency_tokens"), "X-Kong-Admin-Latency", true),
	adminTokenCase("1030", "should not be returned when admin api is requested", withHeaders("off"), "X-Kong-Admin-Latency", false),

	// 15-upstream-status-header_spec.lua
	Case{
		Spec: specUpStatus + ":96", Name: "when no plugin changes status code",
		Settings: withHeaders("server_tokens,latency_tokens,x-kong-upstream-status"),
		Setup:    pxSvcRoute("s200", "", obj{"paths": arr{"/status/200"}, "strip_path": false}),
		Steps:    []Step{px("GET", "/status/200", "").with(200, obj{"X-Kong-Upstream-Status": "200"}, nil)},
	},
	Case{Spec: specUpStatus + ":108", Name: "when a plugin changes status code", Skip: skipDummyPlugin},
	Case{Spec: specUpStatus + ":121", Name: "should be set when proxy-cache is enabled", Skip: skipProxyCache},
	Case{
		Spec: specUpStatus + ":152", Name: "is not injected with default configuration",
		Setup: pxSvcRoute("s200", "", obj{"paths": arr{"/status/200"}, "strip_path": false}),
		Steps: []Step{px("GET", "/status/200", "").with(200, obj{"X-Kong-Upstream-Status": Absent}, nil)},
	},
	Case{
		Spec: specUpStatus + ":196", Name: "is injected with configuration [headers=X-Kong-Upstream-Status]",
		Settings: withHeaders("X-Kong-Upstream-Status"),
		Setup:    pxSvcRoute("s200", "", obj{"paths": arr{"/status/200"}, "strip_path": false}),
		Steps:    []Step{px("GET", "/status/200", "").with(200, obj{"X-Kong-Upstream-Status": "200"}, nil)},
	},
	Case{
		Spec: specUpStatus + ":229", Name: "empty when rejected by authentication plugin",
		Settings: withHeaders("X-Kong-Upstream-Status"),
		Setup: steps(pxSvcRoute("keyauth", "", obj{"paths": arr{"/status/non-proxied-request"}}),
			Step{Method: "POST", Path: "/routes/keyauth/plugins", Body: obj{"name": "key-auth"}}),
		Steps: []Step{px("GET", "/status/non-proxied-request", "").with(401, obj{"X-Kong-Upstream-Status": Absent}, nil)},
	},

	// 33-request-id-header_spec.lua
	Case{
		Spec: specReqID + ":80", Name: "contains the expected value",
		Setup: pxSvcRoute("rid", "", obj{"hosts": arr{"request_id"}}),
		Steps: []Step{px("GET", "/", "request_id").with(200, obj{"X-Kong-Request-Id": Match(`^[0-9a-f]+$`)}, nil)},
	},
	Case{
		Spec: specReqID + ":92", Name: "should be populated when no API matched",
		Steps: []Step{{To: Proxy, Path: "/", Host: "404.test", Status: 404, JSON: obj{"message": "no Route matched with those values"},
			Headers: obj{"X-Kong-Request-Id": Match(`^[0-9a-f]+$`)}}},
	},
	Case{Spec: specReqID + ":107", Name: "overwrites value set by plugin", Skip: skipPostFunction},
	Case{
		Spec: specReqID + ":145", Name: "contains the expected value", Settings: withHeaders("X-Kong-Request-Id"),
		Setup: pxSvcRoute("rid", "", obj{"hosts": arr{"request_id"}}),
		Steps: []Step{px("GET", "/", "request_id").with(200, obj{"X-Kong-Request-Id": Match(`^[0-9a-f]+$`)}, nil)},
	},
	Case{
		Spec: specReqID + ":178", Name: "is nil", Settings: withHeaders("off"),
		Setup: pxSvcRoute("rid", "", obj{"hosts": arr{"request_id"}}),
		Steps: []Step{px("GET", "/", "request_id").with(200, obj{"X-Kong-Request-Id": Absent}, nil)},
	},
	Case{
		Spec: specReqID + ":213", Name: "contains the expected value",
		Setup: pxSvcRoute("rid", "", obj{"hosts": arr{"request_id"}}),
		Steps: []Step{px("GET", "/anything", "request_id").with(200, nil, obj{"headers.x-kong-request-id": Match(`^[0-9a-f]+$`)})},
	},
	Case{
		Spec: specReqID + ":226", Name: "overwrites client value if any",
		Setup: pxSvcRoute("rid", "", obj{"hosts": arr{"request_id"}}),
		Steps: []Step{px("GET", "/anything", "request_id", "X-Kong-Request-Id", "client_value").with(200, nil,
			obj{"headers.x-kong-request-id": Match(`^[0-9a-f]+$`)})},
	},
	Case{Spec: specReqID + ":245", Name: "overwrites value set by plugin", Skip: skipPostFunction},
	Case{
		Spec: specReqID + ":284", Name: "contains the expected value",
		Settings: func(s *server.Settings) { s.HeadersUpstream = "X-Kong-Request-Id" },
		Setup:    pxSvcRoute("rid", "", obj{"hosts": arr{"request_id"}}),
		Steps:    []Step{px("GET", "/", "request_id").with(200, nil, obj{"headers.x-kong-request-id": Match(`^[0-9a-f]+$`)})},
	},
	Case{
		Spec: specReqID + ":319", Name: "is nil",
		Settings: func(s *server.Settings) { s.HeadersUpstream = "off" },
		Setup:    pxSvcRoute("rid", "", obj{"hosts": arr{"request_id"}}),
		Steps:    []Step{px("GET", "/", "request_id").with(200, nil, obj{"headers.x-kong-request-id": Absent})},
	},

	// 35-via_spec.lua
	Case{
		Spec: specVia + ":135", Name: "HTTP/1.1 in both the inbound and outbound directions",
		Setup: steps(pxService("via_service", "/via", nil), pxRoute("via_service", obj{"hosts": arr{"test.via"}, "paths": arr{"/get"}})),
		Steps: []Step{px("GET", "/get?header=Server:http-mock&header=Via:2%20nginx,%20HTTP/1.1%20http_mock", "test.via", "Via", "1.1 dev").with(200,
			obj{"Via": "2 nginx, HTTP/1.1 http_mock, " + kongVia, "Server": "http-mock"}, obj{"headers.via": "1.1 dev, " + kongVia})},
	},
	Case{
		Spec: specVia + ":158", Name: "HTTP/2 in both the inbound and outbound directions",
		Setup: steps(pxService("via_service", "/via", nil), pxRoute("via_service", obj{"hosts": arr{"test.via"}, "paths": arr{"/get"}, "protocols": arr{"http", "https"}})),
		Run: func(t *testing.T, g *GW) {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			req, _ := http.NewRequest("GET", g.ProxyTLSURL+"/get?header=Server:http-mock&header=Via:2%20nginx,%20HTTP/1.1%20http_mock", nil)
			req.Host = "test.via"
			req.Header.Set("Via", "1.1 dev")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var seen EchoRequest
			_ = json.Unmarshal(body, &seen)
			if resp.ProtoMajor != 2 || resp.StatusCode != 200 || seen.Headers["via"] != "1.1 dev, 2 kong/"+config.KongVersion ||
				resp.Header.Get("Via") != "2 nginx, HTTP/1.1 http_mock, "+kongVia || resp.Header.Get("Server") != "http-mock" {
				t.Errorf("%s %d: upstream saw Via %q; response Via %q Server %q", resp.Proto, resp.StatusCode, seen.Headers["via"],
					resp.Header.Get("Via"), resp.Header.Get("Server"))
			}
		},
	},
	Case{Spec: specVia + ":178", Name: "gRPC without SSL in both the inbound and outbound directions", Skip: skipGRPC},
	Case{Spec: specVia + ":202", Name: "gRPC with SSL in both the inbound and outbound directions", Skip: skipGRPC},

	// 08-uri_encoding_spec.lua
	uriCase("46", "issue #1975 does not double percent-encode proxied args",
		px("GET", "/get?limit=25&where=%7B%22or%22:%5B%7B%22name%22:%7B%22like%22:%22%25bac%25%22%7D%7D%5D%7D", "mock_upstream").
			with(200, nil, obj{"query.limit": arr{"25"}, "query.where": arr{`{"or":[{"name":{"like":"%bac%"}}]}`}})),
	uriCase("64", "issue #1480 does not percent-encode args unnecessarily",
		px("GET", "/request?param=1.2.3", "mock_upstream").with(200, nil, obj{"uri": "/request?param=1.2.3"})),
	uriCase("83", "issue #749 does not decode percent-encoded args",
		px("GET", "/request?param=abc%7Cdef", "mock_upstream").with(200, nil, obj{"uri": "/request?param=abc%7Cdef"})),
	uriCase("100", "issue #688 does not percent-decode proxied URLs",
		px("GET", "/request/foo%2Fbar", "mock_upstream").with(200, nil, obj{"uri": "/request/foo%2Fbar"})),
	Case{
		Spec: specURIEnc + ":117", Name: "issue #2512 does not double percent-encode upstream URLs", Setup: uriRoutes(),
		Steps: []Step{
			px("GET", "/request/auth%2F123", "mock_upstream").with(200, nil, obj{"uri": "/request/auth%2F123"}),
			px("GET", "/request/auth%2F123", "").with(200, nil, obj{"uri": "/request/auth%2F123"}),
			px("GET", "/stripped-path/request/auth%2F123", "").with(200, nil, obj{"uri": "/request/auth%2F123"}),
		},
	},
	Case{Spec: "spec/02-integration/05-proxy/32-query-params_spec.lua:55", Name: "does proxy set query args if URI does not contain arguments", Skip: skipReqTransform},
)

func adminTokenCase(line, name string, settings func(*server.Settings), header string, present bool) Case {
	var want any = Present
	if !present {
		want = Absent
	}
	return Case{Spec: specTokens + ":" + line, Name: name, Settings: settings,
		Steps: []Step{{Path: "/", Status: 200, Headers: obj{header: want}}}}
}

func uriRoutes() []Step {
	return steps(
		pxSvcRoute("h1", "", obj{"hosts": arr{"mock_upstream"}}),
		pxSvcRoute("h2", "", obj{"hosts": arr{"mock_upstream"}}),
		pxSvcRoute("request", "", obj{"paths": arr{"/request"}, "strip_path": false}),
		pxSvcRoute("stripped", "", obj{"paths": arr{"/stripped-path"}, "strip_path": true}),
	)
}

func uriCase(line, name string, s Step) Case {
	return Case{Spec: specURIEnc + ":" + line, Name: name, Setup: uriRoutes(), Steps: []Step{s}}
}
