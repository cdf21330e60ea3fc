package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP1Server is the proxy listener's own HTTP/1.1 connection loop: one
// goroutine per connection reads a head with fasthttp's request-header parser
// (headloop.go), checks it against nginx's framing rules, and hands the
// request to the same Proxy.ServeHTTP that net/http's server calls for TLS
// and HTTP/2, through a lean http.ResponseWriter (h1writer.go). There is one
// proxy core; this file only replaces net/http's HTTP/1.x server, whose
// parsing, per-request goroutine and header maps cost about a quarter of the
// gateway's CPU per request.
//
// What it keeps from net/http's behaviour: keep-alive and pipelining, a
// connection context that is cancelled when the client goes away while its
// request waits for the upstream, 100-continue, Hijack for WebSocket, small
// bodies framed with Content-Length and the rest chunked, Date, and the
// ConnState hooks behind /status. HTTP/2 with prior knowledge (h2c) is
// recognised by its preface and passed to H2C, a net/http server.
type HTTP1Server struct {
	Proxy *Proxy
	// HeaderTimeout bounds the reading of a request head once its first
	// byte arrived (nginx's client_header_timeout); zero means none.
	HeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection (nginx's keepalive_timeout); zero means none.
	IdleTimeout time.Duration
	// H2C serves the connections that open with the HTTP/2 preface; nil
	// closes them.
	H2C *http.Server
	Log *slog.Logger

	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*h1conn]struct{}
	h2       *chanListener
	shutting atomic.Bool
}

