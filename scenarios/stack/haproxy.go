package stack

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
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
	// log reads HAProxy's log so far (its container's, or its process's
	// file).
	log func(ctx context.Context) ([]byte, error)
}

// TakenOut is one time HAProxy marked a gateway node DOWN, as its log says.
type TakenOut struct {
	Node   string
	Reason string // "Layer7 timeout", "Layer7 wrong status", "Layer4 connection problem", …
}

// CheckTimedOut reports whether a check that got no answer in time took the
// node out ("Layer7 timeout", "Layer4 timeout"), rather than one the node
// answered wrongly or refused.
func (t TakenOut) CheckTimedOut() bool { return strings.HasSuffix(t.Reason, " timeout") }

// haproxyDown matches HAProxy's notice that a server went down, e.g.
// "Server gateways/gateway1 is DOWN, reason: Layer7 timeout, check duration: 414ms. …";
// the same notice repeated as a "[WARNING]" line is not anchored and not matched.
var haproxyDown = regexp.MustCompile(`(?m)^Server ` + haproxyBackend + `/(\S+) is DOWN, reason: ([^,]+),`)

// TakenOuts lists, in order, every time HAProxy took a node out so far.
func (lb *LoadBalancer) TakenOuts(ctx context.Context) ([]TakenOut, error) {
	b, err := lb.log(ctx)
	if err != nil {
		return nil, fmt.Errorf("haproxy log: %w", err)
	}
	var out []TakenOut
	for _, m := range haproxyDown.FindAllSubmatch(b, -1) {
		out = append(out, TakenOut{Node: string(m[1]), Reason: string(m[2])})
	}
	return out, nil
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

// HAProxyServer is one gateway node as HAProxy reaches it.
type HAProxyServer struct {
	// Name is the server's name in the config, the statistics and
	// ServedByHeader (gateway1..N).
	Name string
	// Addr is the node's proxy, host:port; CheckPort its Admin port, where
	// HAProxy checks /status.
	Addr      string
	CheckPort int
}

// HAProxySetup is what HAProxyConfig writes a config for.
type HAProxySetup struct {
	Servers []HAProxyServer
	// Bind and StatsBind are where the proxy and the statistics page listen
	// (":8000" in a container, "127.0.0.1:port" for a process).
	Bind, StatsBind string
	// DockerDNS resolves the servers' addresses (container names) through
	// Docker's DNS, again whenever a node restarts with a new address.
	// Without it the addresses are fixed (a process keeps its port).
	DockerDNS bool
	Check     HAProxyCheck
}

// ContainerHAProxy is the setup of the container stack's HAProxy: nodes
// named on the stack's network, proxy port 8000, Admin port 8001.
func ContainerHAProxy(nodes []string, check HAProxyCheck) HAProxySetup {
	s := HAProxySetup{Bind: fmt.Sprintf(":%d", HAProxyPort), StatsBind: fmt.Sprintf(":%d", HAProxyStatsPort), DockerDNS: true, Check: check}
	for _, n := range nodes {
		s.Servers = append(s.Servers, HAProxyServer{Name: n, Addr: n + ":8000", CheckPort: 8001})
	}
	return s
}

// HAProxyConfig is haproxy.cfg for a setup.
//   - Docker's DNS (127.0.0.11, DockerDNS) re-resolves a node that restarts
//     with a new address within 1 s (hold valid). A dead node's name does
//     not resolve; hold nx 30s keeps its last address meanwhile, so that
//     its checks keep it DOWN and bring it back after rise checks. With a
//     short hold nx it would go to maintenance, and HAProxy 2.6 puts a
//     server that leaves maintenance straight back UP, before any check:
//     seen here, the requests it got while the node was still starting
//     failed.
//   - on-marked-down shutdown-sessions closes the connections of a node
//     marked down: requests in flight there fail at once instead of waiting
//     for "timeout server".
//   - retries 2 with redispatch moves a request whose connect failed to
//     another node; a request a node accepted is never sent twice (HAProxy
//     retries only connect failures by default).
func HAProxyConfig(s HAProxySetup) string {
	var sb strings.Builder
	check := s.Check
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
`, ms(check.Timeout))
	resolve := ""
	if s.DockerDNS {
		sb.WriteString(`
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
`)
		resolve = " resolvers docker init-addr last,libc,none"
	}
	fmt.Fprintf(&sb, `
frontend proxy
    bind %s
    default_backend %s

backend %s
    balance roundrobin
    option httpchk GET /status
    http-check expect status 200
    http-response set-header %s %%[srv_name]
    default-server check inter %s fall %d rise %d on-marked-down shutdown-sessions%s
`, s.Bind, haproxyBackend, haproxyBackend, ServedByHeader, ms(check.Interval), check.Fall, check.Rise, resolve)
	for _, n := range s.Servers {
		fmt.Fprintf(&sb, "    server %s %s port %d\n", n.Name, n.Addr, n.CheckPort)
	}
	fmt.Fprintf(&sb, `
frontend stats
    bind %s
    stats enable
    stats uri /stats
    stats refresh 1s
`, s.StatsBind)
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
