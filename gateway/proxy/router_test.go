package proxy

import (
	"net/http"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// rt builds a route for router tests; the service always exists.
type rtOpt func(*config.Route)

func paths(p ...string) rtOpt             { return func(r *config.Route) { r.Paths = p } }
func methods(m ...string) rtOpt           { return func(r *config.Route) { r.Methods = m } }
func hosts(h ...string) rtOpt             { return func(r *config.Route) { r.Hosts = h } }
func regexPriority(n int) rtOpt           { return func(r *config.Route) { r.RegexPriority = n } }
func headers(h map[string][]string) rtOpt { return func(r *config.Route) { r.Headers = h } }
func snis(s ...string) rtOpt              { return func(r *config.Route) { r.SNIs = s } }

func mkRoute(id string, opts ...rtOpt) *config.Route {
	r := &config.Route{ID: id, Protocols: []string{"http", "https"}, StripPath: true, Service: &config.Ref{ID: "s"}}
	for _, o := range opts {
		o(r)
	}
	return r
}

func compileTest(t *testing.T, routes ...*config.Route) *router {
	t.Helper()
	svc := &compiledService{path: "/"}
	rt, warnings := compileRouter(&config.Config{Routes: routes}, map[string]*compiledService{"s": svc}, nil)
	if len(warnings) > 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	return rt
}

type rreq struct {
	method, host, path string
	port               int
	header             http.Header
	tls                bool
	sni                string
}

func TestRouterPriority(t *testing.T) {
	tests := []struct {
		name   string
		routes []*config.Route
		req    rreq
		want   string // route id, "" for no match
		prefix int
	}{
		{"more criteria beat fewer", []*config.Route{
			mkRoute("paths", paths("/")), mkRoute("paths+methods", paths("/"), methods("GET")),
		}, rreq{method: "GET", path: "/x"}, "paths+methods", 1},
		{"fewer criteria when the more specific does not match", []*config.Route{
			mkRoute("paths", paths("/")), mkRoute("paths+methods", paths("/"), methods("GET")),
		}, rreq{method: "POST", path: "/x"}, "paths", 1},
		{"host+prefix beats a regex alone", []*config.Route{
			mkRoute("regex", paths(`~/api/\d+`)), mkRoute("host", hosts("api.test"), paths("/")),
		}, rreq{method: "GET", host: "api.test", path: "/api/1"}, "host", 1},
		{"plain host beats wildcard host", []*config.Route{
			mkRoute("wild", hosts("*.example.com"), paths("/")), mkRoute("plain", hosts("api.example.com"), paths("/")),
		}, rreq{method: "GET", host: "api.example.com", path: "/"}, "plain", 1},
		{"wildcard suffix host", []*config.Route{
			mkRoute("wild", hosts("*.example.com")), mkRoute("plain", hosts("api.example.com")),
		}, rreq{method: "GET", host: "a.b.example.com", path: "/"}, "wild", 0},
		{"wildcard does not match the bare domain", []*config.Route{
			mkRoute("wild", hosts("*.example.com")),
		}, rreq{method: "GET", host: "example.com", path: "/"}, "", 0},
		{"wildcard prefix host", []*config.Route{
			mkRoute("wild", hosts("example.*")),
		}, rreq{method: "GET", host: "example.org", path: "/"}, "wild", 0},
		{"host with port matches the listening port", []*config.Route{
			mkRoute("p8000", hosts("example.com:8000")), mkRoute("any", hosts("example.com"), methods("POST")),
		}, rreq{method: "GET", host: "example.com", port: 8000, path: "/"}, "p8000", 0},
		{"host with port skips another listening port", []*config.Route{
			mkRoute("p8000", hosts("example.com:8000")),
		}, rreq{method: "GET", host: "example.com", port: 8443, path: "/"}, "", 0},
		{"more headers beat fewer", []*config.Route{
			mkRoute("one", paths("/"), headers(map[string][]string{"x-a": {"1"}})),
			mkRoute("two", paths("/"), headers(map[string][]string{"x-a": {"1"}, "x-b": {"2"}})),
		}, rreq{method: "GET", path: "/", header: http.Header{"X-A": {"1"}, "X-B": {"2"}}}, "two", 1},
		{"header values match case-insensitively", []*config.Route{
			mkRoute("one", headers(map[string][]string{"x-version": {"V1", "v2"}})),
		}, rreq{method: "GET", path: "/", header: http.Header{"X-Version": {"v1"}}}, "one", 0},
		{"header ~* regex", []*config.Route{
			mkRoute("re", headers(map[string][]string{"user-agent": {`~*curl/\d`}})),
		}, rreq{method: "GET", path: "/", header: http.Header{"User-Agent": {"CURL/8.1"}}}, "re", 0},
		{"header mismatch", []*config.Route{
			mkRoute("one", headers(map[string][]string{"x-a": {"1"}})),
		}, rreq{method: "GET", path: "/", header: http.Header{"X-A": {"2"}}}, "", 0},
		{"regex beats a longer prefix", []*config.Route{
			mkRoute("prefix", paths("/users/123")), mkRoute("regex", paths(`~/users/\d+`)),
		}, rreq{method: "GET", path: "/users/123"}, "regex", 10},
		{"higher regex_priority wins", []*config.Route{
			mkRoute("low", paths(`~/a/b`), regexPriority(0)), mkRoute("high", paths(`~/a/.*`), regexPriority(5)),
		}, rreq{method: "GET", path: "/a/b"}, "high", 4},
		{"equal priority: configuration order", []*config.Route{
			mkRoute("first", paths(`~/a/.*`)), mkRoute("second", paths(`~/a/b`)),
		}, rreq{method: "GET", path: "/a/b"}, "first", 4},
		{"regex anchored at start", []*config.Route{
			mkRoute("re", paths(`~/b`)),
		}, rreq{method: "GET", path: "/a/b"}, "", 0},
		{"longest prefix wins", []*config.Route{
			mkRoute("short", paths("/a")), mkRoute("long", paths("/a/b")),
		}, rreq{method: "GET", path: "/a/b/c"}, "long", 4},
		{"shorter prefix when the longer does not match", []*config.Route{
			mkRoute("short", paths("/a")), mkRoute("long", paths("/a/b")),
		}, rreq{method: "GET", path: "/a/x"}, "short", 2},
		{"each path of a route has its own length", []*config.Route{
			mkRoute("multi", paths("/s", "/very/long")), mkRoute("mid", paths("/very")),
		}, rreq{method: "GET", path: "/very/long/x"}, "multi", 10},
		{"prefix is byte-wise (Kong does not require a segment boundary)", []*config.Route{
			mkRoute("foo", paths("/foo")),
		}, rreq{method: "GET", path: "/foobar"}, "foo", 4},
		{"method mismatch", []*config.Route{
			mkRoute("get", methods("GET"), paths("/")),
		}, rreq{method: "DELETE", path: "/"}, "", 0},
		{"lower-case methods in config", []*config.Route{
			mkRoute("get", methods("get")),
		}, rreq{method: "GET", path: "/"}, "get", 0},
		{"no route", []*config.Route{mkRoute("a", paths("/a"))}, rreq{method: "GET", path: "/b"}, "", 0},
		{"sni must match on TLS", []*config.Route{
			mkRoute("sni", paths("/"), snis("api.test")), mkRoute("plain", paths("/")),
		}, rreq{method: "GET", path: "/", tls: true, sni: "other.test"}, "plain", 1},
		{"sni adds to priority", []*config.Route{
			mkRoute("plain", paths("/")), mkRoute("sni", paths("/"), snis("api.test")),
		}, rreq{method: "GET", path: "/", tls: true, sni: "api.test"}, "sni", 1},
		{"sni is ignored on plain http", []*config.Route{
			mkRoute("sni", paths("/"), snis("api.test")),
		}, rreq{method: "GET", path: "/"}, "sni", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := compileTest(t, tc.routes...)
			if tc.req.header == nil {
				tc.req.header = http.Header{}
			}
			if tc.req.port == 0 {
				tc.req.port = 8000
			}
			m, ok := rt.find(&routeRequest{method: tc.req.method, host: tc.req.host, serverPort: tc.req.port, path: tc.req.path,
				header: tc.req.header, tls: tc.req.tls, sni: tc.req.sni})
			got := ""
			if ok {
				got = m.entry.route.cfg.ID
			}
			if got != tc.want {
				t.Fatalf("matched %q, want %q", got, tc.want)
			}
			if ok && m.prefixLen != tc.prefix {
				t.Errorf("prefix length %d, want %d", m.prefixLen, tc.prefix)
			}
		})
	}
}

