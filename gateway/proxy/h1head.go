package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"
)

// The request head is parsed by fasthttp's RequestHeader, a well-kept,
// allocation-free parser written for exactly this; its answer is then held to
// nginx's stricter rules (which Kong inherits) before anything is routed:
//
//   - the request line: fasthttp's, then the method must be a token and the
//     version HTTP/1.0 or HTTP/1.1 (nginx: 400; 505 for another version);
//   - every header line again, raw: a name of token characters directly
//     followed by ':' (no space before the colon, no obs-fold continuation
//     line), a value without CR, NUL or other control bytes (nginx 1.21.1+:
//     400). Lines may end in CRLF or a bare LF, as nginx accepts;
//   - framing: Transfer-Encoding only on HTTP/1.1 and only exactly
//     "chunked"; never together with Content-Length; Content-Length once,
//     digits only (nginx: 400, 501 for an unknown coding);
//   - sizes: the head is read into 4 KiB, then into headBufSize when it
//     does not fit; beyond that nginx's 414 or 494 (Kong's 400). The core's
//     headTooLarge then applies the 8 KiB per-line limits as it does for
//     net/http's requests; at most maxHeaderLines header lines.
//
// The header map is built from the raw lines, not from fasthttp's normalised
// view, so the upstream gets each value as the client sent it (fasthttp
// re-serialises cookies, for one).

const (
	headBufSize    = maxHeadTotal + 2*maxHeadLine // the core answers within this; beyond it the loop does
	maxHeaderLines = 1000
)

var (
	errTooManyFiles = syscall.EMFILE
	errDeadline     = os.ErrDeadlineExceeded
)

type headParser struct {
	h       fasthttp.RequestHeader
	scratch []byte
}

// read parses the next head into c.req. A non-zero status is the answer for
// a head that breaks the rules; err is a connection failure (close quietly).
func (hp *headParser) read(c *h1conn) (status int, msg string, err error) {
	h := &hp.h
	h.Reset()
	r := &c.req
	r.Method = ""
	err = h.Read(c.br)
	if err != nil {
		var small *fasthttp.ErrSmallBuffer
		if errors.As(err, &small) && c.br.Size() < headBufSize {
			// A head larger than the connection's 4 KiB buffer: read it
			// again through a large one (which keeps the rest of the
			// connection: it reads from the small one).
			c.br = bufio.NewReaderSize(c.br, headBufSize)
			h.Reset()
			err = h.Read(c.br)
		}
	}
	if err != nil {
		var small *fasthttp.ErrSmallBuffer
		if errors.As(err, &small) {
			b, _ := c.br.Peek(c.br.Buffered())
			if i := indexByte(b, '\n'); i < 0 || i > maxHeadLine {
				return http.StatusRequestURITooLong, msgURITooLong, nil
			}
			return http.StatusBadRequest, msgHeaderTooLarge, nil
		}
		if isConnErr(err) {
			return 0, "", err
		}
		b, _ := c.br.Peek(c.br.Buffered())
		if unknownCoding(b) {
			return http.StatusNotImplemented, "", nil
		}
		return http.StatusBadRequest, msgBadRequest, nil
	}
	return hp.build(c)
}

// unknownCoding reports a head fasthttp refused whose one Transfer-Encoding
// names a coding other than chunked on HTTP/1.1: nginx's 501, not 400.
func unknownCoding(head []byte) bool {
	s := string(head)
	end := strings.Index(s, "\r\n\r\n")
	if end < 0 {
		return false
	}
	s = s[:end+2]
	first, rest, _ := strings.Cut(s, "\r\n")
	if !strings.HasSuffix(first, " HTTP/1.1") {
		return false
	}
	n, coding := 0, ""
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if ok && asciiEqualFold(name, "Transfer-Encoding") {
			n++
			coding = trimOWS(value)
		}
		if ok && asciiEqualFold(name, "Content-Length") {
			return false // with Content-Length it is nginx's 400
		}
	}
	return n == 1 && !asciiEqualFold(coding, "chunked")
}

func isConnErr(err error) bool {
	var nr fasthttp.ErrNothingRead
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &nr) ||
		errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// build checks the parsed head against nginx's rules and fills c.req.
