package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// firstRead records when its reader was first read.
type firstRead struct {
	r  io.Reader
	at time.Time
}

func (f *firstRead) Read(p []byte) (int, error) {
	if f.at.IsZero() {
		f.at = time.Now()
	}
	return f.r.Read(p)
}

// The fault mode's latency runs before the handler reads a byte of the
// body: a scenario relies on it to make an upstream that stops reading a
// request (the gateway's write_timeout then has to fire). Only a lower
// bound on time, which a sleep cannot undercut.
func TestFaultLatencyHoldsTheBodyUnread(t *testing.T) {
	const latency = 100 * time.Millisecond
	s := newTest()
	if err := s.SetFault(Fault{LatencyMS: int(latency.Milliseconds())}); err != nil {
		t.Fatal(err)
	}
	body := &firstRead{r: strings.NewReader(`{"a":1}`)}
	r := httptest.NewRequest(http.MethodPost, "/request", body)
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	start := time.Now()
	s.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200 (served after the latency)", rec.Code)
	}
	if body.at.IsZero() {
		t.Fatal("the body was never read: /request echoes it")
	}
	if waited := body.at.Sub(start); waited < latency {
		t.Errorf("body first read %v after the request arrived, want ≥ the fault's latency %v", waited, latency)
	}
}
