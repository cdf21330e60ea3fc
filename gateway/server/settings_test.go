package server

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettingsDefaults(t *testing.T) {
	s, err := ParseSettings(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.ProxyListen != "0.0.0.0:8000, 0.0.0.0:8443 ssl" || s.AdminListen != "127.0.0.1:8001, 127.0.0.1:8444 ssl" {
		t.Errorf("listen defaults = %q / %q", s.ProxyListen, s.AdminListen)
	}
	if s.Database != "embedded" || s.DrainTimeout != 30*time.Second || s.LogLevel != "info" {
		t.Errorf("defaults = %+v", s)
	}
}

func TestSettingsPrecedence(t *testing.T) {
	e := env(map[string]string{
		"KONG_PROXY_LISTEN":    "0.0.0.0:9000",
		"GATEWAY_ADMIN_LISTEN": "127.0.0.1:9001",
		"KONG_ADMIN_LISTEN":    "127.0.0.1:7001", // GATEWAY_* wins over KONG_*
		"KONG_DATABASE":        "off",
		"KONG_PREFIX":          "/tmp/x",
		"GATEWAY_DATABASE":     "",
	})
	s, err := ParseSettings([]string{"--data-dir", "/flag/wins"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.ProxyListen != "0.0.0.0:9000" || s.AdminListen != "127.0.0.1:9001" || s.Database != "off" || s.DataDir != "/flag/wins" {
		t.Errorf("settings = %+v", s)
	}
}

func TestSettingsRejectBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--database", "mysql"},
		{"--log-level", "loud"},
		{"--drain-timeout", "soon"},
		{"stray"},
	} {
		if _, err := ParseSettings(args, env(nil), io.Discard); err == nil {
			t.Errorf("ParseSettings(%q) accepted bad input", args)
		}
	}
}

func TestSettingsClientTimeouts(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		env          map[string]string
		body, header time.Duration
	}{
		{"defaults are nginx's", nil, nil, 60 * time.Second, 60 * time.Second},
		{"Go duration flag", []string{"--client-body-timeout", "500ms"}, nil, 500 * time.Millisecond, 60 * time.Second},
		{"nginx bare seconds", []string{"--client-header-timeout", "15"}, nil, 60 * time.Second, 15 * time.Second},
		{"nginx combined units", []string{"--client-body-timeout", "1m30s"}, nil, 90 * time.Second, 60 * time.Second},
		{"0 disables (stored negative: a zero field is the default)", []string{"--client-body-timeout", "0"}, nil, -1, 60 * time.Second},
		{"Kong's env alias", nil, map[string]string{"KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT": "10s", "KONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT": "2m"}, 10 * time.Second, 2 * time.Minute},
		{"GATEWAY_ env beats Kong's", nil, map[string]string{"GATEWAY_CLIENT_BODY_TIMEOUT": "3s", "KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT": "10s"}, 3 * time.Second, 60 * time.Second},
		{"flag beats env", []string{"--client-body-timeout", "4s"}, map[string]string{"GATEWAY_CLIENT_BODY_TIMEOUT": "3s"}, 4 * time.Second, 60 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings(tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if s.ClientBodyTimeout != tc.body || s.ClientHeaderTimeout != tc.header {
				t.Errorf("body %v header %v, want %v %v", s.ClientBodyTimeout, s.ClientHeaderTimeout, tc.body, tc.header)
			}
		})
	}
	for _, bad := range []string{"soon", "-1s", "10x", "1s5", "9999999999s", "999999999y"} {
		if _, err := ParseSettings([]string{"--client-body-timeout", bad}, env(nil), io.Discard); err == nil {
			t.Errorf("client-body-timeout %q accepted", bad)
		}
	}
}

// TestClientTimeoutsWired starts a gateway with short client timeouts and
// checks they reach the proxy listener: a head that never ends is closed, a
// body that stalls gets 408, and a body nobody reads (no route matched) cannot
// hold the connection after the 404 either.
func TestClientTimeoutsWired(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const slack = 2 * time.Second // a loaded CI machine, race detector on
	dir := t.TempDir()
	// The service's address is never dialled: a body this small is read
	// whole before an upstream is picked.
	cfg := "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://127.0.0.1:9\n  routes:\n  - name: r\n    paths: [/r]\n"
	if err := os.WriteFile(filepath.Join(dir, "kong.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, Settings{ProxyListen: "127.0.0.1:0", Database: "off", DeclarativeConfig: filepath.Join(dir, "kong.yml"),
		ClientHeaderTimeout: timeout, ClientBodyTimeout: timeout})
	addr := g.ProxyAddrs()[0].Addr
	tests := []struct {
		name, raw string
		want      string // the start of what the gateway sends before closing
	}{
		{"head never ends", "GET /r HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\n", ""},
		{"body stalls", "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345", "HTTP/1.1 408 "},
		{"unread body stalls after the 404", "POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345", "HTTP/1.1 404 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The header timeout runs from the server's first read, which
			// can come before Dial returns here: start the clock before it.
			start := time.Now()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.raw)
			c.SetReadDeadline(time.Now().Add(timeout + slack))
			out, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("connection still open after %v: %v", time.Since(start), err)
			}
			if d := time.Since(start); d < timeout {
				t.Errorf("closed after %v, before the timeout", d)
			}
			if !strings.HasPrefix(string(out), tc.want) {
				t.Errorf("got %.80q, want it to start with %q", out, tc.want)
			}
		})
	}
}