func (hp *headParser) build(c *h1conn) (status int, msg string, err error) {
	h := &hp.h
	r := &c.req
	r.Method = internMethod(h.Method())
	if !validMethod(r.Method) {
		return http.StatusBadRequest, msgBadRequest, nil
	}
	switch proto := h.Protocol(); {
	case string(proto) == "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	case string(proto) == "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	case len(proto) == 8 && string(proto[:7]) == "HTTP/1." && proto[7] >= '2' && proto[7] <= '9':
		// A later 1.x minor version is served as 1.1, as nginx does.
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	default:
		return http.StatusHTTPVersionNotSupported, "", nil
	}
	if r.Method == http.MethodConnect {
		return http.StatusBadRequest, msgBadRequest, nil // nginx 1.21.1+
	}

	// One string backs the request target and every header name and value.
	raw := h.RawHeaders()
	uri := h.RequestURI()
	s := hp.scratch[:0]
	s = append(s, uri...)
	s = append(s, raw...)
	hp.scratch = s
	str := string(s)
	r.RequestURI = str[:len(uri)]
	lines := str[len(uri):]

	if r.Header == nil {
		r.Header = make(http.Header)
	} else {
		clear(r.Header)
	}
	hdr := r.Header
	var (
		n                int
		clCount, teCount int
		cl, te, host     string
		teTab            bool
		expect           string
	)
	// Count the lines first: one []string backs every value.
	for i := 0; i < len(lines); i++ {
		if lines[i] == '\n' {
			n++
		}
	}
	if n > maxHeaderLines+1 {
		return http.StatusBadRequest, msgHeaderTooLarge, nil
	}
	vals := make([]string, 0, n)
	for len(lines) > 0 {
		end := strings.IndexByte(lines, '\n')
		if end < 0 {
			return http.StatusBadRequest, msgBadRequest, nil
		}
		line := lines[:end]
		lines = lines[end+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if line == "" {
			break // the end of the head
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			// No name: an obs-fold continuation (leading SP or HTAB), a
			// line without a colon.
			return http.StatusBadRequest, msgBadRequest, nil
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !httpguts.ValidHeaderFieldName(name) || !validRequestValue(value) {
			return http.StatusBadRequest, msgBadRequest, nil
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Host":
			if host != "" {
				return http.StatusBadRequest, msgBadRequest, nil
			}
			host = value
			if host == "" {
				host = " " // present but empty: counted, refused below
			}
			continue // net/http moves Host out of the map too
		case "Content-Length":
			clCount++
			cl = value
		case "Transfer-Encoding":
			teCount++
			te = value
			if strings.IndexByte(line[colon+1:], '\t') >= 0 {
				teTab = true // nginx compares the raw value: 501
			}
		case "Expect":
			expect = value
		}
		vals = append(vals, value)
		i := len(vals) - 1
		if prev, ok := hdr[key]; ok {
			hdr[key] = append(prev, value)
		} else {
			hdr[key] = vals[i : i+1 : i+1]
		}
	}
	if host == " " {
		host = ""
		if r.ProtoMinor == 1 {
			return http.StatusBadRequest, msgBadRequest, nil
		}
	}
	if r.ProtoMinor == 1 && host == "" && !strings.HasPrefix(r.RequestURI, "http") {
		return http.StatusBadRequest, msgBadRequest, nil
	}
	if host != "" && !httpguts.ValidHostHeader(host) {
		return http.StatusBadRequest, msgBadRequest, nil
	}

	// The request target: origin form or absolute form, as nginx takes
	// them ("*" and the authority form are 400 there).
	rawurl := r.RequestURI
	if !strings.HasPrefix(rawurl, "/") && !hasPrefixFold(rawurl, "http://") && !hasPrefixFold(rawurl, "https://") {
		return http.StatusBadRequest, msgBadRequest, nil
	}
	u, perr := url.ParseRequestURI(rawurl)
	if perr != nil {
		return http.StatusBadRequest, msgBadRequest, nil
	}
	r.URL = u
	r.Host = u.Host
	if r.Host == "" {
		r.Host = host
	}

	// Framing.
	r.TransferEncoding = nil
	r.ContentLength = 0
	r.Close = false
	c.body.reset(c)
	switch {
	case teCount > 0:
		if clCount > 0 || teCount > 1 || r.ProtoMinor == 0 {
			return http.StatusBadRequest, msgBadRequest, nil
		}
		if !asciiEqualFold(te, "chunked") || teTab {
			return http.StatusNotImplemented, "", nil
		}
		r.TransferEncoding = teChunked
		r.ContentLength = -1
		c.body.src = httputil.NewChunkedReader(c.br)
		c.body.chunked = true
	case clCount > 1:
		return http.StatusBadRequest, msgBadRequest, nil
	case clCount == 1:
		v, ok := parseContentLength(cl)
		if !ok {
			return http.StatusBadRequest, msgBadRequest, nil
		}
		r.ContentLength = v
		if v > 0 {
			c.body.lr.R, c.body.lr.N = c.br, v
			c.body.src = &c.body.lr
		}
	}
	if c.body.src != nil {
		c.body.expect = r.ProtoMinor == 1 && asciiEqualFold(expect, "100-continue")
		r.Body = &c.body
	} else {
		r.Body = http.NoBody
	}
	r.RemoteAddr = c.remoteAddr
	r.TLS = nil
	r.Form, r.PostForm, r.MultipartForm, r.Trailer, r.Response = nil, nil, nil, nil, nil
	r.Pattern = ""
	if r.Context() != c.ctx {
		*r = *r.WithContext(c.ctx)
	}
	return 0, "", nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiEqualFold(s[:len(prefix)], prefix)
}

// parseContentLength accepts digits only (no sign, no list), as nginx's
// ngx_atoof does, and refuses values that overflow.
func parseContentLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// validRequestValue refuses CTLs other than HTAB in a header value (net/http
// refuses the same; nginx refuses NUL, CR and LF).
func validRequestValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// validMethod is nginx's rule: upper-case letters, '_' and '-' only (a
// lower-case "get" is a 400 there).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if b := m[i]; (b < 'A' || b > 'Z') && b != '_' && b != '-' {
			return false
		}
	}
	return true
}

