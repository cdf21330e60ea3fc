//go:build resilience

package scenarios_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	mockbin "github.com/gauntlet-dev/gauntlet/mockbin/server"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Non-idempotent load under failure: POST, PATCH and GET load through the
// gateway onto mockbin1 and mockbin2 (round-robin, retries = 3, each behind a
// Toxiproxy proxy) while one target fails after it received requests. Every
// POST and PATCH carries a unique Idempotency-Key (also in its query, to join
// results to keys); each mockbin counts the keys that reached it
// (/__mockbin/requests). A gateway may retry a POST only when nothing reached
// the upstream (KONG-REFERENCE.md, Proxy: "non-idempotent methods (POST,
// PATCH) are not retried once the request was sent"), so:
//
//   - no key reached two upstreams, or one upstream twice;
//   - every failed POST/PATCH answered the client 502 or 504;
//   - every GET of the same run succeeded: it is retried on the live target.
//
// Three ways of failing after the request arrived, one spec each:
//
//   - kill: mockbin1 holds every request 1.5 s from t=1s, and is SIGKILLed
//     at t=2s with those requests in flight. Its request log dies with it, so
//     the kill first holds new bytes to mockbin1 (a Toxiproxy timeout toxic
//     upstream), reads the log until it is stable, then kills;
//   - reset: from t=1s to t=4s Toxiproxy resets mockbin2's connections as
//     soon as its answer starts (reset_peer downstream): mockbin2 got the
//     whole request, the gateway gets a TCP RST;
//   - stall: from t=1s to t=4s mockbin1 answers after 1 s, past the
//     service's read_timeout of 300 ms.
//
// GAUNTLET_PROVE_FAIL=post-safety sends the writes as PUT, which the gateway
// rightly retries (PUT is idempotent): the keys then reach both targets.
var _ = Describe("non-idempotent load under failure", Label("post-safety"), func() {
	It("never re-sends a POST or PATCH to a target that was killed mid-request", func(ctx SpecContext) {
		sc := begin(ctx, "post safety: target killed mid-request", stack.Options{Mockbins: 2, Toxiproxy: true})
		m1 := sc.Stack.Mockbin("mockbin1")
		// Logs of mockbin1 read just before it died; filled by the kill.
		var before atomic.Pointer[mockbin.RequestLog]
		hold := chaos.ToxicOn(m1.Proxy, chaos.Timeout(0).Upstream())
		kill := chaos.Custom("kill mockbin1 mid-request", "kill", m1.Name, func(ctx context.Context) error {
			if err := hold.Inject(ctx); err != nil {
				return err
			}
			lg, err := stableRequestLog(ctx, m1.URL)
			if err != nil {
				return errors.Join(err, hold.Revert(ctx))
			}
			before.Store(&lg)
			if err := m1.Node.Kill(ctx); err != nil {
				return err
			}
			// Dead now: new connections may pass again (and find no one).
			return hold.Revert(ctx)
		}, m1.Node.Start)
		postSafety(ctx, sc, postSafetyCase{
			// Longer than the 1.5 s hold, so the requests in flight are cut
			// by the kill, not by the timeout; a connection through
			// Toxiproxy to the dead address fails at this timeout (504).
			readTimeout: 2500,
			// Passive checks take the dead target out at its first failure,
			// as a production upstream would be configured.
			checks: harness.Checks{Passive: &harness.Passive{TCPFailures: 1, Timeouts: 1}}.Tree(),
			faulty: m1,
			steps: []chaos.Step{
				{At: time.Second, Fault: chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{LatencyMS: 1500})},
				{At: 2 * time.Second, Fault: kill},
			},
			faultFrom: kill,
			logOf: func(ctx context.Context, m *stack.Mockbin) (mockbin.RequestLog, error) {
				if m == m1 {
					if lg := before.Load(); lg != nil {
						return *lg, nil
					}
					return mockbin.RequestLog{}, fmt.Errorf("mockbin1's log was not read before the kill")
				}
				return readRequestLog(ctx, m.URL)
			},
		})
	}, NodeTimeout(2*time.Minute))

	It("never re-sends a POST or PATCH whose connection was reset after the upstream got it", func(ctx SpecContext) {
		sc := begin(ctx, "post safety: connection reset after the request", stack.Options{Mockbins: 2, Toxiproxy: true})
		m2 := sc.Stack.Mockbin("mockbin2")
		reset := chaos.ToxicOn(m2.Proxy, chaos.ResetPeer(0))
		postSafety(ctx, sc, postSafetyCase{
			readTimeout: 5000,
			faulty:      m2,
			steps:       []chaos.Step{{At: time.Second, Fault: reset, Hold: 3 * time.Second}},
			faultFrom:   reset,
		})
	}, NodeTimeout(2*time.Minute))

	It("never re-sends a POST or PATCH that timed out on a stalled target", func(ctx SpecContext) {
		sc := begin(ctx, "post safety: target stalled past read_timeout", stack.Options{Mockbins: 2, Toxiproxy: true})
		m1 := sc.Stack.Mockbin("mockbin1")
		stall := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{LatencyMS: 1000})
		postSafety(ctx, sc, postSafetyCase{
			readTimeout: 300,
			faulty:      m1,
			steps:       []chaos.Step{{At: time.Second, Fault: stall, Hold: 3 * time.Second}},
			faultFrom:   stall,
		})
	}, NodeTimeout(2*time.Minute))
})

