//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-dev/gauntlet/scenarios/attack"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Request smuggling: CL.TE, TE.CL, CL and TE together, and HTTP/1.0 with
// chunked and keep-alive, each followed on the same connection by a GET of
// /attack/smuggled-<kind>, sent round after round while legitimate GETs run.
// No smuggled path may reach an upstream (mockbin counts every path it
// serves), and every ambiguous request must be refused with 400 or have its
// connection closed after the one response (RFC 9112 §6.1).
//
// It runs on both HTTP/1.1 servers of the gateway (--proxy-http1): its own
// connection loop, which refuses ambiguous framing before the proxy core
// sees it, and net/http, which serves the TLS and HTTP/2 listeners and hands
// the core requests already reframed (Content-Length dropped, an HTTP/1.0
// Transfer-Encoding ignored), so the core's close-after rules are all that
// stand between those listeners and a smuggled request.
var _ = Describe("request smuggling", Label("hostile", "smuggling"), func() {
	for _, server := range []string{"loop", "net/http"} {
		It("never lets a smuggled request through, on --proxy-http1 "+server, func(ctx SpecContext) {
			smuggling(ctx, server)
		}, NodeTimeout(2*time.Minute))
	}
})

// smuggling is the scenario on one --proxy-http1 server.
func smuggling(ctx SpecContext, server string) {
	args := append(hostileArgs(hostileTimeout, hostileTimeout), "--proxy-http1", server)
	sc := begin(ctx, "request smuggling, "+server, stack.Options{Mockbins: 2, GatewayArgs: args})
	configureLegit(ctx, sc)
	legit := sc.GET("/legit/request")
	warmLegit(ctx, sc, legit)
	rest := settledResources(ctx, sc)

	addr := proxyAddr(sc)
	attempts := attack.Smuggles(addr, "/attack")
	if harness.Proving("smuggling") {
		// Plain HTTP/1.1 pipelining, nothing ambiguous: the gateway rightly
		// serves the second request, and the checks must see it arrive.
		m := "smuggled-control"
		attempts = append(attempts, attack.Smuggle{Name: "pipelined GET (proving)", Marker: m, Raw: []byte(
			fmt.Sprintf("GET /attack/request HTTP/1.1\r\nHost: %s\r\n\r\nGET /attack/%s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, m, addr))})
	}
	// 5 rounds; an attempt waits up to 1 s for the gateway to close, so a
	// gateway that keeps such connections alive costs 5 s, not forever.
	const rounds = 5
	var results []attack.SmuggleResult
	smuggle := attacker(fmt.Sprintf("smuggling ×%d rounds", rounds), func(ctx context.Context) {
		results = attack.TryAll(ctx, addr, attempts, rounds, time.Second)
	})
	peak := peakSampler(ctx, sc)
	run, tl, err := sc.Attack(ctx, load.Attack{Name: "smuggling", Rate: legitRate + controlRate, Duration: 8 * time.Second,
		Targets: legitTargets(sc, legit)},
		attackStep(2*time.Second, smuggle))
	peakRes := peak()
	Expect(err).NotTo(HaveOccurred())
	w := oneWindow(tl)

	Expect(results).To(HaveLen(rounds * len(attempts)))
	for _, a := range attempts {
		var served, kept int
		for _, r := range results {
			if r.Marker != a.Marker {
				continue
			}
			if r.Err != "" {
				GinkgoWriter.Printf("%s: %s\n", a.Name, r.Err)
			}
			// More than one response: the pipelined (smuggled) request was
			// answered on the socket.
			if len(r.Codes) > 1 {
				served++
			}
			refused := len(r.Codes) > 0 && r.Codes[0] == 400
			if !refused && !r.ClosedByServer {
				kept++
			}
		}
		first := results[0]
		for _, r := range results {
			if r.Marker == a.Marker {
				first = r
				break
			}
		}
		GinkgoWriter.Printf("%-40s codes %v, closed %v, in %v; first bytes %q\n", a.Name, first.Codes, first.ClosedByServer,
			first.Took.Round(time.Millisecond), strings.SplitN(first.Raw, "\r\n", 2)[0])
		sc.Equal(a.Name+": smuggled requests answered on the socket", float64(served), 0, "",
			"the request after an ambiguous one must never be read")
		sc.Equal(a.Name+": connections neither refused (400) nor closed", float64(kept), 0, "",
			"RFC 9112 §6.1: close after the response, or refuse as nginx does")
	}
	// The upstreams' own count of every path they served: the smuggled
	// marker must be nowhere.
	var reached int64
	for _, m := range sc.Stack.Mockbins {
		st, err := mockbinStats(ctx, m)
		Expect(err).NotTo(HaveOccurred())
		for p, n := range st.Paths {
			if strings.Contains(p, "smuggled") {
				reached += n
				GinkgoWriter.Printf("%s served %s ×%d\n", m.Name, p, n)
			}
		}
	}
	sc.Equal("smuggled requests that reached an upstream", float64(reached), 0, "", "mockbin counts every path it serves")

	checkLegit(sc, run, w)
	checkBackToRest(ctx, sc, rest, peakRes, run, rssSlackMiB, rssWhy)
	verify(sc)
}
