package proxy

import (
	"errors"
	"io"
	"os"
	"slices"
	"time"
)

// replayLimit is how much of a request body is kept so that an idempotent
// request can be retried, and the size up to which a body is read whole before
// an upstream is picked (see buffer). Larger bodies stream: beyond this many
// bytes consumed, a failed try is final (the bytes already sent upstream are
// gone; buffering whole bodies would cost memory per in-flight request).
const replayLimit = 64 << 10

// defaultClientBodyTimeout is nginx's client_body_timeout default, which Kong
// keeps.
const defaultClientBodyTimeout = 60 * time.Second

// readDeadliner is what both net/http servers' ResponseWriters implement
// (HTTP/1.x: the connection's deadline; HTTP/2: a per-stream timer that fails
// the body's reads with os.ErrDeadlineExceeded), and http.ResponseController
// too, for writers that wrap them.
type readDeadliner interface {
	SetReadDeadline(time.Time) error
}

// replayBody wraps the client's request body. It records the first replayLimit
// bytes when recording is allowed, so rewind can replay them on the next try.
// A non-recorded body can be rewound only if nothing was read yet (a connect
// failure: the body was never touched).
//
// Every read from the client is bounded by the client body timeout, measured
// from the read's start as nginx's client_body_timeout is ("between two
// successive read operations"), so a client that stalls mid-body is answered
// 408 instead of holding a goroutine, and possibly an upstream connection,
// forever.
type replayBody struct {
	src      io.Reader
	record   bool
	rec      []byte
	pos      int
	consumed bool
	overflow bool
	eof      bool // src reported io.EOF: the body is complete

	deadline readDeadliner // nil: reads are not timed
	timeout  time.Duration
	armed    bool // a read deadline is set on the client connection or stream
	timedOut bool // a read failed because the client stalled for timeout
}

func (b *replayBody) reset(src io.Reader, record bool, deadline readDeadliner, timeout time.Duration) {
	rec := b.rec[:0]
	*b = replayBody{src: src, record: record, rec: rec}
	if deadline != nil && timeout > 0 {
		b.deadline, b.timeout = deadline, timeout
	}
}

// readSrc is one timed read from the client.
func (b *replayBody) readSrc(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.deadline != nil {
		// An error means the writer cannot time reads (ErrNotSupported): the
		// read then runs untimed, as before this limit existed.
		b.armed = b.deadline.SetReadDeadline(time.Now().Add(b.timeout)) == nil
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.consumed = true
	}
	switch {
	case err == io.EOF:
		b.eof = true
		b.disarm()
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut = true
		b.armed = false // spent; the connection closes after the 408
	}
	return n, err
}

// disarm clears the read deadline once the body is complete: on HTTP/1.1 the
// server's next read is the next request's head (or the background read that
// notices a client going away), which a stale deadline would cut short.
// net/http clears it itself when the body hits EOF; this covers a body whose
// last byte came without EOF.
func (b *replayBody) disarm() {
	if b.armed {
		b.armed = false
		b.deadline.SetReadDeadline(time.Time{})
	}
}

func (b *replayBody) Read(p []byte) (int, error) {
	if b.src == nil {
		return 0, io.EOF
	}
	if b.pos < len(b.rec) {
		n := copy(p, b.rec[b.pos:])
		b.pos += n
		return n, nil
	}
	n, err := b.readSrc(p)
	if n > 0 {
		if b.record && !b.overflow && len(b.rec)+n <= replayLimit {
			b.rec = append(b.rec, p[:n]...)
			b.pos = len(b.rec)
		} else {
			b.overflow = true
		}
	}
	return n, err
}

// buffer reads the body into memory until it ends or replayLimit bytes are
// held, before any upstream is picked: a client that sends its body slowly
// then holds only its own connection, never an upstream one (Kong's
// proxy_request_buffering). The bytes are replayed by Read first, so a body
// longer than the limit streams its remainder after them. It reports whether
// the whole body is held.
func (b *replayBody) buffer() (complete bool, err error) {
	for !b.eof && len(b.rec) < replayLimit {
		if cap(b.rec)-len(b.rec) < 512 {
			// Doubling from a small start keeps short bodies cheap; the
			// extra byte of room lets a body of exactly replayLimit bytes
			// report its EOF without reallocating.
			b.rec = slices.Grow(b.rec, min(max(2*cap(b.rec), 4<<10), replayLimit+1)-len(b.rec))
		}
		n, rerr := b.readSrc(b.rec[len(b.rec):min(cap(b.rec), replayLimit)])
		b.rec = b.rec[:len(b.rec)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return false, rerr
		}
	}
	b.pos = 0
	return b.eof, nil
}

// rewind makes the next Read start from the beginning again and reports
// whether that is possible.
func (b *replayBody) rewind() bool {
	if !b.consumed {
		return true
	}
	if b.overflow {
		return false
	}
	b.pos = 0
	return true
}
