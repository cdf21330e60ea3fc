package proxy

import (
	"net/url"
	"path"
	"strings"
)

// requestPaths returns the path the router matches (decoded, dot segments
// resolved, slashes merged, as Kong normalises it) and the escaped form that is
// forwarded. Both are the request's own strings unless normalisation changed
// something, so the common case allocates nothing.
func requestPaths(u *url.URL) (decoded, escaped string) {
	decoded = u.Path
	if decoded == "" {
		decoded = "/"
	}
	escaped = u.EscapedPath()
	if escaped == "" {
		escaped = "/"
	}
	if needsClean(decoded) {
		// Resolving dot segments before routing stops "/public/../admin" from
		// matching a /public route and reaching /admin upstream.
		decoded = cleanPath(decoded)
		escaped = (&url.URL{Path: decoded}).EscapedPath()
	}
	return decoded, escaped
}

func needsClean(p string) bool {
	if p == "" || p[0] != '/' {
		return true
	}
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// cleanPath is path.Clean that keeps a trailing slash (it is significant to
// upstreams and to Kong's path joining).
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if c != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		c += "/"
	}
	return c
}

// escapedOffset maps a length in the decoded path to the matching offset in the
// escaped path (each %XX triplet decodes to one byte).
func escapedOffset(escaped string, decodedLen int) int {
	if len(escaped) == decodedLen || decodedLen == 0 {
		return min(decodedLen, len(escaped))
	}
	i, n := 0, 0
	for i < len(escaped) && n < decodedLen {
		if escaped[i] == '%' && i+2 < len(escaped) {
			i += 3
		} else {
			i++
		}
		n++
	}
	return i
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
// the service path ("/" when unset), reqURI the escaped request path, prefix
// the escaped part the route matched (only used when strip is true).
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
