package proxy

import (
	"encoding/json"
	"fmt"
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
	// Kong's error_handlers.lua bodies for the statuses nginx makes itself.
	msgRequestTimeout   = "Request timeout"
	msgMethodNotAllowed = "Method not allowed"
	msgURITooLong       = "URI too long"
	msgHeaderTooLarge   = "Request header or cookie too large"
)

// closeHeader asks the HTTP/1.x server to close the connection after the
// response; nil on HTTP/2, where the header is illegal and a stream's end
// leaves the connection sound.
func closeHeader(r *http.Request) http.Header {
	if r.ProtoMajor != 1 {
		return nil
	}
	return http.Header{"Connection": {"close"}}
}

type bodyType int

const (
	typeJSON bodyType = iota
	typeText
	typeHTML
	typeXML
)

// responseType picks the error body format from Accept as Kong's
// get_response_type does: the first media range with the highest q decides;
// text/* means plain text, application/* and */* JSON, and a type Kong has no
// template for falls back to JSON (error_default_type).
func responseType(accept string) bodyType {
	best, bestQ := typeJSON, 0.0
	for accept != "" {
		part := accept
		if i := strings.IndexByte(accept, ','); i >= 0 {
			part, accept = accept[:i], accept[i+1:]
		} else {
			accept = ""
		}
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > bestQ {
			bestQ, best = q, mediaBodyType(strings.ToLower(strings.TrimSpace(mt)))
		}
	}
	return best
}

func mediaBodyType(mt string) bodyType {
	switch mt {
	case "text/plain", "text/*":
		return typeText
	case "text/html":
		return typeHTML
	case "application/xml":
		return typeXML
	}
	return typeJSON
}

// handlerType is the body format of Kong's error handler (kong/error_handlers.lua),
// which words the responses nginx makes itself (400, 405, 408, 414, the 494
// "header too large") and the 500, 502 and 504 of a failed proxying: the
// Accept header decides; without one, the request's Content-Type; without
// that, error_default_type, whose default is text/plain. (Kong's
// kong.response.error, used for "no Route matched", plugin exits and the
// balancer's 503, falls back to JSON instead: responseType alone.)
func handlerType(h http.Header, def bodyType) bodyType {
	if vv, ok := h["Accept"]; ok && len(vv) > 0 {
		return responseType(vv[0])
	}
	if vv, ok := h["Content-Type"]; ok && len(vv) > 0 {
		return responseType(vv[0])
	}
	return def
}

// ParseErrorDefaultType checks Kong's error_default_type: text/plain (the
// default), application/json, application/xml or text/html.
func ParseErrorDefaultType(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "text/plain", "application/json", "application/xml", "text/html":
		return nil
	}
	return fmt.Errorf("error_default_type: must be one of: text/plain, application/json, application/xml, text/html (got %q)", v)
}

// handlerMessage is error_handlers.lua's body for status.
func handlerMessage(status int) string {
	switch status {
	case http.StatusBadRequest:
		return msgBadRequest
	case http.StatusNotFound:
		return "Not found"
	case http.StatusMethodNotAllowed:
		return msgMethodNotAllowed
	case http.StatusRequestTimeout:
		return msgRequestTimeout
	case http.StatusLengthRequired:
		return "Length required"
	case http.StatusPreconditionFailed:
		return "Precondition failed"
	case http.StatusRequestEntityTooLarge:
		return "Payload too large"
	case http.StatusRequestURITooLong:
		return msgURITooLong
	case http.StatusExpectationFailed:
		return "Expectation failed"
	case http.StatusInternalServerError:
		return msgUnexpected
	case http.StatusBadGateway:
		return msgBadGateway
	case http.StatusServiceUnavailable:
		return "The upstream server is currently unavailable"
	case http.StatusGatewayTimeout:
		return msgTimeout
	}
	return "The upstream server responded with " + strconv.Itoa(status)
}

