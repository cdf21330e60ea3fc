package stack

import (
	"errors"
	"net"
	"strconv"
	"testing"
)

func TestFreePortIsOutsideTheEphemeralRange(t *testing.T) {
	start := ephemeralStart()
	if start < 21000 {
		t.Skipf("ephemeral range starts at %d: no room below it", start)
	}
	for range 20 {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(p)
		if n < 20000 || n >= start {
			t.Fatalf("port %d outside [20000, %d)", n, start)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err != nil {
			t.Fatalf("port %s not free: %v", p, err)
		}
		l.Close()
	}
}

func TestPortClash(t *testing.T) {
	cases := []struct {
		err  string
		want bool
	}{
		{"driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:2345 failed: port is already allocated", true},
		{"listen tcp 127.0.0.1:2345: bind: address already in use", true},
		{"No such image: gauntlet-harness/mockbin:abc", false},
	}
	for _, c := range cases {
		if got := portClash(errors.New(c.err)); got != c.want {
			t.Errorf("%q: got %v, want %v", c.err, got, c.want)
		}
	}
}
