//go:build resilience

package scenarios_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-dev/gauntlet/scenarios/attack"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Slowloris: attackers trickle a request head one byte every 200 ms and never
// finish it, while legitimate GETs run through the same gateway. The gateway
// must close each at its client header timeout, counted from the connect,
// however busily it trickles.
var _ = Describe("slowloris", Label("hostile", "slowloris"), func() {
	It("closes never-ending request heads at the header timeout", func(ctx SpecContext) {
		headerTimeout := hostileTimeout
		if harness.Proving("slowloris") {
			headerTimeout = 10 * time.Minute // the trickle keeps every attacker alive
		}
		sc := begin(ctx, "slowloris", stack.Options{Mockbins: 2, GatewayArgs: hostileArgs(hostileTimeout, headerTimeout)})
		configureLegit(ctx, sc)
		legit := sc.GET("/legit/request")
		warmLegit(ctx, sc, legit)
		rest := settledResources(ctx, sc)

		// 200 connections: each costs the gateway a goroutine and a read buffer
		// while it is held; enough that holding them shows in every gauge.
		const conns = 200
		giveUp := 2*hostileTimeout + closeMargin
		var cs []attack.Conn
		loris := attacker("slowloris ×200", func(ctx context.Context) {
			cs = attack.Slowloris{Addr: proxyAddr(sc), Path: "/attack/slowloris", Conns: conns,
				Interval: 200 * time.Millisecond, Max: giveUp}.Run(ctx)
		})
		peak := peakSampler(ctx, sc)
		run, tl, err := sc.Attack(ctx, load.Attack{Name: "slowloris", Rate: legitRate + controlRate, Duration: 8 * time.Second,
			Targets: legitTargets(sc, legit)},
			attackStep(2*time.Second, loris))
		peakRes := peak()
		Expect(err).NotTo(HaveOccurred())
		w := oneWindow(tl)

		checkLegit(sc, run, w)
		var trickled int
		for _, c := range cs {
			if c.Sent > len("GET /attack/slowloris HTTP/1.1\r\nHost: 127.0.0.1:00000\r\n") {
				trickled++
			}
		}
		// The attack is real only if the heads kept growing while held.
		sc.AtLeast("slowloris: connections that trickled past the request line", float64(trickled), conns, "",
			"every attacker kept sending")
		checkHeld(sc, "slowloris", cs, func(c attack.Conn) time.Time { return c.Opened }, hostileTimeout+closeMargin,
			"client_header_timeout (2s) + 1s margin from the connect")
		checkBackToRest(ctx, sc, rest, peakRes, run, rssSlackMiB, rssWhy)
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
