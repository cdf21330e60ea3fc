package server

import (
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/proxy"
)

func TestKongErrorPage(t *testing.T) {
	k := newKongErrors(config.KongVersion, proxy.DefaultHeaders())
	for _, tc := range []struct{ in, want string }{
		{"HTTP/1.1 400 Bad Request: missing required Host header" + cannedHeaders + "400 Bad Request: missing required Host header", "Bad request\nrequest_id: "},
		{"HTTP/1.1 400 Bad Request" + cannedHeaders + "400 Bad Request", "Bad request\nrequest_id: "},
		{"HTTP/1.1 431 Request Header Fields Too Large" + cannedHeaders + "431 Request Header Fields Too Large", "Request header or cookie too large\nrequest_id: "},
	} {
		out := string(k.kongErrorPage([]byte(tc.in)))
		if !strings.HasPrefix(out, "HTTP/1.1 400 Bad Request\r\n") || !strings.Contains(out, "\r\nServer: kong/"+config.KongVersion+"\r\n") ||
			!strings.Contains(out, "\r\n\r\n"+tc.want) || !strings.Contains(out, "X-Kong-Request-Id: ") {
			t.Errorf("%q → %q", tc.in, out)
		}
	}
	for _, in := range []string{
		"HTTP/1.1 501 Not Implemented" + cannedHeaders + "Unsupported transfer encoding",
		"HTTP/1.1 505 HTTP Version Not Supported: x" + cannedHeaders + "505 HTTP Version Not Supported: x",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 400 Bad Request" + cannedHeaders + "other body",
	} {
		if out := k.kongErrorPage([]byte(in)); out != nil {
			t.Errorf("%q rewritten to %q", in, out)
		}
	}
	off := newKongErrors(config.KongVersion, proxy.Headers{})
	if out := string(off.kongErrorPage([]byte("HTTP/1.1 400 Bad Request" + cannedHeaders + "400 Bad Request"))); strings.Contains(out, "Server:") || strings.Contains(out, "X-Kong") {
		t.Errorf("headers=off: %q", out)
	}
}
