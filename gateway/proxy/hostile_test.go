package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// denyRoute stands in for key-auth on one route: every request it matches is
// refused with Kong's 401.
type denyRoute string

func (d denyRoute) Access(ctx *plugins.Context) *plugins.Exit {
	if ctx.Route != nil && ctx.Route.ID == string(d) {
		return &plugins.Exit{Status: http.StatusUnauthorized, Message: "No API key found in request"}
	}
	return nil
}

// rawExchange writes raw to a new connection to addr and returns everything
// the gateway sent until it closed the connection, or until within passed
// (then closed is false).
func rawExchange(t *testing.T, addr, raw string, within time.Duration) (out string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	return string(b), err == nil
}

// responses parses every response in out (as answers to requests of method).
func responses(t *testing.T, out string) []*http.Response {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(out))
	var rs []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return rs
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rs = append(rs, resp)
	}
}

// TestPathNormalisation routes "/open" (open) and "/open/secret" (refused
// as key-auth would) and sends the encodings an attacker would try: every
// request is routed and forwarded by its normalised path, so the upstream
// never gets a dot segment it could resolve into the protected resource.
func TestPathNormalisation(t *testing.T) {
	up := upstream(t, echo)
	p := New(Options{Plugins: denyRoute("secret")})
	p.Apply(&config.Config{Services: []*config.Service{service("s1", addrOf(up))},
		Routes: []*config.Route{route("open", "s1", "/open"), route("secret", "s1", "/open/secret")}})
	gw := gateway(t, p)
	tests := []struct {
		path   string
		status int
		uri    string // what the upstream got, when proxied
	}{
		// Kong: normalised "/open../request/secret"; strip_path leaves
		// "../request/secret", whose leading "../" sanitize_uri_postfix drops.
		{"/open%2e%2e/request/secret", 200, "/request/secret"},
		{"/open/%2e%2e/open/secret", 401, ""}, // = /open/secret: the protected route decides
		{"/open/x/%2E%2E/secret", 401, ""},
		{"/open/./secret", 401, ""},
		{"/open//secret", 401, ""}, // merged slashes
		{"/open/x/%2e%2e/%2e%2e/secret", 404, ""},
		{"/open/a%2Fb", 200, "/a%2Fb"},             // reserved: stays encoded
		{"/open/a%2fb/%2e%2e", 200, "/"},           // "a%2Fb" is one segment, removed whole
		{"/open/%7euser%20x", 200, "/~user%20x"},   // unreserved decoded, space encoded again
		{"/open/%252e%252e/", 200, "/%252e%252e/"}, // an encoded "%" is not decoded twice
		{"/open/a%00b", 400, ""},                   // nginx: 400
		{"/open/%E2%82%AC", 200, "/%E2%82%AC"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			out, _ := rawExchange(t, addrOf(gw), "GET "+tc.path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 5*time.Second)
			rs := responses(t, out)
			if len(rs) != 1 || rs[0].StatusCode != tc.status {
				t.Fatalf("got %q; want one %d", out, tc.status)
			}
			if tc.uri != "" {
				body := out[strings.Index(out, "\r\n\r\n")+4:]
				if s := decodeSeen(t, body); s.URI != tc.uri {
					t.Errorf("upstream got %q, want %q", s.URI, tc.uri)
				}
			}
		})
	}
}
