package lint

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Settings are a node's start-up settings under Kong's kong.conf names
// (lower case: database, admin_listen, ...), read from a kong.conf and/or a
// KONG_* environment file. Where neither says anything, Kong's own default
// from kong.conf.default applies (see defaults).
type Settings struct {
	values map[string]string
	where  map[string]Location // where each value was set; absent for defaults
	// Nodes is how many gateway nodes serve this configuration, when the user
	// says so (--nodes); 0 means unknown.
	Nodes int
	// Files are the settings files read, in order.
	Files []string
}

// defaults are Kong 3.x's kong.conf.default values for the settings the rules
// read. admin_token is this project's gateway (--admin-token,
// GATEWAY_ADMIN_TOKEN); Kong OSS has no equivalent.
var defaults = map[string]string{
	"database":           "postgres",
	"admin_listen":       "127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 http2 ssl reuseport backlog=16384",
	"proxy_listen":       "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
	"declarative_config": "",
	"role":               "traditional",
	"plugins":            "bundled",
	"admin_token":        "",
	// nginx's own defaults; Kong's template leaves them unset.
	"nginx_http_client_body_timeout":   "60s",
	"nginx_http_client_header_timeout": "60s",
}

// gatewayAliases maps this project's gateway variables onto Kong's names; like
// the gateway, a GATEWAY_* value wins over the KONG_* one.
var gatewayAliases = map[string]string{
	"GATEWAY_DATABASE":              "database",
	"GATEWAY_ADMIN_LISTEN":          "admin_listen",
	"GATEWAY_PROXY_LISTEN":          "proxy_listen",
	"GATEWAY_DECLARATIVE_CONFIG":    "declarative_config",
	"GATEWAY_ADMIN_TOKEN":           "admin_token",
	"GATEWAY_CLIENT_BODY_TIMEOUT":   "nginx_http_client_body_timeout",
	"GATEWAY_CLIENT_HEADER_TIMEOUT": "nginx_http_client_header_timeout",
}

// NewSettings returns Kong's defaults.
func NewSettings() *Settings {
	return &Settings{values: map[string]string{}, where: map[string]Location{}}
}

// Get returns a setting, or Kong's default.
func (s *Settings) Get(key string) string {
	if v, ok := s.values[key]; ok {
		return v
	}
	return defaults[key]
}

// Where is the file and line that set key; ok is false for a default.
func (s *Settings) Where(key string) (Location, bool) {
	l, ok := s.where[key]
	return l, ok
}

func (s *Settings) set(key, value string, at Location, strong bool) {
	if prev, ok := s.where[key]; ok && prev.strong && !strong && prev.File == at.File {
		return // a GATEWAY_* line in the same file wins over its KONG_* alias
	}
	at.strong = strong
	s.values[key] = value
	s.where[key] = at
}

// ParseKongConf reads kong.conf syntax: `key = value`, `#` starts a comment
// unless escaped as `\#`, blank lines ignored.
func (s *Settings) ParseKongConf(file string, data []byte) error {
	s.Files = append(s.Files, file)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := stripConfComment(sc.Text())
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: want key = value, got %q", file, n, strings.TrimSpace(line))
		}
		key := strings.ToLower(strings.TrimSpace(k))
		if key == "" {
			return fmt.Errorf("%s:%d: empty setting name", file, n)
		}
		s.set(key, strings.TrimSpace(v), Location{File: file, Line: n}, false)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func stripConfComment(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) && line[i+1] == '#' {
			b.WriteByte('#')
			i++
			continue
		}
		if line[i] == '#' {
			break
		}
		b.WriteByte(line[i])
	}
	return b.String()
}

// ParseEnvFile reads KEY=value lines as docker --env-file and dotenv write
// them: blank lines and # comments skipped, an optional `export `, values
// optionally in single or double quotes; an unquoted value ends at " #".
// KONG_X sets x; GATEWAY_* names of this project's gateway set their Kong
// equivalents; other variables are ignored.
func (s *Settings) ParseEnvFile(file string, data []byte) error {
	s.Files = append(s.Files, file)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("%s:%d: want KEY=value, got %q", file, n, line)
		}
		val, err := envValue(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", file, n, k, err)
		}
		at := Location{File: file, Line: n}
		switch {
		case gatewayAliases[k] != "":
			s.set(gatewayAliases[k], val, at, true)
		case strings.HasPrefix(k, "KONG_"):
			s.set(strings.ToLower(strings.TrimPrefix(k, "KONG_")), val, at, false)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func envValue(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch q := v[0]; q {
	case '"', '\'':
		end := strings.LastIndexByte(v, q)
		if end == 0 {
			return "", fmt.Errorf("unterminated quote")
		}
		inner := v[1:end]
		if q == '"' {
			if u, err := strconv.Unquote(`"` + inner + `"`); err == nil {
				inner = u
			}
		}
		return inner, nil
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}

// Listener is one entry of a Kong listen setting: "0.0.0.0:8001 http2 ssl".
type Listener struct {
	Host  string
	Port  string
	Flags []string
}

// SSL reports whether the listener serves TLS.
func (l Listener) SSL() bool {
	for _, f := range l.Flags {
		if f == "ssl" {
			return true
		}
	}
	return false
}

// Loopback reports whether only this machine can reach the listener.
func (l Listener) Loopback() bool {
	h := strings.Trim(l.Host, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ParseListen splits a Kong listen value; "off" yields none.
func ParseListen(v string) ([]Listener, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "off") {
		return nil, nil
	}
	var out []Listener
	for _, part := range strings.Split(v, ",") {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		if strings.EqualFold(fields[0], "off") {
			continue
		}
		host, port, err := net.SplitHostPort(fields[0])
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", fields[0], err)
		}
		out = append(out, Listener{Host: host, Port: port, Flags: fields[1:]})
	}
	return out, nil
}
