//go:build resilience

package scenarios_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Per-consumer budgets: key-auth (priority 1250) identifies the consumer before
// rate-limiting (910) counts, and limit_by=consumer gives every consumer its
// own counter. Two consumers with their own keys, each offered 3R at the same
// time, must each get exactly R per window, independent of the other; requests
// without a key or with an unknown key never reach the limiter and get Kong's
// 401s.
var _ = Describe("rate-limiting by consumer", Label("rate-limiting", "ratelimit-consumers"), func() {
	It("gives each consumer exactly its own budget per window and refuses missing and bad keys", func(ctx SpecContext) {
		const (
			r        = 40 // per consumer, per second
			k        = 3
			duration = 6 * time.Second
		)
		sc := begin(ctx, "rate-limiting by consumer", stack.Options{Mockbins: 1})
		admin := sc.Stack.Gateway.Admin
		Expect(rlService(ctx, sc, "rl-consumers", "/rl-consumers", sc.Stack.Mockbin("mockbin1"))).To(Succeed())
		limitBy := "consumer"
		if harness.Proving("ratelimit-consumers") {
			limitBy = "ip" // both consumers come from one address: one shared budget
		}
		rl := map[string]any{"second": r, "policy": "local", "limit_by": limitBy}
		_, err := admin.CreatePlugin(ctx, "/routes/rl-consumers-route", stack.PluginSpec{Name: "key-auth"})
		Expect(err).NotTo(HaveOccurred())
		_, err = admin.CreatePlugin(ctx, "/routes/rl-consumers-route", stack.PluginSpec{Name: "rate-limiting", Config: rl})
		Expect(err).NotTo(HaveOccurred())
		consumers := []string{"alice", "bob"}
		for _, c := range consumers {
			_, err := admin.CreateConsumer(ctx, c)
			Expect(err).NotTo(HaveOccurred())
			Expect(admin.AddKeyAuth(ctx, c, c+"-key")).To(Succeed())
		}
		sc.SetGatewayConfig(map[string]any{"key-auth": map[string]any{}, "rate-limiting": rl, "consumers": consumers})

		// Each URL names its sender, so results can be told apart; the key goes
		// in Kong's default header, apikey. The targeter cycles through the
		// list at R per entry per second: k entries per consumer make k×R
		// each, and the two unauthenticated senders get R each.
		target := func(who, key string) vegeta.Target {
			t := sc.GET("/rl-consumers/request?from=" + who)
			if key != "" {
				t.Header = http.Header{"Apikey": {key}}
			}
			return t
		}
		var targets []vegeta.Target
		for range k {
			for _, c := range consumers {
				targets = append(targets, target(c, c+"-key"))
			}
		}
		noKey, badKey := target("nokey", ""), target("badkey", "not-a-key")
		targets = append(targets, noKey, badKey)
		rate := r * len(targets)
		run, _, err := sc.Attack(ctx, load.Attack{Name: "ratelimit-consumers", Rate: rate, Duration: duration, Targets: targets})
		Expect(err).NotTo(HaveOccurred())

		first, end := wholeSeconds(run)
		for _, c := range consumers {
			label := "consumer " + c
			rs := harness.ByURL(run.Results, target(c, "").URL)
			GinkgoWriter.Printf("%s: %s\n", label, harness.Describe(rs))
			secs := perSecond(rs, first, end)
			noteSeconds(sc, label, secs, run.Start)
			checkRate(sc, label, secs, r)
			checkExactWindows(sc, label, rs, r, k, int(duration/time.Second)-3)
			checkRejections(sc, label, rs)
		}
		for _, c := range []struct {
			t    vegeta.Target
			what string
			msg  string
		}{{noKey, "no key", "No API key found in request"}, {badKey, "a bad key", "Unauthorized"}} {
			rs := harness.ByURL(run.Results, c.t.URL)
			wrong := 0
			for _, x := range rs {
				if x.Code != http.StatusUnauthorized || kongMessage(x.Body) != c.msg {
					wrong++
				}
			}
			sc.AtLeast(fmt.Sprintf("requests with %s", c.what), float64(len(rs)), float64(r)*duration.Seconds()*0.9, "",
				"R per second for the whole attack (10% slack for the partial last tick)")
			sc.Equal(fmt.Sprintf("requests with %s not answered 401 %q", c.what, c.msg), float64(wrong), 0, "",
				"key-auth runs before rate-limiting and refuses them all with Kong's body")
		}
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
