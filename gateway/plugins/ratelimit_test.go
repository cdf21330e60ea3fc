package plugins

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWindowBounds(t *testing.T) {
	at := time.Date(2024, time.February, 29, 23, 59, 59, 500_000_000, time.UTC)
	u := func(y int, mo time.Month, d, h, mi, s int) int64 {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC).Unix()
	}
	tests := []struct {
		p          period
		start, end int64
	}{
		{perSecond, u(2024, 2, 29, 23, 59, 59), u(2024, 3, 1, 0, 0, 0)},
		{perMinute, u(2024, 2, 29, 23, 59, 0), u(2024, 3, 1, 0, 0, 0)},
		{perHour, u(2024, 2, 29, 23, 0, 0), u(2024, 3, 1, 0, 0, 0)},
		{perDay, u(2024, 2, 29, 0, 0, 0), u(2024, 3, 1, 0, 0, 0)},
		{perMonth, u(2024, 2, 1, 0, 0, 0), u(2024, 3, 1, 0, 0, 0)},
		{perYear, u(2024, 1, 1, 0, 0, 0), u(2025, 1, 1, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(periodNames[tt.p], func(t *testing.T) {
			// The same instant seen from another zone must give the same UTC window.
			for _, loc := range []*time.Location{time.UTC, time.FixedZone("UTC+5:30", 5*3600+1800)} {
				s, e := windowBounds(tt.p, at.In(loc))
				if s != tt.start || e != tt.end {
					t.Errorf("%s in %s: window [%d,%d), want [%d,%d)", periodNames[tt.p], loc, s, e, tt.start, tt.end)
				}
			}
		})
	}
}

// header reads one response header of a result.
func hdr(r result, k string) string { return r.ctx.ResponseHeader.Get(k) }

func TestRateLimitHeadersAcrossWindows(t *testing.T) {
	clock := newFakeClock(t0) // 12:30:10
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{route: "route-1"}, map[string]any{"minute": 3, "hour": 5, "limit_by": "ip"})
	m := newTestManager(t, clock)
	m.Apply(f.cfg)

	type want struct {
		status                 int
		remMinute, remHour     string
		rlLimit, rlRem, rlRest string
		retryAfter             string
	}
	steps := []struct {
		at   time.Duration // offset from t0
		want want
	}{
		// 50 s left in the minute, 29 min 50 s in the hour.
		{0, want{200, "2", "4", "3", "2", "50", ""}},
		{5 * time.Second, want{200, "1", "3", "3", "1", "45", ""}},
		{10*time.Second + 900*time.Millisecond, want{200, "0", "2", "3", "0", "40", ""}},
		// Minute exhausted: rejected, not counted; the hour still shows 2.
		{20 * time.Second, want{429, "0", "2", "3", "0", "30", "30"}},
		{49*time.Second + 999*time.Millisecond, want{429, "0", "2", "3", "0", "1", "1"}},
		// Next minute (12:31:00): minute has room, the hour is now most restrictive.
		{50 * time.Second, want{200, "2", "1", "5", "1", "1740", ""}},
		{51 * time.Second, want{200, "1", "0", "5", "0", "1739", ""}},
		// Hour exhausted: Retry-After points at the hour's end (13:00:00).
		{52 * time.Second, want{429, "1", "0", "5", "0", "1738", "1738"}},
		// 13:00:00: both windows new.
		{29*time.Minute + 50*time.Second, want{200, "2", "4", "3", "2", "60", ""}},
	}
	for i, s := range steps {
		clock.Set(t0.Add(s.at))
		r := f.do(m, f.route, call{})
		got := want{
			status:    r.status(),
			remMinute: hdr(r, "X-RateLimit-Remaining-Minute"), remHour: hdr(r, "X-RateLimit-Remaining-Hour"),
			rlLimit: hdr(r, "RateLimit-Limit"), rlRem: hdr(r, "RateLimit-Remaining"), rlRest: hdr(r, "RateLimit-Reset"),
		}
		if r.exit != nil {
			got.retryAfter = r.exit.Header.Get("Retry-After")
			if r.exit.Message != "API rate limit exceeded" {
				t.Errorf("step %d: message %q", i, r.exit.Message)
			}
		}
		if got != s.want {
			t.Errorf("step %d (t0+%v): got %+v\n want %+v", i, s.at, got, s.want)
		}
		if l := hdr(r, "X-RateLimit-Limit-Minute"); l != "3" {
			t.Errorf("step %d: X-RateLimit-Limit-Minute %q", i, l)
		}
		if l := hdr(r, "X-RateLimit-Limit-Hour"); l != "5" {
			t.Errorf("step %d: X-RateLimit-Limit-Hour %q", i, l)
		}
	}
}

