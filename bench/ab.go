package main

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A/B mode compares two gateway builds or two settings of one build in a
// single run, for performance work on a noisy shared machine: both gateways
// run side by side in front of one mockbin, and wrk alternates between them
// (A B, then B A, ...) so that drift in the machine's load hits both alike.
// It prints each round and the medians, and B/A for throughput and p99.
//
//	go run ./bench -ab -a bin/gateway-old -b bin/gateway -rounds 3 -duration 5s
//	go run ./bench -ab -a bin/gateway -b bin/gateway -b-env GOGC=400
type abSide struct {
	name string
	bin  string
	env  []string
	url  string
	pid  int
	rps  []float64
	p99  []float64 // ms, wrk's latency distribution at saturation
	cpu  []float64 // µs of the gateway's CPU time (user+system) per request
	// with -rate: p99 in ms at that fixed rate (vegeta), per round
	fixedP99 []float64
}

func runAB(binDir, binA, binB, envA, envB string, rounds int, d time.Duration, conns int, path string, rate int) {
	if binA == "" {
		binA = filepath.Join(binDir, "gateway")
	}
	if binB == "" {
		binB = filepath.Join(binDir, "gateway")
	}
	work, err := os.MkdirTemp("", "gauntlet-bench-ab-")
	check(err)
	defer os.RemoveAll(work)
	procs := &processes{dir: work}
	defer procs.stopAll()

	procs.start(nil, filepath.Join(binDir, "mockbin"), "--listen", upstreamAddr, "--name", "bench-upstream")
	waitReady("http://" + upstreamAddr + "/")
	kongYML := filepath.Join(work, "kong.yml")
	check(os.WriteFile(kongYML, []byte(gatewayConfig()), 0o644))
	addrs := pickAddrs(4)
	abProxyA, abAdminA, abProxyB, abAdminB := addrs[0], addrs[1], addrs[2], addrs[3]

	var header []string // wrk's -H and waitReady's name, value
	if strings.HasPrefix(path, pluginsPath) {
		header = []string{"apikey: " + benchAPIKey, "apikey", benchAPIKey}
	}
	wrkHeader := ""
	if header != nil {
		wrkHeader = header[0]
	}
	sides := []*abSide{
		{name: "A", bin: binA, env: splitEnv(envA), url: "http://" + abProxyA + path},
		{name: "B", bin: binB, env: splitEnv(envB), url: "http://" + abProxyB + path},
	}
	for i, s := range sides {
		proxy, admin := abProxyA, abAdminA
		if i == 1 {
			proxy, admin = abProxyB, abAdminB
		}
		s.pid = procs.startGateway(s.env, s.bin, kongYML, proxy, admin, "--database", "off")
		if header != nil {
			waitReady(s.url, header[1:]...)
		} else {
			waitReady(s.url)
		}
		log.Printf("%s: %s %s", s.name, s.bin, strings.Join(s.env, " "))
	}
	// A short warm-up each, so neither side pays for first connections and
	// heap growth inside a measured round.
	for _, s := range sides {
		runWrk(s.url, wrkHeader, 2*time.Second, conns)
	}
	for r := 0; r < rounds; r++ {
		order := sides
		if r%2 == 1 {
			order = []*abSide{sides[1], sides[0]}
		}
		for _, s := range order {
			cpu0 := cpuTime(s.pid)
			rps, p99 := runWrk(s.url, wrkHeader, d, conns)
			cpu := float64((cpuTime(s.pid) - cpu0).Microseconds()) / (rps * d.Seconds())
			s.rps, s.p99, s.cpu = append(s.rps, rps), append(s.p99, p99), append(s.cpu, cpu)
			log.Printf("round %d %s: %8.0f rps, p99 %6.2f ms, %6.1f µs CPU/request", r+1, s.name, rps, p99, cpu)
		}
	}
	if rate > 0 {
		var h http.Header
		if header != nil {
			h = http.Header{header[1]: {header[2]}}
		}
		for r := 0; r < rounds; r++ {
			order := sides
			if r%2 == 1 {
				order = []*abSide{sides[1], sides[0]}
			}
			for _, s := range order {
				var m vegeta.Metrics
				attack(&m, s.url, h, rate, d)
				m.Close()
				s.fixedP99 = append(s.fixedP99, ms(m.Latencies.P99))
				log.Printf("round %d %s at %d rps: p50 %.2f ms, p99 %.2f ms, success %.4f", r+1, s.name, rate,
					ms(m.Latencies.P50), ms(m.Latencies.P99), m.Success)
			}
		}
	}
	a, b := sides[0], sides[1]
	ra, rb := median(a.rps), median(b.rps)
	pa, pb := median(a.p99), median(b.p99)
	ca, cb := median(a.cpu), median(b.cpu)
	// Each round's B/A comes from two runs seconds apart, so it is less
	// exposed to the machine's drift than the ratio of the medians.
	var pairRPS, pairCPU []float64
	for i := range a.rps {
		pairRPS = append(pairRPS, b.rps[i]/a.rps[i])
		pairCPU = append(pairCPU, b.cpu[i]/a.cpu[i])
	}
	fmt.Printf("\nA/B, %d rounds of %s, %d conns, median of each:\n", rounds, d, conns)
	fmt.Printf("  A %8.0f rps  p99 %6.2f ms  %6.1f µs CPU/req  (%s %s)\n", ra, pa, ca, a.bin, strings.Join(a.env, " "))
	fmt.Printf("  B %8.0f rps  p99 %6.2f ms  %6.1f µs CPU/req  (%s %s)\n", rb, pb, cb, b.bin, strings.Join(b.env, " "))
	fmt.Printf("  B/A throughput %.3f (median of rounds %.3f), p99 %.3f, CPU per request %.3f (median of rounds %.3f)\n",
		rb/ra, median(pairRPS), pb/pa, cb/ca, median(pairCPU))
	if rate > 0 {
		fa, fb := median(a.fixedP99), median(b.fixedP99)
		fmt.Printf("  at %d rps (vegeta): p99 A %.2f ms, B %.2f ms, B/A %.3f\n", rate, fa, fb, fb/fa)
	}
}