type postSafetyCase struct {
	readTimeout int // ms
	faulty      *stack.Mockbin
	steps       []chaos.Step
	faultFrom   chaos.Fault // the step whose inject starts the fault window
	checks      map[string]any
	// logOf reads a mockbin's request log at the end (default: over HTTP).
	logOf func(ctx context.Context, m *stack.Mockbin) (mockbin.RequestLog, error)
}

func postSafety(ctx context.Context, sc *harness.Scenario, c postSafetyCase) {
	m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
	writes := []string{http.MethodPost, http.MethodPatch}
	if harness.Proving("post-safety") {
		writes = []string{http.MethodPut, http.MethodPut} // idempotent: retried, so delivered twice
	}
	Expect(sc.Configure(ctx, harness.Balanced{
		Service: stack.ServiceSpec{Name: "post", Retries: stack.Int(3), ConnectTimeout: stack.Int(250),
			ReadTimeout: stack.Int(c.readTimeout), WriteTimeout: stack.Int(1000)},
		Upstream: stack.UpstreamSpec{Name: "post-up", Healthchecks: c.checks},
		Targets:  []string{m1.Target, m2.Target},
		Path:     "/post",
	})).To(Succeed())

	// Each run has its own key prefix, so keys never collide with another run's.
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	var n atomic.Uint64
	base := sc.Stack.Gateway.ProxyURL + "/post/request"
	targeter := func(t *vegeta.Target) error {
		i := n.Add(1)
		switch i % 3 {
		case 0:
			*t = vegeta.Target{Method: http.MethodGet, URL: base}
		default:
			key := prefix + "-" + strconv.FormatUint(i, 10)
			*t = vegeta.Target{Method: writes[i%3-1], URL: base + "?k=" + key,
				Header: http.Header{mockbin.DefaultKeyHeader: {key}, "Content-Type": {"application/json"}},
				Body:   []byte(`{"order":"` + key + `"}`)}
		}
		return nil
	}
	// 150 rps: 50 POST, 50 PATCH, 50 GET, for 6 s.
	run, tl, err := sc.Attack(ctx, load.Attack{Name: "post-safety", Rate: 150, Duration: 6 * time.Second, Targeter: targeter,
		Targets: []vegeta.Target{{Method: writes[0], URL: base + "?k=…"}, {Method: writes[1], URL: base + "?k=…"}, {Method: "GET", URL: base}}},
		c.steps...)
	Expect(err).NotTo(HaveOccurred())
	for _, st := range c.steps {
		ev, ok := tl.EventOf(st.Fault, chaos.ActionInject)
		Expect(ok).To(BeTrue(), st.Fault.Name())
		Expect(ev.Err).To(BeEmpty(), st.Fault.Name())
	}
	on, _ := tl.EventOf(c.faultFrom, chaos.ActionInject)
	off, healed := tl.EventOf(c.faultFrom, chaos.ActionRevert)
	faultEnd := run.End
	if healed {
		faultEnd = off.Started
	}

	logOf := c.logOf
	if logOf == nil {
		logOf = func(ctx context.Context, m *stack.Mockbin) (mockbin.RequestLog, error) {
			return readRequestLog(ctx, m.URL)
		}
	}
	delivered := map[string]int64{}
	perTarget := map[string]int{}
	for _, m := range []*stack.Mockbin{m1, m2} {
		lg, err := logOf(ctx, m)
		Expect(err).NotTo(HaveOccurred())
		Expect(lg.Dropped).To(BeZero(), "%s's request log overflowed", m.Name)
		for k, cnt := range lg.Keys {
			delivered[k] += cnt
			perTarget[m.Name]++
		}
	}
	twice := 0
	var examples []string
	for k, cnt := range delivered {
		if cnt > 1 {
			twice++
			if len(examples) < 3 {
				examples = append(examples, fmt.Sprintf("%s×%d", k, cnt))
			}
		}
	}
	if len(examples) > 0 {
		GinkgoWriter.Println("keys delivered more than once, e.g.:", strings.Join(examples, ", "))
	}
	sc.Note("keys in mockbin1's log", float64(perTarget[m1.Name]), "")
	sc.Note("keys in mockbin2's log", float64(perTarget[m2.Name]), "")
	sc.Equal("keys delivered more than once (to two targets or one twice)", float64(twice), 0, "",
		"a POST or PATCH that reached an upstream is never sent again")

	var wr, gets, failedWrites, failedReached, badStatus, okUnlogged int
	var getsInFault []vegeta.Result
	for _, x := range run.Results {
		if x.Method == http.MethodGet {
			gets++
			// Sent after the fault began and answered before it ended: an
			// answer that arrived after the revert may rightly come from
			// the healed target.
			if !x.Timestamp.Before(on.Ended) && !harness.Done(x).After(faultEnd) {
				getsInFault = append(getsInFault, x)
			}
			continue
		}
		wr++
		key := ""
		if u, err := url.Parse(x.URL); err == nil {
			key = u.Query().Get("k")
		}
		if !load.OK(x) {
			failedWrites++
			if delivered[key] > 0 {
				failedReached++
			}
			if x.Code != http.StatusBadGateway && x.Code != http.StatusGatewayTimeout {
				badStatus++
				GinkgoWriter.Printf("failed write answered %d %q: %s %s\n", x.Code, x.Error, x.Method, x.URL)
			}
			continue
		}
		if delivered[key] == 0 {
			okUnlogged++
		}
	}
	GinkgoWriter.Println("all:", harness.Describe(run.Results))
	sc.Note("writes sent", float64(wr), "")
	sc.Note("failed writes", float64(failedWrites), "")
	// The premise: writes that reached a target, which then failed them.
	// ~100 writes/s, round-robin sends half to the failing target: ~50 in
	// flight at the kill (held 1.5 s from 1 s, killed at 2 s), ~150 over the
	// 3 s of a reset or a stall. 20 leaves more than half for scheduling.
	sc.AtLeast("failed writes whose key a target had logged (it got the request, then failed)", float64(failedReached), 20, "",
		"≥ 20: ~50 writes/s to the failing target for ≥ 1 s, less than half kept as slack")
	sc.Equal("failed writes answered other than 502/504", float64(badStatus), 0, "",
		"a write the gateway cannot complete surfaces as 502 (connection failed) or 504 (read_timeout)")
	sc.Equal("successful writes whose key no target logged", float64(okUnlogged), 0, "",
		"the request logs are complete: every answered write was counted where it arrived")
	sc.Equal("failed GETs", float64(load.Failures(withMethod(run.Results, http.MethodGet))), 0, "",
		"GET is idempotent: retried (retries = 3) on the live target")
	survivor := m1
	if c.faulty == m1 {
		survivor = m2
	}
	sc.AtLeast("GETs sent and answered while the fault was on", float64(len(getsInFault)), 20, "", "50 GET/s for ≥ 1 s, minus scheduling")
	sc.Equal("share of the live target among GETs sent and answered while the fault was on",
		harness.Share(load.Instances(getsInFault)[survivor.Name], len(getsInFault)), 1, "ratio",
		"round-robin gives the failing target every second GET; each was retried on the live one")
	sc.Note("GET p99 while the fault was on", harness.Ms(load.Percentile(getsInFault, 0.99)), "ms")
	verify(sc)
}

