//go:build resilience

package scenarios_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	mockbin "github.com/gauntlet-dev/gauntlet/mockbin/server"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Path confusion: route /open (mockbin1, no auth) and /open/secret (mockbin2,
// key-auth). Paths spelled with encoded dots, dot segments, an encoded
// unreserved letter and doubled slashes are sent with and without a key. Kong
// routes the normalised path (kong/tools/uri.lua normalize: unreserved %XX
// decoded, dot segments removed, slashes merged) and forwards the normalised
// remainder, so a path whose normalised form lies under /open/secret must meet
// key-auth, and one that climbs out of it must reach /open. A gateway that
// routes the raw path lets /open/x/%2e%2e/secret/request through to the open
// route, and forwards "/x/../secret/request" to an upstream that resolves it
// to the protected resource: the bypass behind the path-normalisation rule.
var _ = Describe("path confusion", Label("hostile", "path-confusion"), func() {
	It("routes and forwards the normalised path, so no spelling gets past key-auth", func(ctx SpecContext) {
		sc := begin(ctx, "path confusion", stack.Options{Mockbins: 2})
		admin := sc.Stack.Gateway.Admin
		m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
		svc := func(name string) stack.ServiceSpec {
			return stack.ServiceSpec{Name: name, Retries: stack.Int(0)}
		}
		Expect(sc.Configure(ctx,
			harness.Balanced{Service: svc("open"), Upstream: stack.UpstreamSpec{Name: "open-up"}, Targets: []string{m1.Direct}, Path: "/open"},
			harness.Balanced{Service: svc("secret"), Upstream: stack.UpstreamSpec{Name: "secret-up"}, Targets: []string{m2.Direct}, Path: "/open/secret"},
		)).To(Succeed())
		guarded := "/routes/secret-route"
		if harness.Proving("path-confusion") {
			// key-auth on the wrong route: the protected resource answers
			// without a key, which the bypass check must report.
			guarded = "/routes/open-route"
		}
		_, err := admin.CreatePlugin(ctx, guarded, stack.PluginSpec{Name: "key-auth"})
		Expect(err).NotTo(HaveOccurred())
		_, err = admin.CreateConsumer(ctx, "alice")
		Expect(err).NotTo(HaveOccurred())
		Expect(admin.AddKeyAuth(ctx, "alice", "alice-key")).To(Succeed())
		sc.SetGatewayConfig(map[string]any{"routes": map[string]string{"/open": "mockbin1", "/open/secret": "mockbin2 + key-auth"}})

		// Results carry their URL, not their headers: a keyed request is
		// told apart by a query string, which routing and normalisation
		// leave alone.
		const keyedQuery = "?keyed=1"
		// Every spelling normalises to <route>/request, so each upstream must
		// see exactly the path /request.
		cases := []struct {
			path      string
			protected bool // the normalised path lies under /open/secret
		}{
			{"/open/secret/request", true}, // the plain spellings, as controls
			{"/open/request", false},
			{"/open/x/%2e%2e/secret/request", true},
			{"/open/x/%2E%2e/secret/request", true},
			{"/open/./secret/request", true},
			{"/open/x/../secret/request", true},
			{"/open/%73ecret/request", true}, // %73 is "s", unreserved: decoded
			{"/open//secret/request", true},
			{"/open/secret/%2e%2e/request", false}, // climbs out of the protected prefix
			{"/open/secret/./../request", false},
		}
		var targets []vegeta.Target
		for _, c := range cases {
			bare := sc.GET(c.path)
			keyed := sc.GET(c.path + keyedQuery)
			keyed.Header = http.Header{"Apikey": {"alice-key"}}
			targets = append(targets, bare, keyed)
		}
		before1, err := mockbinStats(ctx, m1)
		Expect(err).NotTo(HaveOccurred())
		before2, err := mockbinStats(ctx, m2)
		Expect(err).NotTo(HaveOccurred())
		// 100 rps for 2 s over 20 targets in turn: 10 of each, enough to
		// see a spelling that is routed differently even once.
		run, _, err := sc.Attack(ctx, load.Attack{Name: "path-confusion", Rate: 100, Duration: 2 * time.Second,
			Targets: targets, Connections: 4})
		Expect(err).NotTo(HaveOccurred())
		after1, err := mockbinStats(ctx, m1)
		Expect(err).NotTo(HaveOccurred())
		after2, err := mockbinStats(ctx, m2)
		Expect(err).NotTo(HaveOccurred())

		var wrong, bypass, served int
		for _, c := range cases {
			var st [2]map[string]int // [bare, keyed]: "401", "mockbin1", "mockbin2", other
			st[0], st[1] = map[string]int{}, map[string]int{}
			for _, r := range run.Results {
				keyed := r.URL == sc.Stack.Gateway.ProxyURL+c.path+keyedQuery
				if !keyed && r.URL != sc.Stack.Gateway.ProxyURL+c.path {
					continue
				}
				got := fmt.Sprint(r.Code)
				if r.Code == http.StatusOK {
					got = r.Headers.Get(load.InstanceHeader)
					served++
				}
				st[boolInt(keyed)][got]++
				want := "mockbin1"
				switch {
				case c.protected && !keyed:
					want = "401"
				case c.protected:
					want = "mockbin2"
				}
				if got != want {
					wrong++
				}
				if c.protected && !keyed && r.Code == http.StatusOK {
					bypass++
				}
			}
			GinkgoWriter.Printf("%-34s protected=%-5v bare %v keyed %v\n", c.path, c.protected, st[0], st[1])
		}
		sc.AtLeast("requests sent", float64(len(run.Results)), 200, "", "100 rps × 2 s")
		sc.Equal("keyless requests served from under /open/secret", float64(bypass), 0, "",
			"key-auth guards every spelling whose normalised path is under /open/secret")
		sc.Equal("answers from another route than the normalised path's", float64(wrong), 0, "",
			"Kong routes the normalised path: keyless protected → 401, keyed protected → mockbin2, the rest → mockbin1")
		// mockbin counts each request under its path's first segment: every
		// request the upstreams served must have arrived as /request. The
		// stats read before the run is counted in the one after it.
		var atRequest, elsewhere int64
		for _, d := range [][2]mockbin.Stats{{before1, after1}, {before2, after2}} {
			for path, n := range d[1].Paths {
				switch n -= d[0].Paths[path]; path {
				case "/request":
					atRequest += n
				case mockbin.PathStats:
				default:
					elsewhere += n
					GinkgoWriter.Printf("an upstream saw %d requests under %s\n", n, path)
				}
			}
		}
		sc.Equal("requests the upstreams saw at another path than /request", float64(elsewhere), 0, "",
			"the gateway forwards the normalised remainder, never the client's spelling")
		sc.Equal("upstream requests against 200 answers", float64(atRequest), float64(served), "",
			"each 200 is one upstream request (retries 0), and a 401 never reaches one")
		verify(sc)
	}, NodeTimeout(2*time.Minute))
})
