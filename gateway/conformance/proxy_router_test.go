package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Kong 3.9 spec/02-integration/05-proxy/02-router_spec.lua. Kong runs it for
// three router flavors; the gateway follows the default, traditional_compatible,
// so it_trad_only rows (pending there) and the expressions-only block are
// listed as skipped. Kong identifies the matched route by its debug headers
// (allow_debug_header = true); rows do the same (debugOn).

var _ = register("proxy-router", proxyRouterCases)

const (
	skipTradOnly    = "router flavor traditional (it_trad_only; pending in Kong's default traditional_compatible)"
	skipExpressions = "router flavor expressions"
	skipGRPC        = "gRPC proxying"
	skipSNI         = "certificates/SNIs (route snis matching)"
	skipStream      = "stream routes (tls_passthrough)"
	skipWorkers     = "nginx worker processes (respawn)"
)

var proxyRouterCases = rows(
	Case{
		Spec: specRouter + ":186", Name: "responds 404 if no route matches", Settings: debugOn,
		Steps: []Step{px("GET", "/", "inexistent.com").with(404, map[string]any{"Server": Match(`^kong/`)}, nil)},
	},
	Case{
		Spec: specRouter + ":283", Name: "responds 503 if no service found", Settings: debugOn,
		Setup: []Step{{Method: "POST", Path: "/routes", Body: obj{"protocols": arr{"http", "https"}, "hosts": arr{"serviceless-route-http.test"}}}},
		Steps: []Step{
			{To: Proxy, Path: "/", Host: "serviceless-route-http.test", Status: 503, JSON: obj{"message": "no Service found with those values"}},
			{To: ProxyTLS, Path: "/", Host: "serviceless-route-http.test", Status: 503, JSON: obj{"message": "no Service found with those values"}},
		},
	},
	Case{
		Spec: specRouter + ":310", Name: "restricts an route to its methods if specified", Settings: debugOn,
		Setup: steps(pxSvcRoute("get", "", obj{"methods": arr{"GET"}, "strip_path": false}),
			pxSvcRoute("postput", "", obj{"methods": arr{"POST", "PUT"}, "paths": arr{"/post", "/put"}, "strip_path": false})),
		Steps: []Step{
			dbg("POST", "/post", "").with(200, routedTo("postput"), nil),
			dbg("DELETE", "/post", "").with(404, notRouted, nil),
		},
	},
	Case{
		Spec: specRouter + ":338", Name: "routes by method-only if no other match is found", Settings: debugOn,
		Setup: steps(pxSvcRoute("get", "", obj{"methods": arr{"GET"}, "strip_path": false}),
			pxSvcRoute("postput", "", obj{"methods": arr{"POST", "PUT"}, "paths": arr{"/post", "/put"}, "strip_path": false})),
		Steps: []Step{dbg("GET", "/get", "").with(200, routedTo("get"), obj{"uri": "/get"})},
	},
	Case{
		Spec: specRouter + ":353", Name: "HTTP/1.0 routes normally", Settings: debugOn,
		Setup: pxSvcRoute("first", "", obj{"methods": arr{"GET"}, "strip_path": false}),
		Run: func(t *testing.T, g *GW) {
			out := rawExchange(t, g.Vars["proxy_host"], "GET /get HTTP/1.0\r\nKong-Debug: 1\r\n\r\n")
			resp := rawResponse(t, out)
			if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(out), "kong-service-name: first") {
				t.Errorf("HTTP/1.0 without Host: %q", out)
			}
		},
	},
	Case{
		Spec: specRouter + ":379", Name: "HTTP/1.1 is rejected by NGINX", Settings: debugOn,
		Setup: pxSvcRoute("first", "", obj{"methods": arr{"GET"}, "strip_path": false}),
		Run: func(t *testing.T, g *GW) {
			out := rawExchange(t, g.Vars["proxy_host"], "GET /get HTTP/1.1\r\nKong-Debug: 1\r\n\r\n")
			resp := rawResponse(t, out)
			if resp.StatusCode != 400 || !strings.Contains(out, "Bad request") || !strings.Contains(out, "Server: kong/") {
				t.Errorf("HTTP/1.1 without Host: want 400 with Kong's \"Bad request\" and Server: kong/, got %q", out)
			}
		},
	},
	Case{
		Spec: specRouter + ":406", Name: "with strip_path = true", Settings: debugOn,
		Setup: pxSvcRoute("mock", "/status", obj{"paths": arr{"/mock_upstream"}, "strip_path": true}),
		// Kong's mock upstream answers /status/201 with 201: the upstream got /status/201.
		Steps: []Step{dbg("GET", "/mock_upstream/201", "").with(200, routedTo("mock"), obj{"uri": "/status/201"})},
	},
	Case{
		Spec: specRouter + ":421", Name: "route with a path component in its upstream_url and strip_path = false", Settings: debugOn,
		Setup: pxSvcRoute("private", "/basic-auth/", obj{"paths": arr{"/private"}, "strip_path": false}),
		// Kong's mock answers /basic-auth/private/passwd with 401: the upstream got that path.
		Steps: []Step{dbg("GET", "/private/passwd", "").with(200, routedTo("private"), obj{"uri": "/basic-auth/private/passwd"})},
	},
	Case{
		Spec: specRouter + ":435", Name: "route with a path component in its upstream_url and [uri] with a regex", Settings: debugOn,
		Setup: pxSvcRoute("users", "/anything", obj{"paths": arr{`~/users/\d+/profile`}, "strip_path": true}),
		Steps: []Step{
			dbg("GET", "/users/foo/profile", "").with(404, nil, nil),
			dbg("GET", "/users/123/profile", "").with(200, routedTo("users"), obj{"uri": "/anything"}),
		},
	},
	Case{
		Spec: specRouter + ":458", Name: "ignores route where service enabled=false", Settings: debugOn,
		Setup: steps(pxService("disabled1", "/disabled-service-path/", obj{"enabled": false}),
			pxRoute("disabled1", obj{"paths": arr{"/disabled-service1"}, "strip_path": false})),
		Steps: []Step{dbg("GET", "/disabled-service1", "").with(404, notRouted, nil)},
	},
	Case{
		Spec: specRouter + ":468", Name: "routes to regex path when longer path service enabled=false", Settings: debugOn,
		Setup: steps(pxSvcRoute("enabled-service", "/anything/", obj{"paths": arr{`~/enabled-service/\w+`}, "strip_path": true}),
			pxService("disabled2", "/some-path/", obj{"enabled": false}),
			pxRoute("disabled2", obj{"paths": arr{"/enabled-service/disabled"}, "strip_path": true})),
		Steps: []Step{dbg("GET", "/enabled-service/disabled", "").with(200, routedTo("enabled-service"), nil)},
	},
	Case{Spec: specRouter + ":543", Name: "responds 503 if no service found", Skip: skipGRPC},
	Case{Spec: specRouter + ":576", Name: "restricts a route to its 'hosts' if specified", Skip: skipGRPC},
	Case{Spec: specRouter + ":608", Name: "restricts a route to its 'hosts' if specified (grpcs)", Skip: skipGRPC},
	Case{Spec: specRouter + ":640", Name: "restricts a route to its wildcard 'hosts' if specified", Skip: skipGRPC},
	Case{Spec: specRouter + ":657", Name: "restricts a route to its wildcard 'hosts' if specified (grpcs)", Skip: skipGRPC},
	Case{Spec: specRouter + ":674", Name: "restricts a route to its 'paths' if specified", Skip: skipGRPC},
	Case{Spec: specRouter + ":704", Name: "restricts a route to its 'paths' if specified (grpcs)", Skip: skipGRPC},
	Case{Spec: specRouter + ":775", Name: "depends on created_at field", Skip: skipTradOnly},
	Case{
		Spec: specRouter + ":856", Name: "depends on the regex_priority field", Settings: debugOn,
		Setup: steps(pxSvcRoute("regex_1", "/status/200", obj{"paths": arr{"~/status/(?P<foo>re)"}, "strip_path": true, "regex_priority": 0}),
			pxSvcRoute("regex_2", "/status/200", obj{"paths": arr{"~/status/(re)"}, "strip_path": true, "regex_priority": 4}),
			pxSvcRoute("regex_3", "/status/200", obj{"paths": arr{"~/status/(ab)"}, "strip_path": true, "regex_priority": 0}),
			pxSvcRoute("regex_4", "/status/200", obj{"paths": arr{"~/status/(ab)c?"}, "strip_path": true, "regex_priority": 0})),
		Steps: []Step{dbg("GET", "/status/re", "").with(200, map[string]any{"Kong-Service-Name": "regex_2"}, nil)},
	},
	Case{Spec: specRouter + ":866", Name: "depends on created_at if regex_priority is tie", Skip: skipTradOnly},
	Case{
		Spec: specRouter + ":892", Name: "preserves URI arguments",
		Setup: pxSvcRoute("mock", "", obj{"hosts": arr{"mock_upstream"}}),
		Steps: []Step{px("GET", "/get?foo=bar&hello=world", "mock_upstream").with(200, nil, obj{"query.foo": arr{"bar"}, "query.hello": arr{"world"}})},
	},
	Case{
		Spec: specRouter + ":911", Name: "does proxy an empty querystring if URI does not contain arguments",
		Setup: pxSvcRoute("mock", "", obj{"hosts": arr{"mock_upstream"}}),
		Steps: []Step{px("GET", "/request?", "mock_upstream").with(200, nil, obj{"uri": Match(`/request\?$`)})},
	},
	Case{
		Spec: specRouter + ":925", Name: "does proxy a querystring with an empty value",
		Setup: pxSvcRoute("mock", "", obj{"hosts": arr{"mock_upstream"}}),
		Steps: []Step{px("GET", "/get?hello", "mock_upstream").with(200, nil, obj{"uri": Match(`/get\?hello$`)})},
	},
	normalizationCase(":964", `matches against normalized URI with ".."`, "/foo/a/../bar", "r1", obj{"headers.x-forwarded-path": "/foo/a/../bar"}),
	normalizationCase(":980", `matches against normalized URI with "//"`, "/foo//bar", "r1", obj{"headers.x-forwarded-path": "/foo//bar"}),
	normalizationCase(":996", `matches against normalized URI with "/./"`, "/foo/./bar", "r1", obj{"headers.x-forwarded-path": "/foo/./bar"}),
	normalizationCase(":1012", "matches against normalized URI with percent-encoded characters", "/h%65llo", "r2", obj{"headers.x-forwarded-path": "/h%65llo"}),
	normalizationCase(":1028", "proxies normalized URI to upstream with strip_path = true", "/h%65llo/anything/a/../b", "r2", obj{"uri": "/anything/b"}),
	normalizationCase(":1044", "proxies normalized URI to upstream with strip_path = false", "/anything/./a/../wor%6cd/a/../b", "r3", obj{"uri": "/anything/world/b"}),
	normalizationCase(":1060", "re-encode special characters in request uri when proxying to the upstream", "/anything/world/cat%20and%20dog", "r3", obj{"uri": "/anything/world/cat%20and%20dog"}),
	Case{
		Spec: specRouter + ":1094", Name: "strips subsequent calls to an route with different [paths]",
		Setup: pxSvcRoute("xyz", "", obj{"paths": arr{"/x/y/z", "/z/y/x"}, "strip_path": true}),
		Steps: []Step{
			px("GET", "/x/y/z/get", "").with(200, nil, obj{"uri": "/get"}),
			px("GET", "/z/y/x/get", "").with(200, nil, obj{"uri": "/get"}),
			px("GET", "/x/y/z/get", "").with(200, nil, obj{"uri": "/get"}),
			px("GET", "/x/y/z/get", "").with(200, nil, obj{"uri": "/get"}),
		},
	},
	preserveHostCase(":1171", "uses hostname from upstream_url", "discarded.com", obj{"host": Match(`^127\.0\.0\.1`)}),
	preserveHostCase(":1184", "uses port value from upstream_url if not default", "discarded.com", obj{"host": Match(`^127\.0\.0\.1:\d+$`)}),
	preserveHostCase(":1199", "forwards request Host", "preserved.com", obj{"host": "preserved.com"}),
	Case{Spec: specRouter + ":1211", Name: "forwards request Host:Port even if port is default", Skip: skipTradOnly},
	preserveHostCase(":1223", "forwards request Host:Port if port isn't default", "preserved.com:123", obj{"host": "preserved.com:123"}),
	preserveHostCase(":1235", "forwards request Host even if not matched by [hosts]", "preserved.com", obj{"host": "preserved.com"}),
	Case{
		Spec: specRouter + ":1269", Name: "root / [uri] for a catch-all rule", Settings: debugOn,
		Setup: steps(pxSvcRoute("root", "", obj{"paths": arr{"/"}, "strip_path": true}),
			pxSvcRoute("foobar", "", obj{"paths": arr{"/foobar"}, "strip_path": true})),
		Steps: []Step{
			dbg("GET", "/get", "").with(200, routedTo("root"), nil),
			dbg("GET", "/foobar/get", "").with(200, routedTo("foobar"), nil),
		},
	},
	Case{Spec: specRouter + ":1354", Name: "matches a route based on its 'snis' attribute", Skip: skipSNI},
	Case{Spec: specRouter + ":1399", Name: "matches a route based on its leftmost wildcard sni", Skip: skipSNI},
	Case{Spec: specRouter + ":1416", Name: "matches a route based on its rightmost wildcard sni", Skip: skipSNI},
	Case{Spec: specRouter + ":1505", Name: "matches a route based on its 'snis' attribute", Skip: skipStream},
	Case{Spec: specRouter + ":1556", Name: "matches a route based on its leftmost wildcard sni", Skip: skipStream},
	Case{Spec: specRouter + ":1582", Name: "matches a route based on its rightmost wildcard sni", Skip: skipStream},
	Case{
		Spec: specRouter + ":1617", Name: "matches by header", Settings: debugOn,
		Setup: steps(pxSvcRoute("v12", "", obj{"headers": obj{"version": arr{"v1", "v2"}}}),
			pxSvcRoute("v3", "", obj{"headers": obj{"version": arr{"v3"}}})),
		Steps: []Step{
			dbg("GET", "/", "domain.test", "version", "v1").with(200, routedTo("v12"), nil),
			dbg("GET", "/", "domain.test", "version", "v3").with(200, routedTo("v3"), nil),
		},
	},
	Case{
		Spec: specRouter + ":1664", Name: "matches headers in a case-insensitive way", Settings: debugOn,
		Setup: steps(pxSvcRoute("v12", "", obj{"headers": obj{"Version": arr{"v1", "v2"}}}),
			pxSvcRoute("v3", "", obj{"headers": obj{"version": arr{"V3"}}})),
		Steps: []Step{
			dbg("GET", "/", "domain.test", "version", "v1").with(200, routedTo("v12"), nil),
			dbg("GET", "/", "domain.test", "Version", "v3").with(200, routedTo("v3"), nil),
		},
	},
	Case{
		Spec: specRouter + ":1715", Name: "prioritizes Routes with more headers", Settings: debugOn,
		Setup: steps(pxSvcRoute("v12", "", obj{"headers": obj{"version": arr{"v1", "v2"}}}),
			pxSvcRoute("v3east", "", obj{"headers": obj{"version": arr{"v3"}, "location": arr{"us-east"}}}),
			pxSvcRoute("v3", "", obj{"headers": obj{"version": arr{"v3"}}})),
		Steps: []Step{
			dbg("GET", "/", "domain.test", "version", "v3", "location", "us-east").with(200, routedTo("v3east"), nil),
			dbg("GET", "/", "domain.test", "version", "v3").with(200, routedTo("v3"), nil),
		},
	},
	Case{
		Spec: specRouter + ":1773", Name: "caching do not ignore headers (regression)", Settings: debugOn,
		Setup: steps(pxSvcRoute("first", "", obj{"hosts": arr{"example.test"}, "paths": arr{"/test"}, "headers": obj{"headertest": arr{"itsatest"}}}),
			pxSvcRoute("second", "", obj{"hosts": arr{"example.test"}, "paths": arr{"/test"}})),
		Steps: []Step{
			dbg("GET", "/test", "example.test", "headertest", "itsatest").with(200, routedTo("first"), nil),
			dbg("GET", "/test", "example.test").with(200, routedTo("second"), nil),
			dbg("GET", "/test", "example.test", "headertest", "itsatest").with(200, routedTo("first"), nil),
		},
	},
	Case{
		Spec: specRouter + ":1878", Name: "prioritizes Routes with more headers", Settings: debugOn,
		Setup: pathsHeadersRoutes(),
		// Kong's mock answers 404 to /fixture/get: the route stripped /root.
		Steps: []Step{dbg("GET", "/root/fixture/get", "", "version", "v2", "location", "us-east").with(200, routedTo("root-east"), obj{"uri": "/fixture/get"})},
	},
	Case{
		Spec: specRouter + ":1896", Name: "prioritizes longer paths if same number of headers", Settings: debugOn,
		Setup: pathsHeadersRoutes(),
		Steps: []Step{dbg("GET", "/root/fixture/get", "", "version", "v2").with(200, routedTo("root-fixture"), obj{"uri": "/get"})},
	},
	Case{Spec: specRouter + ":1971", Name: "matches a route based on its 'snis' attribute", Skip: skipGRPC},
	Case{Spec: specRouter + ":2005", Name: "matches a route based on its leftmost wildcard sni", Skip: skipGRPC},
	Case{Spec: specRouter + ":2025", Name: "matches a route based on its rightmost wildcard sni", Skip: skipGRPC},
	Case{Spec: specRouter + ":2156", Name: "regression test for #5438", Skip: skipTradOnly},
	Case{Spec: specRouter + ":2178", Name: "regression test for #5438 concatenating paths", Skip: skipTradOnly},
	Case{Spec: specRouter + ":2200", Name: "regression test for #5438 part 2", Skip: skipTradOnly},
	Case{Spec: specRouter + ":2217", Name: "prioritizes longer URIs", Skip: skipTradOnly},
	Case{
		Spec: specRouter + ":2234", Name: "prioritizes host over longer URIs", Settings: debugOn,
		Setup: pathsMethodsRoutes(),
		Steps: []Step{dbg("GET", "/root/fixture/get", "anotherhost.test").with(200, routedTo("r3"), obj{"uri": "/status/203"})},
	},
	Case{
		Spec: specRouter + ":2251", Name: "do not match incomplete URIs", Settings: debugOn,
		Setup: pathsMethodsRoutes(),
		Steps: []Step{dbg("GET", "/", "ahost.test").with(404, nil, nil)},
	},
	Case{Spec: specRouter + ":2287", Name: "prioritizes longer URIs", Skip: skipTradOnly},
	slashHandlingCases(false),
	slashHandlingCases(true),
	Case{
		Spec: specRouter + ":2438", Name: "when Routes have 'regex_priority = nil'",
		Setup: steps(pxSvcRoute("r1", "", obj{"methods": arr{"GET"}, "regex_priority": 1}),
			pxSvcRoute("r2", "", obj{"methods": arr{"POST", "PUT"}, "regex_priority": nil})),
		Steps: []Step{px("GET", "/", "").with(200, nil, nil)},
	},
	Case{
		Spec: specRouter + ":2515", Name: "uses configuration from datastore or declarative_config", Settings: debugOn,
		Setup: pxSvcRoute("startup", "", obj{"methods": arr{"GET"}, "strip_path": false}),
		Run: func(t *testing.T, g *GW) {
			for i := 0; i < 100; i++ {
				g.mustDo(t, dbg("GET", "/get", "").with(200, map[string]any{"Kong-Service-Name": "startup"}, nil))
			}
		},
	},
	Case{
		Spec: specRouter + ":2515", Name: "uses configuration from datastore or declarative_config (declarative_config)", DBLess: true, Settings: debugOn,
		Declarative: "_format_version: \"3.0\"\nservices:\n- name: startup\n  url: http://{{echo}}\n  routes:\n  - methods: [GET]\n    protocols: [http]\n    strip_path: false\n",
		Run: func(t *testing.T, g *GW) {
			for i := 0; i < 100; i++ {
				g.mustDo(t, dbg("GET", "/get", "").with(200, map[string]any{"Kong-Service-Name": "startup"}, nil))
			}
		},
	},
	Case{Spec: specRouter + ":2531", Name: "#db worker respawn correctly rebuilds router", Skip: skipWorkers},
	Case{
		Spec: specRouter + ":2561", Name: "#db rebuilds router correctly after passing route with special escape", Settings: debugOn,
		Setup: []Step{
			{Method: "POST", Path: "/routes", Body: obj{"paths": arr{`~/delay/(?<delay>[^\/]+)$`}}, Status: 201},
			{Method: "POST", Path: "/routes", Body: obj{"paths": arr{"/foo"}}, Status: 201},
		},
		Steps: []Step{dbg("GET", "/foo", "").with(503, nil, nil)},
	},
	Case{
		Spec: specRouter + ":2651", Name: "disable allow_debug_header config",
		Setup: pxSvcRoute("nodebug", "", obj{"methods": arr{"GET"}, "strip_path": false}),
		Run: func(t *testing.T, g *GW) {
			for i := 0; i < 100; i++ {
				g.mustDo(t, dbg("GET", "/get", "").with(200, map[string]any{"Kong-Route-Id": Absent, "Kong-Route-Name": Absent,
					"Kong-Service-Id": Absent, "Kong-Service-Name": Absent}, nil))
			}
		},
	},
	Case{Spec: specRouter + ":2741", Name: "query has wrong value", Skip: skipExpressions},
	Case{Spec: specRouter + ":2750", Name: "query has one value", Skip: skipExpressions},
	Case{Spec: specRouter + ":2759", Name: "query value is empty string", Skip: skipExpressions},
	Case{Spec: specRouter + ":2768", Name: "query has no value", Skip: skipExpressions},
	Case{Spec: specRouter + ":2777", Name: "query has multiple values", Skip: skipExpressions},
	Case{Spec: specRouter + ":2786", Name: "query does not match multiple values", Skip: skipExpressions},
	Case{Spec: specRouter + ":2841", Name: "can set route.priority to 2^46 - 1", Skip: skipExpressions},
)

