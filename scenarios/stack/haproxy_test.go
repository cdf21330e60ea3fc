package stack

import (
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
	cfg := HAProxyConfig([]string{"gateway1", "gateway2"}, HAProxyCheck{Interval: 250 * time.Millisecond, Timeout: 200 * time.Millisecond, Fall: 2, Rise: 3})
	for _, want := range []string{
		"server gateway1 gateway1:8000\n", "server gateway2 gateway2:8000\n",
		"option httpchk GET /status\n",
		"check port 8001 inter 250ms fall 2 rise 3 on-marked-down shutdown-sessions",
		"timeout check 200ms\n",
		"http-response set-header X-Gauntlet-Node %[srv_name]\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}
