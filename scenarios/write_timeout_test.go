//go:build resilience

package scenarios_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// write_timeout on an upstream that stops reading the request (Kong's
// write_timeout = nginx's proxy_send_timeout: the longest wait of one write
// to the upstream, armed again before every write). mockbin1 holds every
// request for 12 s before its handler reads a byte of the body (its fault
// mode's latency runs before the handler: net/http reads a body only when
// the handler does), and three POSTs of 64 MiB each go through the gateway,
// one a second, with write_timeout 1 s and read_timeout 60 s.
//
// The gateway streams the body, 32 KiB per write. Once the gateway's send
// buffer and mockbin1's receive buffer are full, one write blocks; 1 s later
// its deadline fires and the client gets 504 (read_timeout cannot explain a
// 504 here: 60 s). 64 MiB is well over what the kernel can buffer on the way:
// tcp_wmem max 4 MiB + tcp_rmem max 32 MiB on these machines, and a receive
// buffer only grows past tcp_rmem's default (128 KiB) when the application
// reads, which mockbin1 does not. A gateway that ignores write_timeout (or
// Kong's 60 s default, GAUNTLET_PROVE_FAIL=write-timeout) holds each upload
// until mockbin1 wakes up 12 s later.
var _ = Describe("write timeout", Label("write-timeout"), func() {
	It("answers 504 within write_timeout when the upstream stops reading the body", func(ctx SpecContext) {
		sc := begin(ctx, "write timeout", stack.Options{Mockbins: 1})
		m1 := sc.Stack.Mockbin("mockbin1")
		const writeTimeout = time.Second
		const stall = 12 * time.Second
		configured := writeTimeout
		if harness.Proving("write-timeout") {
			configured = 60 * time.Second // Kong's default: longer than the stall
		}
		Expect(sc.Configure(ctx, harness.Balanced{
			// retries = 0: a POST whose bytes reached the upstream is not
			// retried anyway, and one try keeps the bound one write_timeout.
			Service: stack.ServiceSpec{Name: "upload", Retries: stack.Int(0), ConnectTimeout: stack.Int(1000),
				WriteTimeout: stack.Int(int(configured.Milliseconds())), ReadTimeout: stack.Int(60000)},
			Upstream: stack.UpstreamSpec{Name: "upload-up"},
			Targets:  []string{m1.Target},
			Path:     "/upload",
		})).To(Succeed())

		// Stalled before the first upload, so every upload meets it; the
		// stack is removed after the spec, the revert only keeps teardown
		// uniform.
		hold := chaos.Mockbin(m1.Name, m1.URL, chaos.MockbinFault{LatencyMS: int(stall.Milliseconds())})
		Expect(hold.Inject(ctx)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(hold.Revert(ctx)).To(Succeed()) }, NodeTimeout(30*time.Second))

		body := make([]byte, 64<<20)
		upload := vegeta.Target{Method: http.MethodPost, URL: sc.Stack.Gateway.ProxyURL + "/upload/request",
			Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: body}
		// Client timeout past the stall: a gateway that waits for mockbin1
		// shows how long it waited instead of a client-side timeout.
		run, _, err := sc.Attack(ctx, load.Attack{Name: "write-timeout", Rate: 1, Duration: 3 * time.Second,
			Timeout: stall + 10*time.Second, Targets: []vegeta.Target{upload}})
		Expect(err).NotTo(HaveOccurred())
		rs := run.Results
		GinkgoWriter.Println("uploads:", harness.Describe(rs))

		sc.Equal("uploads sent", float64(len(rs)), 3, "", "1 per second for 3 s")
		sc.Equal("uploads answered other than 504", float64(len(rs)-len(harness.WithStatus(rs, http.StatusGatewayTimeout))), 0, "",
			"a write blocked for write_timeout fails the try with a timeout: 504 (POST, retries 0)")
		// Lower bound: the write that timed out started after the request
		// was sent and blocked for a whole write_timeout. 20 ms off for the
		// client's stamp, taken before its connection is ready.
		const early = 20 * time.Millisecond
		// Upper bound: the blocked write starts once the buffers between
		// the gateway and mockbin1 are full: at most 36 MiB (above), moved
		// at ≥ 200 MB/s even on two shared cores (loopback and the Docker
		// bridge move GB/s): 200 ms. Plus 100 ms for the 504 to reach the
		// client and for scheduling.
		const slack = 300 * time.Millisecond
		for _, x := range rs {
			GinkgoWriter.Printf("upload at %v: %d in %v %s\n", x.Timestamp.Sub(run.Start).Round(time.Millisecond), x.Code, x.Latency, x.Error)
		}
		fastest := time.Duration(0)
		if len(rs) > 0 {
			fastest = rs[0].Latency
			for _, x := range rs {
				fastest = min(fastest, x.Latency)
			}
		}
		sc.AtLeast("fastest upload answer", harness.Ms(fastest), harness.Ms(writeTimeout-early), "ms",
			"one write blocked for the whole write_timeout: write_timeout − 20ms")
		sc.AtMost("slowest upload answer", harness.Ms(load.MaxLatency(rs)), harness.Ms(writeTimeout+slack), "ms",
			"buffers filled (≤ 36 MiB at ≥ 200 MB/s: 200 ms) + write_timeout + 100 ms; mockbin1 reads nothing for 12 s")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
