package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The upstream side is a small HTTP/1.1 client written for this path instead of
// net/http.Transport, for three reasons:
//   - per-service timeouts: a read deadline before every read of the response
//     (headers and body) and a write deadline before every write of the request,
//     which net/http.Transport cannot express per request;
//   - exact retry decisions: we know whether any request byte reached the socket
//     and whether any response byte came back;
//   - speed: no per-request goroutine hand-offs (net/http.Transport runs a read
//     loop and a write loop per connection and syncs with them over channels).

const (
	// Kong's upstream_keepalive_pool_size and upstream_keepalive_idle_timeout.
	defaultMaxIdlePerHost = 512
	defaultIdleTimeout    = 60 * time.Second
	tcpKeepAlive          = 30 * time.Second
	connBufSize           = 8 << 10
)

// upConn is one pooled connection to an upstream peer. Its Read and Write
// methods arm the deadlines, so bufio and the response parser on top of it get
// per-read and per-write timeouts for free.
type upConn struct {
	nc     net.Conn // what we speak HTTP over (a *tls.Conn for https)
	raw    syscall.RawConn
	dataOK bool // https: bytes on an idle connection may be TLS session tickets
	br     *bufio.Reader
	bw     *bufio.Writer
	pool   *hostPool

	readTimeout  time.Duration
	writeTimeout time.Duration
	idleSince    time.Time
	reused       bool
	// written and read count the bytes that crossed the socket for the current
	// request; the retry rules depend on them.
	written int64
	read    int64

	peekAlive bool
	peekFn    func(fd uintptr) bool
	// abortFn marks the connection aborted and expires both deadlines, so a
	// blocked read or write returns now and the next one does not start;
	// built once per connection so arming it per request costs no closure.
	abortFn func()
	aborted atomic.Bool
}

func (c *upConn) Read(p []byte) (int, error) {
	if c.readTimeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.readTimeout))
	}
	// Checked after arming the deadline: an abort either is seen here or its
	// expired deadline lands after ours (see abortFn).
	if c.aborted.Load() {
		return 0, errAborted
	}
	n, err := c.nc.Read(p)
	c.read += int64(n)
	return n, err
}

func (c *upConn) Write(p []byte) (int, error) {
	if c.writeTimeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	if c.aborted.Load() {
		return 0, errAborted
	}
	n, err := c.nc.Write(p)
	c.written += int64(n)
	return n, err
}

func (c *upConn) close() {
	c.nc.Close()
}

// alive reports whether an idle connection can still carry a request: the peer
// has not closed it (a target killed or restarted, an upstream idle timeout) and
// it holds no stray bytes. Catching this before sending is what lets a request
// go out on a fresh connection instead of failing on a dead keep-alive one.
func (c *upConn) alive() bool {
	if c.raw == nil || c.peekFn == nil {
		return true
	}
	c.peekAlive = true
	if err := c.raw.Read(c.peekFn); err != nil {
		return false
	}
	return c.peekAlive
}

type hostPool struct {
	mu   sync.Mutex
	idle []*upConn // LIFO: the most recently used connection is the warmest
	dead bool      // removed from the transport by the janitor
	// lastPut is when a connection last came back; a pool is forgotten only
	// after it has been empty for a whole idle timeout, so busy pools whose
	// connections are all checked out are never dropped.
	lastPut time.Time
}

// transport owns the keep-alive pools, one per peer (address + TLS identity).
type transport struct {
	pools          sync.Map // string → *hostPool
	maxIdlePerHost int
	idleTimeout    time.Duration
	// dial is net.Dialer.DialContext unless a test replaces it.
	dial func(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error)

	stopOnce sync.Once
	stop     chan struct{}
}

func newTransport() *transport {
	t := &transport{
		maxIdlePerHost: defaultMaxIdlePerHost,
		idleTimeout:    defaultIdleTimeout,
		dial: func(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout, KeepAlive: tcpKeepAlive}
			return d.DialContext(ctx, network, addr)
		},
		stop: make(chan struct{}),
	}
	go t.janitor()
	return t
}

// janitor closes connections that sat idle longer than idleTimeout, so pools of
// targets that were removed from the configuration do not hold sockets forever.
func (t *transport) janitor() {
	tick := time.NewTicker(t.idleTimeout / 2)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			t.closeIdle(0)
			return
		case <-tick.C:
			t.closeIdle(t.idleTimeout)
		}
	}
}