func TestRateLimitSecondRollover(t *testing.T) {
	clock := newFakeClock(t0)
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{"second": 2})
	m := newTestManager(t, clock)
	m.Apply(f.cfg)
	statuses := func() []int {
		var out []int
		for range 3 {
			out = append(out, f.do(m, f.route, call{}).status())
		}
		return out
	}
	for i, at := range []time.Duration{0, 999 * time.Millisecond, time.Second, 3 * time.Second} {
		clock.Set(t0.Add(at))
		got := statuses()
		want := []int{200, 200, 429}
		if i == 1 {
			want = []int{429, 429, 429} // same second as step 0
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("t0+%v: statuses %v, want %v", at, got, want)
		}
	}
}

func TestRateLimitHideHeadersAndCustomError(t *testing.T) {
	clock := newFakeClock(t0)
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{
		"minute": 1, "hide_client_headers": true, "error_code": 403, "error_message": "slow down",
	})
	m := newTestManager(t, clock)
	m.Apply(f.cfg)
	first := f.do(m, f.route, call{})
	second := f.do(m, f.route, call{})
	if first.exit != nil || len(first.ctx.ResponseHeader) != 0 {
		t.Fatalf("first: exit %+v headers %v, want proxied without headers", first.exit, first.ctx.ResponseHeader)
	}
	if second.exit == nil || second.exit.Status != 403 || second.exit.Message != "slow down" {
		t.Fatalf("second: exit %+v, want 403 slow down", second.exit)
	}
	if len(second.ctx.ResponseHeader) != 0 || second.exit.Header.Get("Retry-After") != "" {
		t.Errorf("hidden headers leaked: %v / %v", second.ctx.ResponseHeader, second.exit.Header)
	}
}

func TestRateLimitMonthAndYearReset(t *testing.T) {
	// 2026-01-31 23:59:00: one minute left in both the month and... not the year.
	at := time.Date(2026, time.January, 31, 23, 59, 0, 0, time.UTC)
	clock := newFakeClock(at)
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{"month": 1, "year": 1})
	m := newTestManager(t, clock)
	m.Apply(f.cfg)
	r := f.do(m, f.route, call{})
	// Both have 0 remaining; the tie goes to the longer window (year).
	wantYear := strconv.FormatInt(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix()-at.Unix(), 10)
	if got := hdr(r, "RateLimit-Reset"); got != wantYear {
		t.Errorf("RateLimit-Reset %s, want %s (year)", got, wantYear)
	}
	clock.Set(at.Add(time.Minute)) // February: month resets, year does not
	r = f.do(m, f.route, call{})
	if r.status() != 429 || hdr(r, "X-RateLimit-Remaining-Month") != "1" || hdr(r, "X-RateLimit-Remaining-Year") != "0" {
		t.Errorf("in February: status %d month %s year %s, want 429 1 0", r.status(),
			hdr(r, "X-RateLimit-Remaining-Month"), hdr(r, "X-RateLimit-Remaining-Year"))
	}
}