func internMethod(b []byte) string {
	switch string(b) {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "HEAD":
		return http.MethodHead
	case "DELETE":
		return http.MethodDelete
	case "PATCH":
		return http.MethodPatch
	case "OPTIONS":
		return http.MethodOptions
	}
	return string(b)
}

// h1body is a request body read from the connection: Content-Length bytes,
// or chunked (net/http's own chunked decoder, through httputil) followed by
// its trailer section, which is read and dropped.
type h1body struct {
	c       *h1conn
	src     io.Reader
	lr      io.LimitedReader
	chunked bool
	expect  bool // send 100 Continue before the first read
	eof     bool
	err     error
}

func (b *h1body) reset(c *h1conn) {
	*b = h1body{c: c}
}

func (b *h1body) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.expect {
		b.expect = false
		if w := &b.c.w; !w.headerOut {
			b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := b.c.bw.Flush(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	n, err := b.src.Read(p)
	if err == io.EOF {
		if b.chunked {
			if terr := b.readTrailer(); terr != nil {
				b.err = terr
				return n, terr
			}
		} else if b.lr.N > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if b.src == &b.lr && b.lr.N == 0 && err == nil {
		err = io.EOF // the last byte: say so now, so no read waits for more
	}
	switch {
	case err == io.EOF:
		b.eof = true
		b.c.bodyDone()
	case err != nil:
		b.err = err
	}
	return n, err
}

// readTrailer consumes the trailer section after the last chunk, bounded like
// a head; its fields are dropped (nginx does not pass request trailers on).
func (b *h1body) readTrailer() error {
	total := 0
	for {
		line, err := b.c.br.ReadSlice('\n')
		total += len(line)
		if total > maxHeadLine || errors.Is(err, bufio.ErrBufferFull) {
			return errors.New("chunked trailer too large")
		}
		if err != nil {
			return err
		}
		if len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			return nil
		}
	}
}

func (b *h1body) Close() error { return nil }

// discard reads what the handler left of the body, up to 256 KiB as
// net/http does, and reports whether the body is now complete (the
// connection can carry another request).
func (b *h1body) discard() bool {
	if b.src == nil || b.eof {
		return true
	}
	if b.err != nil {
		return false
	}
	if b.expect {
		return false // the client waits for a 100 Continue it will not get
	}
	n, _ := io.CopyN(io.Discard, b, 256<<10+1)
	return b.eof && n <= 256<<10
}