// exitMessage applies kong.response.error's rules to a plugin exit: 405, 500
// and 502 always carry their fixed message; 401, 404 and 503 get a default
// when the plugin gave none.
func exitMessage(status int, msg string) string {
	switch status {
	case http.StatusMethodNotAllowed:
		return "Method not allowed"
	case http.StatusInternalServerError:
		return msgUnexpected
	case http.StatusBadGateway:
		return "Bad gateway"
	}
	if msg != "" {
		return msg
	}
	switch status {
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusServiceUnavailable:
		return "Service unavailable"
	}
	if status >= 400 {
		return http.StatusText(status)
	}
	return ""
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

// writeHandlerError writes a response worded by Kong's error handler: the
// message for status (msg overrides it, for the 494 that nginx turns into a
// 400 "Request header or cookie too large"), in handlerType's format.
func (p *Proxy) writeHandlerError(rs *reqState, status int, msg string, extra http.Header) {
	if msg == "" {
		msg = handlerMessage(status)
	}
	p.writeResponse(rs, status, msg, handlerType(rs.r.Header, p.errDefault), extra)
}

// writeGenerated writes a response the gateway makes itself as
// kong.response.error does: Kong's body in the format Accept asks for (JSON
// by default), X-Kong-Response-Latency, Server, the plugins' response headers
// and extra.
func (p *Proxy) writeGenerated(rs *reqState, status int, msg string, extra http.Header) {
	if rs.wroteHeader {
		return
	}
	p.writeResponse(rs, status, msg, responseType(rs.r.Header.Get("Accept")), extra)
}

// writeResponse writes a gateway-made response. When the request was already
// proxied (a try reached for the upstream, rs.proxied), Kong's header filter
// treats it as proxied: X-Kong-Upstream-Latency, X-Kong-Proxy-Latency and Via
// instead of X-Kong-Response-Latency.
func (p *Proxy) writeResponse(rs *reqState, status int, msg string, t bodyType, extra http.Header) {
	if rs.wroteHeader {
		return
	}
	h := rs.w.Header()
	closing := hasCloseToken(h["Connection"]) // decided earlier (mayHideFraming)
	for k, vv := range extra {
		h[k] = vv
	}
	rs.addPluginHeaders(h)
	if closing {
		// A 426's "Connection: Upgrade" must not undo a close the framing
		// rules asked for: net/http closes only on a header that is exactly
		// "close", so that wins (the Upgrade header itself still goes out).
		h["Connection"] = connClose
	}
	hd := &p.hdr
	if rs.proxied {
		// Kong's header filter treats a failure after the balancer as a
		// proxied response: latencies and Via, and Server only if unset.
		now := time.Now()
		if hd.UpstreamLatency {
			h["X-Kong-Upstream-Latency"] = []string{strconv.FormatInt(now.Sub(rs.upstreamStart).Milliseconds(), 10)}
		}
		if hd.ProxyLatency {
			h["X-Kong-Proxy-Latency"] = []string{strconv.FormatInt(rs.upstreamStart.Sub(rs.start).Milliseconds(), 10)}
		}
		if hd.Via {
			h["Via"] = []string{p.via}
		}
		if _, ok := h["Server"]; !ok && hd.Server {
			h["Server"] = p.serverHeader
		}
		if hd.UpstreamStatus {
			h["X-Kong-Upstream-Status"] = []string{strconv.Itoa(status)}
		}
	} else {
		if hd.ResponseLatency {
			h["X-Kong-Response-Latency"] = []string{strconv.FormatInt(time.Since(rs.start).Milliseconds(), 10)}
		}
		// A plugin that answers with Kong's own Via keeps the upstream's
		// Server (Kong's request-termination + response-transformer case).
		if !(hd.Via && len(h["Via"]) == 1 && h["Via"][0] == p.serverHeader[0]) {
			if hd.Server {
				h["Server"] = p.serverHeader
			} else {
				delete(h, "Server")
			}
		}
	}
	if hd.RequestID {
		h["X-Kong-Request-Id"] = []string{rs.requestID}
	}
	var body []byte
	if msg != "" {
		ct, b := errorBody(t, msg, rs.requestID)
		h["Content-Type"] = []string{ct}
		body = b
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	rs.wroteHeader = true
	rs.status = status
	p.boundDiscard(rs)
	if wd, ok := rs.w.(writeDeadliner); ok && p.sendTimeout > 0 && rs.r.ProtoMajor == 1 {
		// Bounds the server's flush of this response after the handler. (An
		// HTTP/2 error body fits the stream's initial flow-control window.)
		p.armSend(wd)
	}
	rs.w.WriteHeader(status)
	if rs.r.Method != http.MethodHead && len(body) > 0 {
		rs.w.Write(body)
	}
}

// boundDiscard covers a request answered without reading its body (a 404, a
// plugin's 401 or 429): after the handler, net/http's HTTP/1.x server reads
// and discards up to 256 KiB of the body to keep the connection, with no
// deadline of its own, so a client that stalls mid-body would hold the
// connection forever. The body timeout bounds that read; if it fires, the
// connection closes, after the response went out. A body that already timed
// out (the 408) gets no second wait: the deadline is now, so the discard
// fails at once and the connection closes right after the answer.
func (p *Proxy) boundDiscard(rs *reqState) {
	r := rs.r
	if p.bodyTimeout <= 0 || r.ProtoMajor != 1 || r.Body == nil || r.Body == http.NoBody || rs.body.eof {
		return
	}
	if rd, ok := rs.w.(readDeadliner); ok {
		deadline := time.Now().Add(p.bodyTimeout)
		if rs.body.timedOut {
			deadline = time.Now()
		}
		rd.SetReadDeadline(deadline)
	}
}

func hasCloseToken(vv []string) bool {
	for _, v := range vv {
		if headerHasToken(v, "close") {
			return true
		}
	}
	return false
}
