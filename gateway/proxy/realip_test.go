package proxy

import (
	"net/http"
	"testing"
)

func TestRealIP(t *testing.T) {
	trusted, err := ParseTrustedIPs("127.0.0.1, 10.0.0.0/8, ::1, unix:")
	if err != nil || len(trusted) != 3 {
		t.Fatalf("ParseTrustedIPs: %v %v", trusted, err)
	}
	if _, err := ParseTrustedIPs("10.0.0.300"); err == nil {
		t.Error("an invalid address was accepted")
	}
	xri := &RealIP{Trusted: trusted}
	xff := &RealIP{Trusted: trusted, Header: "X-Forwarded-For"}
	rec := &RealIP{Trusted: trusted, Header: "X-Forwarded-For", Recursive: true}
	for _, tc := range []struct {
		ri   *RealIP
		hdr  http.Header
		want string
	}{
		{xri, http.Header{}, "127.0.0.1"},
		{xri, http.Header{"X-Real-Ip": {"192.0.2.7"}}, "192.0.2.7"},
		{xri, http.Header{"X-Real-Ip": {"192.0.2.7:8080"}}, "192.0.2.7"},
		{xri, http.Header{"X-Real-Ip": {"not an address"}}, "127.0.0.1"},
		{xff, http.Header{"X-Forwarded-For": {"192.0.2.1, 10.1.2.3"}}, "10.1.2.3"},
		{rec, http.Header{"X-Forwarded-For": {"192.0.2.1, 10.1.2.3"}}, "192.0.2.1"},
		{rec, http.Header{"X-Forwarded-For": {"10.0.0.9", "10.1.2.3"}}, "10.0.0.9"}, // all trusted: the leftmost
		{rec, http.Header{"X-Forwarded-For": {"[2001:db8::1]:443, 10.1.2.3"}}, "2001:db8::1"},
	} {
		if got := tc.ri.clientAddr(tc.hdr, "127.0.0.1"); got != tc.want {
			t.Errorf("%+v %v: got %s, want %s", *tc.ri, tc.hdr, got, tc.want)
		}
	}
	if !xri.trusts("::ffff:127.0.0.1") || xri.trusts("192.0.2.1") {
		t.Error("trusts")
	}
	if _, err := ParseRealIPHeader("proxy_protocol"); err == nil {
		t.Error("proxy_protocol accepted")
	}
}
