package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// harCreatorName and Version identify this implementation in HAR logs.
const (
	harCreatorName = "mockbin"
	Version        = "1.0.0"
)

// reqInfo is everything mockbin reports about a request, read once.
type reqInfo struct {
	started   time.Time
	clientIP  string
	method    string
	url       string
	host      string // Host as sent; Go keeps it out of the header map
	proto     string
	cookies   []*http.Cookie
	header    http.Header
	query     url.Values
	queryKeys []string // first-appearance order of the query keys
	mimeType  string
	body      []byte
	bodySize  int // bytes received (body may be cut short in a bin log)
	form      *formData
	headSize  int
}

// formData is a parsed urlencoded or multipart body.
type formData struct {
	keys   []string // first-appearance order
	values map[string][]string
	parts  []formPart // multipart only, in order
}

type formPart struct {
	name, value, fileName, contentType string
}

// errBodyTooLarge is returned when a body passes the configured limit.
var errBodyTooLarge = errors.New("request body too large")

// readRequest reads the body (bounded by the MaxBytesReader the server
// installed) and collects the request's facts.
func (s *Server) readRequest(r *http.Request) (*reqInfo, error) {
	ri := &reqInfo{
		started:  s.now(),
		clientIP: clientIP(r),
		method:   r.Method,
		url:      requestURL(r),
		host:     r.Host,
		proto:    r.Proto,
		cookies:  r.Cookies(),
		header:   r.Header,
		mimeType: "application/octet-stream",
	}
	if r.URL.RawQuery != "" {
		ri.query, ri.queryKeys = parseOrdered(r.URL.RawQuery)
	}
	if r.Body != nil && r.Body != http.NoBody {
		bp := getBuf()
		buf := bytes.NewBuffer((*bp)[:0])
		_, err := buf.ReadFrom(r.Body)
		if err != nil {
			putBuf(bp)
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errBodyTooLarge
			}
			return nil, fmt.Errorf("read request body: %w", err)
		}
		// The body outlives this function (bins keep it in their log), so
		// it is copied out of the pooled buffer.
		ri.body = bytes.Clone(buf.Bytes())
		*bp = buf.Bytes()
		putBuf(bp)
	}
	ri.bodySize = len(ri.body)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err == nil {
			ri.mimeType = mt
			ri.form = parseForm(mt, params, ri.body)
		} else {
			ri.mimeType = strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])
		}
	}
	ri.headSize = headSize(r)
	return ri, nil
}

// parseOrdered parses a query string and remembers key order.
func parseOrdered(raw string) (url.Values, []string) {
	vals := url.Values{}
	var keys []string
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ku, err := url.QueryUnescape(k)
		if err != nil {
			ku = k
		}
		vu, err := url.QueryUnescape(v)
		if err != nil {
			vu = v
		}
		if _, seen := vals[ku]; !seen {
			keys = append(keys, ku)
		}
		vals[ku] = append(vals[ku], vu)
	}
	return vals, keys
}

func parseForm(mt string, params map[string]string, body []byte) *formData {
	switch mt {
	case "application/x-www-form-urlencoded":
		vals, keys := parseOrdered(string(body))
		return &formData{keys: keys, values: vals}
	case "multipart/form-data", "multipart/mixed", "multipart/related", "multipart/alternative":
		boundary := params["boundary"]
		if boundary == "" {
			return nil
		}
		fd := &formData{values: map[string][]string{}}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for {
			p, err := mr.NextPart()
			if err != nil {
				// A malformed tail keeps what was parsed; the raw text is in
				// postData.text anyway.
				break
			}
			data, err := io.ReadAll(p)
			if err != nil {
				break
			}
			fp := formPart{name: p.FormName(), value: string(data), fileName: p.FileName()}
			if ct := p.Header.Get("Content-Type"); ct != "" {
				if pmt, _, err := mime.ParseMediaType(ct); err == nil {
					fp.contentType = pmt
				}
			}
			fd.parts = append(fd.parts, fp)
			if _, seen := fd.values[fp.name]; !seen {
				fd.keys = append(fd.keys, fp.name)
			}
			fd.values[fp.name] = append(fd.values[fp.name], fp.value)
		}
		return fd
	}
	return nil
}

// headSize is the size of the request head as it was on the wire: request
// line, "name: value\r\n" per header, the blank line.
func headSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// clientIP follows Express with "trust proxy": the left-most
// X-Forwarded-For address, else the peer address.
func clientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if first = strings.TrimSpace(first); first != "" {
			return first
		}
	}
	return peerIP(r)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requestURL rebuilds the URL the client asked for, honouring the
// X-Forwarded-Proto/Host a proxy such as the gateway adds.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme, _, _ = strings.Cut(p, ",")
		scheme = strings.TrimSpace(scheme)
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host, _, _ = strings.Cut(h, ",")
		host = strings.TrimSpace(host)
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	return scheme + "://" + host + uri
}

// ---- value builders ----

// headerPair is one request header: its name lower-cased as Node reports
// it, and its canonical key in the Go header map.
type headerPair struct{ lower, key string }

// headerPairs lists the headers sorted by lower-cased name.
func (ri *reqInfo) headerPairs() []headerPair {
	pairs := make([]headerPair, 0, len(ri.header))
	for k := range ri.header {
		pairs = append(pairs, headerPair{lowerHeader(k), k})
	}
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j].lower < pairs[j-1].lower; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	return pairs
}