// normalizationCase is one row of the router spec's "URI normalization" block.
func normalizationCase(line, name, path, route string, seen obj) Case {
	if _, ok := seen["uri"]; !ok {
		seen["uri"] = NotNull
	}
	return Case{
		Spec: specRouter + line, Name: name, Settings: debugOn,
		Setup: steps(pxSvcRoute("r1", "", obj{"paths": arr{"/foo/bar"}, "strip_path": true}),
			pxSvcRoute("r2", "", obj{"paths": arr{"/hello"}, "strip_path": true}),
			pxSvcRoute("r3", "", obj{"paths": arr{"/anything/world"}, "strip_path": false})),
		Steps: []Step{dbg("GET", path, "").with(200, routedTo(route), seen)},
	}
}

// preserveHostCase is one row of the router spec's preserve_host block.
func preserveHostCase(line, name, host string, seen obj) Case {
	return Case{
		Spec: specRouter + line, Name: name,
		Setup: steps(pxSvcRoute("preserved", "/request", obj{"preserve_host": true, "hosts": arr{"preserved.com", "preserved.com:123"}}),
			pxSvcRoute("discarded", "/request", obj{"preserve_host": false, "hosts": arr{"discarded.com"}}),
			pxSvcRoute("request", "", obj{"strip_path": false, "preserve_host": true, "paths": arr{"/request"}})),
		Steps: []Step{px("GET", "/get", host).with(200, nil, seen)},
	}
}

