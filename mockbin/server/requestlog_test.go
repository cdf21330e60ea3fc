package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestRequestLog(t *testing.T) {
	s := newTest()
	key := func(k string) map[string]string { return map[string]string{DefaultKeyHeader: k} }
	for _, rs := range []reqSpec{
		{method: "POST", target: "/request", hdr: key("a"), body: "x"},
		{method: "PATCH", target: "/echo", hdr: key("b")},
		{method: "POST", target: "/request", hdr: key("a")},
		{target: "/request"},                         // no key: not logged
		{target: PathStats, hdr: key("control")},     // control endpoints are not logged
		{target: PathRequests, hdr: key("control2")}, // nor is the log itself
	} {
		serve(s, rs)
	}
	// A request the fault mode fails or drops still reached the instance.
	putFault(t, s, `{"status":503}`)
	if rec := serve(s, reqSpec{method: "POST", target: "/request", hdr: key("c")}); rec.Code != 503 {
		t.Fatalf("faulted POST answered %d", rec.Code)
	}
	s.ClearFault()

	tests := []struct {
		name, target string
		status       int
		want         RequestLog
	}{
		{"default header", PathRequests, 200, RequestLog{Header: DefaultKeyHeader, Requests: 4, Keys: map[string]int64{"a": 2, "b": 1, "c": 1}}},
		{"header named, any case", PathRequests + "?header=idempotency-key", 200, RequestLog{Header: DefaultKeyHeader, Requests: 4, Keys: map[string]int64{"a": 2, "b": 1, "c": 1}}},
		{"another header", PathRequests + "?header=X-Other", 400, RequestLog{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(s, reqSpec{target: tc.target})
			if rec.status != tc.status {
				t.Fatalf("%s: %d %s", tc.target, rec.status, rec.body)
			}
			if tc.status != 200 {
				if !strings.Contains(rec.body, "Idempotency-Key") {
					t.Errorf("400 does not say which header is logged: %s", rec.body)
				}
				return
			}
			var got RequestLog
			if err := json.Unmarshal([]byte(rec.body), &got); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("log = %+v, want %+v", got, tc.want)
			}
		})
	}

	if rec := record(s, reqSpec{method: "DELETE", target: PathRequests}); rec.status != 200 {
		t.Fatalf("DELETE: %d", rec.status)
	}
	if lg := s.RequestLog(); lg.Requests != 0 || len(lg.Keys) != 0 {
		t.Errorf("after DELETE: %+v", lg)
	}
	if rec := record(s, reqSpec{method: "PUT", target: PathRequests}); rec.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", rec.status)
	}
}

func TestRequestLogHeaderOption(t *testing.T) {
	s := newTest(WithKeyHeader("x-request-key"))
	serve(s, reqSpec{method: "POST", target: "/", hdr: map[string]string{"X-Request-Key": "k"}})
	serve(s, reqSpec{method: "POST", target: "/", hdr: map[string]string{DefaultKeyHeader: "other"}})
	if lg := s.RequestLog(); lg.Header != "X-Request-Key" || lg.Requests != 1 || lg.Keys["k"] != 1 {
		t.Errorf("log = %+v", lg)
	}
}

// The log is bounded: beyond maxLoggedKeys distinct keys, new keys are only
// counted as dropped, known keys still count; long values are cut.
func TestRequestLogBounded(t *testing.T) {
	s := newTest()
	for i := range maxLoggedKeys {
		s.reqLog.record(&http.Request{Header: http.Header{DefaultKeyHeader: {fmt.Sprint(i)}}})
	}
	s.reqLog.record(&http.Request{Header: http.Header{DefaultKeyHeader: {"new"}}})
	s.reqLog.record(&http.Request{Header: http.Header{DefaultKeyHeader: {"7"}}})
	long := strings.Repeat("k", 4*maxKeyLen)
	s2 := newTest()
	s2.reqLog.record(&http.Request{Header: http.Header{DefaultKeyHeader: {long}}})
	lg := s.RequestLog()
	if len(lg.Keys) != maxLoggedKeys || lg.Dropped != 1 || lg.Keys["7"] != 2 || lg.Requests != maxLoggedKeys+2 {
		t.Errorf("keys %d, dropped %d, key 7 = %d, requests %d", len(lg.Keys), lg.Dropped, lg.Keys["7"], lg.Requests)
	}
	if lg2 := s2.RequestLog(); lg2.Keys[long[:maxKeyLen]] != 1 {
		t.Errorf("long key not cut to %d bytes: %v", maxKeyLen, len(lg2.Keys))
	}
}
