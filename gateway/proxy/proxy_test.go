package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// seen is what the echo upstream reports about the request it got.
type seen struct {
	Method string              `json:"method"`
	URI    string              `json:"uri"`
	Host   string              `json:"host"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header, Body: string(b)}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Upstream", "echo")
	json.NewEncoder(w).Encode(s)
}

func decodeSeen(t *testing.T, body string) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("upstream body %q: %v", body, err)
	}
	return s
}

func TestProxyForwardsAndSetsKongHeaders(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{Version: config.KongVersion})
	p.Apply(&config.Config{
		Services: []*config.Service{service("s1", addrOf(up))},
		Routes:   []*config.Route{route("r1", "s1", "/mockbin")},
	})
	gw := gateway(t, p)

	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/mockbin/foo/bar?x=1&y=%20z", nil)
	req.Host = "Api.Example.com:1234"
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("X-Forwarded-Proto", "https") // not trusted: overwritten
	req.Header.Set("X-Custom", "kept")
	req.Header.Set("Via", "1.0 proxy-a")
	req.Header.Set("TE", "trailers, deflate")
	req.Header.Set("X-Kong-Request-Id", "spoofed")
	req.Header.Set("Connection", "X-Hop, keep-alive")
	req.Header.Set("X-Hop", "removed")
	req.Header.Set("Proxy-Authorization", "Basic end-to-end") // end-to-end in Kong
	req.Header.Set("Proxy", "http://evil.example:3128")       // httpoxy
	resp, body := do(t, nil, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	s := decodeSeen(t, body)
	_, gwPort, _ := net.SplitHostPort(addrOf(gw))
	checks := []struct{ name, got, want string }{
		{"uri", s.URI, "/foo/bar?x=1&y=%20z"},
		{"host", s.Host, addrOf(up)},
		{"X-Forwarded-For", strings.Join(s.Header["X-Forwarded-For"], ","), "10.0.0.1, 127.0.0.1"},
		{"X-Forwarded-Proto", strings.Join(s.Header["X-Forwarded-Proto"], ","), "http"},
		{"X-Forwarded-Host", strings.Join(s.Header["X-Forwarded-Host"], ","), "api.example.com"},
		{"X-Forwarded-Port", strings.Join(s.Header["X-Forwarded-Port"], ","), gwPort},
		{"X-Forwarded-Path", strings.Join(s.Header["X-Forwarded-Path"], ","), "/mockbin/foo/bar"},
		{"X-Forwarded-Prefix", strings.Join(s.Header["X-Forwarded-Prefix"], ","), "/mockbin"},
		{"X-Real-Ip", strings.Join(s.Header["X-Real-Ip"], ","), "127.0.0.1"},
		{"X-Custom", strings.Join(s.Header["X-Custom"], ","), "kept"},
		{"X-Hop", strings.Join(s.Header["X-Hop"], ","), ""},
		{"Proxy-Authorization", strings.Join(s.Header["Proxy-Authorization"], ","), "Basic end-to-end"},
		{"Proxy (httpoxy)", strings.Join(s.Header["Proxy"], ","), ""},
		{"Connection upstream", strings.Join(s.Header["Connection"], ","), ""},
		{"X-Kong-Request-Id upstream", strings.Join(s.Header["X-Kong-Request-Id"], ","), resp.Header.Get("X-Kong-Request-Id")},
		{"Via", resp.Header.Get("Via"), "1.1 kong/" + config.KongVersion},
		{"Via upstream", strings.Join(s.Header["Via"], ","), "1.0 proxy-a, 1.1 kong/" + config.KongVersion},
		{"TE upstream", strings.Join(s.Header["Te"], ","), "trailers"},
		{"Server (upstream sent none)", resp.Header.Get("Server"), "kong/" + config.KongVersion},
		{"X-Upstream", resp.Header.Get("X-Upstream"), "echo"},
		{"X-Kong-Response-Latency", resp.Header.Get("X-Kong-Response-Latency"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if id := resp.Header.Get("X-Kong-Request-Id"); len(id) != 32 {
		t.Errorf("X-Kong-Request-Id = %q, want 32 hex digits", id)
	}
	for _, h := range []string{"X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency"} {
		if v := resp.Header.Get(h); v == "" || strings.Trim(v, "0123456789") != "" {
			t.Errorf("%s = %q, want milliseconds", h, v)
		}
	}
}

func TestProxyPreserveHostAndHostHeader(t *testing.T) {
	up := upstream(t, echo)
	upHost, upPortS, _ := net.SplitHostPort(addrOf(up))
	tests := []struct {
		name         string
		preserve     bool
		useUpstream  bool
		hostHeader   *string
		wantHostFunc func(gwHost string) string
	}{
		{"target host", false, false, nil, func(string) string { return addrOf(up) }},
		{"preserve_host", true, false, nil, func(string) string { return "client.example:99" }},
		{"upstream peer host", false, true, nil, func(string) string { return upHost + ":" + upPortS }},
		{"upstream host_header", false, true, ptr("vhost.internal"), func(string) string { return "vhost.internal" }},
		{"preserve_host beats host_header", true, true, ptr("vhost.internal"), func(string) string { return "client.example:99" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := service("s1", addrOf(up))
			cfg := &config.Config{Services: []*config.Service{svc}}
			var opts Options
			if tc.useUpstream {
				svc.Host, svc.Port = "my-upstream", 80
				cfg.Upstreams = []*config.Upstream{{ID: "u1", Name: "my-upstream", HostHeader: tc.hostHeader}}
				opts.Balancers = fakeLookup{"my-upstream": newRing(addrOf(up))}
			}
			rt := route("r1", "s1", "/")
			rt.PreserveHost = tc.preserve
			cfg.Routes = []*config.Route{rt}
			p := New(opts)
			p.Apply(cfg)
			gw := gateway(t, p)
			req, _ := http.NewRequest(http.MethodGet, gw.URL+"/x", nil)
			req.Host = "client.example:99"
			resp, body := do(t, nil, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got, want := decodeSeen(t, body).Host, tc.wantHostFunc(addrOf(gw)); got != want {
				t.Errorf("upstream Host = %q, want %q", got, want)
			}
		})
	}
}

func TestProxyErrorBodies(t *testing.T) {
	up := upstream(t, echo)
	dead := deadAddr(t)
	svcDead := service("dead", dead)
	svcDead.Retries = 0
	httpsOnly := route("https-only", "s1", "/secure")
	httpsOnly.Protocols = []string{"https"}
	redirect := route("redirect", "s1", "/redirect")
	redirect.Protocols = []string{"https"}
	redirect.HTTPSRedirectStatusCode = 308
	noPeerSvc := service("nopeer", "empty-upstream:80")
	p := New(Options{Balancers: fakeLookup{"empty-upstream": newRing()}})
	p.Apply(&config.Config{
		Services: []*config.Service{service("s1", addrOf(up)), svcDead, noPeerSvc},
		Routes: []*config.Route{
			route("r1", "s1", "/ok"), route("r-dead", "dead", "/dead"), httpsOnly, redirect,
			route("r-nopeer", "nopeer", "/nopeer"),
		},
	})
	gw := gateway(t, p)

	tests := []struct {
		name, path, accept string
		wantStatus         int
		wantType           string
		wantBody           string // substring
		wantHeader         map[string]string
	}{
		{"no route json", "/nothing", "", 404, "application/json", `"message":"no Route matched with those values"`, nil},
		{"no route text", "/nothing", "text/plain", 404, "text/plain", "no Route matched with those values\nrequest_id: ", nil},
		{"no route html", "/nothing", "text/html,application/xhtml+xml", 404, "text/html", "<p>no Route matched with those values.</p>", nil},
		{"no route xml", "/nothing", "application/xml", 404, "application/xml", "<message>no Route matched with those values</message>", nil},
		// The 502 is the error handler's: text/plain without Accept (Kong's
		// error_default_type), JSON when asked for.
		{"refused 502", "/dead", "", 502, "text/plain", "An invalid response was received from the upstream server\nrequest_id: ", nil},
		{"refused 502 json", "/dead", "application/json", 502, "application/json", `"message":"An invalid response was received from the upstream server"`, nil},
		{"no peer 503", "/nopeer", "", 503, "application/json", `"message":"failure to get a peer from the ring-balancer"`, nil},
		{"https only 426", "/secure", "", 426, "application/json", `"message":"Please use HTTPS protocol"`,
			map[string]string{"Upgrade": "TLS/1.2, HTTP/1.1"}},
		{"https redirect 308", "/redirect/x?q=1", "", 308, "", "", map[string]string{"Location": "https://127.0.0.1/redirect/x?q=1"}},
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, gw.URL+tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, body := do(t, noRedirect, req)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, body)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.wantType) {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.wantType)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q does not contain %q", body, tc.wantBody)
			}
			id := resp.Header.Get("X-Kong-Request-Id")
			if len(id) != 32 {
				t.Errorf("X-Kong-Request-Id %q", id)
			}
			if tc.wantType == "application/json" {
				var m map[string]string
				if err := json.Unmarshal([]byte(body), &m); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
				if m["request_id"] != id {
					t.Errorf("request_id %q != header %q", m["request_id"], id)
				}
			}
			proxied := tc.wantStatus == 502 // the upstream was tried: Kong's KONG_PROXIED
			switch {
			case proxied && (resp.Header.Get("X-Kong-Upstream-Latency") == "" || resp.Header.Get("X-Kong-Proxy-Latency") == "" ||
				resp.Header.Get("Via") != "1.1 kong/"+config.KongVersion || resp.Header.Get("X-Kong-Response-Latency") != ""):
				t.Errorf("a failed proxying wants the proxied-response headers (14-server_tokens_spec.lua:439): %v", resp.Header)
			case !proxied && resp.Header.Get("X-Kong-Response-Latency") == "":
				t.Error("X-Kong-Response-Latency missing on a gateway-made response")
			case !proxied && (resp.Header.Get("Via") != "" || resp.Header.Get("X-Kong-Upstream-Latency") != ""):
				t.Error("proxied-response headers on a gateway-made response")
			}
			if resp.Header.Get("Server") != "kong/"+config.KongVersion {
				t.Errorf("Server %q", resp.Header.Get("Server"))
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestProxyDisabledServiceNotRouted(t *testing.T) {
	up := upstream(t, echo)
	svc := service("s1", addrOf(up))
	svc.Enabled = false
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{svc}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	if resp, _ := get(t, gw.URL+"/x"); resp.StatusCode != 404 {
		t.Fatalf("status %d, want 404 for a disabled service", resp.StatusCode)
	}
}

// runner is a plugins.Runner built from a function.
type runner func(*plugins.Context) *plugins.Exit

func (f runner) Access(c *plugins.Context) *plugins.Exit { return f(c) }

func TestProxyPlugins(t *testing.T) {
	up := upstream(t, echo)
	var gotRoute, gotService, gotIP string
	run := runner(func(c *plugins.Context) *plugins.Exit {
		gotRoute, gotService, gotIP = c.Route.ID, c.Service.ID, c.ClientIP
		c.ResponseHeader.Set("X-RateLimit-Remaining-Minute", "4")
		switch c.Request.URL.Path {
		case "/deny":
			return &plugins.Exit{Status: 401, Message: "No API key found in request", Header: http.Header{"Www-Authenticate": {"Key"}}}
		case "/limit":
			return &plugins.Exit{Status: 429, Message: "API rate limit exceeded", Header: http.Header{"Retry-After": {"7"}}}
		case "/panic":
			panic("plugin bug")
		case "/bad-exit":
			return &plugins.Exit{Status: 0}
		}
		c.Request.Header.Set("X-Consumer-Username", "alice")
		c.Request.Header.Del("Apikey")
		return nil
	})
	p := New(Options{Plugins: run})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)

	t.Run("headers added upstream and downstream", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+"/pass", nil)
		req.Header.Set("apikey", "secret")
		resp, body := do(t, nil, req)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		s := decodeSeen(t, body)
		if s.Header["X-Consumer-Username"][0] != "alice" || s.Header["Apikey"] != nil {
			t.Errorf("upstream headers %v", s.Header)
		}
		if resp.Header.Get("X-RateLimit-Remaining-Minute") != "4" {
			t.Errorf("plugin response header missing on proxied response")
		}
		if gotRoute != "r1" || gotService != "s1" || gotIP != "127.0.0.1" {
			t.Errorf("context route=%q service=%q ip=%q", gotRoute, gotService, gotIP)
		}
	})
	for _, tc := range []struct {
		path, msg, header, value string
		status                   int
	}{
		{"/deny", "No API key found in request", "Www-Authenticate", "Key", 401},
		{"/limit", "API rate limit exceeded", "Retry-After", "7", 429},
		{"/panic", "An unexpected error occurred", "", "", 500},
		{"/bad-exit", "An unexpected error occurred", "", "", 500},
	} {
		t.Run(tc.path, func(t *testing.T) {
			// A plugin's crash is worded by Kong's error handler, which
			// answers JSON only when asked (else error_default_type, text).
			req, _ := http.NewRequest(http.MethodGet, gw.URL+tc.path, nil)
			req.Header.Set("Accept", "application/json")
			resp, body := do(t, http.DefaultClient, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(body), &m); err != nil || m["message"] != tc.msg {
				t.Errorf("body %q (err %v), want message %q", body, err, tc.msg)
			}
			if tc.header != "" && resp.Header.Get(tc.header) != tc.value {
				t.Errorf("%s = %q", tc.header, resp.Header.Get(tc.header))
			}
			if tc.status != 500 && resp.Header.Get("X-RateLimit-Remaining-Minute") != "4" {
				t.Errorf("plugin response header missing on exit")
			}
		})
	}
	// The gateway keeps serving after a panic.
	if resp, _ := get(t, gw.URL+"/pass"); resp.StatusCode != 200 {
		t.Fatalf("after panic: status %d", resp.StatusCode)
	}
}

func TestProxyStreamsBodiesBothWays(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("X-Got", fmt.Sprint(n))
		fl := w.(http.Flusher)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "chunk-%d;", i)
			fl.Flush()
		}
		w.Header().Set(http.TrailerPrefix+"X-Sum", "done")
	})
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	for _, tc := range []struct {
		name string
		body io.Reader
		size int64
	}{
		{"content-length", strings.NewReader(strings.Repeat("a", 100000)), 100000},
		{"chunked", io.MultiReader(strings.NewReader(strings.Repeat("b", 70000)), strings.NewReader("c")), -1},
		{"empty post", http.NoBody, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, gw.URL+"/upload", tc.body)
			req.ContentLength = tc.size
			resp, body := do(t, nil, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			want := tc.size
			if want < 0 {
				want = 70001
			}
			if resp.Header.Get("X-Got") != fmt.Sprint(want) {
				t.Errorf("upstream got %s bytes, want %d", resp.Header.Get("X-Got"), want)
			}
			if body != "chunk-0;chunk-1;chunk-2;" {
				t.Errorf("body %q", body)
			}
			if resp.Trailer.Get("X-Sum") != "done" {
				t.Errorf("trailer %v", resp.Trailer)
			}
		})
	}
}

func TestServerStatusCounts(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+"/", nil)
		do(t, client, req)
	}
	eventually(t, 2e9, func() bool {
		st := p.ServerStatus()
		return st["connections_waiting"] == 1 && st["connections_writing"] == 0
	}, "one idle keep-alive connection")
	st := p.ServerStatus()
	if st["total_requests"] != 5 || st["connections_accepted"] != 1 || st["connections_active"] != 1 ||
		st["connections_handled"] != 1 || st["connections_reading"] != 0 {
		t.Errorf("status %v", st)
	}
	client.CloseIdleConnections()
	eventually(t, 2e9, func() bool { return p.ServerStatus()["connections_active"] == 0 }, "closed connection counted")
	if st := p.ServerStatus(); st["connections_waiting"] != 0 {
		t.Errorf("after close: %v", st)
	}
	st["total_requests"] = -1 // the map is the caller's
	if p.ServerStatus()["total_requests"] != 5 {
		t.Error("ServerStatus shares its map")
	}
}

func TestForwardedPrefix(t *testing.T) {
	up := upstream(t, echo)
	noStrip := route("nostrip", "s1", "/keep")
	noStrip.StripPath = false
	regex := route("regex", "s1", `~/v\d+/`)
	p := New(Options{})
	p.Apply(&config.Config{
		Services: []*config.Service{service("s1", addrOf(up))},
		Routes:   []*config.Route{route("root", "s1", "/"), route("strip", "s1", "/strip"), noStrip, regex},
	})
	gw := gateway(t, p)
	for _, tc := range []struct{ path, uri, prefix string }{
		{"/x/y", "/x/y", ""},
		{"/strip/y", "/y", "/strip"},
		{"/keep/y", "/keep/y", ""},
		{"/v2/users", "/users", "/v2/"},
	} {
		resp, body := get(t, gw.URL+tc.path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", tc.path, resp.StatusCode)
		}
		s := decodeSeen(t, body)
		if s.URI != tc.uri || strings.Join(s.Header["X-Forwarded-Prefix"], ",") != tc.prefix {
			t.Errorf("%s: upstream uri %q prefix %q, want %q %q", tc.path, s.URI, s.Header["X-Forwarded-Prefix"], tc.uri, tc.prefix)
		}
	}
}

// TestNameResolutionFailure fakes the resolver's answer through the dial hook:
// a real lookup would send a DNS query off the machine.
func TestNameResolutionFailure(t *testing.T) {
	p := New(Options{})
	var dials atomic.Int64
	p.tr.dial = func(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
		dials.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "mockbin", IsNotFound: true}}
	}
	p.Apply(&config.Config{Services: []*config.Service{service("s1", "mockbin:8080")}, Routes: []*config.Route{route("r1", "s1", "/")}})
	gw := gateway(t, p)
	resp, body := get(t, gw.URL+"/")
	if resp.StatusCode != 503 || !strings.Contains(body, `"message":"name resolution failed"`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1: a name that does not resolve is not retried", n)
	}
}

func TestResponseType(t *testing.T) {
	for accept, want := range map[string]bodyType{
		"":                                  typeJSON,
		"text/plain":                        typeText,
		"text/*":                            typeText,
		"text/html,application/xhtml+xml":   typeHTML,
		"application/xhtml+xml,text/html":   typeJSON, // Kong has no template for the first: its default
		"application/json;q=0.5, text/html": typeHTML,
		"text/html;q=0.2, application/xml;q=0.9, */*;q=0.1": typeXML,
		"*/*":             typeJSON,
		"text/plain;q=0":  typeJSON,
		"TEXT/PLAIN; q=1": typeText,
	} {
		if got := responseType(accept); got != want {
			t.Errorf("responseType(%q) = %v, want %v", accept, got, want)
		}
	}
}

func TestExitMessage(t *testing.T) {
	for _, tc := range []struct {
		status   int
		msg, out string
	}{
		{401, "", "Unauthorized"}, {401, "No API key found in request", "No API key found in request"},
		{404, "", "Not found"}, {503, "", "Service unavailable"}, {429, "API rate limit exceeded", "API rate limit exceeded"},
		{500, "boom", "An unexpected error occurred"}, {502, "x", "Bad gateway"}, {405, "", "Method not allowed"},
		{418, "", "I'm a teapot"}, {200, "", ""},
	} {
		if got := exitMessage(tc.status, tc.msg); got != tc.out {
			t.Errorf("exitMessage(%d, %q) = %q, want %q", tc.status, tc.msg, got, tc.out)
		}
	}
}
