package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// RealIP is Kong's trusted_ips, real_ip_header and real_ip_recursive (nginx's
// realip module plus Kong's forwarding rules, kong/runloop/handler.lua):
//
//   - a client whose address is in Trusted may name the real client: the
//     address in Header (X-Real-IP by default; X-Forwarded-For takes its last
//     entry, or with Recursive the last one that is not itself trusted)
//     becomes the client IP that plugins, the balancer, X-Real-IP and (when
//     the request has no X-Forwarded-For) X-Forwarded-For see;
//   - a trusted client's X-Forwarded-Proto, -Host, -Port, -Path and -Prefix
//     are passed on instead of replaced, and its X-Forwarded-Proto: https
//     satisfies an https-only route;
//   - an existing X-Forwarded-For always gets the connecting address
//     appended (realip_remote_addr), trusted or not.
//
// With no Trusted prefixes (the default) no client is trusted.
type RealIP struct {
	Trusted   []netip.Prefix
	Header    string // canonical header name; "" means X-Real-IP
	Recursive bool
}

// ParseTrustedIPs reads Kong's trusted_ips: comma-separated addresses and
// CIDR blocks ("0.0.0.0/0,::/0" trusts everyone). "unix:" (nginx's unix
// socket clients) is accepted and ignored: the gateway has no unix listeners.
func ParseTrustedIPs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, t := range splitList(v) {
		if t == "unix:" {
			continue
		}
		if strings.Contains(t, "/") {
			p, err := netip.ParsePrefix(t)
			if err != nil {
				return nil, fmt.Errorf("trusted_ips: invalid IP or CIDR range: '%s'", t)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(t)
		if err != nil {
			return nil, fmt.Errorf("trusted_ips: invalid IP or CIDR range: '%s'", t)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// ParseRealIPHeader checks Kong's real_ip_header and returns its canonical
// form; proxy_protocol (the gateway has no PROXY protocol listeners) is refused.
func ParseRealIPHeader(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "X-Real-Ip", nil
	case strings.EqualFold(v, "proxy_protocol"):
		return "", fmt.Errorf("real_ip_header: proxy_protocol is not supported (no PROXY protocol listeners)")
	case !validHeaderName(v):
		return "", fmt.Errorf("real_ip_header: invalid header name %q", v)
	}
	return http.CanonicalHeaderKey(v), nil
}

func (ri *RealIP) trusts(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range ri.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the real client's address for a trusted connection from
// conn, as nginx's realip module finds it; conn when the header names none.
func (ri *RealIP) clientAddr(h http.Header, conn string) string {
	name := ri.Header
	if name == "" {
		name = "X-Real-Ip"
	}
	vv := h[name]
	if len(vv) == 0 {
		return conn
	}
	if name != "X-Forwarded-For" {
		if a, ok := parseAddrPort(vv[0]); ok {
			return a
		}
		return conn
	}
	var entries []string
	for _, v := range vv {
		for _, e := range strings.Split(v, ",") {
			entries = append(entries, strings.TrimSpace(e))
		}
	}
	addr := conn
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseAddrPort(entries[i])
		if !ok {
			break
		}
		addr = a
		if !ri.Recursive || !ri.trusts(a) {
			break
		}
	}
	return addr
}

// parseAddrPort reads "ip", "ip:port" or "[ipv6]:port".
func parseAddrPort(s string) (string, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().String(), true
		}
	}
	return "", false
}

// firstHeader is the first value of a header the client sent, and whether it
// sent one (kong.request.get_header).
func firstHeader(h http.Header, name string) (string, bool) {
	if vv := h[name]; len(vv) > 0 {
		return vv[0], true
	}
	return "", false
}