// closeIdle closes idle connections older than maxAge (all with maxAge 0) and
// forgets pools left empty.
func (t *transport) closeIdle(maxAge time.Duration) {
	now := time.Now()
	t.pools.Range(func(k, v any) bool {
		hp := v.(*hostPool)
		hp.mu.Lock()
		keep := hp.idle[:0]
		for _, c := range hp.idle {
			if maxAge == 0 || now.Sub(c.idleSince) > maxAge {
				c.close()
				continue
			}
			keep = append(keep, c)
		}
		clear(hp.idle[len(keep):])
		hp.idle = keep
		if len(hp.idle) == 0 && (maxAge == 0 || now.Sub(hp.lastPut) > maxAge) {
			hp.dead = true
			t.pools.Delete(k)
		}
		hp.mu.Unlock()
		return true
	})
}

func (t *transport) close() {
	t.stopOnce.Do(func() { close(t.stop) })
}

func (t *transport) pool(key string) *hostPool {
	if v, ok := t.pools.Load(key); ok {
		return v.(*hostPool)
	}
	v, _ := t.pools.LoadOrStore(key, &hostPool{})
	return v.(*hostPool)
}

// dialTarget says how to reach one peer.
type dialTarget struct {
	key            string // pool key: addr for http, addr + TLS identity for https
	addr           string
	tls            *tls.Config // nil for plain http
	connectTimeout time.Duration
}

// errConnect wraps every failure to establish a connection, so the caller can
// tell "nothing was sent" apart from failures on an established connection.
type errConnect struct{ err error }

func (e *errConnect) Error() string { return "connect: " + e.err.Error() }
func (e *errConnect) Unwrap() error { return e.err }

// get returns an idle live connection to the peer or dials a new one.
func (t *transport) get(ctx context.Context, dt *dialTarget) (*upConn, error) {
	hp := t.pool(dt.key)
	now := time.Now()
	for {
		hp.mu.Lock()
		n := len(hp.idle)
		if n == 0 {
			hp.mu.Unlock()
			break
		}
		c := hp.idle[n-1]
		hp.idle[n-1] = nil
		hp.idle = hp.idle[:n-1]
		hp.mu.Unlock()
		if now.Sub(c.idleSince) > t.idleTimeout || !c.alive() {
			c.close()
			continue
		}
		c.reused = true
		return c, nil
	}
	return t.dialConn(ctx, dt, hp)
}

func (t *transport) dialConn(ctx context.Context, dt *dialTarget, hp *hostPool) (*upConn, error) {
	start := time.Now()
	nc, err := t.dial(ctx, "tcp", dt.addr, dt.connectTimeout)
	if err != nil {
		return nil, &errConnect{err}
	}
	c := &upConn{nc: nc, pool: hp}
	c.abortFn = func() {
		c.aborted.Store(true)
		c.nc.SetDeadline(aLongTimeAgo)
	}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.peekFn = c.peek
		}
	}
	if dt.tls != nil {
		tc := tls.Client(nc, dt.tls)
		if dt.connectTimeout > 0 {
			// The handshake belongs to connecting: it shares connect_timeout.
			nc.SetDeadline(start.Add(dt.connectTimeout))
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &errConnect{err}
		}
		nc.SetDeadline(time.Time{})
		c.nc = tc
		c.dataOK = true
	}
	c.br = bufio.NewReaderSize(c, connBufSize)
	c.bw = bufio.NewWriterSize(c, connBufSize)
	return c, nil
}

// put returns a connection whose last exchange completed cleanly to its pool.
func (t *transport) put(c *upConn) {
	if c.br.Buffered() > 0 {
		// Bytes beyond the response: the upstream broke framing; never reuse.
		c.close()
		return
	}
	// Clear deadlines: the liveness peek must not trip over an old one.
	c.nc.SetDeadline(time.Time{})
	c.idleSince = time.Now()
	c.readTimeout, c.writeTimeout = 0, 0
	hp := c.pool
	hp.mu.Lock()
	if hp.dead || len(hp.idle) >= t.maxIdlePerHost {
		hp.mu.Unlock()
		c.close()
		return
	}
	hp.idle = append(hp.idle, c)
	hp.lastPut = c.idleSince
	hp.mu.Unlock()
}

var aLongTimeAgo = time.Unix(1, 0)

// errAborted is what reads and writes return once the client has gone.
var errAborted = errors.New("request aborted: the client went away")

// isTimeout reports whether err is a deadline expiry (connect, read or write).
func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
