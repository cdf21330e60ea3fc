package server

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/proxy"
)

// Settings is the gateway's start-up configuration. Every flag has environment
// equivalents: GATEWAY_<NAME> first, then Kong's KONG_<NAME> where Kong has one,
// so a Kong deployment's environment works unchanged.
type Settings struct {
	ProxyListen       string
	AdminListen       string
	Database          string // "embedded" (persistent store), "postgres" (shared) or "off" (DB-less)
	DataDir           string
	DeclarativeConfig string
	AdminToken        string
	SSLCert           string
	SSLCertKey        string
	AdminSSLCert      string
	AdminSSLCertKey   string
	LogLevel          string
	DrainTimeout      time.Duration
	// ClientBodyTimeout is the longest wait between two reads of a request
	// body (nginx's client_body_timeout): then 408 and the connection is
	// closed. Negative disables it (the flag's "0"), which lets a slow client
	// hold a connection and a goroutine for as long as it likes: only for
	// proving that a check fails. Zero, as in a Settings literal, means the
	// default, 60s, so a caller that forgets it is safe.
	ClientBodyTimeout time.Duration
	// ClientHeaderTimeout bounds reading a request's head (nginx's
	// client_header_timeout); zero and negative as above.
	ClientHeaderTimeout time.Duration
	// Headers is Kong's `headers`: the gateway's own response headers
	// ("server_tokens, latency_tokens, x-kong-request-id" when empty; "off").
	Headers string
	// HeadersUpstream is Kong's `headers_upstream` ("x-kong-request-id" when
	// empty; "off").
	HeadersUpstream string
	// AllowDebugHeader is Kong's allow_debug_header ("on"/"off", default
	// off): a Kong-Debug request header gets the matched route's and
	// service's ids and names on the response.
	AllowDebugHeader string
	// ErrorDefaultType is Kong's error_default_type: the format of error
	// pages for a request with neither Accept nor Content-Type (text/plain).
	ErrorDefaultType string
	// NodeID is Kong's node_id: this node's UUID, instead of a generated
	// one (kept in the data dir with the embedded store).
	NodeID string
	// TrustedIPs, RealIPHeader and RealIPRecursive are Kong's trusted_ips,
	// real_ip_header (X-Real-IP) and real_ip_recursive (off): which clients
	// may name the real client and pass their X-Forwarded-* headers on.
	TrustedIPs      string
	RealIPHeader    string
	RealIPRecursive string
	// ProxyHTTP1 picks the plain-TCP proxy listeners' HTTP/1.1 server:
	// "loop" (default; the proxy's own connection loop, proxy.HTTP1Server) or
	// "net/http" (Go's server, as before the loop existed).
	ProxyHTTP1 string
	// Postgres is used with Database "postgres" (postgres.go).
	Postgres PostgresSettings
}

// durationSetting is a setting parsed as a duration, with Kong's env alias.
type durationSetting struct {
	flag, usage string
	env         []string
	def         time.Duration
	dst         *time.Duration
	zeroOff     bool // "0" disables: stored as -1, since a zero field means the default
}

func (s *Settings) durations() []durationSetting {
	return append(s.pgDurations(), []durationSetting{
		{"drain-timeout", "how long SIGTERM waits for in-flight requests", []string{"GATEWAY_DRAIN_TIMEOUT"}, 30 * time.Second, &s.DrainTimeout, false},
		{"client-body-timeout", "longest wait between two reads of a request body, then 408 (0 disables: unsafe)",
			[]string{"GATEWAY_CLIENT_BODY_TIMEOUT", "KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT"}, 60 * time.Second, &s.ClientBodyTimeout, true},
		{"client-header-timeout", "longest time to read a request head, then the connection is closed (0 disables: unsafe)",
			[]string{"GATEWAY_CLIENT_HEADER_TIMEOUT", "KONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT"}, 60 * time.Second, &s.ClientHeaderTimeout, true},
	}...)
}

type setting struct {
	flag, usage string
	env         []string
	def         string
	dst         *string
}