// readRequestLog reads a mockbin's request log.
func readRequestLog(ctx context.Context, baseURL string) (mockbin.RequestLog, error) {
	var lg mockbin.RequestLog
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+mockbin.PathRequests+"?header="+mockbin.DefaultKeyHeader, nil)
	if err != nil {
		return lg, err
	}
	resp, err := harness.Client.Do(req)
	if err != nil {
		return lg, fmt.Errorf("read %s's request log: %w", baseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return lg, fmt.Errorf("read %s's request log: %s", baseURL, resp.Status)
	}
	return lg, json.NewDecoder(resp.Body).Decode(&lg)
}

// stableRequestLog reads the log until two reads 50 ms apart agree (bytes
// that passed Toxiproxy before it held the connection have then arrived),
// within 3 s.
func stableRequestLog(ctx context.Context, baseURL string) (mockbin.RequestLog, error) {
	deadline := time.Now().Add(3 * time.Second)
	prev, err := readRequestLog(ctx, baseURL)
	if err != nil {
		return prev, err
	}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return prev, ctx.Err()
		case <-time.After(50 * time.Millisecond): // poll interval of a bounded wait
		}
		cur, err := readRequestLog(ctx, baseURL)
		if err != nil {
			return cur, err
		}
		if cur.Requests == prev.Requests {
			return cur, nil
		}
		prev = cur
	}
	return prev, fmt.Errorf("%s's request log still growing after 3 s of holding its connections", baseURL)
}

// withMethod keeps the results of one request method.
func withMethod(rs []vegeta.Result, method string) []vegeta.Result {
	var out []vegeta.Result
	for _, x := range rs {
		if x.Method == method {
			out = append(out, x)
		}
	}
	return out
}
