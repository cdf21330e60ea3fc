// Command bench compares the gateway (DB-less with 1 route, with 1,000 routes,
// and with key-auth + rate-limiting; and with the same 1 route on the embedded
// store and on PostgreSQL, one node, whose throughput must equal the embedded
// store's within noise: the request path never touches the database) with
// nginx, HAProxy, Caddy and a naive httputil.ReverseProxy in front of the same
// upstream on loopback, plus the upstream direct: maximum throughput with wrk,
// then latency at a fixed rate (half of nginx's maximum, or less when vegeta
// cannot send that many here; see latencyRate) with vegeta. Both phases run
// in interleaved rounds, so drift in a shared machine's load hits every
// contender alike. Absolute numbers drift between machines; the ratios inside
// one run are the result. The "own CPU µs/req" column (each contender's CPU
// time per request under wrk) is the steadiest figure on a busy machine.
//
// Run it through `make bench`, which installs nginx, haproxy, caddy, wrk and
// postgresql first (a throwaway PostgreSQL server runs in a temporary dir;
// see postgres.go). Each contender's resident memory under wrk is sampled too.
// For performance work, -ab compares two gateway builds or settings in one
// run (see ab.go), e.g.
//
//	go run ./bench -ab -a /tmp/gateway-old -b bin/gateway -rounds 5 -duration 3s -rate 6000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Loopback addresses, on ports free at start (see pickAddrs): fixed ports let
// a stale server of an earlier, interrupted run answer in place of the one
// this run starts, and the run would quietly measure the wrong process.
var (
	upstreamAddr string
	gatewayProxy string
	gatewayAdmin string
	nginxAddr    string
	haproxyAddr  string
	caddyAddr    string
	naiveAddr    string
	gateway1k    string // the gateway with 1,000 routes
	gateway1kAdm string
	gatewayEmb   string // the gateway on the embedded store
	gatewayEmbAd string
	gatewayPG    string // the gateway on PostgreSQL
	gatewayPGAdm string
	postgresAddr string
)

const (
	benchAPIKey    = "bench-key"
	pluginsPath    = "/plugins"
	readyDeadline  = 20 * time.Second
	latencyTimeout = 5 * time.Second
)

