package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestFaultPattern(t *testing.T) {
	tests := []struct {
		name, fault string
		want        []int
	}{
		{"alternating", `{"pattern":[500,0]}`, []int{500, 200, 500, 200, 500}},
		{"burst of three", `{"pattern":[0,503,503,503]}`, []int{200, 503, 503, 503, 200, 503}},
		{"only some paths", `{"pattern":[500],"paths":["/request"]}`, []int{500, 500, 500}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTest()
			if rec := putFault(t, s, tc.fault); rec.status != 200 || !strings.Contains(rec.body, `"pattern"`) {
				t.Fatalf("PUT %s: %d %s", tc.fault, rec.status, rec.body)
			}
			for i, want := range tc.want {
				rec := record(s, reqSpec{target: "/request"})
				if rec.status != want {
					t.Errorf("request %d: %d, want %d", i+1, rec.status, want)
				}
				if got := rec.header.Get(HeaderFaultSeq); got != fmt.Sprint(i+1) {
					t.Errorf("request %d: %s %q", i+1, HeaderFaultSeq, got)
				}
			}
			// A path the fault does not match neither advances nor carries the sequence.
			if rec := record(s, reqSpec{target: "/"}); strings.Contains(tc.fault, "paths") &&
				(rec.status != 200 || rec.header.Get(HeaderFaultSeq) != "") {
				t.Errorf("unmatched path: %d seq %q", rec.status, rec.header.Get(HeaderFaultSeq))
			}
		})
	}

	// Setting a fault again starts its sequence again.
	s := newTest()
	putFault(t, s, `{"pattern":[500,0]}`)
	serve(s, reqSpec{target: "/"})
	putFault(t, s, `{"pattern":[500,0]}`)
	if rec := serve(s, reqSpec{target: "/"}); rec.Code != 500 || rec.Header().Get(HeaderFaultSeq) != "1" {
		t.Errorf("after a new PUT: %d seq %s", rec.Code, rec.Header().Get(HeaderFaultSeq))
	}

	for _, bad := range []string{`{"pattern":[500],"status":503}`, `{"pattern":[500],"failure_rate":0.5}`,
		`{"pattern":[99]}`, `{"pattern":[1000]}`, fmt.Sprintf(`{"pattern":[%s0]}`, strings.Repeat("0,", maxPattern))} {
		if rec := putFault(t, s, bad); rec.status != http.StatusBadRequest {
			t.Errorf("PUT %.60s: %d, want 400", bad, rec.status)
		}
	}
}
