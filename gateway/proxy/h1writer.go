package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1writer is the loop's http.ResponseWriter. It frames a response as
// net/http's HTTP/1.x server does, so the core behaves the same behind either
// server: the head goes out with the first body bytes past 2 KiB, the first
// Flush, or the handler's end; a response whose length is then known gets a
// Content-Length, others are chunked (HTTP/1.1) or end with the connection
// (HTTP/1.0). It adds Date, sniffs a missing Content-Type, writes trailers
// set with http.TrailerPrefix, and closes the connection when the request or
// the handler asked for it or the body was not read to its end.
type h1writer struct {
	c      *h1conn
	r      *http.Request
	header http.Header

	status      int
	wroteHeader bool // the status is decided
	headerOut   bool // the head is in the connection's buffer
	chunked     bool
	length      int64 // the Content-Length sent, -1 when none
	written     int64
	buf         []byte // body bytes held until the head is decided
	closeAfter  bool
	aborted     bool
	err         error
}

const holdBody = 2048 // net/http's bufferBeforeChunkingSize

func (w *h1writer) reset(r *http.Request) {
	h, buf := w.header, w.buf[:0]
	if h == nil {
		h = make(http.Header)
	} else {
		clear(h)
	}
	*w = h1writer{c: w.c, r: r, header: h, buf: buf, length: -1}
	if r.ProtoMinor == 0 {
		w.closeAfter = !hasToken(r.Header["Connection"], "keep-alive")
	} else {
		w.closeAfter = hasToken(r.Header["Connection"], "close")
	}
}

func hasToken(vv []string, token string) bool {
	for _, v := range vv {
		if headerHasToken(v, token) {
			return true
		}
	}
	return false
}

func (w *h1writer) Header() http.Header { return w.header }

func (w *h1writer) WriteHeader(code int) {
	if w.wroteHeader || w.headerOut {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An interim response goes out at once, with the header as it is.
		w.writeStatusLine(code)
		writeFields(w.c.bw, w.header, false)
		w.c.bw.WriteString("\r\n")
		if err := w.c.bw.Flush(); err != nil {
			w.err = err
		}
		return
	}
	w.wroteHeader = true
	w.status = code
}

func (w *h1writer) bodyAllowed() bool {
	return bodyAllowedForStatus(w.status)
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

func (w *h1writer) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.headerOut {
		_, hasCL := w.header["Content-Length"]
		_, hasTE := w.header["Transfer-Encoding"]
		if !hasCL && !hasTE && len(w.buf)+len(p) <= holdBody {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.commit(false)
		if len(w.buf) > 0 {
			held := w.buf
			w.buf = w.buf[:0]
			if _, err := w.writeBody(held); err != nil {
				return 0, err
			}
		}
	}
	return w.writeBody(p)
}

func (w *h1writer) writeBody(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.r.Method == http.MethodHead || len(p) == 0 {
		return len(p), nil
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	bw := w.c.bw
	if w.chunked {
		var num [16]byte
		bw.Write(strconv.AppendInt(num[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	w.written += int64(n)
	if err != nil {
		w.err = err
		return n, err
	}
	return n, nil
}

func (w *h1writer) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerOut {
		w.commit(false)
		if len(w.buf) > 0 {
			held := w.buf
			w.buf = w.buf[:0]
			w.writeBody(held)
		}
	}
	if w.err == nil {
		if err := w.c.bw.Flush(); err != nil {
			w.err = err
		}
	}
}

func (w *h1writer) FlushError() error {
	w.Flush()
	return w.err
}

func (w *h1writer) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *h1writer) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// Hijack hands the connection to the handler (the WebSocket tunnel).
func (w *h1writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if w.headerOut {
		return nil, nil, errors.New("hijack after the response started")
	}
	if c.watchTimer != nil {
		c.stopWatch()
	}
	c.hijacked = true
	c.nc.SetReadDeadline(time.Time{})
	var nc net.Conn = c.nc
	if c.cr.hasStash {
		nc = &bufConn{Conn: c.nc, r: &c.cr}
	}
	return nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// commit decides the framing and writes the head into the buffer. final: the
// handler has returned, so the held bytes are the whole body.
func (w *h1writer) commit(final bool) {
	w.headerOut = true
	h := w.header
	r := w.r
	isHead := r.Method == http.MethodHead
	if cl, ok := h["Content-Length"]; ok && len(cl) > 0 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			delete(h, "Content-Length")
		}
	}
	te, hasTE := h["Transfer-Encoding"]
	hasTrailers := false
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			hasTrailers = true
			break
		}
	}
	if _, ok := h["Trailer"]; ok {
		hasTrailers = true
	}
	switch {
	case !w.bodyAllowed():
		delete(h, "Transfer-Encoding")
		if w.status == http.StatusNoContent {
			delete(h, "Content-Length")
		}
		w.length = -1
	case w.length >= 0:
		delete(h, "Transfer-Encoding")
	case final && !hasTE && !hasTrailers && (!isHead || len(w.buf) > 0):
		w.length = int64(len(w.buf))
		h["Content-Length"] = []string{strconv.Itoa(len(w.buf))}
	case isHead:
		// no body, no framing
	case r.ProtoMinor == 1 && (!hasTE || len(te) == 1 && asciiEqualFold(te[0], "chunked")):
		w.chunked = true
		h["Transfer-Encoding"] = teChunked
	default:
		// HTTP/1.0, or a coding other than chunked: the body ends with
		// the connection.
		delete(h, "Transfer-Encoding")
		w.closeAfter = true
	}
	if _, ok := h["Content-Type"]; !ok && !hasTE && w.bodyAllowed() && len(w.buf) > 0 {
		h["Content-Type"] = []string{http.DetectContentType(w.buf)}
	}
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{httpDate()}
	}
	if hasToken(h["Connection"], "close") {
		w.closeAfter = true
	}
	if w.c.s.shutting.Load() {
		w.closeAfter = true
	}
	if w.closeAfter {
		delete(h, "Connection")
		if r.ProtoMinor == 1 {
			h["Connection"] = connClose
		}
	}
	w.writeStatusLine(w.status)
	writeFields(w.c.bw, w.header, true)
	w.c.bw.WriteString("\r\n")
}

