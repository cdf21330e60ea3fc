package server

import (
	"reflect"
	"testing"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		spec    string
		want    []Listen
		wantErr bool
	}{
		{spec: "0.0.0.0:8000, 0.0.0.0:8443 ssl", want: []Listen{{Addr: "0.0.0.0:8000"}, {Addr: "0.0.0.0:8443", SSL: true}}},
		{spec: "127.0.0.1:8444 http2 ssl reuseport backlog=16384", want: []Listen{{Addr: "127.0.0.1:8444", SSL: true, HTTP2: true}}},
		{spec: "[::1]:8001", want: []Listen{{Addr: "[::1]:8001"}}},
		{spec: "*:9000 deferred", want: []Listen{{Addr: "0.0.0.0:9000"}}},
		{spec: "off", want: nil},
		{spec: "", want: nil},
		{spec: "0.0.0.0", wantErr: true},
		{spec: "0.0.0.0:99999", wantErr: true},
		{spec: "0.0.0.0:8000 sslx", wantErr: true},
		{spec: "0.0.0.0:8000,", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseListen(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseListen(%q) error = %v, wantErr %v", tt.spec, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseListen(%q) = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8001": true, "[::1]:8001": true, "localhost:8001": true,
		"0.0.0.0:8001": false, "10.1.2.3:8001": false, "[::]:8001": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
