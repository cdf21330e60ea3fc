package proxy

import (
	"bufio"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
)

// skipUpstream are the request headers not passed on: Kong's hop-by-hop rules
// (kong/runloop/handler.lua plus the proxy_set_header lines of its nginx
// template and nginx's proxy module defaults), and the ones this gateway sets
// itself upstream.
//
//   - Connection, Keep-Alive, Upgrade, TE: set by the gateway (Connection per
//     WebSocket, TE only as "TE: trailers" when the client accepts trailers);
//   - Proxy: httpoxy (CVE-2016-5385), an upstream CGI would read it as
//     HTTP_PROXY; Proxy-Connection: a pre-standard Connection;
//   - Expect: answered by the gateway's own server (100-continue);
//   - Transfer-Encoding, Content-Length, Trailer: the gateway frames the body
//     itself (buffered bodies go with a Content-Length, and request trailers
//     are not forwarded, so announcing them would be false).
//
// Headers named in the client's Connection header are dropped as well (see
// writeHead). Proxy-Authorization and Proxy-Authenticate are end-to-end in
// Kong (a plugin or the upstream may use them) and pass.
var skipUpstream = map[string]bool{
	"Connection":         true,
	"Proxy-Connection":   true,
	"Proxy":              true,
	"Keep-Alive":         true,
	"Te":                 true,
	"Trailer":            true,
	"Transfer-Encoding":  true,
	"Upgrade":            true,
	"Expect":             true,
	"Via":                true,
	"Host":               true,
	"Content-Length":     true,
	"X-Forwarded-For":    true,
	"X-Forwarded-Proto":  true,
	"X-Forwarded-Host":   true,
	"X-Forwarded-Port":   true,
	"X-Forwarded-Path":   true,
	"X-Forwarded-Prefix": true,
	"X-Real-Ip":          true,
	"X-Kong-Request-Id":  true,
}

// skipDownstream are the upstream response headers not copied to the client:
// the ones that describe the upstream connection. Proxy-Authenticate is an
// end-to-end challenge (nginx passes it).
var skipDownstream = map[string]bool{
	"Connection":        true,
	"Proxy-Connection":  true,
	"Keep-Alive":        true,
	"Te":                true,
	"Trailer":           true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
}

// connectionTokens returns the header names a Connection header lists: they are
// hop-by-hop too. Nil (and no allocation) when there is no Connection header.
func connectionTokens(h http.Header) []string {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	var out []string
	for _, v := range vv {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out = append(out, http.CanonicalHeaderKey(tok))
			}
		}
	}
	return out
}

// validHeaderValue rejects values a plugin may have set with CR, LF or other
// control bytes, which would otherwise split the upstream request.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// upstreamHead is everything the request line and the gateway-set headers need.
type upstreamHead struct {
	method string
	path   string // escaped
	query  string
	// forceQuery: the client sent "?" with an empty query, which Kong passes on
	forceQuery bool
	host       string // Host header value
	hostPort   int    // appended to host as ":port" when non-zero
	header     http.Header
	// forwarding headers
	xff        string // existing X-Forwarded-For value(s), joined, or ""
	clientIP   string // the client (X-Real-IP): the connection's, or the one a trusted proxy names
	connIP     string // the connecting address, appended to an existing X-Forwarded-For
	fwdPort    string // a trusted client's X-Forwarded-Port; "": serverPort
	proto      string
	fwdHost    string
	serverPort int
	fwdPath    string
	fwdPrefix  string
	requestID  string   // X-Kong-Request-Id (Kong 3.5+ headers_upstream default); "": not sent
	via        string   // Via: the client's, then ours
	websocket  bool     // an Upgrade: websocket request, passed on as Kong does
	teTrailers bool     // the client accepts trailers (TE: trailers)
	bodyLength int64    // -1: chunked; 0: no body
	num        [20]byte // number formatting scratch (a local array would escape)
}

