package server

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listen is one entry of a Kong listen directive such as
// "0.0.0.0:8443 ssl http2 reuseport backlog=16384".
type Listen struct {
	Addr  string // host:port
	SSL   bool
	HTTP2 bool // Kong's flag; HTTP/2 is offered on every listener regardless (ALPN on TLS, prior knowledge on cleartext)
}

// kongListenFlags are the flags Kong's listen directives accept. Those that only tune
// nginx are accepted and ignored so that a Kong configuration works unchanged.
var kongListenFlags = map[string]bool{
	"ssl": true, "http2": true, "proxy_protocol": true, "reuseport": true, "deferred": true, "bind": true,
}

var kongListenParams = map[string]bool{"backlog": true, "ipv6only": true, "so_keepalive": true}

// ParseListen parses Kong's listen syntax: comma-separated "address[:port] [flags...]" or "off".
func ParseListen(spec string) ([]Listen, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "off" {
		return nil, nil
	}
	var out []Listen
	for _, entry := range strings.Split(spec, ",") {
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			return nil, fmt.Errorf("listen %q: empty entry", spec)
		}
		addr, err := normaliseAddr(fields[0])
		if err != nil {
			return nil, fmt.Errorf("listen %q: %w", strings.TrimSpace(entry), err)
		}
		l := Listen{Addr: addr}
		for _, f := range fields[1:] {
			name, _, hasValue := strings.Cut(f, "=")
			switch {
			case !hasValue && kongListenFlags[f]:
				l.SSL = l.SSL || f == "ssl"
				l.HTTP2 = l.HTTP2 || f == "http2"
			case hasValue && kongListenParams[name]:
			default:
				return nil, fmt.Errorf("listen %q: unknown flag %q", strings.TrimSpace(entry), f)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

func normaliseAddr(a string) (string, error) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", fmt.Errorf("address %q must be host:port", a)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("address %q: invalid port", a)
	}
	if host == "*" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, port), nil
}

// IsLoopback reports whether a listen address only accepts local connections.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
