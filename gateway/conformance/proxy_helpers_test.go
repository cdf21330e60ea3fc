package conformance

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

// Helpers for the proxy rows (05-proxy specs): services on the echo upstream,
// routes, requests through the proxy, and Kong's allow_debug_header.

const (
	specRouter    = "spec/02-integration/05-proxy/02-router_spec.lua"
	specUpHeaders = "spec/02-integration/05-proxy/03-upstream_headers_spec.lua"
	specErrType   = "spec/02-integration/05-proxy/12-error_default_type_spec.lua"
	specErrHandle = "spec/02-integration/05-proxy/13-error_handlers_spec.lua"
	specTokens    = "spec/02-integration/05-proxy/14-server_tokens_spec.lua"
	specURIEnc    = "spec/02-integration/05-proxy/08-uri_encoding_spec.lua"
	specReqID     = "spec/02-integration/05-proxy/33-request-id-header_spec.lua"
	specVia       = "spec/02-integration/05-proxy/35-via_spec.lua"
	specUpStatus  = "spec/02-integration/05-proxy/15-upstream-status-header_spec.lua"
)

// debugOn is Kong's allow_debug_header = on, which the router spec starts
// Kong with: a Kong-Debug request gets Kong-Route-Id/-Name and
// Kong-Service-Id/-Name back.
func debugOn(s *server.Settings) { s.AllowDebugHeader = "on" }

// withHeaders is Kong's `headers` setting.
func withHeaders(v string) func(*server.Settings) {
	return func(s *server.Settings) { s.Headers = v }
}

// pxService creates service name on the echo upstream, svcPath its path
// ("" for none), extra fields merged in.
func pxService(name, svcPath string, extra obj) Step {
	b := obj{"name": name, "url": "http://{{echo}}" + svcPath}
	for k, v := range extra {
		b[k] = v
	}
	return Step{Method: "POST", Path: "/services", Body: b}
}

// pxRoute creates route name on service name (Kong's insert_routes: one
// named service per route), with protocols ["http"] unless set.
func pxRoute(name string, fields obj) Step {
	b := obj{"name": name}
	if _, ok := fields["protocols"]; !ok {
		b["protocols"] = arr{"http"}
	}
	for k, v := range fields {
		b[k] = v
	}
	return Step{Method: "POST", Path: "/services/" + name + "/routes", Body: b}
}

// pxSvcRoute is pxService + pxRoute.
func pxSvcRoute(name, svcPath string, fields obj) []Step {
	return []Step{pxService(name, svcPath, nil), pxRoute(name, fields)}
}

// steps concatenates steps and step lists.
func steps(parts ...any) []Step {
	var out []Step
	for _, p := range parts {
		switch x := p.(type) {
		case Step:
			out = append(out, x)
		case []Step:
			out = append(out, x...)
		default:
			panic("steps: unexpected part")
		}
	}
	return out
}

// px is a proxy request; hdr is name, value pairs. Host is set when non-empty.
func px(method, path, host string, hdr ...string) Step {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return Step{Method: method, Path: path, Host: host, To: Proxy, Header: h}
}

// dbg is a proxy GET with Kong-Debug: 1.
func dbg(method, path, host string, hdr ...string) Step {
	return px(method, path, host, append([]string{"Kong-Debug", "1"}, hdr...)...)
}

// routedTo expects the debug headers of route (and its same-named service).
func routedTo(name string) map[string]any {
	return map[string]any{"Kong-Route-Name": name, "Kong-Service-Name": name, "Kong-Route-Id": isUUID, "Kong-Service-Id": isUUID}
}

// notRouted expects no debug headers.
var notRouted = map[string]any{"Kong-Route-Id": Absent, "Kong-Service-Id": Absent, "Kong-Service-Name": Absent}

// with returns s with the expectations set.
func (s Step) with(status int, headers map[string]any, seen map[string]any) Step {
	s.Status, s.Headers, s.Seen = status, headers, seen
	return s
}

// rawExchange sends raw bytes to addr and reads until the server closes or
// the deadline passes.
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// rawStatus reads the status line and the whole response of a raw exchange.
func rawResponse(t *testing.T, out string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
	if err != nil {
		t.Fatalf("read response %q: %v", out, err)
	}
	return resp
}

// upstream starts a plain HTTP upstream with handler h for a Run row and
// returns its host:port.
func upstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// mustDo sends s and fails the row unless the status is s.Status (any 2xx
// when zero); then checks s's expectations.
func (g *GW) mustDo(t *testing.T, s Step) *Resp {
	t.Helper()
	r := g.Do(t, s)
	if r == nil {
		t.FailNow()
	}
	if (s.Status == 0 && (r.StatusCode < 200 || r.StatusCode > 299)) || (s.Status != 0 && r.StatusCode != s.Status) {
		t.Fatalf("%s %s = %d, want %v: %s", method(s), s.Path, r.StatusCode, orAny(s.Status), trim(r.Body))
	}
	g.check(t, method(s)+" "+s.Path, s, r)
	return r
}
