package stack

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// freePort finds a free loopback port for a published or listening port.
// Ports are fixed at creation (not "0") so a restarted container keeps its
// address. They are taken below the kernel's ephemeral range: a load test on
// the same machine can hold every ephemeral port in TIME_WAIT (seen here: 26k
// of 28k), and no outgoing connection is ever given a port outside the range.
func freePort() (string, error) {
	lo, hi := 20000, ephemeralStart()
	for range 64 {
		if hi-lo < 1000 {
			break
		}
		p := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return strconv.Itoa(p), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// ephemeralStart is the first port of the kernel's ephemeral range (Linux's
// default 32768 when it cannot be read).
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// portClash reports a start failure caused by a host port taken between
// freePort and the container's start; a new port fixes it.
func portClash(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") ||
		strings.Contains(msg, "programming external connectivity")
}
