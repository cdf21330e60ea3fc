package proxy

import (
	"net/url"
	"testing"
)

// The expectations are Kong's documented path_handling "v0" table
// (docs.konghq.com, routes entity) plus the strip_path examples of the
// reference.
func TestUpstreamPathV0(t *testing.T) {
	tests := []struct {
		base, routePath, req string
		strip                bool
		want                 string
	}{
		// service.path "/" (unset)
		{"/", "/foo", "/foo/bar", true, "/bar"},
		{"/", "/foo", "/foo", true, "/"},
		{"/", "/foo", "/foo/", true, "/"},
		{"/", "/foo", "/foobar", true, "/bar"},
		{"/", "/foo", "/foo/bar", false, "/foo/bar"},
		{"/", "/", "/", true, "/"},
		// service.path without trailing slash
		{"/s", "/fv0", "/fv0req", true, "/s/req"},
		{"/s", "/fv0", "/fv0/req", true, "/s/req"},
		{"/s", "/fv0", "/fv0", true, "/s"},
		{"/s", "/fv0", "/fv0/", true, "/s/"},
		{"/s", "/fv0/", "/fv0/req", true, "/s/req"},
		{"/s", "/fv0", "/fv0/req", false, "/s/fv0/req"},
		{"/s", "/fv0", "/", false, "/s"},
		{"/base", "/foo", "/foo/bar", true, "/base/bar"},
		// service.path with trailing slash
		{"/s/", "/fv0", "/fv0req", true, "/s/req"},
		{"/s/", "/fv0", "/fv0/req", true, "/s/req"},
		{"/s/", "/fv0", "/fv0", true, "/s"},
		{"/s/", "/fv0", "/fv0/", true, "/s/"},
		{"/s/", "/fv0/", "/fv0/req", true, "/s/req"},
		{"/s/", "/fv0", "/fv0/req", false, "/s/fv0/req"},
		// a "." or ".." left at the start of the postfix is dropped
		{"/s", "/a", "/a../x", true, "/s/x"},
	}
	for _, tc := range tests {
		got := upstreamPath(tc.base, tc.strip, tc.req, tc.routePath)
		if got != tc.want {
			t.Errorf("service %q route %q request %q strip=%v: %q, want %q", tc.base, tc.routePath, tc.req, tc.strip, got, tc.want)
		}
	}
}

func TestRequestPaths(t *testing.T) {
	tests := []struct{ raw, decoded, escaped string }{
		{"/a/b", "/a/b", "/a/b"},
		{"/a%20b", "/a b", "/a%20b"},
		{"/a%2Fb/c", "/a/b/c", "/a%2Fb/c"},
		{"/public/../admin", "/admin", "/admin"},
		{"/a//b/./c/", "/a/b/c/", "/a/b/c/"},
		{"", "/", "/"},
	}
	for _, tc := range tests {
		u, err := url.Parse("http://h" + tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		d, e := requestPaths(u)
		if d != tc.decoded || e != tc.escaped {
			t.Errorf("%q: decoded %q escaped %q, want %q %q", tc.raw, d, e, tc.decoded, tc.escaped)
		}
	}
}

func TestEscapedOffset(t *testing.T) {
	tests := []struct {
		escaped string
		n, want int
	}{
		{"/abc/d", 4, 4},
		{"/a%2Fb/c", 4, 6}, // decoded "/a/b" is 4 bytes, 6 escaped
		{"/%E2%82%AC/x", 4, 10},
		{"/x", 0, 0},
	}
	for _, tc := range tests {
		if got := escapedOffset(tc.escaped, tc.n); got != tc.want {
			t.Errorf("escapedOffset(%q, %d) = %d, want %d", tc.escaped, tc.n, got, tc.want)
		}
	}
}