func pathsHeadersRoutes() []Step {
	return steps(
		pxSvcRoute("root", "", obj{"strip_path": true, "headers": obj{"version": arr{"v1", "v2"}}, "paths": arr{"/root"}}),
		pxSvcRoute("root-fixture", "", obj{"strip_path": true, "headers": obj{"version": arr{"v1", "v2"}}, "paths": arr{"/root/fixture"}}),
		pxSvcRoute("root-east", "", obj{"strip_path": true, "headers": obj{"version": arr{"v1", "v2"}, "location": arr{"us-east"}}, "paths": arr{"/root"}}),
	)
}

func pathsMethodsRoutes() []Step {
	return steps(
		pxSvcRoute("r1", "/status/201", obj{"strip_path": true, "methods": arr{"GET"}, "paths": arr{"/unrelated/longer/uri/that/should/not/match", "/root/fixture"}, "hosts": arr{"ahost.test"}}),
		pxSvcRoute("r2", "/status/202", obj{"strip_path": true, "methods": arr{"GET"}, "paths": arr{"/root/fixture/get"}, "hosts": arr{"ahost.test"}}),
		pxSvcRoute("r3", "/status/203", obj{"strip_path": true, "methods": arr{"GET"}, "paths": arr{"/root/fixture/get"}, "hosts": arr{"anotherhost.test"}}),
		pxSvcRoute("r4", "/status/204", obj{"strip_path": true, "methods": arr{"GET"}, "paths": arr{"/root/fixture/get"}, "hosts": arr{"onemorehost.test"}}),
	)
}

