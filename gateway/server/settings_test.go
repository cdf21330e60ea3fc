package server

import (
	"io"
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
		{"--database", "postgres"},
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
