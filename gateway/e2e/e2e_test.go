// Package e2e tests the gateway as separate operating-system processes: the
// properties here (one limit shared by two nodes, surviving kill -9) are about
// processes, so in-process tests cannot prove them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	mockbin "github.com/gauntlet-dev/gauntlet/mockbin/server"
)

var gatewayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gauntlet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatewayBin = filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-o", gatewayBin, "github.com/gauntlet-dev/gauntlet/gateway")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build gateway: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type gatewayProc struct {
	cmd   *exec.Cmd
	proxy string
	admin string
	log   *syncBuffer
}

// syncBuffer is the process's output: exec copies into it while a failing
// test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startGateway runs the gateway binary and waits until its Admin API answers.
func startGateway(t *testing.T, args ...string) *gatewayProc {
	t.Helper()
	proxyPort, adminPort := freePort(t), freePort(t)
	g := &gatewayProc{
		proxy: "http://127.0.0.1:" + strconv.Itoa(proxyPort),
		admin: "http://127.0.0.1:" + strconv.Itoa(adminPort),
		log:   &syncBuffer{},
	}
	g.cmd = exec.Command(gatewayBin, append([]string{
		"--proxy-listen", "127.0.0.1:" + strconv.Itoa(proxyPort),
		"--admin-listen", "127.0.0.1:" + strconv.Itoa(adminPort),
	}, args...)...)
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			_ = g.cmd.Process.Kill()
			_ = g.cmd.Wait()
		}
	})
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get(g.admin + "/status")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, func() string { return "gateway did not answer /status:\n" + g.log.String() })
	return g
}

func (g *gatewayProc) kill(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = g.cmd.Wait()
}

func startRedis(t *testing.T) int {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found: install the Debian package redis-server (make test does): %v", err)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, 5*time.Second, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return false
		}
		defer c.Close()
		_, _ = c.Write([]byte("PING\r\n"))
		buf := make([]byte, 7)
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := io.ReadFull(c, buf)
		return string(buf[:n]) == "+PONG\r\n"
	}, func() string { return "redis-server did not answer PING" })
	return port
}

func waitFor(t *testing.T, within time.Duration, cond func() bool, why func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, why())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRateLimitExactAcrossTwoProcesses: 200 concurrent clients fire 1,000
// requests, spread over two gateway processes that share one real Redis, at a
// limit of minute=100: exactly 100 are admitted in total, the 900 others get
// 429 with Retry-After. Kong's redis policy over-admits here (Kong #2629).
func TestRateLimitExactAcrossTwoProcesses(t *testing.T) {
	const clients, requests, limit = 200, 1000, 100
	upstream := httptest.NewServer(mockbin.New(mockbin.WithName("upstream")))
	defer upstream.Close()
	redisPort := startRedis(t)
	kongYML := filepath.Join(t.TempDir(), "kong.yml")
	yml := fmt.Sprintf(`_format_version: "3.0"
services:
- name: limited
  url: %s
  routes:
  - name: limited
    paths: ["/limited"]
  plugins:
  - name: rate-limiting
    config:
      minute: %d
      policy: redis
      fault_tolerant: false
      redis:
        host: 127.0.0.1
        port: %d
`, upstream.URL, limit, redisPort)
	if err := os.WriteFile(kongYML, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := []*gatewayProc{
		startGateway(t, "--database", "off", "--declarative-config", kongYML),
		startGateway(t, "--database", "off", "--declarative-config", kongYML),
	}

	// The counters are minute windows aligned to UTC: start in a fresh minute
	// with room to finish inside it, so a rollover cannot reset the count.
	start := time.Now().UTC()
	if left := start.Truncate(time.Minute).Add(time.Minute).Sub(start); left < 20*time.Second {
		time.Sleep(left + 100*time.Millisecond)
		start = time.Now().UTC()
	}

	var (
		mu         sync.Mutex
		statuses   = map[int]int{}
		noRetry    int
		perNode    = make([]int, len(nodes))
		next       = make(chan int, requests)
		wg         sync.WaitGroup
		httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}
	)
	for i := 0; i < requests; i++ {
		next <- i
	}
	close(next)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				node := i % len(nodes)
				resp, err := httpClient.Get(nodes[node].proxy + "/limited/request")
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode == 200 {
					perNode[node]++
				}
				if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
					noRetry++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if end := time.Now().UTC(); !end.Truncate(time.Minute).Equal(start.Truncate(time.Minute)) {
		t.Fatalf("the burst crossed a minute boundary (%s → %s): the count spans two windows", start, end)
	}
	if statuses[200] != limit || statuses[429] != requests-limit {
		t.Fatalf("statuses %v: want exactly %d × 200 and %d × 429", statuses, limit, requests-limit)
	}
	if noRetry != 0 {
		t.Errorf("%d rejections without Retry-After", noRetry)
	}
	// Both nodes admitted some: the shared count, not one node's, is what held.
	if perNode[0] == 0 || perNode[1] == 0 {
		t.Errorf("admitted per node %v: want both nodes to have admitted requests", perNode)
	}
}

// TestKillDashNineDuringWrites kills the gateway process while the Admin API is
// being written to, restarts it on the same data directory, and finds every
// acknowledged write intact and traffic flowing.
func TestKillDashNineDuringWrites(t *testing.T) {
	upstream := httptest.NewServer(mockbin.New(mockbin.WithName("upstream")))
	defer upstream.Close()
	dir := t.TempDir()
	g := startGateway(t, "--data-dir", dir)
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	mustCreate := func(path string, v url.Values) {
		resp, err := http.PostForm(g.admin+path, v)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("POST %s = %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	mustCreate("/services", form("name", "svc", "url", upstream.URL))
	mustCreate("/services/svc/routes", form("name", "r", "paths[]", "/x"))

	// Write services as fast as the Admin API acknowledges them; kill -9 once
	// 50 are acknowledged, while more are in flight.
	acked := make(chan int, 10000)
	ctx, stop := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	for w := 0; w < 4; w++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := w; ctx.Err() == nil && i < 40000; i += 4 {
				resp, err := http.PostForm(g.admin+"/services", form("name", fmt.Sprintf("s-%d", i), "url", upstream.URL))
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == 201 {
					acked <- i
				}
			}
		}()
	}
	waitFor(t, 20*time.Second, func() bool { return len(acked) >= 50 }, func() string { return "writes not acknowledged" })
	g.kill(t)
	stop()
	writers.Wait()
	close(acked)

	g2 := startGateway(t, "--data-dir", dir)
	resp, err := http.Get(g2.admin + "/services?size=1000")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []struct {
			Name string `json:"name"`
			Host string `json:"host"`
		} `json:"data"`
		Next *string `json:"next"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatalf("decode services after restart: %v", err)
	}
	resp.Body.Close()
	if page.Next != nil {
		t.Fatalf("more than one page of services (%d): the check below would miss some", len(page.Data))
	}
	stored := map[string]bool{}
	for _, s := range page.Data {
		if s.Host != "127.0.0.1" {
			t.Errorf("service %s came back broken: host %q", s.Name, s.Host)
		}
		stored[s.Name] = true
	}
	n := 0
	for i := range acked {
		n++
		if !stored[fmt.Sprintf("s-%d", i)] {
			t.Errorf("acknowledged service s-%d lost by kill -9", i)
		}
	}
	if n < 50 {
		t.Fatalf("only %d writes acknowledged", n)
	}
	r, err := http.Get(g2.proxy + "/x/request")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("traffic after restart: %v %v", r, err)
	}
	r.Body.Close()
}
