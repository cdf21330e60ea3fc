//go:build resilience

package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Target killed under load: two round-robin targets, retries=5, GET load;
// mockbin1 gets SIGKILL at t=3s and stays dead.
var _ = Describe("target killed under load", Label("kill"), func() {
	It("retries every broken request on the survivor", func(ctx SpecContext) {
		sc := begin(ctx, "target killed under load", stack.Options{Mockbins: 2})
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		retries := 5
		if harness.Proving("kill") {
			retries = 0
		}
		const connectTimeout = 250 // ms: a connect to the vanished address fails within it
		Expect(sc.Configure(ctx, harness.Balanced{
			Service: stack.ServiceSpec{Name: "kill", Retries: stack.Int(retries),
				ConnectTimeout: stack.Int(connectTimeout), ReadTimeout: stack.Int(5000)},
			Upstream: stack.UpstreamSpec{Name: "kill-up"},
			Targets:  []string{m1.Target, m2.Target},
			Path:     "/kill",
		})).To(Succeed())

		run, tl, err := sc.Attack(ctx, load.Attack{Name: "kill", Rate: 300, Duration: 8 * time.Second,
			Targets: []vegeta.Target{sc.GET("/kill/request")}},
			chaos.Step{At: 3 * time.Second, Fault: chaos.Kill(m1.Node)})
		Expect(err).NotTo(HaveOccurred())
		evs := tl.Events()
		Expect(evs).To(HaveLen(1))
		killStart, killed := evs[0].Started, evs[0].Ended
		rs := run.Results
		GinkgoWriter.Println("all:", harness.Describe(rs))

		before := load.Between(rs, time.Time{}, killStart)
		after := run.Since(killed)
		spike := load.Between(rs, killStart, killStart.Add(time.Second))
		// Every GET that meets the dead target fails at connect or on a broken
		// connection, and is retried on the survivor (5 retries > 1 dead target).
		sc.Equal("failed requests", float64(load.Failures(rs)), 0, "", "retries=5 cover the one dead target")
		sc.AtLeast("share of mockbin1 before the kill", harness.Share(load.Instances(before)["mockbin1"], len(before)), 0.4,
			"ratio", "round-robin balanced both targets before the fault")
		// A dead process answers nothing: after the kill every response is the survivor's.
		sc.Equal("share of mockbin2 after the kill", harness.Share(load.Instances(after)[m2.Name], len(after)), 1,
			"ratio", "the killed target cannot answer")
		sc.Note("p99 in the second after the kill", harness.Ms(load.Percentile(spike, 0.99)), "ms")
		sc.Note("p99 before the kill", harness.Ms(load.Percentile(before, 0.99)), "ms")
		// The worst a request can meet is one connect timeout on the dead target
		// before its retry goes to the survivor; 250 ms for the retry and scheduling.
		// Premise: the machine's stalls, as the generator saw them, fit twice
		// in the 250 ms (the gateway's process can stall longer than the
		// generator's).
		sc.Given(harness.OnSchedule(run, killStart, time.Time{}, 125*time.Millisecond)).AtMost(
			"max latency after the kill", harness.Ms(load.MaxLatency(load.Between(rs, killStart, time.Time{}))),
			connectTimeout+250, "ms", "connect_timeout + 250ms")
		verify(sc)
	}, NodeTimeout(3*time.Minute))
})
