package proxy

import (
	"strings"
)

// normalizePath is Kong's normalize(uri, true) (kong/tools/uri.lua), which
// Kong's router applies to the request path before matching, and from which
// it builds the upstream path:
//
//   - a %XX triplet of a character that is not reserved (RFC 3986 unreserved
//     characters, and the "others" Kong also decodes) is decoded; a reserved
//     one ("!*'();:@&=+$,/?%#[]") stays encoded, its hex digits uppercased,
//     so "%2F" never becomes a segment separator;
//   - dot segments are removed (RFC 3986 section 5.2.4), after decoding, so
//     "/open%2e%2e/x" cannot reach past a prefix it did not match;
//   - runs of slashes are merged.
//
// ok is false when the path holds a NUL byte, encoded or not, or a "%" that
// starts no escape: nginx refuses both with 400 before Kong sees the request. A path needing none of this is returned
// as is, without allocating.
func normalizePath(raw string) (norm string, ok bool) {
	if raw == "" {
		return "/", true
	}
	if raw[0] != '/' {
		raw = "/" + raw // "*" (OPTIONS *) and the like: never a dot segment or a prefix escape
	}
	p := raw
	if strings.IndexByte(p, 0) >= 0 {
		return "", false // net/http refuses a raw NUL already; the rule is one either way
	}
	if strings.IndexByte(p, '%') >= 0 {
		var b strings.Builder
		b.Grow(len(p))
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c == '%' {
				if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
					// A broken escape: nginx and net/http refuse it (400); kept,
					// it could decode into a new escape on a second pass.
					return "", false
				}
				d := unhex(p[i+1])<<4 | unhex(p[i+2])
				if d == 0 {
					return "", false
				}
				if isReserved(d) {
					b.WriteByte('%')
					b.WriteByte(upperHex(p[i+1]))
					b.WriteByte(upperHex(p[i+2]))
				} else {
					b.WriteByte(d)
				}
				i += 2
				continue
			}
			b.WriteByte(c)
		}
		p = b.String()
	}
	if !hasDotSegment(p) && !strings.Contains(p, "//") {
		return p, true // what removeDotSegments would return: "/index.html" costs nothing
	}
	return removeDotSegments(p), true
}

// hasDotSegment reports a "." or ".." segment in a path that starts with "/".
func hasDotSegment(p string) bool {
	for i := strings.IndexByte(p, '.'); i >= 0; {
		if p[i-1] == '/' { // p[0] is '/', so a '.' is never at 0
			rest := p[i+1:]
			if rest == "" || rest[0] == '/' || rest[0] == '.' && (len(rest) == 1 || rest[1] == '/') {
				return true
			}
		}
		j := strings.IndexByte(p[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// removeDotSegments is the loop of Kong's normalize with merge_slashes on.
func removeDotSegments(in string) string {
	out := make([]string, 0, strings.Count(in, "/"))
	for len(in) > 0 {
		switch {
		case in == "/.":
			in = "/"
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case strings.HasPrefix(in, "//"):
			in = in[1:]
		default:
			i := strings.IndexByte(in[1:], '/')
			if i < 0 {
				out = append(out, in)
				in = ""
			} else {
				out = append(out, in[:i+1])
				in = in[i+1:]
			}
		}
	}
	if len(out) == 0 {
		return "/" // Kong returns ""; nginx then asks for "/"
	}
	return strings.Join(out, "")
}

// escapePath is Kong's uri.escape, applied to the path it forwards: the
// characters normalizePath decoded that are not safe in a request line (space,
// controls, quotes, bytes of UTF-8 and the like) are encoded again; what is
// left encoded ("%2F") and every reserved character stay as they are.
func escapePath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if !pathSafe(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if pathSafe(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
	return string(b)
}

// pathSafe is Kong's ESCAPE_PATTERN complement: [!#$&'()*+,/:;=?@[\]A-Za-z0-9-_.~%].
func pathSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&'()*+,/:;=?@[]-_.~%", c) >= 0
}

// isReserved is Kong's RESERVED_CHARS: these stay percent-encoded.
func isReserved(c byte) bool {
	return c < 0x80 && strings.IndexByte("!*'();:@&=+$,/?%#[]", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// sanitizePostfix drops a leading "." or ".." segment left over after the
// prefix was stripped (Kong's sanitize_uri_postfix).
func sanitizePostfix(p string) string {
	switch {
	case p == "." || p == "..":
		return ""
	case strings.HasPrefix(p, "./"):
		return p[2:]
	case strings.HasPrefix(p, "../"):
		return p[3:]
	}
	return p
}

// upstreamPath joins the service path and the request path the way Kong's
// path_handling "v0" does (kong/router/utils.lua get_upstream_uri_v0). base is
// the service path ("/" when unset), reqURI the normalised request path, prefix
// the part the route matched (only used when strip is true).
func upstreamPath(base string, strip bool, reqURI, prefix string) string {
	if base == "" {
		base = "/"
	}
	postfix := ""
	if strip {
		postfix = sanitizePostfix(reqURI[len(prefix):])
	}
	if base[len(base)-1] == '/' {
		if !strip {
			return base + reqURI[1:]
		}
		switch {
		case postfix == "":
			if base == "/" {
				return "/"
			}
			if reqURI[len(reqURI)-1] == '/' {
				return base
			}
			return base[:len(base)-1]
		case postfix[0] == '/':
			return base[:len(base)-1] + postfix // avoid a double slash
		}
		return base + postfix
	}
	if !strip {
		if reqURI == "/" {
			return base
		}
		return base + reqURI
	}
	switch {
	case postfix == "":
		if len(reqURI) > 1 && reqURI[len(reqURI)-1] == '/' {
			return base + "/"
		}
		return base
	case postfix[0] == '/':
		return base + postfix
	}
	return base + "/" + postfix
}
