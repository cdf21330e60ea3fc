package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// At 100 rps the k-th request is planned at (k+1) × 10 ms; a result sent at
// 35 ms with Seq 2 (planned 30 ms) is 5 ms late.
func TestLagAgainstSchedule(t *testing.T) {
	run := &Run{Attack: Attack{Rate: 100, Duration: time.Second}, Start: t0}
	sent := func(seq uint64, at time.Duration) vegeta.Result {
		return vegeta.Result{Seq: seq, Timestamp: t0.Add(at), Code: 200}
	}
	run.Results = vegeta.Results{
		sent(0, 10*time.Millisecond),   // on time
		sent(1, 20*time.Millisecond),   // on time
		sent(2, 35*time.Millisecond),   // 5 ms late
		sent(3, 290*time.Millisecond),  // 250 ms late: a stall, in bucket 1 (250–500 ms)
		sent(4, 291*time.Millisecond),  // 241 ms late, the burst after it
		sent(5, 300*time.Millisecond),  // 240 ms late
		sent(6, 1000*time.Millisecond), // 930 ms late, bucket 4
	}
	if got := run.Lag(run.Results[2]); got != 5*time.Millisecond {
		t.Errorf("lag of seq 2: got %v, want 5ms", got)
	}
	g := run.Generator()
	// 100 rps × 1 s plans 100 requests; 7 were sent.
	if g.Planned != 100 || g.Sent != 7 || g.Unsent != 93 {
		t.Errorf("planned/sent/unsent: got %d/%d/%d, want 100/7/93", g.Planned, g.Sent, g.Unsent)
	}
	// Nearest-rank p99 of 7 values is the largest.
	if g.LagMax != 930*time.Millisecond || g.LagP99 != 930*time.Millisecond || g.LagMaxAt != 70*time.Millisecond {
		t.Errorf("max/p99/at: got %v/%v/%v, want 930ms/930ms/70ms (planned time of seq 6)", g.LagMax, g.LagP99, g.LagMaxAt)
	}
	s := run.Series(250 * time.Millisecond)
	if len(s) != 5 {
		t.Fatalf("buckets: got %d, want 5 (0–1000 ms by send time)", len(s))
	}
	want := []struct{ p99, max time.Duration }{
		{5 * time.Millisecond, 5 * time.Millisecond},
		{250 * time.Millisecond, 250 * time.Millisecond},
		{0, 0}, {0, 0},
		{930 * time.Millisecond, 930 * time.Millisecond},
	}
	for i, w := range want {
		if s[i].LagP99 != w.p99 || s[i].LagMax != w.max {
			t.Errorf("bucket %d: lag p99/max %v/%v, want %v/%v", i, s[i].LagP99, s[i].LagMax, w.p99, w.max)
		}
	}
	if lag, at := run.MaxLag(t0.Add(250*time.Millisecond), t0.Add(500*time.Millisecond)); lag != 250*time.Millisecond || !at.Equal(t0.Add(40*time.Millisecond)) {
		t.Errorf("MaxLag in bucket 1: got %v at %v, want 250ms at +40ms", lag, at.Sub(t0))
	}
}

// A real attack: what was sent plus what was not is exactly the plan, and no
// request is sent before its planned time (Start is taken before vegeta's
// own start, so a negative lag would mean the schedule model is wrong).
func TestAttackScheduleAccounting(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := Attack{Name: "lag", Rate: 200, Duration: 500 * time.Millisecond,
		Targets: []vegeta.Target{{Method: "GET", URL: srv.URL}}}
	run, err := a.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := run.Generator()
	if g.Planned != 100 || g.Sent+g.Unsent != 100 {
		t.Errorf("planned %d, sent %d + unsent %d: want 100 = sent + unsent (200 rps × 500 ms)", g.Planned, g.Sent, g.Unsent)
	}
	for _, x := range run.Results {
		if l := run.Lag(x); l < 0 {
			t.Errorf("seq %d sent %v before its planned time", x.Seq, -l)
		}
	}
}