type contender struct {
	Name string `json:"name"`
	URL  string `json:"url"`

	MaxRPS  float64 `json:"max_rps"`
	Rate    int     `json:"fixed_rate"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	Success float64 `json:"success_ratio"`
	// CPUPerReq is the contender's own CPU time (user+system, all its
	// processes; the upstream's for direct) per request under wrk.
	CPUPerReq float64 `json:"cpu_us_per_request"`
	// DBCPUPerReq is the database server's CPU time (all its processes) per
	// request under wrk, for the postgres row: the request path never
	// touches the database, so it should be close to 0.
	DBCPUPerReq float64 `json:"db_cpu_us_per_request,omitempty"`
	// RSSMB is the contender's resident memory (all its processes), the
	// highest sampled while wrk ran.
	RSSMB     float64 `json:"rss_mb_under_wrk"`
	VsNginx   float64 `json:"throughput_vs_nginx"`
	P99VsNgx  float64 `json:"p99_vs_nginx"`
	header    http.Header
	wrkHeader string
	pid       int
	dbPID     int
}

func main() {
	binDir := flag.String("bin", "bin", "directory with the gateway and mockbin binaries")
	outDir := flag.String("out", "bench/out", "where bench.json and bench.md go")
	duration := flag.Duration("duration", 10*time.Second, "length of each wrk and vegeta run")
	conns := flag.Int("connections", 64, "wrk connections")
	ab := flag.Bool("ab", false, "A/B mode: two gateways (-a, -b, -a-env, -b-env) interleaved, -rounds each; see ab.go")
	binA := flag.String("a", "", "A/B: gateway binary A (default <bin>/gateway)")
	binB := flag.String("b", "", "A/B: gateway binary B (default <bin>/gateway)")
	envA := flag.String("a-env", "", "A/B: extra environment of A, space-separated NAME=value")
	envB := flag.String("b-env", "", "A/B: extra environment of B, space-separated NAME=value")
	rounds := flag.Int("rounds", 3, "wrk rounds per contender, interleaved (comparison: each lasts duration/rounds, at least 2s; A/B: each lasts duration)")
	fixedRate := flag.Int("rate", 0, "rate of the latency phase (default: half of nginx's max, lowered to what vegeta can send on this machine); in A/B mode, adds a latency phase at this rate")
	reqPath := flag.String("path", "/", "request path on the upstream, e.g. /request for mockbin's HAR echo (A/B: /plugins/ goes through key-auth and rate-limiting)")
	naive := flag.String("naive-proxy", "", "internal: LISTEN,UPSTREAM serves a plain httputil.ReverseProxy (the naive Go row)")
	flag.Parse()
	log.SetFlags(0)
	if *naive != "" {
		serveNaive(*naive)
		return
	}
	addrs := pickAddrs(14)
	upstreamAddr, gatewayProxy, gatewayAdmin, nginxAddr, haproxyAddr = addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]
	caddyAddr, naiveAddr, gateway1k, gateway1kAdm = addrs[5], addrs[6], addrs[7], addrs[8]
	gatewayEmb, gatewayEmbAd, gatewayPG, gatewayPGAdm, postgresAddr = addrs[9], addrs[10], addrs[11], addrs[12], addrs[13]
	if *ab {
		runAB(*binDir, *binA, *binB, *envA, *envB, *rounds, *duration, *conns, *reqPath, *fixedRate)
		return
	}

	work, err := os.MkdirTemp("", "gauntlet-bench-")
	check(err)
	defer os.RemoveAll(work)

	procs := &processes{dir: work}
	defer procs.stopAll()
	start := func(name string, args ...string) int { return procs.start(nil, name, args...) }

	upstreamPID := start(filepath.Join(*binDir, "mockbin"), "--listen", upstreamAddr, "--name", "bench-upstream")
	waitReady("http://" + upstreamAddr + "/")

	gatewayBin := filepath.Join(*binDir, "gateway")
	kongYML := filepath.Join(work, "kong.yml")
	check(os.WriteFile(kongYML, []byte(gatewayConfig()), 0o644))
	gatewayPID := procs.startGateway(nil, gatewayBin, kongYML, gatewayProxy, gatewayAdmin, "--database", "off")
	waitReady("http://" + gatewayProxy + "/")

	kong1kYML := filepath.Join(work, "kong-1k.yml")
	check(os.WriteFile(kong1kYML, []byte(gatewayConfig1k()), 0o644))
	gateway1kPID := procs.startGateway(nil, gatewayBin, kong1kYML, gateway1k, gateway1kAdm, "--database", "off")
	waitReady("http://" + gateway1k + manyRoutesPath + "/")

	// The embedded store and PostgreSQL: the same kong.yml seeds the empty
	// store, so these nodes route exactly as the DB-less one.
	gatewayEmbPID := procs.startGateway(nil, gatewayBin, kongYML, gatewayEmb, gatewayEmbAd,
		"--database", "embedded", "--data-dir", filepath.Join(work, "embedded-data"))
	waitReady("http://" + gatewayEmb + "/")
	postgresPID, pgFlags := startPostgres(procs, work, gatewayBin, postgresAddr)
	gatewayPGPID := procs.startGateway(nil, gatewayBin, kongYML, gatewayPG, gatewayPGAdm,
		append(pgFlags, "--data-dir", filepath.Join(work, "postgres-node-data"))...)
	waitReady("http://" + gatewayPG + "/")

	caddyfile := filepath.Join(work, "Caddyfile")
	check(os.WriteFile(caddyfile, []byte(fmt.Sprintf(caddyConfig, caddyAddr, upstreamAddr)), 0o644))
	caddyPID := procs.start([]string{"HOME=" + work, "XDG_DATA_HOME=" + work, "XDG_CONFIG_HOME=" + work},
		"caddy", "run", "--config", caddyfile, "--adapter", "caddyfile")
	waitReady("http://" + caddyAddr + "/")

	self, err := os.Executable()
	check(err)
	naivePID := start(self, "-naive-proxy", naiveAddr+","+upstreamAddr)
	waitReady("http://" + naiveAddr + "/")

	nginxConf := filepath.Join(work, "nginx.conf")
	check(os.WriteFile(nginxConf, []byte(fmt.Sprintf(nginxConfig, work, work, nginxAddr, upstreamAddr)), 0o644))
	nginxPID := start("nginx", "-p", work, "-c", nginxConf)
	waitReady("http://" + nginxAddr + "/")

	haproxyConf := filepath.Join(work, "haproxy.cfg")
	check(os.WriteFile(haproxyConf, []byte(fmt.Sprintf(haproxyConfig, haproxyAddr, upstreamAddr)), 0o644))
	haproxyPID := start("haproxy", "-db", "-f", haproxyConf)
	waitReady("http://" + haproxyAddr + "/")

	// Every contender requests the same upstream path: the gateway's plain
	// route strips "/", the plugins route strips pluginsPath.
	path := *reqPath
	if !strings.HasPrefix(path, "/") {
		log.Fatalf("-path %q must start with /", path)
	}
	contenders := []*contender{
		{Name: "direct", URL: "http://" + upstreamAddr + path, pid: upstreamPID},
		{Name: "nginx", URL: "http://" + nginxAddr + path, pid: nginxPID},
		{Name: "haproxy", URL: "http://" + haproxyAddr + path, pid: haproxyPID},
		{Name: "caddy", URL: "http://" + caddyAddr + path, pid: caddyPID},
		{Name: "naive httputil.ReverseProxy", URL: "http://" + naiveAddr + path, pid: naivePID},
		{Name: "gateway", URL: "http://" + gatewayProxy + path, pid: gatewayPID},
		{Name: "gateway, 1,000 routes", URL: "http://" + gateway1k + manyRoutesPath + path, pid: gateway1kPID},
		{Name: "gateway, embedded store", URL: "http://" + gatewayEmb + path, pid: gatewayEmbPID},
		{Name: "gateway, postgres (1 node)", URL: "http://" + gatewayPG + path, pid: gatewayPGPID, dbPID: postgresPID},
		{Name: "gateway+key-auth+rate-limiting", URL: "http://" + gatewayProxy + pluginsPath + path, pid: gatewayPID,
			header: http.Header{"Apikey": []string{benchAPIKey}}, wrkHeader: "apikey: " + benchAPIKey},
	}
	waitReady(contenders[len(contenders)-1].URL, "apikey", benchAPIKey)

	// Throughput in interleaved rounds: on a shared machine the load drifts,
	// and running each contender once, one after the other, would hand the
	// drift to whoever runs last. Each contender's result is its median.
	if *rounds < 1 {
		*rounds = 1
	}
	// wrk takes whole seconds only.
	wrkRun := (*duration / time.Duration(*rounds)).Truncate(time.Second)
	if wrkRun < 2*time.Second {
		wrkRun = 2 * time.Second
	}
	rpsRuns := make([][]float64, len(contenders))
	rss := make([]float64, len(contenders))
	cpuUsed := make([]time.Duration, len(contenders))
	dbCPUUsed := make([]time.Duration, len(contenders))
	requests := make([]float64, len(contenders))
	for r := 0; r < *rounds; r++ {
		for i, c := range contenders {
			cpu0, dbCPU0 := processTreeCPU(c.pid), dbCPU(c)
			stopRSS := sampleRSS(c.pid, &rss[i])
			rps, _ := runWrk(c.URL, c.wrkHeader, wrkRun, *conns)
			stopRSS()
			cpuUsed[i] += processTreeCPU(c.pid) - cpu0
			dbCPUUsed[i] += dbCPU(c) - dbCPU0
			requests[i] += rps * wrkRun.Seconds()
			rpsRuns[i] = append(rpsRuns[i], rps)
			log.Printf("round %d %-32s %8.0f rps", r+1, c.Name, rps)
		}
	}
	for i, c := range contenders {
		c.MaxRPS = median(rpsRuns[i])
		c.CPUPerReq = float64(cpuUsed[i].Microseconds()) / requests[i]
		c.RSSMB = rss[i]
		log.Printf("%-32s max %8.0f rps (median of %d), %.1f µs CPU per request, RSS %.1f MB", c.Name, c.MaxRPS, *rounds, c.CPUPerReq, c.RSSMB)
		if c.dbPID != 0 {
			c.DBCPUPerReq = float64(dbCPUUsed[i].Microseconds()) / requests[i]
			log.Printf("%-32s its database: %.2f µs CPU per request", "", c.DBCPUPerReq)
		}
	}
	nginx := contenders[1]
	rate, rateNote := *fixedRate, "set by -rate"
	if rate <= 0 {
		rate, rateNote = latencyRate(nginx, int(nginx.MaxRPS/2))
	}
	log.Printf("latency phase at %d rps: %s", rate, rateNote)
	// Interleaved like the throughput rounds; each contender's latencies from
	// all rounds go into one distribution.
	latencies := make([]*vegeta.Metrics, len(contenders))
	for i := range contenders {
		latencies[i] = new(vegeta.Metrics)
	}
	for r := 0; r < *rounds; r++ {
		for i, c := range contenders {
			attack(latencies[i], c.URL, c.header, rate, wrkRun)
		}
	}
	for i, c := range contenders {
		m := latencies[i]
		m.Close()
		c.Rate = rate
		c.P50ms = ms(m.Latencies.P50)
		c.P99ms = ms(m.Latencies.P99)
		c.MaxMs = ms(m.Latencies.Max)
		c.Success = m.Success
		log.Printf("%-32s at %d rps: p50 %.2f ms, p99 %.2f ms, success %.4f", c.Name, rate, c.P50ms, c.P99ms, c.Success)
	}
	for _, c := range contenders {
		c.VsNginx = c.MaxRPS / nginx.MaxRPS
		if nginx.P99ms > 0 {
			c.P99VsNgx = c.P99ms / nginx.P99ms
		}
	}
	check(os.MkdirAll(*outDir, 0o755))
	table := markdown(contenders, rate, *rounds, wrkRun, *conns) + "\nLatency phase rate: " + rateNote + ".\n"
	fmt.Print("\n" + table)
	js, err := json.MarshalIndent(map[string]any{
		"date": time.Now().UTC().Format(time.RFC3339), "duration": duration.String(), "connections": *conns,
		"wrk_rounds": *rounds, "wrk_run": wrkRun.String(),
		"fixed_rate": rate, "fixed_rate_note": rateNote, "contenders": contenders,
	}, "", "  ")
	check(err)
	check(os.WriteFile(filepath.Join(*outDir, "bench.json"), js, 0o644))
	check(os.WriteFile(filepath.Join(*outDir, "bench.md"), []byte(table), 0o644))
	log.Printf("wrote %s and %s", filepath.Join(*outDir, "bench.json"), filepath.Join(*outDir, "bench.md"))
}

var wrkRequests = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
var wrkErrors = regexp.MustCompile(`Non-2xx or 3xx responses:\s+([0-9]+)`)

// newAttacker keeps vegeta on at most 256 keep-alive connections. Unbounded,
// a vegeta that falls behind opens a new connection per late request and
// closes it again, the closed ones pile up in TIME_WAIT (20,000+ after one
// run), loopback runs out of ephemeral ports, and every later contender's
// latency and success measure connect failures.
// The caller closes the transport's idle connections after the attack, so
// no round leaves hundreds of open connections to the next.
func newAttacker() (*vegeta.Attacker, *http.Transport) {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	return vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr, Timeout: latencyTimeout})), tr
}

// attack runs one fixed-rate attack and adds its results to m; the caller
// closes m once every round is in. An Attacker stops for good at the end of
// its attack, so each round gets a new one.
func attack(m *vegeta.Metrics, url string, header http.Header, rate int, d time.Duration) {
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url, Header: header})
	attacker, tr := newAttacker()
	defer tr.CloseIdleConnections()
	for res := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, d, url) {
		m.Add(res)
	}
}

// latencyRate is the fixed rate of the latency phase: half of nginx's
// maximum, unless vegeta cannot send that many on this machine. vegeta is a Go
// client in this process and costs far more per request than wrk; past its
// limit it falls behind its schedule and every contender's p99 measures the
// load generator's own backlog, not the proxy. So the rate steps down by a
// quarter until a short attack through nginx, the reference, keeps up with
// room to spare: 99% of the scheduled requests sent and answered, p99 under
// 10 ms (nginx's p99 well below its saturation is a few ms here; a looser
// bound let a rate at the edge through, and the measured phase then found
// everyone saturated).
func latencyRate(ref *contender, want int) (rate int, note string) {
	const probe = 3 * time.Second
	rate = want
	for i := 0; i < 6 && rate > 100; i++ {
		targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: ref.URL})
		attacker, tr := newAttacker()
		var m vegeta.Metrics
		for res := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, probe, "probe") {
			m.Add(res)
		}
		m.Close()
		tr.CloseIdleConnections()
		sent := float64(m.Requests) / (float64(rate) * probe.Seconds())
		if sent >= 0.99 && m.Success >= 0.999 && m.Latencies.P99 < 10*time.Millisecond {
			if rate == want {
				return rate, fmt.Sprintf("half of nginx's max (%d rps)", want)
			}
			return rate, fmt.Sprintf("half of nginx's max would be %d rps, more than vegeta sends through nginx on this machine; lowered to %d rps, the highest it kept up with", want, rate)
		}
		log.Printf("vegeta cannot keep %d rps through nginx (%.0f%% sent, p99 %s): lowering", rate, 100*sent, m.Latencies.P99)
		rate = rate * 3 / 4
	}
	return rate, fmt.Sprintf("half of nginx's max would be %d rps; vegeta kept up with no probed rate, so %d rps is an upper bound that still saturates it", want, rate)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func markdown(cs []*contender, rate int, rounds int, wrkRun time.Duration, conns int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| %s | max rps (wrk, %d conns, median of %d × %s) | ×nginx | own CPU µs/req | CPU ×nginx | RSS MB under wrk | p50 ms @%d rps | p99 ms @%d rps (vegeta, %d × %s) | p99 ×nginx | success |\n",
		"contender", conns, rounds, wrkRun, rate, rate, rounds, wrkRun)
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var ngxCPU float64
	for _, c := range cs {
		if c.Name == "nginx" {
			ngxCPU = c.CPUPerReq
		}
	}
	for _, c := range cs {
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.1f | %.2f | %.1f | %.2f | %.2f | %.2f | %.4f |\n", c.Name, c.MaxRPS, c.VsNginx, c.CPUPerReq, c.CPUPerReq/ngxCPU, c.RSSMB, c.P50ms, c.P99ms, c.P99VsNgx, c.Success)
	}
	byName := map[string]*contender{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	if g, k, m, cd := byName["gateway"], byName["gateway+key-auth+rate-limiting"], byName["gateway, 1,000 routes"], byName["caddy"]; g != nil && k != nil && m != nil && cd != nil {
		fmt.Fprintf(&b, "\nGateway throughput ×caddy %.2f; key-auth + rate-limiting ×plain %.2f; 1,000 routes ×1 route %.2f.\n",
			g.MaxRPS/cd.MaxRPS, k.MaxRPS/g.MaxRPS, m.MaxRPS/g.MaxRPS)
	}
	// Postgres ×embedded must be 1 within noise: the request path reads the
	// node's in-memory configuration, never the database.
	if e, p := byName["gateway, embedded store"], byName["gateway, postgres (1 node)"]; e != nil && p != nil {
		fmt.Fprintf(&b, "\nPostgres (1 node) ×embedded store: throughput %.2f, own CPU/req %.2f (PostgreSQL's own CPU meanwhile %.2f µs/req).\n",
			p.MaxRPS/e.MaxRPS, p.CPUPerReq/e.CPUPerReq, p.DBCPUPerReq)
	}
	return b.String()
}

// waitReady polls a URL until it answers 200, or gives up at the deadline.
func waitReady(url string, header ...string) {
	deadline := time.Now().Add(readyDeadline)
	for {
		req, _ := http.NewRequest("GET", url, nil)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			fatalf("%s not ready after %s (last: %v)", url, readyDeadline, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pickAddrs returns n loopback addresses whose ports are free now: all n
// listeners are held open together so the ports differ, then closed for the
// servers to take.
func pickAddrs(n int) []string {
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		check(err)
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

// startGateway starts a gateway node serving kongYML on proxy and admin.
// store is --database and its settings: DB-less ("off") loads the file; the
// embedded store and PostgreSQL take it as the seed of an empty store.
func (p *processes) startGateway(env []string, bin, kongYML, proxy, admin string, store ...string) (pid int) {
	args := append([]string{"--declarative-config", kongYML, "--proxy-listen", proxy, "--admin-listen", admin,
		"--log-level", "error"}, store...)
	return p.start(env, bin, args...)
}

// dbCPU is the CPU time so far of c's database server (0 without one).
func dbCPU(c *contender) time.Duration {
	if c.dbPID == 0 {
		return 0
	}
	return processTreeCPU(c.dbPID)
}

// gatewayConfig routes / plainly, and /plugins through key-auth and a
// rate limit far above what the benchmark can reach, so the row measures the
// plugins' cost, never their rejections.
func gatewayConfig() string {
	return `_format_version: "3.0"
services:
- name: bench
  url: http://` + upstreamAddr + `
  routes:
  - name: plain
    paths: ["/"]
- name: bench-plugins
  url: http://` + upstreamAddr + `
  routes:
  - name: with-plugins
    paths: ["` + pluginsPath + `"]
  plugins:
  - name: key-auth
  - name: rate-limiting
    config:
      second: 1000000000
      policy: local
consumers:
- username: bench
  keyauth_credentials:
  - key: ` + benchAPIKey + `
`
}

// manyRoutesPath is the prefix of the route the 1,000-route gateway is
// measured on: one of 1,000 prefix routes, in the middle of their order.
const manyRoutesPath = "/route-500"

// gatewayConfig1k has 1,000 prefix routes on one service (route-0 to
// route-999; strip_path sends the rest of the path upstream), the router's
// case for a real deployment's configuration.
func gatewayConfig1k() string {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n- name: many\n  url: http://" + upstreamAddr + "\n  routes:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "  - name: route-%d\n    paths: [\"/route-%d\"]\n", i, i)
	}
	return b.String()
}

// caddyConfig: Caddy 2.6's reverse_proxy with its defaults (it keeps upstream
// connections alive), no admin endpoint, no automatic HTTPS, no access log.
const caddyConfig = `{
	admin off
	auto_https off
}
http://%s {
	reverse_proxy %s
}
`

// serveNaive is the naive Go row: httputil.ReverseProxy on net/http with the
// default transport, which is what a Go shop writes first.
func serveNaive(arg string) {
	listen, up, ok := strings.Cut(arg, ",")
	if !ok {
		log.Fatalf("-naive-proxy %q: want LISTEN,UPSTREAM", arg)
	}
	target := &url.URL{Scheme: "http", Host: up}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	log.Fatal(http.ListenAndServe(listen, rp))
}

// sampleRSS samples the resident memory of pid and its children every 100
// ms until stop is called, keeping the highest value (MB) in *max.
func sampleRSS(pid int, max *float64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if mb := processTreeRSS(pid); mb > *max {
				*max = mb
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// processTreeRSS is VmRSS of pid and its direct children, in MB.
func processTreeRSS(pid int) float64 {
	total := rssKB(pid)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			total += rssKB(child)
		}
	}
	return float64(total) / 1024
}

func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// nginxConfig is tuned as the gateway is: 2 workers, upstream keep-alive.
const nginxConfig = `worker_processes 2;
daemon off;
pid %s/nginx.pid;
error_log %s/nginx-error.log error;
events { worker_connections 8192; }
http {
  access_log off;
  upstream backend { server %[4]s; keepalive 256; }
  server {
    listen %[3]s backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`

// haproxyConfig: 2 threads, connection reuse to the upstream.
const haproxyConfig = `global
  nbthread 2
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend bench
  bind %s
  default_backend upstream
backend upstream
  server s1 %s maxconn 1000
`