// commonLower spares the hot path an allocation per well-known header.
var commonLower = func() map[string]string {
	m := map[string]string{}
	for _, h := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control", "Connection",
		"Content-Length", "Content-Type", "Cookie", "Origin", "Referer", "User-Agent", "Via", "Apikey",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Path", "X-Forwarded-Port", "X-Forwarded-Prefix",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Consumer-Id", "X-Consumer-Username",
		"X-Credential-Identifier", "X-Kong-Request-Id", "X-Pretty-Print", "Traceparent",
	} {
		m[h] = strings.ToLower(h)
	}
	return m
}()

func lowerHeader(k string) string {
	if l, ok := commonLower[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// headerObj is Node's req.headers: lower-cased names, duplicates joined.
func (ri *reqInfo) headerObj() Obj {
	host := ri.host
	o := make(Obj, 0, len(ri.header)+1)
	if host != "" {
		o = append(o, KV{"host", host})
	}
	for _, p := range ri.headerPairs() {
		vs := ri.header[p.key]
		if len(vs) == 1 {
			o = append(o, KV{p.lower, vs[0]})
		} else {
			o = append(o, KV{p.lower, strings.Join(vs, ", ")})
		}
	}
	return o
}

// headerList is the HAR form: [{name, value}], one entry per value.
func (ri *reqInfo) headerList() []any {
	host := ri.host
	l := make([]any, 0, len(ri.header)+1)
	if host != "" {
		l = append(l, Obj{{"name", "host"}, {"value", host}})
	}
	for _, p := range ri.headerPairs() {
		for _, v := range ri.header[p.key] {
			l = append(l, Obj{{"name", p.lower}, {"value", v}})
		}
	}
	return l
}

func (ri *reqInfo) cookieObj() Obj {
	o := make(Obj, 0, len(ri.cookies))
	for _, c := range ri.cookies {
		o = append(o, KV{c.Name, c.Value})
	}
	return o
}

func (ri *reqInfo) cookieList() []any {
	l := make([]any, 0, len(ri.cookies))
	for _, c := range ri.cookies {
		l = append(l, Obj{{"name", c.Name}, {"value", c.Value}})
	}
	return l
}

// valuesObj is the qs form: a key once, an array when repeated.
func valuesObj(keys []string, vals map[string][]string) Obj {
	o := make(Obj, 0, len(keys))
	for _, k := range keys {
		vs := vals[k]
		if len(vs) == 1 {
			o = append(o, KV{k, vs[0]})
		} else {
			o = append(o, KV{k, vs})
		}
	}
	return o
}

func valuesList(keys []string, vals map[string][]string) []any {
	l := make([]any, 0, len(keys))
	for _, k := range keys {
		for _, v := range vals[k] {
			l = append(l, Obj{{"name", k}, {"value", v}})
		}
	}
	return l
}

func (ri *reqInfo) postParamsSimple() any {
	if ri.form == nil {
		return []any{}
	}
	return valuesObj(ri.form.keys, ri.form.values)
}

func (ri *reqInfo) postParamsList() []any {
	if ri.form == nil {
		return []any{}
	}
	if ri.form.parts == nil {
		return valuesList(ri.form.keys, ri.form.values)
	}
	l := make([]any, 0, len(ri.form.parts))
	for _, p := range ri.form.parts {
		o := Obj{{"name", p.name}, {"value", p.value}}
		if p.fileName != "" {
			o = append(o, KV{"fileName", p.fileName})
		}
		if p.contentType != "" {
			o = append(o, KV{"contentType", p.contentType})
		}
		l = append(l, o)
	}
	return l
}

func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// simpleHAR is mockbin's createSimpleHar: the /request answer.
func (ri *reqInfo) simpleHAR() Obj {
	var qs any = Obj{}
	if ri.query != nil {
		qs = valuesObj(ri.queryKeys, ri.query)
	}
	return Obj{
		{"startedDateTime", isoTime(ri.started)},
		{"clientIPAddress", ri.clientIP},
		{"method", ri.method},
		{"url", ri.url},
		{"httpVersion", ri.proto},
		{"cookies", ri.cookieObj()},
		{"headers", ri.headerObj()},
		{"queryString", qs},
		{"postData", Obj{
			{"mimeType", ri.mimeType},
			{"text", string(ri.body)},
			{"params", ri.postParamsSimple()},
		}},
		{"headersSize", ri.headSize},
		{"bodySize", ri.bodySize},
	}
}

// harEntry is one HAR 1.2 entry for the request (the /har answer's only
// entry and one line of a bin's log).
func (ri *reqInfo) harEntry() Obj {
	var qs []any
	if ri.query != nil {
		qs = valuesList(ri.queryKeys, ri.query)
	} else {
		qs = []any{}
	}
	return Obj{
		{"startedDateTime", isoTime(ri.started)},
		{"clientIPAddress", ri.clientIP},
		{"request", Obj{
			{"method", ri.method},
			{"url", ri.url},
			{"httpVersion", ri.proto},
			{"cookies", ri.cookieList()},
			{"headers", ri.headerList()},
			{"queryString", qs},
			{"postData", Obj{
				{"mimeType", ri.mimeType},
				{"text", string(ri.body)},
				{"params", ri.postParamsList()},
			}},
			{"headersSize", ri.headSize},
			{"bodySize", ri.bodySize},
		}},
	}
}

// harLog wraps entries in a HAR 1.2 log.
func harLog(entries []any) Obj {
	return Obj{{"log", Obj{
		{"version", "1.2"},
		{"creator", Obj{{"name", harCreatorName}, {"version", Version}}},
		{"entries", entries},
	}}}
}
