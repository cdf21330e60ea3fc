// Package attack holds hostile clients for the resilience scenarios: real TCP
// clients that hold connections open (slowloris, slow POST, idle flood), send
// hostile Admin API writes, and try request smuggling. Each records what it
// saw per connection or request, so a scenario can put numbers on how the
// gateway treated it.
//
// Every attacker is bounded: a fixed number of connections, each held for at
// most a fixed time, every read and write under a deadline. They are meant
// for the loopback addresses of a stack the harness started, nothing else.
package attack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// dialTimeout bounds every connect: a loopback connect takes microseconds, a
// full accept queue can take seconds.
const dialTimeout = 3 * time.Second

// Conn is what one held connection saw.
type Conn struct {
	// Opened is when the connect completed (zero when it failed: see Err).
	Opened time.Time
	// Silent is when the attacker sent its last byte; for a trickling
	// attacker it is the last trickle before the server closed or the
	// attacker gave up.
	Silent time.Time
	// Closed is when the server ended the connection (EOF or reset); zero
	// when it was still open when the attacker gave up.
	Closed time.Time
	// Answered is when the server's first bytes arrived (zero if none did).
	Answered time.Time
	// GaveUp is when the attacker stopped waiting on a connection the server
	// never closed (zero when the server closed it).
	GaveUp time.Time
	// Sent counts the bytes written.
	Sent int
	// Status is the status code of the first response the server sent, 0 if
	// it sent none (or not an HTTP status line).
	Status int
	// Response is the first bytes the server sent (at most 512).
	Response string
	// Err is a connect error.
	Err string
}

// ClosedByServer reports whether the server ended the connection while the
// attacker still held it.
func (c Conn) ClosedByServer() bool { return !c.Closed.IsZero() }

// Held is how long the connection stayed open: until the server closed it,
// or until the attacker gave up when it never did.
func (c Conn) Held() time.Duration {
	switch {
	case c.Opened.IsZero():
		return 0
	case c.ClosedByServer():
		return c.Closed.Sub(c.Opened)
	default:
		return c.GaveUp.Sub(c.Opened)
	}
}

// hold is one attacker connection: it connects to addr, writes first, then
// writes trickle one byte every interval (none when trickle is empty), and
// watches for the server to close, for at most max from the connect. The
// connect is done it calls dialed. The connection is always closed on return.
func hold(ctx context.Context, dialed func(), addr string, first, trickle []byte, interval, max time.Duration) Conn {
	var c Conn
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	dialed()
	if err != nil {
		c.Err = err.Error()
		return c
	}
	defer conn.Close()
	c.Opened = time.Now()
	deadline := c.Opened.Add(max)
	_ = conn.SetDeadline(deadline)

	// The reader sees the server's answer or its close; it ends at the
	// deadline at the latest.
	closed := make(chan struct{})
	var resp []byte
	go func() {
		defer close(closed)
		buf := make([]byte, 512)
		for {
			n, err := conn.Read(buf)
			if n > 0 && c.Answered.IsZero() {
				c.Answered = time.Now()
			}
			if n > 0 && len(resp) < 512 {
				resp = append(resp, buf[:min(n, 512-len(resp))]...)
			}
			if err != nil {
				var ne net.Error
				if !(errors.As(err, &ne) && ne.Timeout()) {
					c.Closed = time.Now()
				}
				return
			}
		}
	}()
	write := func(b []byte) bool {
		n, err := conn.Write(b)
		c.Sent += n
		if n > 0 {
			c.Silent = time.Now()
		}
		return err == nil
	}
	ok := len(first) == 0 || write(first)
	if ok && len(trickle) > 0 && interval > 0 {
		t := time.NewTicker(interval)
		// At most max/interval writes, each one byte of trickle, cycling.
	loop:
		for i := 0; time.Now().Before(deadline); i++ {
			select {
			case <-closed:
				break loop
			case <-ctx.Done():
				break loop
			case <-t.C:
				if !write(trickle[i%len(trickle) : i%len(trickle)+1]) {
					break loop
				}
			}
		}
		t.Stop()
	}
	select {
	case <-closed:
	case <-ctx.Done():
		_ = conn.SetDeadline(time.Now())
		<-closed
	}
	if !c.ClosedByServer() {
		c.GaveUp = time.Now()
	}
	c.Response = string(resp)
	c.Status = statusOf(resp)
	return c
}

// statusOf parses "HTTP/1.x NNN" at the start of b.
func statusOf(b []byte) int {
	if !bytes.HasPrefix(b, []byte("HTTP/1.")) || len(b) < 12 {
		return 0
	}
	n, err := strconv.Atoi(string(b[9:12]))
	if err != nil {
		return 0
	}
	return n
}

// many runs n copies of one connection attacker and returns every
// connection's record in start order. A copy starts when one of slots is
// free and gives it back once its connect is done (release), so at most
// cap(slots) connects are in flight and goroutines appear at the pace of the
// connects, not all at once.
func many(n int, slots dialSlots, one func(release func()) Conn) []Conn {
	out := make([]Conn, n)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			release := func() { once.Do(func() { <-slots }) }
			defer release()
			out[i] = one(release)
		}()
	}
	wg.Wait()
	return out
}

// dialSlots bounds the connects in flight: thousands of simultaneous SYNs
// overflow a listen backlog and turn into retransmits, not into an attack.
type dialSlots chan struct{}

func newDialSlots(n int) dialSlots {
	if n <= 0 {
		n = 64
	}
	return make(dialSlots, n)
}

// responses parses the HTTP responses in b, in order, and returns their
// status codes; parsing stops at the first thing that is not a response.
func responses(b []byte) []int {
	var codes []int
	br := bufio.NewReader(bytes.NewReader(b))
	for range 16 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		codes = append(codes, resp.StatusCode)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return codes
}

// Summary counts what a set of held connections saw, for logs.
func Summary(cs []Conn) string {
	var dialErr, closed int
	statuses := map[int]int{}
	for _, c := range cs {
		switch {
		case c.Err != "":
			dialErr++
		case c.ClosedByServer():
			closed++
		}
		statuses[c.Status]++
	}
	return fmt.Sprintf("%d connections: %d connect errors, %d closed by the server, first status %v",
		len(cs), dialErr, closed, statuses)
}