// writeHead writes the request line and headers into bw without building an
// intermediate http.Header.
func writeHead(bw *bufio.Writer, h *upstreamHead) {
	num := &h.num
	bw.WriteString(h.method)
	bw.WriteByte(' ')
	bw.WriteString(h.path)
	if h.query != "" || h.forceQuery {
		bw.WriteByte('?') // a client's bare "?" goes on too, as nginx's $request_uri keeps it
		bw.WriteString(h.query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(h.host)
	if h.hostPort != 0 {
		bw.WriteByte(':')
		bw.Write(strconv.AppendInt(num[:0], int64(h.hostPort), 10))
	}
	bw.WriteString("\r\n")
	conn := connectionTokens(h.header)
	for k, vv := range h.header {
		if skipUpstream[k] && (k != "X-Kong-Request-Id" || h.requestID != "") ||
			(conn != nil && containsString(conn, k)) || !validHeaderName(k) {
			continue
		}
		for _, v := range vv {
			if !validHeaderValue(v) {
				continue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("X-Forwarded-For: ")
	if h.xff != "" {
		// Kong appends the connecting address (realip_remote_addr), which
		// differs from clientIP only for a trusted proxy naming the client.
		bw.WriteString(h.xff)
		bw.WriteString(", ")
		bw.WriteString(h.connIP)
	} else {
		bw.WriteString(h.clientIP)
	}
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	bw.WriteString(h.proto)
	bw.WriteString("\r\nX-Forwarded-Host: ")
	bw.WriteString(h.fwdHost)
	bw.WriteString("\r\nX-Forwarded-Port: ")
	if h.fwdPort != "" {
		bw.WriteString(h.fwdPort) // a trusted client's own
	} else {
		bw.Write(strconv.AppendInt(num[:0], int64(h.serverPort), 10))
	}
	bw.WriteString("\r\nX-Forwarded-Path: ")
	bw.WriteString(h.fwdPath)
	if h.fwdPrefix != "" {
		bw.WriteString("\r\nX-Forwarded-Prefix: ")
		bw.WriteString(h.fwdPrefix)
	}
	bw.WriteString("\r\nX-Real-IP: ")
	bw.WriteString(h.clientIP)
	if h.requestID != "" { // "" with headers_upstream=off
		bw.WriteString("\r\nX-Kong-Request-Id: ")
		bw.WriteString(h.requestID)
	}
	bw.WriteString("\r\nVia: ")
	bw.WriteString(h.via)
	if h.teTrailers {
		bw.WriteString("\r\nTE: trailers")
	}
	if h.websocket {
		bw.WriteString("\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket")
	}
	switch {
	case h.bodyLength > 0:
		bw.WriteString("\r\nContent-Length: ")
		bw.Write(strconv.AppendInt(num[:0], h.bodyLength, 10))
	case h.bodyLength < 0:
		bw.WriteString("\r\nTransfer-Encoding: chunked")
	}
	bw.WriteString("\r\n\r\n")
}

// joinXFF returns the client's X-Forwarded-For values as one string; no
// allocation in the usual single-value case.
func joinXFF(h http.Header) string {
	vv := h["X-Forwarded-For"]
	switch len(vv) {
	case 0:
		return ""
	case 1:
		return vv[0]
	}
	return strings.Join(vv, ", ")
}

const hexDigits = "0123456789abcdef"

// newRequestID returns 32 random hex digits, the shape of Kong's
// X-Kong-Request-Id. math/rand/v2's global source is per-thread and lock-free.
func newRequestID() string {
	var b [32]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 16; i++ {
		b[i] = hexDigits[a&0xf]
		a >>= 4
		b[16+i] = hexDigits[c&0xf]
		c >>= 4
	}
	return string(b[:])
}

// clientIP is the host part of RemoteAddr, without allocating.
func clientIP(remoteAddr string) string {
	i := strings.LastIndexByte(remoteAddr, ':')
	if i < 0 {
		return remoteAddr
	}
	h := remoteAddr[:i]
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return h
}
