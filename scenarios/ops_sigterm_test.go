//go:build resilience

package scenarios_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// SIGTERM under load: the gateway gets SIGTERM while fast requests and
// 1.5 s upstream waits (mockbin /delay) are in flight, plus one 20 s wait
// that no drain can finish. Every request sent before the signal must
// complete, the listener must close first (nothing new served after the
// signal), and the process must exit within --drain-timeout.
var _ = Describe("SIGTERM under load", Label("operations", "sigterm"), func() {
	It("drains in-flight requests, refuses new ones, and exits within the drain timeout", func(ctx SpecContext) {
		const drainTimeout = 3 * time.Second // above the 1.5 s waits, far below the 20 s one
		drain := drainTimeout
		if harness.Proving("sigterm") {
			drain = 100 * time.Millisecond // in-flight 1.5 s waits are cut: accepted requests fail
		}
		sc := begin(ctx, "SIGTERM under load", stack.Options{Mockbins: 1, GatewayArgs: []string{"--drain-timeout", drain.String()}})
		m1 := sc.Stack.Mockbin("mockbin1")
		Expect(sc.Configure(ctx, harness.Balanced{
			Service: stack.ServiceSpec{Name: "drain", Retries: stack.Int(0), ConnectTimeout: stack.Int(1000),
				ReadTimeout: stack.Int(30000), WriteTimeout: stack.Int(30000)},
			Upstream: stack.UpstreamSpec{Name: "drain-up"}, Targets: []string{m1.Direct}, Path: "/drain",
		})).To(Succeed())
		fast, slow := sc.GET("/drain/request"), sc.GET("/drain/delay/1500")
		gw := sc.Stack.Gateway

		// One request that outlasts any drain: it shows the exit is bounded by
		// --drain-timeout, not by the slowest request.
		type outcome struct {
			status int
			err    error
			took   time.Duration
		}
		long := make(chan outcome, 1)
		longSent := time.Now()
		go func() {
			hc := &http.Client{Timeout: 30 * time.Second}
			resp, err := hc.Get(gw.ProxyURL + "/drain/delay/20000")
			o := outcome{err: err, took: time.Since(longSent)}
			if err == nil {
				_, o.err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				o.status, o.took = resp.StatusCode, time.Since(longSent)
			}
			long <- o
		}()

		// New connections after the signal, one every 50 ms until the process
		// is gone: none may be served.
		type probe struct {
			at     time.Time
			served bool
		}
		var probes []probe
		var probeMu sync.Mutex
		var signalled time.Time
		sigterm := chaos.Custom("SIGTERM gateway", "stop", "gateway", func(ctx context.Context) error {
			signalled = time.Now()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
				t := time.NewTicker(50 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
					}
					at := time.Now()
					resp, err := hc.Get(gw.ProxyURL + "/drain/request")
					served := err == nil
					if err == nil {
						resp.Body.Close()
					}
					probeMu.Lock()
					probes = append(probes, probe{at: at, served: served})
					probeMu.Unlock()
				}
			}()
			// Grace far above the drain timeout: an exit by SIGKILL would show
			// as 10 s.
			err := gw.Node.Stop(ctx, 10*time.Second)
			close(stop)
			wg.Wait()
			return err
		}, nil)

		run, tl, err := sc.Attack(ctx, load.Attack{Name: "sigterm", Rate: 200, Duration: 6 * time.Second, Timeout: 5 * time.Second,
			Targets: []vegeta.Target{fast, slow}},
			chaos.Step{At: 3 * time.Second, Fault: sigterm})
		Expect(err).NotTo(HaveOccurred())
		evs := tl.Events()
		Expect(evs).To(HaveLen(1))
		Expect(evs[0].Err).To(BeEmpty())
		exited := evs[0].Ended
		rs := run.Results

		before := load.Between(rs, time.Time{}, signalled)
		var inFlight int
		for _, r := range before {
			if r.URL == slow.URL && r.Timestamp.Add(r.Latency).After(signalled) {
				inFlight++
			}
		}
		GinkgoWriter.Println("sent before the signal:", harness.Describe(before))
		GinkgoWriter.Println("sent after the signal:", harness.Describe(run.Since(signalled)))
		// Premise: 100 rps of 1.5 s waits is about 150 in flight at any
		// moment; the drain is only tested if many were (a generator the
		// machine held back sends fewer).
		drained := sc.Given(harness.AtLeastPremise("1.5 s upstream waits in flight at the signal", float64(inFlight), 50, "",
			"100 rps × 1.5 s ≈ 150 in flight; the drain must have had work"))
		drained.Equal("failed requests sent before the signal", float64(load.Failures(before)), 0, "",
			"every accepted request completes within the drain timeout (1.5 s waits < 3 s)")

		// The listener closes first: Shutdown closes it before it waits for
		// anything. The moment it closed is read from the probes, not from
		// the stop call: between Docker's API call and the gateway's signal
		// handler lie Docker and the scheduler, which on a busy 2-core
		// machine took over 100 ms. So: the first refused probe comes within
		// 1 s of the stop call, and no probe after it is served (a listener
		// once closed stays closed).
		var closedAt time.Time
		var probesLate, probesServed int
		for _, p := range probes {
			if closedAt.IsZero() {
				if !p.served {
					closedAt = p.at
				}
				continue
			}
			probesLate++
			if p.served {
				probesServed++
			}
		}
		Expect(closedAt.IsZero()).To(BeFalse(), "no probe was refused: the listener never closed")
		sc.AtMost("stop call to the listener closing", harness.Ms(closedAt.Sub(signalled)), 1000, "ms",
			"Docker's delivery of SIGTERM and the signal handler, on a loaded 2-core machine")
		sc.Given(harness.AtLeastPremise("new-connection probes after the listener closed", float64(probesLate), 1, "",
			"one every 50 ms until the exit")).Equal("new connections served after the listener closed", float64(probesServed), 0, "",
			"a closed listener accepts nothing")
		// Shutdown closes idle kept-alive connections right after the
		// listener (its first sweep is immediate) and a busy one after its
		// current response, so a request sent 100 ms after the listener
		// closed has no connection left to be served on.
		lateLoad := run.Since(closedAt.Add(100 * time.Millisecond))
		sc.Equal("load requests served 100 ms after the listener closed", float64(len(lateLoad)-load.Failures(lateLoad)), 0, "",
			"kept-alive connections are closed at once when idle, after their current response when busy")

		exitTook := exited.Sub(signalled)
		// The process waits for in-flight requests at most --drain-timeout,
		// then exits; 1 s for the exit itself and Docker noticing it.
		sc.AtMost("SIGTERM to exit", harness.Ms(exitTook), harness.Ms(drainTimeout)+1000, "ms", "--drain-timeout (3s) + 1s")
		var o outcome
		Eventually(long).WithTimeout(10 * time.Second).Should(Receive(&o))
		GinkgoWriter.Printf("20 s request: status %d, err %v, after %v\n", o.status, o.err, o.took)
		sc.Note("20 s request ended after", harness.Ms(o.took), "ms")
		sc.Note("20 s request served", float64(boolInt(o.err == nil && o.status == 200)), "")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
