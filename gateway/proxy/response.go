package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
)

// The upstream response head is parsed here rather than by http.ReadResponse:
// that one builds a Header map, a Response and several readers per response,
// only for us to copy the map again into the client's. This parser keeps the
// head as one string, points header values into it, and frames the body with
// readers that live in the pooled request state (RFC 9112 section 6).

// maxResponseHead matches Kong's proxy_buffer_size (160k): a larger head is 502.
const maxResponseHead = 160 << 10

var (
	errHeadTooLarge = errors.New("upstream response head exceeds 160 KiB")
	errMalformed    = errors.New("malformed upstream response")
)

type headerField struct{ key, value string }

// upResponse is one parsed upstream response.
type upResponse struct {
	status int
	fields []headerField // in arrival order; keys canonical
	// framing
	length  int64 // -1: chunked or until close
	chunked bool
	close   bool // the connection cannot be reused after this response
	noBody  bool

	body    io.Reader // one of the readers below, or nil when noBody
	trailer http.Header

	lr lengthReader
	cr chunkedReader
	er eofReader

	head []byte // scratch for the raw head
}

func (u *upResponse) reset() {
	clear(u.fields)
	head := u.head[:0]
	fields := u.fields[:0]
	*u = upResponse{fields: fields, head: head}
}

// readUpstreamResponse reads one response head from br, skipping interim 1xx
// responses, and prepares the body reader. method is the request's method
// (a HEAD response has no body). A 101 is a response only when the request
// asked for an upgrade (upgrade); then the connection becomes a tunnel.
func readUpstreamResponse(br *bufio.Reader, method string, upgrade bool, u *upResponse) error {
	for {
		u.reset()
		if err := u.readHead(br); err != nil {
			return err
		}
		if u.status == http.StatusSwitchingProtocols {
			if !upgrade {
				return errUpgrade
			}
			u.noBody, u.close = true, true
			return nil
		}
		if u.status >= 100 && u.status < 200 {
			continue // 100 Continue, 103 Early Hints: informational only
		}
		return u.frame(br, method)
	}
}

func (u *upResponse) readHead(br *bufio.Reader) error {
	// Collect the raw head (status line + fields + blank line). A line longer
	// than the read buffer arrives in fragments.
	lineStart := 0
	for {
		frag, err := br.ReadSlice('\n')
		if len(u.head)+len(frag) > maxResponseHead {
			return errHeadTooLarge
		}
		u.head = append(u.head, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(u.head) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		line := u.head[lineStart:]
		if len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			break // the blank line ending the head
		}
		lineStart = len(u.head)
	}
	// One allocation holds every header value the client will see.
	head := string(u.head)
	eol := indexLineEnd(head, 0)
	if err := u.parseStatus(head[:eol.start]); err != nil {
		return err
	}
	pos := eol.next
	for pos < len(head) {
		e := indexLineEnd(head, pos)
		line := head[pos:e.start]
		pos = e.next
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fmt.Errorf("%w: obsolete line folding", errMalformed)
		}
		colon := -1
		for i := 0; i < len(line); i++ {
			if line[i] == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 {
			return fmt.Errorf("%w: header line without a name", errMalformed)
		}
		key := line[:colon]
		if !validHeaderName(key) {
			return fmt.Errorf("%w: invalid header name %q", errMalformed, key)
		}
		key = canonicalKey(key)
		value := trimOWS(line[colon+1:])
		u.fields = append(u.fields, headerField{key, value})
	}
	return nil
}

type lineEnd struct{ start, next int }

// indexLineEnd finds the end of the line starting at pos (before CRLF or LF).
func indexLineEnd(s string, pos int) lineEnd {
	for i := pos; i < len(s); i++ {
		if s[i] == '\n' {
			if i > pos && s[i-1] == '\r' {
				return lineEnd{i - 1, i + 1}
			}
			return lineEnd{i, i + 1}
		}
	}
	return lineEnd{len(s), len(s)}
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// canonicalKey returns the canonical form of a header name without
// allocating when it already is canonical (the usual case).
func canonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(k)
		}
		upper = c == '-'
	}
	return k
}

