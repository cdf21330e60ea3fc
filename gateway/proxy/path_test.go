package proxy

import (
	"strings"
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

// TestNormalizePath is Kong's normalize(uri, true) (kong/tools/uri.lua) case
// by case; the comment says which of its rules a row exercises.
func TestNormalizePath(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"/a/b", "/a/b"},               // nothing to do
		{"/index.html", "/index.html"}, // a dot inside a segment is no dot segment
		{"/a/.../b", "/a/.../b"},       // nor are three dots
		{"/a%20b", "/a b"},             // "others" are decoded for matching
		{"/%7euser", "/~user"},         // unreserved: decoded
		{"/a%2Fb/c", "/a%2Fb/c"},       // reserved: stays encoded, never a separator
		{"/a%2fb", "/a%2Fb"},           // ... with its hex uppercased
		{"/a%3a%40%25", "/a%3A%40%25"}, // ":", "@", "%" are reserved too
		{"/public/../admin", "/admin"},
		{"/a//b/./c/", "/a/b/c/"},                                // merged slashes, "." removed
		{"/open%2e%2e/request/secret", "/open../request/secret"}, // decoded, but "open.." is a name, not a dot segment
		{"/open/%2e%2e/secret", "/secret"},                       // decoded dots are dot segments
		{"/open/%2E%2e/%2e/x", "/x"},
		{"/a/b/..", "/a/"},  // a final ".." keeps the directory's slash
		{"/a/b/.", "/a/b/"}, // so does a final "."
		{"/../../x", "/x"},  // never above the root
		{"/..", "/"},
		{"", "/"},
		{"/a/%2e%2e%2fb", "/a/..%2Fb"},  // "%2F" does not make ".." a segment
		{"/%e2%82%ac", "/\xe2\x82\xac"}, // UTF-8 is decoded for matching
	}
	for _, tc := range tests {
		got, ok := normalizePath(tc.raw)
		if !ok || got != tc.want {
			t.Errorf("normalizePath(%q) = %q, %v; want %q", tc.raw, got, ok, tc.want)
		}
	}
	for _, raw := range []string{"/a%00b", "/%00", "/x/%00/../y"} {
		if got, ok := normalizePath(raw); ok {
			t.Errorf("normalizePath(%q) = %q, ok; want a NUL refused (nginx: 400)", raw, got)
		}
	}
}

// TestEscapePath is Kong's uri.escape on what is forwarded.
func TestEscapePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{"/a b", "/a%20b"},
		{"/a%2Fb", "/a%2Fb"}, // an escape left by normalisation stays
		{"/~user-_.!*'();:@&=+$,[]", "/~user-_.!*'();:@&=+$,[]"}, // reserved and unreserved: as is
		{"/\xe2\x82\xac", "/%E2%82%AC"},
		{"/a\r\nX: y", "/a%0D%0AX:%20y"}, // a decoded CR LF cannot split the request line
		{"/a\"<>\\^`{|}", "/a%22%3C%3E%5C%5E%60%7B%7C%7D"},
	}
	for _, tc := range tests {
		if got := escapePath(tc.in); got != tc.want {
			t.Errorf("escapePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzNormalizePath checks the normaliser's invariants on any input: it never
// panics; its output starts with "/", holds no dot segment and no "//", and
// is a fixed point (normalising twice changes nothing); it never decodes a
// reserved character ("%2F" never becomes a separator); and the
// escaped form forwarded upstream decodes to the same path.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/a/b", "/open%2e%2e/request/secret", "/a/../b", "/%2e%2E/x", "/a%2Fb/..",
		"//a//b", "/a/b/..", "/%00", "/a%2", "/%zz", "/..%2f..%2fetc", "/%252e%252e/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		norm, ok := normalizePath(raw)
		if !ok {
			return
		}
		if norm == "" || norm[0] != '/' {
			t.Fatalf("normalizePath(%q) = %q: not absolute", raw, norm)
		}
		if hasDotSegment(norm) || strings.Contains(norm, "//") {
			t.Fatalf("normalizePath(%q) = %q: a dot segment or empty segment is left", raw, norm)
		}
		if again, ok := normalizePath(norm); !ok || again != norm {
			t.Fatalf("normalizePath(%q) = %q, but normalising that gives %q (ok %v)", raw, norm, again, ok)
		}
		// Dot removal and slash merging only drop characters, so a reserved
		// character more often in the output than in the input was decoded.
		in := raw
		if !strings.HasPrefix(in, "/") {
			in = "/" + in
		}
		for _, c := range "!*'();:@&=+$,/?%#[]" {
			if strings.Count(norm, string(c)) > strings.Count(in, string(c)) {
				t.Fatalf("normalizePath(%q) = %q decoded a reserved %q", raw, norm, c)
			}
		}
		esc := escapePath(norm)
		for i := 0; i < len(esc); i++ {
			if !pathSafe(esc[i]) {
				t.Fatalf("escapePath(%q) = %q holds byte %#x", norm, esc, esc[i])
			}
		}
		if back, ok := normalizePath(esc); !ok || back != norm {
			t.Fatalf("forwarded %q normalises to %q, not the routed %q", esc, back, norm)
		}
	})
}
