package stack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseHAProxyStates(t *testing.T) {
	csv := `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight
proxy,FRONTEND,,,0,1,20000,3,0,0,0,0,0,,,,,OPEN,
gateways,gateway1,0,0,0,1,,1,0,0,,0,,0,0,0,0,UP,1
gateways,gateway2,0,0,0,1,,1,0,0,,0,,0,0,0,0,DOWN 1/2,1
gateways,gateway3,0,0,0,1,,1,0,0,,0,,0,0,0,0,MAINT (resolution),1
gateways,BACKEND,0,0,0,1,2000,3,0,0,0,0,,0,0,0,0,UP,3
`
	got, err := parseHAProxyStates(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"gateway1": "UP", "gateway2": "DOWN 1/2", "gateway3": "MAINT (resolution)"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for state, serving := range map[string]bool{"UP": true, "UP 1/2": true, "DOWN": false, "DOWN 1/2": false, "MAINT (resolution)": false} {
		if Serving(state) != serving {
			t.Errorf("Serving(%q) = %v, want %v", state, !serving, serving)
		}
	}
}

// The config names every node, checks each on its Admin port's /status and
// closes a downed node's sessions: the cluster scenarios' bounds assume it.
func TestHAProxyConfig(t *testing.T) {
	check := HAProxyCheck{Interval: 250 * time.Millisecond, Timeout: 200 * time.Millisecond, Fall: 2, Rise: 3}
	common := []string{
		"option httpchk GET /status\n",
		"default-server check inter 250ms fall 2 rise 3 on-marked-down shutdown-sessions",
		"timeout check 200ms\n",
		"http-response set-header X-Gauntlet-Node %[srv_name]\n",
	}
	// Containers: names on the stack's network, re-resolved through
	// Docker's DNS.
	cfg := HAProxyConfig(ContainerHAProxy([]string{"gateway1", "gateway2"}, check))
	for _, want := range append([]string{
		"server gateway1 gateway1:8000 port 8001\n", "server gateway2 gateway2:8000 port 8001\n",
		"on-marked-down shutdown-sessions resolvers docker init-addr last,libc,none\n",
		"nameserver dns 127.0.0.11:53\n",
		"bind :8000\n", "bind :8404\n",
	}, common...) {
		if !strings.Contains(cfg, want) {
			t.Errorf("container config lacks %q:\n%s", want, cfg)
		}
	}
	// Processes: fixed loopback addresses, each node's own Admin port, no
	// resolvers (there is no Docker DNS to ask).
	cfg = HAProxyConfig(HAProxySetup{
		Servers: []HAProxyServer{{Name: "gateway1", Addr: "127.0.0.1:21000", CheckPort: 21001}, {Name: "gateway2", Addr: "127.0.0.1:21002", CheckPort: 21003}},
		Bind:    "127.0.0.1:21100", StatsBind: "127.0.0.1:21101", Check: check,
	})
	for _, want := range append([]string{
		"server gateway1 127.0.0.1:21000 port 21001\n", "server gateway2 127.0.0.1:21002 port 21003\n",
		"on-marked-down shutdown-sessions\n",
		"bind 127.0.0.1:21100\n", "bind 127.0.0.1:21101\n",
	}, common...) {
		if !strings.Contains(cfg, want) {
			t.Errorf("process config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "resolvers") {
		t.Errorf("process config names resolvers:\n%s", cfg)
	}
}

// HAProxy itself accepts both configs (haproxy -c), when it is installed.
func TestHAProxyConfigValid(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy on PATH")
	}
	check := DefaultHAProxyCheck
	for name, setup := range map[string]HAProxySetup{
		"containers": ContainerHAProxy([]string{"gateway1", "gateway2"}, check),
		"processes": {Servers: []HAProxyServer{{Name: "gateway1", Addr: "127.0.0.1:21000", CheckPort: 21001}},
			Bind: "127.0.0.1:21100", StatsBind: "127.0.0.1:21101", Check: check},
	} {
		path := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(path, []byte(HAProxyConfig(setup)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
			t.Errorf("%s: haproxy -c: %v\n%s", name, err, out)
		}
	}
}

// TakenOuts reads each DOWN notice once (HAProxy prints it on stdout and
// again as a [WARNING] on stderr) with its reason, and tells a check that
// timed out from one the node answered wrongly.
func TestTakenOuts(t *testing.T) {
	log := `[NOTICE]   (1) : New worker (8) forked
Server gateways/gateway1 is DOWN, reason: Layer7 timeout, check duration: 414ms. 2 active and 0 backup servers left. 48 sessions active, 0 requeued, 0 remaining in queue.
[WARNING]  (8) : Server gateways/gateway1 is DOWN, reason: Layer7 timeout, check duration: 414ms. 2 active and 0 backup servers left. 48 sessions active, 0 requeued, 0 remaining in queue.
Server gateways/gateway1 is UP, reason: Layer7 check passed, code: 200, check duration: 12ms. 3 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.
Server gateways/gateway2 is DOWN, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: 3ms. 2 active and 0 backup servers left.
Server gateways/gateway3 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left.
Server gateways/gateway3 is DOWN, reason: Layer4 timeout, check duration: 251ms. 1 active and 0 backup servers left.
`
	lb := &LoadBalancer{log: func(context.Context) ([]byte, error) { return []byte(log), nil }}
	got, err := lb.TakenOuts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []TakenOut{{"gateway1", "Layer7 timeout"}, {"gateway2", "Layer7 wrong status"},
		{"gateway3", "Layer4 connection problem"}, {"gateway3", "Layer4 timeout"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("TakenOuts = %+v, want %+v", got, want)
	}
	var timedOut []bool
	for _, o := range got {
		timedOut = append(timedOut, o.CheckTimedOut())
	}
	if want := []bool{true, false, false, true}; !reflect.DeepEqual(timedOut, want) {
		t.Fatalf("CheckTimedOut = %v, want %v", timedOut, want)
	}
}
