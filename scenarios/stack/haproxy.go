package stack

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/chaos"
)

// LoadBalancer is a cluster stack's HAProxy (component "haproxy"): the one
// address clients use, spreading requests over the gateway nodes and taking
// a node out when its health check fails, as a production deployment does.
type LoadBalancer struct {
	Node chaos.Node
	// URL is the proxy address reachable from the harness.
	URL string
	// StatsURL is HAProxy's statistics page (the servers' states).
	StatsURL string
}

// Ports of the HAProxy container: the proxy and the statistics page.
const (
	HAProxyPort      = 8000
	HAProxyStatsPort = 8404
	// haproxyBackend is the backend of the gateway nodes in the config.
	haproxyBackend = "gateways"
	// ServedByHeader names the gateway node that answered, set by HAProxy
	// on every response it relays.
	ServedByHeader = "X-Gauntlet-Node"
)

// HAProxyCheck is how HAProxy health-checks each gateway node: GET /status
// on the node's Admin port (Kong's status endpoint; it answers 200 while
// the node runs, whether or not the database does), every Interval, down
// after Fall failures, up after Rise successes, each check bounded by
// Timeout.
type HAProxyCheck struct {
	Interval, Timeout time.Duration
	Fall, Rise        int
}

// DefaultHAProxyCheck is what cluster stacks use: a dead node is out within
// Fall × Interval + Timeout = 750 ms.
var DefaultHAProxyCheck = HAProxyCheck{Interval: 250 * time.Millisecond, Timeout: 250 * time.Millisecond, Fall: 2, Rise: 2}

// HAProxyConfig is haproxy.cfg for nodes (their names on the stack's
// network, proxy port 8000, Admin port 8001).
//   - Docker's DNS (127.0.0.11) re-resolves a node that restarts with a new
//     address within 1 s (hold valid). A dead node's name does not resolve;
//     hold nx 30s keeps its last address meanwhile, so that its checks keep
//     it DOWN and bring it back after rise checks. With a short hold nx it
//     would go to maintenance, and HAProxy 2.6 puts a server that leaves
//     maintenance straight back UP, before any check: seen here, the
//     requests it got while the node was still starting failed.
//   - on-marked-down shutdown-sessions closes the connections of a node
//     marked down: requests in flight there fail at once instead of waiting
//     for "timeout server".
//   - retries 2 with redispatch moves a request whose connect failed to
//     another node; a request a node accepted is never sent twice (HAProxy
//     retries only connect failures by default).
func HAProxyConfig(nodes []string, check HAProxyCheck) string {
	var sb strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }
	fmt.Fprintf(&sb, `global
    maxconn 4096
    log stdout format raw local0 notice

defaults
    mode http
    log global
    option dontlog-normal
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    timeout check %s
    retries 2
    option redispatch

resolvers docker
    nameserver dns 127.0.0.11:53
    resolve_retries 3
    timeout resolve 200ms
    timeout retry 200ms
    hold valid 1s
    hold nx 30s
    hold other 30s
    hold refused 30s
    hold timeout 30s
    hold obsolete 30s

frontend proxy
    bind :%d
    default_backend %s

backend %s
    balance roundrobin
    option httpchk GET /status
    http-check expect status 200
    http-response set-header %s %%[srv_name]
    default-server check port 8001 inter %s fall %d rise %d on-marked-down shutdown-sessions resolvers docker init-addr last,libc,none
`, ms(check.Timeout), HAProxyPort, haproxyBackend, haproxyBackend, ServedByHeader, ms(check.Interval), check.Fall, check.Rise)
	for _, n := range nodes {
		fmt.Fprintf(&sb, "    server %s %s:8000\n", n, n)
	}
	fmt.Fprintf(&sb, `
frontend stats
    bind :%d
    stats enable
    stats uri /stats
    stats refresh 1s
`, HAProxyStatsPort)
	return sb.String()
}

// haproxyImage is Debian's haproxy in the foreground (-db), reading the
// config the stack copies in before the start.
func haproxyImage(bin string) nativeImage {
	ep, _ := json.Marshal([]string{"/usr/sbin/haproxy", "-db", "-f", haproxyConfigPath})
	return nativeImage{
		name: "haproxy",
		bins: map[string]string{"/usr/sbin/haproxy": bin},
		dirs: []string{"/tmp", "/run/haproxy"},
		tail: fmt.Sprintf("EXPOSE %d %d\nENTRYPOINT %s\n", HAProxyPort, HAProxyStatsPort, ep),
	}
}

const haproxyConfigPath = "/etc/haproxy/haproxy.cfg"

// ServerStates reads each gateway node's state from the statistics page
// ("UP", "DOWN", "MAINT (resolution)", "UP 1/2" while rising, ...).
func (lb *LoadBalancer) ServerStates(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lb.StatsURL+";csv", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("haproxy stats: %s", resp.Status)
	}
	return parseHAProxyStates(io.LimitReader(resp.Body, 1<<20))
}

// parseHAProxyStates picks the gateway backend's servers and their status
// out of HAProxy's CSV statistics (a header line starting "# pxname").
func parseHAProxyStates(r io.Reader) (map[string]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("haproxy stats: empty")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	if st == 0 || sv == 0 {
		return nil, fmt.Errorf("haproxy stats: no svname/status columns in %q", rows[0])
	}
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) <= st || row[px] != haproxyBackend || row[sv] == "BACKEND" {
			continue
		}
		out[row[sv]] = row[st]
	}
	return out, nil
}

// Serving reports whether HAProxy sends requests to a server in this state:
// "UP", or "UP 1/2" (up, one failed check of the two that take it down).
// "DOWN", "DOWN 1/2" (rising), "MAINT" and "MAINT (resolution)" get none.
func Serving(state string) bool { return strings.HasPrefix(state, "UP") }

// AwaitServing polls the statistics page until HAProxy sends node requests
// (serving) or none (!serving), and returns when that was first seen.
func (lb *LoadBalancer) AwaitServing(ctx context.Context, node string, serving bool, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		states, err := lb.ServerStates(ctx)
		if err == nil {
			last = states[node]
			if last != "" && Serving(last) == serving {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("haproxy: %s serving=%v not seen within %v (last state %q, %v)", node, serving, timeout, last, err)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(25 * time.Millisecond): // poll interval
		}
	}
}
