package main

import (
	"slices"
	"testing"
)

func TestRuntimeFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      string
		wantRest []string
		wantAddr string
		wantErr  bool
	}{
		{"none", []string{"--database", "off"}, "", []string{"--database", "off"}, "", false},
		{"separate value", []string{"--pprof-listen", "127.0.0.1:6060", "--log-level", "error"}, "", []string{"--log-level", "error"}, "127.0.0.1:6060", false},
		{"equals, one dash", []string{"-pprof-listen=localhost:6060"}, "", nil, "localhost:6060", false},
		{"env", []string{"--database", "off"}, "[::1]:6060", []string{"--database", "off"}, "[::1]:6060", false},
		{"flag beats env", []string{"--pprof-listen=127.0.0.1:7070"}, "127.0.0.1:6060", nil, "127.0.0.1:7070", false},
		{"not loopback", []string{"--pprof-listen", "0.0.0.0:6060"}, "", nil, "", true},
		{"not loopback from env", nil, "10.0.0.1:6060", nil, "", true},
		{"missing value", []string{"--pprof-listen"}, "", nil, "", true},
		{"after --", []string{"--", "--pprof-listen", "x"}, "", []string{"--", "--pprof-listen", "x"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GATEWAY_PPROF_LISTEN" {
					return tt.env
				}
				return ""
			}
			rest, addr, err := runtimeFlags(tt.args, getenv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %t", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if addr != tt.wantAddr || !slices.Equal(rest, tt.wantRest) {
				t.Fatalf("got rest %q addr %q, want %q %q", rest, addr, tt.wantRest, tt.wantAddr)
			}
		})
	}
}