// ErrServerClosed is returned by HTTP1Server.Serve after Shutdown.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections on ln until Shutdown or an accept error.
func (s *HTTP1Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.lns == nil {
		s.lns = map[net.Listener]struct{}{}
		s.conns = map[*h1conn]struct{}{}
	}
	s.lns[ln] = struct{}{}
	if s.H2C != nil && s.h2 == nil {
		s.h2 = newChanListener(ln.Addr())
		go s.H2C.Serve(s.h2)
	}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newH1conn(s, nc)
		s.mu.Lock()
		if s.shutting.Load() {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections, and waits until every
// active one has finished its request and closed, or ctx ends.
func (s *HTTP1Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting.Store(true)
	for ln := range s.lns {
		ln.Close()
	}
	h2 := s.h2
	s.mu.Unlock()
	var h2err error
	var h2wg sync.WaitGroup
	if h2 != nil && s.H2C != nil {
		h2wg.Add(1)
		go func() { defer h2wg.Done(); h2err = s.H2C.Shutdown(ctx) }()
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		for c := range s.conns {
			if c.idle.Load() {
				c.nc.SetReadDeadline(aLongTimeAgo) // wakes the idle read: the loop sees shutting
			}
		}
		s.mu.Unlock()
		if n == 0 {
			h2wg.Wait()
			return h2err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *HTTP1Server) forget(c *h1conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *HTTP1Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return s.Proxy.log
}

// h1conn is one client connection and everything reused across its requests.
type h1conn struct {
	s  *HTTP1Server
	nc net.Conn
	cr connReader
	br *bufio.Reader
	bw *bufio.Writer

	remoteAddr string // the client's address, formatted once

	ctx    context.Context
	cancel context.CancelFunc
	idle   atomic.Bool

	head headParser
	req  http.Request
	body h1body
	w    h1writer

	// The client-gone watcher: a read that runs while a request with no
	// body left to read waits for its upstream (see watch).
	watchTimer *time.Timer
	watchDone  chan struct{}
	watching   bool

	hijacked  bool
	inHandler bool
	linger    bool // close with lingerClose: the client may still be sending
}

// watchDelay is how long a request must be in flight before a background
// read watches for its client going away: fast requests never pay for it.
const watchDelay = 50 * time.Millisecond

var (
	brPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	bwPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

func newH1conn(s *HTTP1Server, nc net.Conn) *h1conn {
	c := &h1conn{s: s, nc: nc, remoteAddr: nc.RemoteAddr().String()}
	c.cr.nc = nc
	base := context.WithValue(context.Background(), http.LocalAddrContextKey, nc.LocalAddr())
	c.ctx, c.cancel = context.WithCancel(base)
	c.w.c = c
	return c
}

// connReader is the connection as the bufio.Reader sees it: a byte the
// client-gone watcher read comes first.
type connReader struct {
	nc       net.Conn
	stash    byte
	hasStash bool
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.hasStash {
		if len(p) == 0 {
			return 0, nil
		}
		p[0] = r.stash
		r.hasStash = false
		return 1, nil
	}
	return r.nc.Read(p)
}

func (c *h1conn) serve() {
	s := c.s
	p := s.Proxy
	p.ConnState(c.nc, http.StateNew)
	c.br = brPool.Get().(*bufio.Reader)
	c.br.Reset(&c.cr)
	c.bw = bwPool.Get().(*bufio.Writer)
	c.bw.Reset(c.nc)
	defer func() {
		c.cancel()
		if c.watchTimer != nil {
			c.stopWatch()
		}
		s.forget(c)
		if c.hijacked {
			p.ConnState(c.nc, http.StateHijacked)
			return // the handler owns the connection and its buffers now
		}
		if c.linger {
			c.lingerClose()
		}
		c.nc.Close()
		p.ConnState(c.nc, http.StateClosed)
		if c.br.Size() == 4<<10 {
			c.br.Reset(nil)
			brPool.Put(c.br)
		}
		c.bw.Reset(nil)
		bwPool.Put(c.bw)
	}()
	first := true
	for {
		if !c.readHead(first) {
			return
		}
		first = false
		p.ConnState(c.nc, http.StateActive)
		keep := c.serveOne()
		if !keep || s.shutting.Load() {
			return
		}
		p.ConnState(c.nc, http.StateIdle)
	}
}

// readHead waits for and reads the next request head into c.head. It
// answers a head that breaks the rules itself and reports false when the
// connection is done.
func (c *h1conn) readHead(first bool) bool {
	s := c.s
	if c.br.Buffered() == 0 {
		// Idle: wait for the first byte with the keep-alive timeout (the
		// first request's wait is the header timeout, as in nginx).
		c.idle.Store(true)
		if s.shutting.Load() {
			return false
		}
		wait := s.IdleTimeout
		if first {
			wait = s.HeaderTimeout
		}
		if wait > 0 {
			c.nc.SetReadDeadline(time.Now().Add(wait))
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
		_, err := c.br.Peek(1)
		c.idle.Store(false)
		if err != nil || s.shutting.Load() {
			return false
		}
	}
	// The first head's deadline runs from the accept (set above, as
	// net/http's did); a later head's from its first byte.
	if !first {
		if s.HeaderTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(s.HeaderTimeout))
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
	}
	if b, _ := c.br.Peek(3); len(b) == 3 && string(b) == "PRI" {
		if b, err := c.br.Peek(len(h2Preface)); err == nil && string(b) == h2Preface {
			c.handOffH2()
			return false
		}
	}
	status, msg, err := c.head.read(c)
	if err != nil {
		// A timeout, a reset or a close mid-head: nginx closes without an
		// answer (client_header_timeout is logged as 408, never sent).
		return false
	}
	// client_header_timeout ends with the head: the body's reads are timed
	// by the core (client_body_timeout, per read), or not at all.
	c.nc.SetReadDeadline(time.Time{})
	if status != 0 {
		c.refuse(status, msg)
		return false
	}
	return true
}

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// handOffH2 passes the connection, with what was read of it, to the h2c server.
func (c *h1conn) handOffH2() {
	s := c.s
	if s.H2C == nil || s.h2 == nil {
		return
	}
	c.hijacked = true
	c.nc.SetReadDeadline(time.Time{})
	s.h2.push(&bufConn{Conn: c.nc, r: c.br})
}

// bufConn is a connection whose first bytes were read into r already.
type bufConn struct {
	net.Conn
	r io.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// serveOne runs the handler for the request in c.req and finishes its
// response. It reports whether the connection may carry another request.
func (c *h1conn) serveOne() (keep bool) {
	r := &c.req
	w := &c.w
	w.reset(r)
	if c.body.src == nil {
		c.armWatch()
	}
	c.inHandler = true
	c.runHandler(w, r)
	c.inHandler = false
	if c.hijacked {
		return false
	}
	if c.watchTimer != nil {
		c.stopWatch()
	}
	if w.aborted {
		return false
	}
	w.finish()
	if c.ctx.Err() != nil {
		return false
	}
	return !w.closeAfter
}

func (c *h1conn) runHandler(w *h1writer, r *http.Request) {
	defer func() {
		if rec := recover(); rec != nil {
			w.aborted = true
			if rec != http.ErrAbortHandler {
				c.s.logger().Error("panic serving request", "remote", c.nc.RemoteAddr().String(),
					"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			}
		}
	}()
	c.s.Proxy.ServeHTTP(w, r)
}

// lingerClose half-closes the connection and reads what the client still
// sends for a while before the close, so a client that is still sending a body
// the gateway will not read gets the response instead of a reset (nginx's
// lingering_close; net/http's closeWriteAndWait).
func (c *h1conn) lingerClose() {
	c.bw.Flush()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, c.br)
}

const lingerTime = 2 * time.Second

// refuse answers a head the loop will not serve with Kong's error page,
// through the proxy core's own error writer, and closes.
func (c *h1conn) refuse(status int, msg string) {
	r := &c.req
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.ProtoMajor, r.ProtoMinor, r.Proto = 1, 1, "HTTP/1.1"
	r.Body = http.NoBody
	w := &c.w
	w.reset(r)
	w.closeAfter = true
	c.linger = true
	c.s.Proxy.refuse(w, r, status, msg)
	w.finish()
}

// armWatch starts the client-gone watcher after watchDelay, once the
// request has nothing left to read from the connection.
func (c *h1conn) armWatch() {
	if c.br.Buffered() > 0 {
		return // pipelined bytes are waiting: the client is there
	}
	if c.watchTimer == nil {
		c.watchDone = make(chan struct{}, 1)
		c.watchTimer = time.AfterFunc(watchDelay, c.watch)
	} else {
		c.watchTimer.Reset(watchDelay)
	}
	c.watching = true
}

// bodyDone is called when the request body was read to its end.
func (c *h1conn) bodyDone() {
	if c.inHandler && !c.watching {
		c.armWatch()
	}
}

// watch reads one byte. A close or reset means the client went away: the
// connection's context is cancelled, which aborts the upstream exchange. A
// byte is the next pipelined request: it is kept for the next head.
func (c *h1conn) watch() {
	defer func() { c.watchDone <- struct{}{} }()
	var b [1]byte
	n, err := c.nc.Read(b[:])
	if n == 1 {
		c.cr.stash, c.cr.hasStash = b[0], true
		return
	}
	if err != nil && !errors.Is(err, errDeadline) {
		c.cancel()
	}
}

// stopWatch ends the watcher before the connection is read again.
func (c *h1conn) stopWatch() {
	if !c.watching {
		return
	}
	c.watching = false
	if c.watchTimer.Stop() {
		return // it never ran
	}
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-c.watchDone
	c.nc.SetReadDeadline(time.Time{})
}

// chanListener feeds connections handed off by the loop to a net/http server.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// refuse answers a request the connection loop will not serve (a head that
// breaks nginx's rules) with Kong's error handler page, and asks for the
// connection to close.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	rs := p.getState(w, r, time.Now())
	defer p.putState(rs)
	rs.requestID = newRequestID()
	if msg == "" {
		msg = http.StatusText(status) // 501, 505: nginx's own pages
	}
	p.writeHandlerError(rs, status, msg, closeHeader(r))
}