func (u *upResponse) parseStatus(line string) error {
	// HTTP/1.1 200 OK
	if len(line) < 12 || line[:7] != "HTTP/1." || line[8] != ' ' {
		return fmt.Errorf("%w: status line %q", errMalformed, truncate(line))
	}
	code := line[9:12]
	if len(line) > 12 && line[12] != ' ' {
		return fmt.Errorf("%w: status line %q", errMalformed, truncate(line))
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := code[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: status code %q", errMalformed, code)
		}
		n = n*10 + int(c-'0')
	}
	if n < 100 {
		return fmt.Errorf("%w: status code %d", errMalformed, n)
	}
	u.status = n
	if line[7] == '0' {
		u.close = true // HTTP/1.0: closes unless it says keep-alive (see frame)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// frame applies RFC 9112 section 6.3 to decide how the body is delimited.
func (u *upResponse) frame(br *bufio.Reader, method string) error {
	var te, cl string
	var haveCL bool
	for _, f := range u.fields {
		switch f.key {
		case "Transfer-Encoding":
			if te != "" {
				te += ", " + f.value
			} else {
				te = f.value
			}
		case "Content-Length":
			if haveCL && f.value != cl {
				return fmt.Errorf("%w: conflicting Content-Length values", errMalformed)
			}
			cl, haveCL = f.value, true
		case "Connection":
			if headerHasToken(f.value, "close") {
				u.close = true
			} else if headerHasToken(f.value, "keep-alive") && u.close && len(u.head) > 7 && u.head[7] == '0' {
				u.close = false // an HTTP/1.0 upstream that keeps the connection
			}
		}
	}
	u.length = -1
	if method == http.MethodHead || u.status == http.StatusNoContent || u.status == http.StatusNotModified {
		u.noBody = true
		u.length = 0
		return nil
	}
	switch {
	case te != "":
		// With a Transfer-Encoding, Content-Length is ignored and the
		// connection is not trusted for another message if both came.
		if haveCL {
			u.close = true
		}
		if lastToken(te) == "chunked" {
			u.chunked = true
			u.cr = chunkedReader{br: br, u: u}
			u.body = &u.cr
			return nil
		}
		u.close = true // another coding last: the body runs until close
	case haveCL:
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: Content-Length %q", errMalformed, cl)
		}
		u.length = n
		if n == 0 {
			u.noBody = true
			return nil
		}
		u.lr = lengthReader{br: br, remaining: n}
		u.body = &u.lr
		return nil
	default:
		u.close = true // no framing: the body ends when the upstream closes
	}
	u.er = eofReader{br: br}
	u.body = &u.er
	return nil
}

func headerHasToken(v, token string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if asciiEqualFold(trimOWS(v[:i]), token) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

func lastToken(v string) string {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ',' {
			v = v[i+1:]
			break
		}
	}
	v = trimOWS(v)
	if asciiEqualFold(v, "chunked") {
		return "chunked"
	}
	return v
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// lengthReader reads a Content-Length body.
type lengthReader struct {
	br        *bufio.Reader
	remaining int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.remaining {
		p = p[:l.remaining]
	}
	n, err := l.br.Read(p)
	l.remaining -= int64(n)
	if err == io.EOF {
		if l.remaining > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	if l.remaining == 0 && err == nil {
		return n, io.EOF
	}
	return n, err
}

// eofReader reads a body delimited by the connection's close.
type eofReader struct{ br *bufio.Reader }

func (e *eofReader) Read(p []byte) (int, error) { return e.br.Read(p) }

// chunkedReader decodes a chunked body and collects its trailer fields.
type chunkedReader struct {
	br        *bufio.Reader
	u         *upResponse
	remaining int64 // bytes left in the current chunk
	started   bool
	done      bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.remaining == 0 {
		if c.started {
			if err := c.expectCRLF(); err != nil {
				return 0, err
			}
		}
		c.started = true
		size, err := c.chunkSize()
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := c.readTrailer(); err != nil {
				return 0, err
			}
			c.done = true
			return 0, io.EOF
		}
		c.remaining = size
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	c.remaining -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c *chunkedReader) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		} else if err == bufio.ErrBufferFull {
			err = fmt.Errorf("%w: chunk line too long", errMalformed)
		}
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	return line, nil
}

func (c *chunkedReader) expectCRLF() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return fmt.Errorf("%w: chunk data not followed by CRLF", errMalformed)
	}
	return nil
}

func (c *chunkedReader) chunkSize() (int64, error) {
	line, err := c.line()
	if err != nil {
		return 0, err
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // chunk extensions carry nothing we use
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 16 {
		return 0, fmt.Errorf("%w: chunk size %q", errMalformed, line)
	}
	var n int64
	for _, b := range line {
		var d byte
		switch {
		case '0' <= b && b <= '9':
			d = b - '0'
		case 'a' <= b && b <= 'f':
			d = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			d = b - 'A' + 10
		default:
			return 0, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		n = n<<4 | int64(d)
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: chunk size overflows", errMalformed)
	}
	return n, nil
}

func (c *chunkedReader) readTrailer() error {
	total := 0
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		total += len(line)
		if total > maxResponseHead {
			return errHeadTooLarge
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return fmt.Errorf("%w: trailer line %q", errMalformed, line)
		}
		key := string(line[:i])
		if !validHeaderName(key) {
			return fmt.Errorf("%w: trailer name %q", errMalformed, key)
		}
		if c.u.trailer == nil {
			c.u.trailer = make(http.Header)
		}
		k := canonicalKey(key)
		c.u.trailer[k] = append(c.u.trailer[k], trimOWS(string(line[i+1:])))
	}
}
