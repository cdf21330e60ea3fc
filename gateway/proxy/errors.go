package proxy

import (
	"encoding/json"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kong's messages for the responses the gateway makes itself.
const (
	msgNoRoute    = "no Route matched with those values"
	msgNoService  = "no Service found with those values"
	msgBadGateway = "An invalid response was received from the upstream server"
	msgNoPeer     = "failure to get a peer from the ring-balancer"
	msgTimeout    = "The upstream server is timing out"
	msgUnexpected = "An unexpected error occurred"
	msgUseHTTPS   = "Please use HTTPS protocol"
	msgDNS        = "name resolution failed"
	msgBadRequest = "Bad request"
)

type bodyType int

const (
	typeJSON bodyType = iota
	typeText
	typeHTML
	typeXML
)

// responseType picks the error body format from Accept the way Kong does: the
// first supported media type the client lists, JSON when none (Kong's
// error_default_type).
func responseType(accept string) bodyType {
	if accept == "" {
		return typeJSON
	}
	for _, part := range strings.Split(accept, ",") {
		mt := strings.TrimSpace(part)
		if i := strings.IndexByte(mt, ';'); i >= 0 {
			mt = strings.TrimSpace(mt[:i])
		}
		switch strings.ToLower(mt) {
		case "application/json", "*/*", "application/*":
			return typeJSON
		case "text/plain":
			return typeText
		case "text/html":
			return typeHTML
		case "application/xml", "text/xml":
			return typeXML
		}
	}
	return typeJSON
}

// errorBody renders Kong's error body for msg in the chosen format.
func errorBody(t bodyType, msg, requestID string) (contentType string, body []byte) {
	switch t {
	case typeText:
		return "text/plain; charset=utf-8", []byte(msg + "\nrequest_id: " + requestID + "\n")
	case typeHTML:
		m := html.EscapeString(msg)
		return "text/html; charset=utf-8", []byte("<!doctype html>\n<html>\n  <head>\n" +
			"    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n" +
			"    <h1>Error</h1>\n    <p>" + m + ".</p>\n    <p>request_id: " + requestID + "</p>\n" +
			"  </body>\n</html>\n")
	case typeXML:
		var sb strings.Builder
		sb.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>")
		xmlEscape(&sb, msg)
		sb.WriteString("</message>\n  <requestid>")
		sb.WriteString(requestID)
		sb.WriteString("</requestid>\n</error>\n")
		return "application/xml; charset=utf-8", []byte(sb.String())
	}
	m, _ := json.Marshal(msg) // a string always marshals
	b := make([]byte, 0, len(m)+len(requestID)+40)
	b = append(b, "{\n  \"message\":"...)
	b = append(b, m...)
	b = append(b, ",\n  \"request_id\":\""...)
	b = append(b, requestID...)
	b = append(b, "\"\n}"...)
	return "application/json; charset=utf-8", b
}

func xmlEscape(sb *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '<':
			sb.WriteString("&lt;")
		case '>':
			sb.WriteString("&gt;")
		case '&':
			sb.WriteString("&amp;")
		case '"':
			sb.WriteString("&quot;")
		case '\'':
			sb.WriteString("&apos;")
		default:
			sb.WriteRune(r)
		}
	}
}

// writeGenerated writes a response the gateway makes itself: Kong's body,
// X-Kong-Response-Latency, Server, the plugins' response headers and extra.
func (p *Proxy) writeGenerated(rs *reqState, status int, msg string, extra http.Header) {
	if rs.wroteHeader {
		return
	}
	h := rs.w.Header()
	for k, vv := range extra {
		h[k] = vv
	}
	rs.addPluginHeaders(h)
	h["Server"] = p.serverHeader
	h["X-Kong-Request-Id"] = []string{rs.requestID}
	h["X-Kong-Response-Latency"] = []string{strconv.FormatInt(time.Since(rs.start).Milliseconds(), 10)}
	var body []byte
	if msg != "" {
		ct, b := errorBody(responseType(rs.r.Header.Get("Accept")), msg, rs.requestID)
		h["Content-Type"] = []string{ct}
		body = b
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	rs.wroteHeader = true
	rs.w.WriteHeader(status)
	if rs.r.Method != http.MethodHead && len(body) > 0 {
		rs.w.Write(body)
	}
}