func (s *Settings) table() []setting {
	return append(s.pgTable(), []setting{
		{"proxy-listen", "proxy listeners, Kong syntax", []string{"GATEWAY_PROXY_LISTEN", "KONG_PROXY_LISTEN"}, "0.0.0.0:8000, 0.0.0.0:8443 ssl", &s.ProxyListen},
		{"admin-listen", "Admin API listeners, Kong syntax", []string{"GATEWAY_ADMIN_LISTEN", "KONG_ADMIN_LISTEN"}, "127.0.0.1:8001, 127.0.0.1:8444 ssl", &s.AdminListen},
		{"database", "embedded (persistent store), postgres (shared by several nodes) or off (DB-less, kong.yml)", []string{"GATEWAY_DATABASE", "KONG_DATABASE"}, "embedded", &s.Database},
		{"data-dir", "directory of the embedded store", []string{"GATEWAY_DATA_DIR", "KONG_PREFIX"}, "gauntlet-data", &s.DataDir},
		{"declarative-config", "kong.yml to load at start", []string{"GATEWAY_DECLARATIVE_CONFIG", "KONG_DECLARATIVE_CONFIG"}, "", &s.DeclarativeConfig},
		{"admin-token", "token every Admin API request must carry", []string{"GATEWAY_ADMIN_TOKEN"}, "", &s.AdminToken},
		{"ssl-cert", "proxy TLS certificate (PEM); self-signed when unset", []string{"GATEWAY_SSL_CERT", "KONG_SSL_CERT"}, "", &s.SSLCert},
		{"ssl-cert-key", "proxy TLS key (PEM)", []string{"GATEWAY_SSL_CERT_KEY", "KONG_SSL_CERT_KEY"}, "", &s.SSLCertKey},
		{"admin-ssl-cert", "Admin API TLS certificate (PEM); self-signed when unset", []string{"GATEWAY_ADMIN_SSL_CERT", "KONG_ADMIN_SSL_CERT"}, "", &s.AdminSSLCert},
		{"admin-ssl-cert-key", "Admin API TLS key (PEM)", []string{"GATEWAY_ADMIN_SSL_CERT_KEY", "KONG_ADMIN_SSL_CERT_KEY"}, "", &s.AdminSSLCertKey},
		{"log-level", "debug, info, notice, warn, error", []string{"GATEWAY_LOG_LEVEL", "KONG_LOG_LEVEL"}, "info", &s.LogLevel},
		{"headers", "the gateway's own response headers, Kong syntax (server_tokens, latency_tokens, header names, off)", []string{"GATEWAY_HEADERS", "KONG_HEADERS"}, "server_tokens, latency_tokens, x-kong-request-id", &s.Headers},
		{"headers-upstream", "headers sent upstream: x-kong-request-id or off", []string{"GATEWAY_HEADERS_UPSTREAM", "KONG_HEADERS_UPSTREAM"}, "x-kong-request-id", &s.HeadersUpstream},
		{"error-default-type", "format of Kong's error pages when the request has no Accept: text/plain, application/json, application/xml, text/html", []string{"GATEWAY_ERROR_DEFAULT_TYPE", "KONG_ERROR_DEFAULT_TYPE"}, "text/plain", &s.ErrorDefaultType},
		{"node-id", "this node's UUID (generated and kept in the data dir when unset)", []string{"GATEWAY_NODE_ID", "KONG_NODE_ID"}, "", &s.NodeID},
		{"trusted-ips", "clients (addresses, CIDR blocks) whose X-Forwarded-* and real-IP headers are believed", []string{"GATEWAY_TRUSTED_IPS", "KONG_TRUSTED_IPS"}, "", &s.TrustedIPs},
		{"real-ip-header", "header a trusted client names the real client in", []string{"GATEWAY_REAL_IP_HEADER", "KONG_REAL_IP_HEADER"}, "X-Real-IP", &s.RealIPHeader},
		{"real-ip-recursive", "on: skip trusted addresses in X-Forwarded-For from the right", []string{"GATEWAY_REAL_IP_RECURSIVE", "KONG_REAL_IP_RECURSIVE"}, "off", &s.RealIPRecursive},
		{"allow-debug-header", "on: a Kong-Debug request header gets Kong-Route-Id/-Name and Kong-Service-Id/-Name back", []string{"GATEWAY_ALLOW_DEBUG_HEADER", "KONG_ALLOW_DEBUG_HEADER"}, "off", &s.AllowDebugHeader},
		{"proxy-http1", "HTTP/1.1 server of the plain proxy listeners: loop (the proxy's own connection loop) or net/http", []string{"GATEWAY_PROXY_HTTP1"}, "loop", &s.ProxyHTTP1},
	}...)
}

