package proxy

import "io"

// replayLimit is how much of a request body is kept so that an idempotent
// request can be retried. Bodies stream: beyond this many bytes consumed, a
// failed try is final (the bytes already sent upstream are gone; buffering
// whole bodies would cost memory per in-flight request and add latency).
const replayLimit = 64 << 10

// replayBody wraps the client's request body. It records the first replayLimit
// bytes when recording is allowed, so rewind can replay them on the next try.
// A non-recorded body can be rewound only if nothing was read yet (a connect
// failure: the body was never touched).
type replayBody struct {
	src      io.Reader
	record   bool
	rec      []byte
	pos      int
	consumed bool
	overflow bool
}

func (b *replayBody) reset(src io.Reader, record bool) {
	rec := b.rec[:0]
	*b = replayBody{src: src, record: record, rec: rec}
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
	n, err := b.src.Read(p)
	if n > 0 {
		b.consumed = true
		if b.record && !b.overflow && len(b.rec)+n <= replayLimit {
			b.rec = append(b.rec, p[:n]...)
			b.pos = len(b.rec)
		} else {
			b.overflow = true
		}
	}
	return n, err
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