func TestRateLimitLimitByFallbacks(t *testing.T) {
	const ipA, ipB = "192.0.2.10", "192.0.2.20"
	tests := []struct {
		name    string
		cfg     map[string]any
		auth    bool // key-auth in front (anonymous = bob)
		a, b    call // two requests; same identity → b is rejected (429)
		sameKey bool
	}{
		{"ip: different IPs", map[string]any{"limit_by": "ip"}, false,
			call{clientIP: ipA}, call{clientIP: ipB}, false},
		{"ip: same IP", map[string]any{"limit_by": "ip"}, false,
			call{clientIP: ipA}, call{clientIP: ipA}, true},
		{"consumer: different consumers, same IP", map[string]any{"limit_by": "consumer"}, true,
			call{clientIP: ipA, header: http.Header{"Apikey": {"alice-key"}}},
			call{clientIP: ipA, header: http.Header{"Apikey": {"bob-key"}}}, false},
		{"consumer: same consumer, different IPs", map[string]any{"limit_by": "consumer"}, true,
			call{clientIP: ipA, header: http.Header{"Apikey": {"alice-key"}}},
			call{clientIP: ipB, header: http.Header{"Apikey": {"alice-key"}}}, true},
		{"consumer: none → falls back to IP", map[string]any{"limit_by": "consumer"}, false,
			call{clientIP: ipA}, call{clientIP: ipB}, false},
		{"credential: same credential", map[string]any{"limit_by": "credential"}, true,
			call{clientIP: ipA, header: http.Header{"Apikey": {"alice-key"}}},
			call{clientIP: ipB, header: http.Header{"Apikey": {"alice-key"}}}, true},
		{"credential: anonymous has none → IP", map[string]any{"limit_by": "credential"}, true,
			call{clientIP: ipA}, call{clientIP: ipB}, false},
		{"service: all clients share", map[string]any{"limit_by": "service"}, false,
			call{clientIP: ipA}, call{clientIP: ipB}, true},
		{"header: different values", map[string]any{"limit_by": "header", "header_name": "x-tenant"}, false,
			call{clientIP: ipA, header: http.Header{"X-Tenant": {"t1"}}},
			call{clientIP: ipA, header: http.Header{"X-Tenant": {"t2"}}}, false},
		{"header: same value, different IPs", map[string]any{"limit_by": "header", "header_name": "x-tenant"}, false,
			call{clientIP: ipA, header: http.Header{"X-Tenant": {"t1"}}},
			call{clientIP: ipB, header: http.Header{"X-Tenant": {"t1"}}}, true},
		{"header: missing → IP", map[string]any{"limit_by": "header", "header_name": "x-tenant"}, false,
			call{clientIP: ipA}, call{clientIP: ipB}, false},
		{"path: matching path, different IPs", map[string]any{"limit_by": "path", "path": "/r1/hot"}, false,
			call{clientIP: ipA, target: "/r1/hot"}, call{clientIP: ipB, target: "/r1/hot"}, true},
		{"path: other path → IP", map[string]any{"limit_by": "path", "path": "/r1/hot"}, false,
			call{clientIP: ipA, target: "/r1/cold"}, call{clientIP: ipB, target: "/r1/cold"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			cfg := map[string]any{"minute": 1}
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			f.plugin("rl", "rate-limiting", scope{service: "svc-1"}, cfg)
			if tt.auth {
				f.plugin("ka", "key-auth", scope{}, map[string]any{"anonymous": "bob"})
			}
			m := newTestManager(t, newFakeClock(t0))
			m.Apply(f.cfg)
			if s := f.do(m, f.route, tt.a).status(); s != 200 {
				t.Fatalf("first request: %d", s)
			}
			want := 200
			if tt.sameKey {
				want = 429
			}
			// The second request goes to another route of the same service: the
			// service-scoped plugin counts across its routes.
			if s := f.do(m, f.route2, tt.b).status(); s != want {
				t.Errorf("second request: %d, want %d", s, want)
			}
		})
	}
}

func TestRateLimitExactUnderConcurrency(t *testing.T) {
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{"minute": 100})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	admitted, rejected, badRetry := fireConcurrently(t, 200, 1000, func() result {
		return f.do(m, f.route, call{})
	})
	if admitted != 100 || rejected != 900 || badRetry != 0 {
		t.Fatalf("admitted %d, rejected %d (429s without Retry-After: %d); want 100, 900, 0", admitted, rejected, badRetry)
	}
}