// pathHandlingTests is Kong 3.9's spec/fixtures/router_path_handling_tests.lua
// (service_path, route_path, strip_path, path_handling, request_path,
// expected_path); a nil route_path ("" here) matches on host only. Rows
// hold several values where Kong's do ({false, true}, {"v0", "v1"}).
var pathHandlingTests = []struct {
	svc, route string
	strip      []bool
	handling   []string
	req, want  string
}{
	{"/", "/", bb, v01, "/", "/"},
	{"/", "/", bb, v01, "/route", "/route"},
	{"/", "/", bb, v01, "/route/", "/route/"},
	{"/", "/", bb, v01, "/routereq", "/routereq"},
	{"/", "/", bb, v01, "/route/req", "/route/req"},
	{"/", "/route", bf, v01, "/route", "/route"},
	{"/", "/route", bf, v01, "/route/", "/route/"},
	{"/", "/route", bf, v01, "/routereq", "/routereq"},
	{"/", "/route", bt, v01, "/route", "/"},
	{"/", "/route", bt, v01, "/route/", "/"},
	{"/", "/route", bt, v01, "/routereq", "/req"},
	{"/", "/route/", bf, v01, "/route/", "/route/"},
	{"/", "/route/", bf, v01, "/route/req", "/route/req"},
	{"/", "/route/", bt, v01, "/route/", "/"},
	{"/", "/route/", bt, v01, "/route/req", "/req"},
	{"/srv", "/rou", bf, v0, "/roureq", "/srv/roureq"},
	{"/srv", "/rou", bf, v1, "/roureq", "/srvroureq"},
	{"/srv", "/rou", bt, v0, "/roureq", "/srv/req"},
	{"/srv", "/rou", bt, v1, "/roureq", "/srvreq"},
	{"/srv/", "/rou", bf, v01, "/rou", "/srv/rou"},
	{"/srv/", "/rou", bt, v0, "/rou", "/srv"},
	{"/srv/", "/rou", bt, v1, "/rou", "/srv/"},
	{"/service", "/", bb, v01, "/", "/service"},
	{"/service", "/", bb, v0, "/route", "/service/route"},
	{"/service", "/", bb, v1, "/route", "/serviceroute"},
	{"/service", "/", bb, v0, "/route/", "/service/route/"},
	{"/service", "/", bb, v1, "/route/", "/serviceroute/"},
	{"/service", "/", bb, v0, "/routereq", "/service/routereq"},
	{"/service", "/", bb, v1, "/routereq", "/serviceroutereq"},
	{"/service", "/", bb, v0, "/route/req", "/service/route/req"},
	{"/service", "/", bb, v1, "/route/req", "/serviceroute/req"},
	{"/service", "/route", bf, v0, "/route", "/service/route"},
	{"/service", "/route", bf, v1, "/route", "/serviceroute"},
	{"/service", "/route", bf, v0, "/route/", "/service/route/"},
	{"/service", "/route", bf, v1, "/route/", "/serviceroute/"},
	{"/service", "/route", bf, v0, "/routereq", "/service/routereq"},
	{"/service", "/route", bf, v1, "/routereq", "/serviceroutereq"},
	{"/service", "/route", bt, v01, "/route", "/service"},
	{"/service", "/route", bt, v01, "/route/", "/service/"},
	{"/service", "/route", bt, v0, "/routereq", "/service/req"},
	{"/service", "/route", bt, v1, "/routereq", "/servicereq"},
	{"/service", "/route/", bf, v0, "/route/", "/service/route/"},
	{"/service", "/route/", bf, v1, "/route/", "/serviceroute/"},
	{"/service", "/route/", bf, v0, "/route/req", "/service/route/req"},
	{"/service", "/route/", bf, v1, "/route/req", "/serviceroute/req"},
	{"/service", "/route/", bt, v0, "/route/", "/service/"},
	{"/service", "/route/", bt, v1, "/route/", "/service"},
	{"/service", "/route/", bt, v0, "/route/req", "/service/req"},
	{"/service", "/route/", bt, v1, "/route/req", "/servicereq"},
	{"/service/", "/", bb, v0, "/route/", "/service/route/"},
	{"/service/", "/", bb, v1, "/route/", "/service/route/"},
	{"/service/", "/", bb, v01, "/", "/service/"},
	{"/service/", "/", bb, v01, "/route", "/service/route"},
	{"/service/", "/", bb, v01, "/routereq", "/service/routereq"},
	{"/service/", "/", bb, v01, "/route/req", "/service/route/req"},
	{"/service/", "/route", bf, v01, "/route", "/service/route"},
	{"/service/", "/route", bf, v01, "/route/", "/service/route/"},
	{"/service/", "/route", bf, v01, "/routereq", "/service/routereq"},
	{"/service/", "/route", bt, v0, "/route", "/service"},
	{"/service/", "/route", bt, v1, "/route", "/service/"},
	{"/service/", "/route", bt, v01, "/route/", "/service/"},
	{"/service/", "/route", bt, v01, "/routereq", "/service/req"},
	{"/service/", "/route/", bf, v01, "/route/", "/service/route/"},
	{"/service/", "/route/", bf, v01, "/route/req", "/service/route/req"},
	{"/service/", "/route/", bt, v01, "/route/", "/service/"},
	{"/service/", "/route/", bt, v01, "/route/req", "/service/req"},
	{"/", "", bb, v01, "/", "/"},
	{"/", "", bb, v01, "/route", "/route"},
	{"/", "", bb, v01, "/route/", "/route/"},
	{"/service", "", bb, v01, "/", "/service"},
	{"/service", "", bb, v0, "/route", "/service/route"},
	{"/service", "", bb, v1, "/route", "/serviceroute"},
	{"/service", "", bb, v0, "/route/", "/service/route/"},
	{"/service", "", bb, v1, "/route/", "/serviceroute/"},
	{"/service/", "", bb, v01, "/", "/service/"},
	{"/service/", "", bb, v01, "/route", "/service/route"},
	{"/service/", "", bb, v01, "/route/", "/service/route/"},
	{"/service", "/route", bt, v0, "/route./req", "/service/req"},
	{"/service", "/route", bt, v1, "/route./req", "/servicereq"},
	{"/service/", "/route", bt, v01, "/route./req", "/service/req"},
	{"/service", "/route", bt, v0, "/route%2E/req", "/service/req"},
	{"/service", "/route", bt, v1, "/route%2E/req", "/servicereq"},
	{"/service/", "/route", bt, v01, "/route%2E/req", "/service/req"},
	{"/service", "/route", bt, v0, "/route%2e/req", "/service/req"},
	{"/service", "/route", bt, v1, "/route%2e/req", "/servicereq"},
	{"/service/", "/route", bt, v01, "/route%2e/req", "/service/req"},
	{"/service", "/route", bt, v0, "/route../req", "/service/req"},
	{"/service", "/route", bt, v1, "/route../req", "/servicereq"},
	{"/service/", "/route", bt, v01, "/route../req", "/service/req"},
	{"/service", "/route", bt, v0, "/route%2E%2E/req", "/service/req"},
	{"/service", "/route", bt, v1, "/route%2E%2E/req", "/servicereq"},
	{"/service/", "/route", bt, v01, "/route%2E%2E/req", "/service/req"},
	{"/service", "/route", bt, v0, "/route%2e%2E/req", "/service/req"},
	{"/service", "/route", bt, v1, "/route%2e%2E/req", "/servicereq"},
	{"/service/", "/route", bt, v01, "/route%2e%2E/req", "/service/req"},
	{"/service", "/route", bf, v0, "/route./req", "/service/route./req"},
	{"/service", "/route", bf, v1, "/route./req", "/serviceroute./req"},
	{"/service/", "/route", bf, v01, "/route./req", "/service/route./req"},
	{"/service", "/route", bf, v0, "/route%2E/req", "/service/route./req"},
	{"/service", "/route", bf, v1, "/route%2E/req", "/serviceroute./req"},
	{"/service/", "/route", bf, v01, "/route%2E/req", "/service/route./req"},
	{"/service", "/route", bf, v0, "/route%2e/req", "/service/route./req"},
	{"/service", "/route", bf, v1, "/route%2e/req", "/serviceroute./req"},
	{"/service/", "/route", bf, v01, "/route%2e/req", "/service/route./req"},
	{"/service", "/route", bf, v0, "/route../req", "/service/route../req"},
	{"/service", "/route", bf, v1, "/route../req", "/serviceroute../req"},
	{"/service/", "/route", bf, v01, "/route../req", "/service/route../req"},
	{"/service", "/route", bf, v0, "/route%2E%2E/req", "/service/route../req"},
	{"/service", "/route", bf, v1, "/route%2E%2E/req", "/serviceroute../req"},
	{"/service/", "/route", bf, v01, "/route%2E%2E/req", "/service/route../req"},
	{"/service", "/route", bf, v0, "/route%2e%2E/req", "/service/route../req"},
	{"/service", "/route", bf, v1, "/route%2e%2E/req", "/serviceroute../req"},
	{"/service/", "/route", bf, v01, "/route%2e%2E/req", "/service/route../req"},
}