func (w *h1writer) writeStatusLine(code int) {
	bw := w.c.bw
	if w.r.ProtoMinor == 0 {
		bw.WriteString("HTTP/1.0 ")
	} else {
		bw.WriteString("HTTP/1.1 ")
	}
	if code >= 100 && code < 600 {
		if line := statusLines[code]; line != "" {
			bw.WriteString(line)
			return
		}
	}
	var num [8]byte
	bw.Write(strconv.AppendInt(num[:0], int64(code), 10))
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	bw.WriteString(" ")
	bw.WriteString(text)
	bw.WriteString("\r\n")
}

var statusLines = func() [600]string {
	var s [600]string
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			s[code] = strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
	return s
}()

// writeFields writes the header h as net/http does: fields with an invalid
// name are left out, CR and LF in a value become spaces.
func writeFields(bw *bufio.Writer, h http.Header, skipTrailers bool) {
	for k, vv := range h {
		if skipTrailers && strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

func writeValue(bw *bufio.Writer, v string) {
	if strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 {
		bw.WriteString(strings.TrimSpace(v))
		return
	}
	bw.WriteString(strings.TrimSpace(strings.NewReplacer("\r", " ", "\n", " ").Replace(v)))
}

// finish completes the response after the handler returned.
func (w *h1writer) finish() {
	c := w.c
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerOut {
		// As net/http: the rest of an unread body is read (up to 256 KiB,
		// bounded by the deadline the core set) before the head, so the
		// head can say Connection: close when it cannot be.
		if !c.body.discard() {
			w.closeAfter, c.linger = true, true
		}
		w.commit(true)
		if len(w.buf) > 0 && w.bodyAllowed() {
			held := w.buf
			w.buf = w.buf[:0]
			w.writeBody(held)
		}
	} else if !c.body.discard() {
		w.closeAfter, c.linger = true, true
	}
	if w.chunked && w.err == nil {
		c.bw.WriteString("0\r\n")
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && httpguts.ValidHeaderFieldName(name) {
				for _, v := range vv {
					c.bw.WriteString(name)
					c.bw.WriteString(": ")
					writeValue(c.bw, v)
					c.bw.WriteString("\r\n")
				}
			}
		}
		c.bw.WriteString("\r\n")
	}
	if w.length >= 0 && w.written != w.length && w.r.Method != http.MethodHead && w.bodyAllowed() {
		w.closeAfter = true // a short body: the client would read the next response as its rest
	}
	if w.err == nil {
		if err := c.bw.Flush(); err != nil {
			w.err = err
		}
	}
	if w.err != nil {
		w.closeAfter = true
	}
}

// httpDate is the Date header, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &cachedDate{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}

type cachedDate struct {
	sec int64
	s   string
}

var dateCache atomic.Pointer[cachedDate]