// processTreeCPU is the CPU time of pid and its direct children (nginx's
// workers under its master).
func processTreeCPU(pid int) time.Duration {
	total := cpuTime(pid)
	entries, err := os.ReadDir("/proc")
	check(err)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue // gone meanwhile
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) { // field 4: ppid
			total += cpuTime(child)
		}
	}
	return total
}

// cpuTime is a process's user plus system CPU time so far, from
// /proc/<pid>/stat (Linux). CPU per request is the steadiest measure on a
// shared machine: other load changes how many requests fit in a second far
// more than what each one costs.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	check(errors.Join(err1, err2))
	// USER_HZ is 100 on every Linux ABI Go supports.
	return time.Duration(utime+stime) * (time.Second / 100)
}

func splitEnv(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Fields(s)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var wrkP99 = regexp.MustCompile(`\n\s+99%\s+([0-9.]+)(us|ms|s)\b`)

// runWrk runs wrk once and returns its requests/s and the p99 of its
// latency distribution in milliseconds.
func runWrk(url, header string, d time.Duration, conns int) (rps, p99ms float64) {
	d = d.Truncate(time.Second) // wrk rejects fractions
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency"}
	if header != "" {
		args = append(args, "-H", header)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		fatalf("wrk %s: %v\n%s", url, err, out)
	}
	if m := wrkErrors.FindSubmatch(out); m != nil {
		fatalf("wrk %s: %s non-2xx responses: the comparison would be unfair\n%s", url, m[1], out)
	}
	m := wrkRequests.FindSubmatch(out)
	if m == nil {
		fatalf("wrk %s: no Requests/sec in output\n%s", url, out)
	}
	rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := wrkP99.FindSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		switch string(m[2]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		p99ms = v
	}
	return rps, p99ms
}

// started holds every server this run started, so fatalf can stop them:
// log.Fatal exits without running deferred calls, and an early failure (wrk
// refusing an argument) used to leave the gateway, nginx, HAProxy and mockbin
// running after the run.
var started []*exec.Cmd

// fatalf stops the servers this run started, then exits like log.Fatalf.
func fatalf(format string, args ...any) {
	stopReverse(started)
	log.Fatalf(format, args...)
}

// processes starts the benchmark's servers with their output in dir and
// stops them all at the end.
type processes struct {
	dir   string
	procs []*exec.Cmd
	n     int
}

func (p *processes) start(env []string, name string, args ...string) (pid int) {
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return p.run(cmd)
}

// run starts a prepared command (one that needs SysProcAttr, as PostgreSQL
// does) as start does: output to a log in dir, stopped by stopAll.
func (p *processes) run(cmd *exec.Cmd) (pid int) {
	p.n++
	logFile, err := os.Create(filepath.Join(p.dir, fmt.Sprintf("%d-%s.log", p.n, filepath.Base(cmd.Path))))
	check(err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	check(cmd.Start())
	p.procs = append(p.procs, cmd)
	started = append(started, cmd)
	return cmd.Process.Pid
}

// stopAll stops the servers, the last started first: a gateway node before
// the PostgreSQL it uses, whose smart shutdown (SIGTERM) waits until every
// client has disconnected.
func (p *processes) stopAll() { stopReverse(p.procs) }

func stopReverse(cmds []*exec.Cmd) {
	for i := len(cmds) - 1; i >= 0; i-- {
		_ = cmds[i].Process.Signal(syscall.SIGTERM)
		_ = cmds[i].Wait()
	}
}