var (
	bb  = []bool{false, true}
	bf  = []bool{false}
	bt  = []bool{true}
	v01 = []string{"v0", "v1"}
	v0  = []string{"v0"}
	v1  = []string{"v1"}
)

// slashHandlingCases expands the fixture as Kong's line:expand() does (strip
// first, then path_handling) into one row per generated it(...): the
// "(plain)" block (spec line 2352) or the "(regex)" block (2416), where a
// route path "/x" becomes "~/[0]?x" and host-only lines are left out.
// path_handling v1 rows exist only under the traditional flavor and the
// gateway implements v0 only: they are skipped.
func slashHandlingCases(regex bool) []Case {
	var out []Case
	for i, tc := range pathHandlingTests {
		if regex && tc.route == "" {
			continue
		}
		j := 0
		for _, strip := range tc.strip {
			for _, ph := range tc.handling {
				j++
				host := fmt.Sprintf("localbin-%d-%d.com", i+1, j)
				onOff := "off"
				if strip {
					onOff = "on"
				}
				var name, line string
				routePath := tc.route
				if regex {
					routePath = "~/[0]?" + tc.route[1:]
					name = fmt.Sprintf("(%d-%d) %s with uri %s, strip = %s, %s when requesting %s", i+1, j, tc.svc, routePath, onOff, ph, tc.req)
					line = ":2416"
				} else {
					what := "host " + host
					if tc.route != "" {
						what = "uri " + tc.route
					}
					name = fmt.Sprintf("(%d-%d) %s with %s, strip = %s, %s when requesting %s", i+1, j, tc.svc, what, onOff, ph, tc.req)
					line = ":2352"
				}
				c := Case{Spec: specRouter + line, Name: name}
				if ph == "v1" {
					c.Skip = "route path_handling v1"
					out = append(out, c)
					continue
				}
				route := obj{"strip_path": strip, "path_handling": ph, "hosts": arr{host}}
				if routePath != "" {
					route["paths"] = arr{routePath}
				}
				c.Setup = pxSvcRoute("svc", tc.svc, route)
				c.Steps = []Step{px("GET", tc.req, host).with(200, nil, obj{"uri": tc.want})}
				out = append(out, c)
			}
		}
	}
	return out
}

var _ = http.MethodGet
