//go:build resilience

package scenarios_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Shared by the rate-limiting scenarios (ratelimit_*_test.go).
//
// Window maths. The plugin counts in fixed windows aligned to UTC seconds
// (Unix time truncated to the second), as Kong does: a request belongs to the
// window of the second in which the gateway decided on it. The harness only
// sees when each request was sent, so it can put a request in the wrong second
// only if a second boundary passes while the request is in flight (send →
// decision, about a millisecond here). An attack that starts at t0 and runs for
// d covers the whole seconds ⌈t0⌉ … ⌊t0+d⌋−1; the first and last seconds are
// partial and can hold fewer than R admitted requests, so rates are taken over
// the whole seconds only.

// rlService creates a service on the mockbin (straight, no upstream) and a
// route at path to it.
func rlService(ctx context.Context, sc *harness.Scenario, name, path string, m *stack.Mockbin) error {
	admin := sc.Stack.Gateway.Admin
	if _, err := admin.CreateService(ctx, stack.ServiceSpec{Name: name, URL: "http://" + m.Direct}); err != nil {
		return err
	}
	_, err := admin.CreateRoute(ctx, name, stack.RouteSpec{Name: name + "-route", Paths: []string{path}})
	return err
}

// admitted reports a request the plugin let through (the mockbin answered 200).
func admitted(x vegeta.Result) bool { return x.Code == http.StatusOK }

// wholeSeconds are the UTC seconds [first, end) that the attack covers fully.
func wholeSeconds(run *load.Run) (first, end int64) {
	start := run.Start
	first = start.Unix()
	if start.Nanosecond() > 0 {
		first++
	}
	return first, start.Add(run.Attack.Duration).Unix()
}

// secondCount is what was sent and admitted in one UTC second (by send time).
// Crossing counts its requests answered only after the second ended: each
// may have been decided by the gateway in the next window, so the second's
// admitted count is uncertain by as many at its end (and by the previous
// second's Crossing at its start).
type secondCount struct {
	Second   int64
	Sent     int
	Admitted int
	Crossing int
	// CrossingIn, on the first whole second only, counts the requests sent
	// in the partial second before it and answered after it began.
	CrossingIn int
}

// uncertainty is how many of secs[i]'s admitted requests the send-time count
// can have put in the wrong window: those in flight across either edge.
func uncertainty(secs []secondCount, i int) int {
	u := secs[i].Crossing
	if i > 0 {
		u += secs[i-1].Crossing
	}
	return u
}

// perSecond counts rs by UTC second of the send time, for every second in
// [first, end), empty ones included.
func perSecond(rs []vegeta.Result, first, end int64) []secondCount {
	out := make([]secondCount, 0, max(end-first, 0))
	for s := first; s < end; s++ {
		out = append(out, secondCount{Second: s})
	}
	for _, x := range rs {
		s := x.Timestamp.Unix()
		if s == first-1 && len(out) > 0 && !x.Timestamp.Add(x.Latency).Before(time.Unix(first, 0)) {
			out[0].CrossingIn++
		}
		if s < first || s >= end {
			continue
		}
		c := &out[s-first]
		c.Sent++
		if admitted(x) {
			c.Admitted++
		}
		if !x.Timestamp.Add(x.Latency).Before(time.Unix(s+1, 0)) {
			c.Crossing++
		}
	}
	return out
}

// noteSeconds records the admitted count of every whole second, in order, so
// the report shows the rate the limit produced second by second.
func noteSeconds(sc *harness.Scenario, label string, secs []secondCount, origin time.Time) {
	for _, c := range secs {
		at := time.Unix(c.Second, 0).Sub(origin).Seconds()
		sc.Note(fmt.Sprintf("%s: admitted in the second at t=%.1fs (of %d sent)", label, at, c.Sent), float64(c.Admitted), "req/s")
	}
}

