//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/attack"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Idle-connection flood: thousands of connections that connect and send
// nothing, while legitimate GETs run through the same gateway. The gateway
// must keep serving, and release every idle connection (nginx closes a
// connection that sent no request at client_header_timeout).
var _ = Describe("idle-connection flood", Label("hostile", "idle-flood"), func() {
	It("keeps serving under thousands of idle connections and releases them", func(ctx SpecContext) {
		headerTimeout := hostileTimeout
		if harness.Proving("idle-flood") {
			headerTimeout = 10 * time.Minute // idle connections are kept as long as the flood holds them
		}
		sc := begin(ctx, "idle-connection flood", stack.Options{Mockbins: 2, GatewayArgs: hostileArgs(hostileTimeout, headerTimeout)})
		configureLegit(ctx, sc)
		legit := sc.GET("/legit/request")
		warmLegit(ctx, sc, legit)
		conns := idleFloodSize()
		giveUp := 2*hostileTimeout + closeMargin
		// One flood before the measured one, with no load: on the container
		// stack the attacker reaches the gateway through Docker's userland
		// proxy, the same process that carries the legitimate load, and that
		// proxy's first thousands of connections stall it for 200–270 ms
		// (measured: the same flood straight at a mockbin, or at the gateway on
		// the process stack, costs the legitimate p99 nothing alike). The
		// measured flood is then a repeat, which is also what a leak check
		// wants: rest is read after one flood, so a second that keeps anything
		// shows as growth.
		pre := attack.IdleFlood{Addr: proxyAddr(sc), Conns: conns, Parallel: 4, Max: giveUp}.Run(ctx)
		GinkgoWriter.Println("warm-up flood:", attack.Summary(pre))
		rest := settledResources(ctx, sc)

		// Connects go 4 at a time: the flood opens in about a second
		// instead of a burst that saturates the two cores the legitimate load,
		// the attacker, Docker's proxy and the gateway share (64 at a time put
		// the legitimate p50 at 60 ms from CPU alone; 2,000 connections 8 at
		// a time still stalled Docker's proxy for 170 ms on a quiet machine).
		var cs []attack.Conn
		flood := attacker(fmt.Sprintf("idle flood ×%d", conns), func(ctx context.Context) {
			cs = attack.IdleFlood{Addr: proxyAddr(sc), Conns: conns, Parallel: 4, Max: giveUp}.Run(ctx)
		})
		peak := peakSampler(ctx, sc)
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "idle-flood", Rate: legitRate + controlRate, Duration: 9 * time.Second,
			Targets: legitTargets(sc, legit)},
			attackStep(2*time.Second, flood))
		peakRes := peak()
		Expect(err).NotTo(HaveOccurred())
		w := oneWindow(tl)

		sc.Note("idle connections", float64(conns), "")
		if sc.Stack.Kind == reports.StackContainers {
			checkLegitWithin(sc, run, w, dockerFloodAllowance, "Docker's relay of 1,000 connects and closes")
		} else {
			checkLegit(sc, run, w)
		}
		// The flood must have been real: the gateway held most of it at once
		// (the connects take a moment, and the first close at 2 s).
		sc.AtLeast("gateway open fds at the flood's peak", peakRes.OpenFDs, rest.OpenFDs+float64(conns)/2, "",
			"rest + half the flood: the idle connections were really open at once")
		checkHeld(sc, "idle flood", cs, func(c attack.Conn) time.Time { return c.Opened }, hostileTimeout+closeMargin,
			"client_header_timeout (2s) + 1s margin from the connect")
		checkBackToRest(ctx, sc, rest, peakRes, run, rssSlackMiB, rssWhy)
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})

// dockerFloodAllowance (ms) replaces p99Allowance on containers. The
// attacker reaches the gateway through Docker's published port, so every
// connect and every close also passes Docker's userland proxy and NAT on
// the same two cores: with the warm-up flood before it, the legitimate p99
// during the flood still measured 247 and 357 ms through containers, while
// the same flood against the same gateway on the process stack, same
// machine and load, measured 33 ms (bound 114). It also failed CI once.
// Through a second published port (a relay process of its own for the
// attacker) it measured the same, so the cost is Docker's networking, not
// one relay process. A gateway that an idle connection stalls costs the
// 2 s header timeout, still four times this allowance.
const dockerFloodAllowance = 500.0

// idleFloodSize is 1,000 connections (twice nginx's default
// worker_connections of 512), or fewer when this process may not open that
// many: each takes one fd here (and two in Docker's userland proxy, which has
// its own limit), and the legitimate load and the harness need about a
// thousand more. At 2,000 the cost measured was Docker's proxy's, not the
// gateway's: the legitimate p99 rose to 170 ms through the proxy while the
// same flood on the process stack cost it nothing.
func idleFloodSize() int {
	n := 1000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		n = min(n, int(lim.Cur)-1000)
	}
	Expect(n).To(BeNumerically(">=", 500), "file descriptor limit too low for an idle flood")
	return n
}