// fireConcurrently sends total requests from workers goroutines and counts
// admissions and 429s (and 429s missing a Retry-After).
func fireConcurrently(t *testing.T, workers, total int, send func() result) (admitted, rejected, badRetry int64) {
	t.Helper()
	var a, r, bad, other atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for next.Add(1) <= int64(total) {
				res := send()
				switch {
				case res.exit == nil:
					a.Add(1)
				case res.exit.Status == http.StatusTooManyRequests:
					r.Add(1)
					if n, err := strconv.Atoi(res.exit.Header.Get("Retry-After")); err != nil || n < 1 {
						bad.Add(1)
					}
				default:
					other.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if other.Load() != 0 {
		t.Errorf("%d responses were neither admitted nor 429", other.Load())
	}
	return a.Load(), r.Load(), bad.Load()
}

func TestLocalStoreDropsExpiredWindows(t *testing.T) {
	clock := newFakeClock(t0)
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{}, map[string]any{"second": 5, "limit_by": "ip"})
	m := newTestManager(t, clock)
	m.Apply(f.cfg)
	for i := range 1000 {
		f.do(m, f.route, call{clientIP: fmt.Sprintf("10.0.%d.%d", i/250, i%250)})
	}
	if n := m.local.size(); n != 1000 {
		t.Fatalf("live buckets %d, want 1000", n)
	}
	clock.Add(2 * sweepEvery * time.Second)
	// New clients until every shard has seen a request (and so swept itself).
	touched := map[*localShard]bool{}
	fresh := 0
	for i := 0; len(touched) < localShards && i < 100000; i++ {
		ip := fmt.Sprintf("10.1.%d.%d", i/250, i%250)
		touched[m.local.shard(counterKey{scope: emptyUUID + ":" + emptyUUID, id: ip})] = true
		f.do(m, f.route, call{clientIP: ip})
		fresh++
	}
	if len(touched) < localShards {
		t.Fatalf("only %d shards reached", len(touched))
	}
	if n := m.local.size(); n != fresh {
		t.Errorf("live buckets %d, want only the %d fresh ones", n, fresh)
	}
	old := 0
	for i := range m.local.shards {
		sh := &m.local.shards[i]
		sh.mu.Lock()
		for k := range sh.buckets {
			if len(k.id) > 5 && k.id[:5] == "10.0." {
				old++
			}
		}
		sh.mu.Unlock()
	}
	if old != 0 {
		t.Errorf("%d expired buckets survived the sweep", old)
	}
}

func TestRateLimitCountersSurviveApply(t *testing.T) {
	f := newFixture()
	p := f.plugin("rl", "rate-limiting", scope{route: "route-1"}, map[string]any{"minute": 2})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	f.do(m, f.route, call{})
	// Raise the limit: the one request already counted still counts.
	p.Config = map[string]any{"minute": 3}
	m.Apply(f.cfg)
	got := []int{f.do(m, f.route, call{}).status(), f.do(m, f.route, call{}).status(), f.do(m, f.route, call{}).status()}
	if fmt.Sprint(got) != "[200 200 429]" {
		t.Errorf("after Apply: %v, want [200 200 429]", got)
	}
}

func TestRateLimitStoreDown(t *testing.T) {
	port := closedPort(t)
	for _, tolerant := range []bool{true, false} {
		t.Run(fmt.Sprintf("fault_tolerant=%v", tolerant), func(t *testing.T) {
			f := newFixture()
			f.plugin("rl", "rate-limiting", scope{}, map[string]any{
				"minute": 1, "policy": "redis", "fault_tolerant": tolerant,
				"redis": map[string]any{"host": "127.0.0.1", "port": port, "timeout": 500},
			})
			m := newTestManager(t, newFakeClock(t0))
			m.Apply(f.cfg)
			for i := range 3 {
				r := f.do(m, f.route, call{})
				if tolerant {
					if r.exit != nil || len(r.ctx.ResponseHeader) != 0 {
						t.Fatalf("request %d: exit %+v headers %v, want proxied without headers", i, r.exit, r.ctx.ResponseHeader)
					}
					continue
				}
				if r.exit == nil || r.exit.Status != 500 || r.exit.Message != "An unexpected error occurred" {
					t.Fatalf("request %d: exit %+v, want 500", i, r.exit)
				}
			}
		})
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// Config changes during load neither block requests nor reset or double
// counters: the count stays exact across concurrent Apply calls.
func TestRateLimitExactWhileApplying(t *testing.T) {
	f := newFixture()
	f.plugin("rl", "rate-limiting", scope{service: "svc-1"}, map[string]any{"minute": 100})
	f.plugin("ka", "key-auth", scope{}, map[string]any{"anonymous": "bob"})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	stop := make(chan struct{})
	applied := make(chan int)
	running := make(chan struct{})
	go func() {
		n := 0
		defer func() { applied <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// A fresh but equivalent snapshot each time, as the store publishes.
			cp := *f.cfg
			m.Apply(&cp)
			if n++; n == 1 {
				close(running)
			}
		}
	}()
	<-running
	admitted, rejected, badRetry := fireConcurrently(t, 200, 1000, func() result {
		return f.do(m, f.route, call{})
	})
	close(stop)
	n := <-applied
	if admitted != 100 || rejected != 900 || badRetry != 0 {
		t.Fatalf("with %d concurrent Applies: admitted %d, rejected %d (bad Retry-After %d); want 100, 900, 0", n, admitted, rejected, badRetry)
	}
}