// checkRate checks the admitted rate over the whole seconds against R ± 1%.
// A boundary crossing (sent in one second, decided in the next) is admitted in
// the later window, since the later window is fresh: at the first whole
// second's start it moves one admitted request out of the span, at the last
// one's end it moves one in. At ~1 ms in flight and one request per several
// ms per route, that is at most a request or two at each end, well inside 1%
// of R × seconds for R × seconds ≥ 450.
func checkRate(sc *harness.Scenario, label string, secs []secondCount, r int) {
	total := 0
	for _, c := range secs {
		total += c.Admitted
	}
	rate := 0.0
	if len(secs) > 0 {
		rate = float64(total) / float64(len(secs))
	}
	lo, hi := 0.99*float64(r), 1.01*float64(r)
	limit := lo
	if rate > hi {
		limit = hi
	}
	// Premise: the send-time count can move an admission across the span's
	// two edges only for a request in flight across one (the inner edges
	// move admissions between judged seconds, which the total keeps). More
	// of them than 1% of R × seconds and the count cannot judge 1%: the
	// machine, not the limiter, held the requests (seen: a first second at
	// 28 of 50 on a loaded machine, every later window exactly 50).
	edges := 0
	if len(secs) > 0 {
		edges = secs[0].CrossingIn + secs[len(secs)-1].Crossing
	}
	sc.Given(harness.AtMostPremise(label+": requests in flight across the judged span's edges", float64(edges),
		math.Floor(0.01*float64(r*len(secs))), "", "each can move one admission in or out of the span")).Check(fmt.Sprintf("%s: admitted rate over the %d whole seconds", label, len(secs)), rate, "req/s",
		rate >= lo && rate <= hi,
		fmt.Sprintf("within 1%% of R=%d/s: %.2f..%.2f (fixed UTC second windows; the partial first and last seconds left out)", r, lo, hi), limit)
}

// bursts groups admitted requests (sorted by send time) into the gateway's
// windows without using the clock: at an offered rate of kR an exact limiter
// admits the first R requests of each second, i.e. a stretch of 1/k s, and
// then rejects for (1 − 1/k) s; a gap of more than gap between two admitted
// sends starts a new window. Boundary crossings do not matter here: a request
// sent at the end of one second but decided in the next sits at the end of the
// previous gap and joins the window it was counted in.
func bursts(rs []vegeta.Result, gap time.Duration) []int {
	var out []int
	var last time.Time
	for _, x := range rs {
		if !admitted(x) {
			continue
		}
		if len(out) == 0 || x.Timestamp.Sub(last) > gap {
			out = append(out, 0)
		}
		out[len(out)-1]++
		last = x.Timestamp
	}
	return out
}

// checkExactWindows checks that every window between the attack's first and
// last (which may be partial, or merge with a partial neighbour since a partial
// window has no rejected stretch) admitted exactly r.
func checkExactWindows(sc *harness.Scenario, label string, rs []vegeta.Result, r, k int, minWindows int) {
	gap := time.Second / 3
	if k < 2 {
		panic("checkExactWindows needs at least 2R offered for a rejected stretch between windows")
	}
	bs := bursts(rs, gap)
	var inner []int
	if len(bs) > 2 {
		inner = bs[1 : len(bs)-1]
	}
	sc.Log.Info("admitted per window", "label", label, "windows", bs)
	sc.AtLeast(fmt.Sprintf("%s: complete windows seen", label), float64(len(inner)), float64(minWindows), "",
		"whole seconds of the attack minus the two edges")
	if len(inner) > 0 {
		worst := inner[0]
		for _, n := range inner {
			if abs(n-r) > abs(worst-r) {
				worst = n
			}
		}
		sc.Equal(fmt.Sprintf("%s: admitted in the complete window farthest from R", label), float64(worst), float64(r), "req",
			fmt.Sprintf("exact counting: every window admits exactly R=%d at %d×R offered", r, k))
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// kongMessage is the "message" of a gateway-made JSON error body ("" if none).
func kongMessage(body []byte) string {
	var v struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.Message
}

// checkRejections checks that no request failed at the gateway or in
// transport (5xx, code 0) and that every request not admitted is Kong's rate
// limit answer: 429, a Retry-After of at least one second, the JSON message.
func checkRejections(sc *harness.Scenario, label string, rs []vegeta.Result) {
	fivexx, bad := 0, 0
	var example string
	for _, x := range rs {
		if x.Code >= 500 || x.Code == 0 {
			fivexx++
		}
		if admitted(x) {
			continue
		}
		ra, err := strconv.Atoi(x.Headers.Get("Retry-After"))
		if x.Code != http.StatusTooManyRequests || err != nil || ra < 1 || kongMessage(x.Body) != "API rate limit exceeded" {
			bad++
			if example == "" {
				example = fmt.Sprintf("%d Retry-After=%q body=%q err=%q", x.Code, x.Headers.Get("Retry-After"), x.Body, x.Error)
			}
		}
	}
	if example != "" {
		sc.Log.Warn("a rejection not in Kong's form", "label", label, "example", example)
	}
	sc.Equal(label+": 5xx and transport errors", float64(fivexx), 0, "", "the limiter rejects with 429, it never fails a request")
	sc.Equal(label+": rejections other than 429 + Retry-After + \"API rate limit exceeded\"", float64(bad), 0, "",
		"Kong's rate-limiting answer for every rejected request")
}