// ParseSettings reads flags, then fills what no flag set from the environment,
// then defaults.
func ParseSettings(args []string, getenv func(string) string, stderr io.Writer) (Settings, error) {
	var s Settings
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := s.table()
	for _, t := range table {
		fs.StringVar(t.dst, t.flag, "", fmt.Sprintf("%s (env %s; default %q)", t.usage, strings.Join(t.env, ", "), t.def))
	}
	durations := s.durations()
	durRaw := make([]string, len(durations))
	for i, d := range durations {
		fs.StringVar(&durRaw[i], d.flag, "", fmt.Sprintf("%s (env %s; default %s)", d.usage, strings.Join(d.env, ", "), d.def))
	}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, t := range table {
		if set[t.flag] {
			continue
		}
		*t.dst = t.def
		for _, e := range t.env {
			if v := getenv(e); v != "" {
				*t.dst = v
				break
			}
		}
	}
	for i, d := range durations {
		raw := durRaw[i]
		if !set[d.flag] {
			for _, e := range d.env {
				if raw = getenv(e); raw != "" {
					break
				}
			}
		}
		*d.dst = d.def
		if raw == "" {
			continue
		}
		v, err := ParseDuration(raw)
		if err != nil {
			return s, fmt.Errorf("%s %q: %w", d.flag, raw, err)
		}
		if v == 0 && d.zeroOff {
			v = -1
		}
		*d.dst = v
	}
	switch s.Database {
	case "embedded":
	case "off":
	case "postgres":
		if s.Postgres.UpdateFrequency == 0 {
			return s, fmt.Errorf("db-update-frequency: want more than 0")
		}
		if _, err := s.Postgres.StoreOptions(); err != nil {
			return s, err
		}
	default:
		return s, fmt.Errorf("database %q: want embedded, postgres or off", s.Database)
	}
	if _, err := s.Level(); err != nil {
		return s, err
	}
	if s.ProxyHTTP1 != "loop" && s.ProxyHTTP1 != "net/http" {
		return s, fmt.Errorf("proxy-http1 %q: want loop or net/http", s.ProxyHTTP1)
	}
	if _, err := s.proxyHeaders(); err != nil {
		return s, err
	}
	return s, nil
}

// proxyHeaders parses Headers, HeadersUpstream and AllowDebugHeader; empty
// values are Kong's defaults, so a Settings literal needs none of them.
func (s Settings) proxyHeaders() (h proxyHeaderSettings, err error) {
	h.headers = proxy.DefaultHeaders()
	if strings.TrimSpace(s.Headers) != "" {
		if h.headers, err = proxy.ParseHeaders(s.Headers); err != nil {
			return h, err
		}
	}
	h.upstreamRequestID = true
	if strings.TrimSpace(s.HeadersUpstream) != "" {
		if h.upstreamRequestID, err = proxy.ParseHeadersUpstream(s.HeadersUpstream); err != nil {
			return h, err
		}
	}
	if s.NodeID != "" && !uuidRe.MatchString(strings.ToLower(s.NodeID)) {
		return h, fmt.Errorf("node-id %q: want a UUID", s.NodeID)
	}
	if err := proxy.ParseErrorDefaultType(s.ErrorDefaultType); err != nil {
		return h, err
	}
	if h.debug, err = onOff("allow-debug-header", s.AllowDebugHeader); err != nil {
		return h, err
	}
	if h.realIP.Trusted, err = proxy.ParseTrustedIPs(s.TrustedIPs); err != nil {
		return h, err
	}
	if h.realIP.Header, err = proxy.ParseRealIPHeader(s.RealIPHeader); err != nil {
		return h, err
	}
	if h.realIP.Recursive, err = onOff("real-ip-recursive", s.RealIPRecursive); err != nil {
		return h, err
	}
	return h, nil
}

// onOff reads one of Kong's boolean settings.
func onOff(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "off", "false", "0":
		return false, nil
	case "on", "true", "1":
		return true, nil
	}
	return false, fmt.Errorf("%s %q: want on or off", name, v)
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

type proxyHeaderSettings struct {
	headers           proxy.Headers
	upstreamRequestID bool
	debug             bool
	realIP            proxy.RealIP
}

// Level maps Kong's log levels onto slog's.
func (s Settings) Level() (slog.Level, error) {
	switch strings.ToLower(s.LogLevel) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "notice":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error", "crit", "alert", "emerg":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log-level %q: want debug, info, notice, warn or error", s.LogLevel)
}

// ParseDuration accepts Go durations ("1m30s", "500ms") and nginx's time
// syntax, so Kong's KONG_NGINX_* values work unchanged: a bare number is
// seconds ("60"), and the units ms, s, m, h, d, w, M (30 days) and y (365
// days) may be combined without spaces ("1h30m").
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("negative duration")
		}
		return d, nil
	}
	const day = 24 * time.Hour
	units := map[string]time.Duration{
		"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": day, "w": 7 * day, "M": 30 * day, "y": 365 * day,
	}
	var total time.Duration
	rest := v
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 { // nginx too caps a number's digits; this also keeps total from overflowing
			return 0, fmt.Errorf("want a duration such as 60s, 500ms or 1m")
		}
		n := time.Duration(0)
		for _, c := range rest[:i] {
			n = n*10 + time.Duration(c-'0')
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		if unit == "" {
			if rest != "" || total != 0 {
				return 0, fmt.Errorf("want a duration such as 60s, 500ms or 1m")
			}
			unit = "s" // nginx: a bare number is seconds
		}
		u, ok := units[unit]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q: want ms, s, m, h, d, w, M or y", unit)
		}
		if n > (math.MaxInt64-total)/u {
			return 0, fmt.Errorf("duration too long")
		}
		total += n * u
	}
	if v == "" {
		return 0, fmt.Errorf("empty duration")
	}
	return total, nil
}
