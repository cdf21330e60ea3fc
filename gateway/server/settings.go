package server

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Settings is the gateway's start-up configuration. Every flag has environment
// equivalents: GATEWAY_<NAME> first, then Kong's KONG_<NAME> where Kong has one,
// so a Kong deployment's environment works unchanged.
type Settings struct {
	ProxyListen       string
	AdminListen       string
	Database          string // "embedded" (persistent store) or "off" (DB-less)
	DataDir           string
	DeclarativeConfig string
	AdminToken        string
	SSLCert           string
	SSLCertKey        string
	AdminSSLCert      string
	AdminSSLCertKey   string
	LogLevel          string
	DrainTimeout      time.Duration
}

type setting struct {
	flag, usage string
	env         []string
	def         string
	dst         *string
}

func (s *Settings) table() []setting {
	return []setting{
		{"proxy-listen", "proxy listeners, Kong syntax", []string{"GATEWAY_PROXY_LISTEN", "KONG_PROXY_LISTEN"}, "0.0.0.0:8000, 0.0.0.0:8443 ssl", &s.ProxyListen},
		{"admin-listen", "Admin API listeners, Kong syntax", []string{"GATEWAY_ADMIN_LISTEN", "KONG_ADMIN_LISTEN"}, "127.0.0.1:8001, 127.0.0.1:8444 ssl", &s.AdminListen},
		{"database", "embedded (persistent store) or off (DB-less, kong.yml)", []string{"GATEWAY_DATABASE", "KONG_DATABASE"}, "embedded", &s.Database},
		{"data-dir", "directory of the embedded store", []string{"GATEWAY_DATA_DIR", "KONG_PREFIX"}, "gauntlet-data", &s.DataDir},
		{"declarative-config", "kong.yml to load at start", []string{"GATEWAY_DECLARATIVE_CONFIG", "KONG_DECLARATIVE_CONFIG"}, "", &s.DeclarativeConfig},
		{"admin-token", "token every Admin API request must carry", []string{"GATEWAY_ADMIN_TOKEN"}, "", &s.AdminToken},
		{"ssl-cert", "proxy TLS certificate (PEM); self-signed when unset", []string{"GATEWAY_SSL_CERT", "KONG_SSL_CERT"}, "", &s.SSLCert},
		{"ssl-cert-key", "proxy TLS key (PEM)", []string{"GATEWAY_SSL_CERT_KEY", "KONG_SSL_CERT_KEY"}, "", &s.SSLCertKey},
		{"admin-ssl-cert", "Admin API TLS certificate (PEM); self-signed when unset", []string{"GATEWAY_ADMIN_SSL_CERT", "KONG_ADMIN_SSL_CERT"}, "", &s.AdminSSLCert},
		{"admin-ssl-cert-key", "Admin API TLS key (PEM)", []string{"GATEWAY_ADMIN_SSL_CERT_KEY", "KONG_ADMIN_SSL_CERT_KEY"}, "", &s.AdminSSLCertKey},
		{"log-level", "debug, info, notice, warn, error", []string{"GATEWAY_LOG_LEVEL", "KONG_LOG_LEVEL"}, "info", &s.LogLevel},
	}
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
	drain := fs.String("drain-timeout", "", "how long SIGTERM waits for in-flight requests (env GATEWAY_DRAIN_TIMEOUT; default 30s)")
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
	if *drain == "" {
		*drain = getenv("GATEWAY_DRAIN_TIMEOUT")
	}
	s.DrainTimeout = 30 * time.Second
	if *drain != "" {
		d, err := time.ParseDuration(*drain)
		if err != nil || d < 0 {
			return s, fmt.Errorf("drain-timeout %q: want a duration such as 30s", *drain)
		}
		s.DrainTimeout = d
	}
	switch s.Database {
	case "embedded":
	case "off":
	case "postgres":
		return s, fmt.Errorf("database %q is not supported: use embedded (persistent) or off (DB-less)", s.Database)
	default:
		return s, fmt.Errorf("database %q: want embedded or off", s.Database)
	}
	if _, err := s.Level(); err != nil {
		return s, err
	}
	return s, nil
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