func TestRouterSkipsBadRegexAndDisabledServices(t *testing.T) {
	routes := []*config.Route{
		mkRoute("bad", paths(`~/(`), hosts("x")),
		mkRoute("good", paths("/")),
		{ID: "orphan", Paths: []string{"/"}, Methods: []string{"GET"}, Service: &config.Ref{ID: "disabled"}},
	}
	rt, warnings := compileRouter(&config.Config{Routes: routes}, map[string]*compiledService{"s": {path: "/"}}, nil)
	if len(warnings) != 1 {
		t.Fatalf("warnings %v, want one for the bad regex", warnings)
	}
	m, ok := rt.find(&routeRequest{method: "GET", host: "x", path: "/(", header: http.Header{}})
	if !ok || m.entry.route.cfg.ID != "good" {
		t.Fatalf("matched %v", m.entry)
	}
}

func TestRequestHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM:8000": "example.com",
		"example.com":      "example.com",
		"example.com.":     "example.com",
		"[::1]:8000":       "[::1]",
		"[::1]":            "[::1]",
		"127.0.0.1:80":     "127.0.0.1",
		"":                 "",
	} {
		if got := requestHost(in); got != want {
			t.Errorf("requestHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompileHost(t *testing.T) {
	for in, want := range map[string]hostMatcher{
		"Example.com":     {kind: hostExact, value: "example.com"},
		"*.example.com":   {kind: hostSuffix, value: ".example.com"},
		"example.*":       {kind: hostPrefix, value: "example."},
		"example.com:81":  {kind: hostExact, value: "example.com", port: 81},
		"*.example.com:8": {kind: hostSuffix, value: ".example.com", port: 8},
		"[::1]:9":         {kind: hostExact, value: "[::1]", port: 9},
	} {
		got, err := compileHost(in)
		if err != nil || got != want {
			t.Errorf("compileHost(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := compileHost("a.*.com"); err == nil {
		t.Error("a wildcard in the middle was accepted")
	}
}
