package proxy

import (
	"fmt"
	"strings"
)

// Headers is Kong's `headers` setting: which of its own headers the gateway
// adds to responses. The zero value adds none ("headers = off").
type Headers struct {
	Server          bool // Server: kong/<version> on responses the gateway makes, and proxied ones without one
	Via             bool // Via: 1.1 kong/<version> on proxied responses
	ProxyLatency    bool // X-Kong-Proxy-Latency (proxied)
	UpstreamLatency bool // X-Kong-Upstream-Latency (proxied)
	ResponseLatency bool // X-Kong-Response-Latency (made by the gateway)
	AdminLatency    bool // X-Kong-Admin-Latency (Admin API)
	UpstreamStatus  bool // X-Kong-Upstream-Status (proxied): the upstream's status
	RequestID       bool // X-Kong-Request-Id
}

// DefaultHeaders is Kong 3.9's default: "server_tokens, latency_tokens,
// x-kong-request-id".
func DefaultHeaders() Headers {
	return Headers{Server: true, Via: true, ProxyLatency: true, UpstreamLatency: true,
		ResponseLatency: true, AdminLatency: true, RequestID: true}
}

// ParseHeaders reads a `headers` value as Kong's conf_loader does: a comma
// separated list of server_tokens (Server and Via), latency_tokens (the four
// latency headers), or single header names, case-insensitive; "off" alone
// (or first) turns every header off, "off" elsewhere in the list is ignored.
// An unknown entry is an error ("headers: invalid entry 'x'").
func ParseHeaders(v string) (Headers, error) {
	var h Headers
	tokens := splitList(v)
	for _, tok := range tokens {
		switch strings.ToLower(tok) {
		case "off":
		case "server_tokens":
			h.Server, h.Via = true, true
		case "latency_tokens":
			h.ProxyLatency, h.ResponseLatency, h.AdminLatency, h.UpstreamLatency = true, true, true, true
		case "via":
			h.Via = true
		case "server":
			h.Server = true
		case "x-kong-proxy-latency":
			h.ProxyLatency = true
		case "x-kong-response-latency":
			h.ResponseLatency = true
		case "x-kong-admin-latency":
			h.AdminLatency = true
		case "x-kong-upstream-latency":
			h.UpstreamLatency = true
		case "x-kong-upstream-status":
			h.UpstreamStatus = true
		case "x-kong-request-id":
			h.RequestID = true
		default:
			return Headers{}, fmt.Errorf("headers: invalid entry '%s'", tok)
		}
	}
	if len(tokens) > 0 && strings.EqualFold(tokens[0], "off") {
		return Headers{}, nil
	}
	return h, nil
}

// ParseHeadersUpstream reads Kong's `headers_upstream`: "x-kong-request-id"
// (the default) sends the request id upstream, "off" does not.
func ParseHeadersUpstream(v string) (requestID bool, err error) {
	tokens := splitList(v)
	for _, tok := range tokens {
		switch strings.ToLower(tok) {
		case "off":
		case "x-kong-request-id":
			requestID = true
		default:
			return false, fmt.Errorf("headers_upstream: invalid entry '%s'", tok)
		}
	}
	if len(tokens) > 0 && strings.EqualFold(tokens[0], "off") {
		return false, nil
	}
	return requestID, nil
}

func splitList(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
