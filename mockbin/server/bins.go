package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// A bin is a stored HAR response that /bin/:id replays, with a log of the
// requests that hit it. Bins live in memory: a bounded FIFO of maxBins.

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text,omitempty"`
	Encoding string `json:"encoding,omitempty"`
}

// harResponse is a HAR 1.2 response object, the body of POST /bin/create.
type harResponse struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []harCookie `json:"cookies"`
	Headers     []harNV     `json:"headers"`
	Content     harContent  `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int         `json:"headersSize"`
	BodySize    int         `json:"bodySize"`

	body []byte // the decoded content, what replay sends
}

type bin struct {
	resp     harResponse
	mu       sync.Mutex
	log      []logEntry // oldest first, at most binLogSize and binLogBudget bytes
	logBytes int
}

type logEntry struct {
	entry any
	size  int
}

type binStore struct {
	mu           sync.RWMutex
	max          int
	bins         map[string]*bin
	order        []string // creation order, for eviction
	contentBytes int
}

func newBinStore(max int) *binStore {
	return &binStore{max: max, bins: make(map[string]*bin)}
}

// add stores a response, evicting the oldest bins while the store is over
// its count or content budget.
func (bs *binStore) add(resp harResponse) string {
	id := newUUID()
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for len(bs.order) > 0 && (len(bs.order) >= bs.max || bs.contentBytes+len(resp.body) > binContentBudget) {
		bs.dropLocked(bs.order[0])
	}
	bs.bins[id] = &bin{resp: resp}
	bs.order = append(bs.order, id)
	bs.contentBytes += len(resp.body)
	return id
}

func (bs *binStore) dropLocked(id string) {
	b, ok := bs.bins[id]
	if !ok {
		return
	}
	bs.contentBytes -= len(b.resp.body)
	delete(bs.bins, id)
	for i, o := range bs.order {
		if o == id {
			bs.order = append(bs.order[:i], bs.order[i+1:]...)
			break
		}
	}
}

func (bs *binStore) get(id string) *bin {
	bs.mu.RLock()
	defer bs.mu.RUnlock()
	return bs.bins[id]
}

func (bs *binStore) remove(id string) bool {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if _, ok := bs.bins[id]; !ok {
		return false
	}
	bs.dropLocked(id)
	return true
}

// record logs a request, keeping the last binLogSize entries within
// binLogBudget bytes.
func (b *bin) record(ri *reqInfo) {
	size := ri.headSize + len(ri.body)
	if size > binLogBudget {
		// One request larger than the whole budget keeps its head and the
		// start of its body.
		cut := max(binLogBudget-ri.headSize, 0)
		cp := *ri
		cp.body = ri.body[:min(cut, len(ri.body))]
		ri, size = &cp, ri.headSize+len(cp.body)
	}
	e := logEntry{entry: ri.harEntry(), size: size}
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.log) > 0 && (len(b.log) >= binLogSize || b.logBytes+size > binLogBudget) {
		b.logBytes -= b.log[0].size
		b.log[0] = logEntry{}
		b.log = b.log[1:]
	}
	b.log = append(b.log, e)
	b.logBytes += size
}

func (b *bin) entries() []any {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]any, len(b.log))
	for i, e := range b.log {
		out[i] = e.entry
	}
	return out
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

// bin routes /bin/create, /bin/:id/view|sample|log|delete and /bin/:id*.
func (s *Server) bin(w http.ResponseWriter, r *http.Request, rest string) {
	id, sub := cutSegment(rest)
	if id == "" {
		notFound(w, r)
		return
	}
	if id == "create" && sub == "" {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, "POST")
			return
		}
		s.binCreate(w, r)
		return
	}
	b := s.bins.get(id)
	if b == nil {
		render(w, r, http.StatusNotFound, Obj{{"error", Obj{
			{"code", "404"}, {"message", "bin " + strconv.Quote(id) + " not found"},
		}}})
		return
	}
	switch {
	case sub == "/view" && r.Method == http.MethodGet:
		render(w, r, http.StatusOK, b.resp.value())
	case sub == "/sample" && r.Method == http.MethodGet:
		render(w, r, http.StatusOK, sampleRequest(r, id))
	case sub == "/log" && r.Method == http.MethodGet:
		render(w, r, http.StatusOK, harLog(b.entries()))
	case sub == "/delete" && r.Method == http.MethodDelete:
		s.bins.remove(id)
		render(w, r, http.StatusOK, Obj{{"deleted", id}})
	default:
		s.binRun(w, r, b)
	}
}

// binCreate validates a HAR response and stores it. The body is the
// response object itself, a HAR entry holding it under "response", or a
// form with a "response" field (mockbin's web form).
func (s *Server) binCreate(w http.ResponseWriter, r *http.Request) {
	ri := s.readOrFail(w, r)
	if ri == nil {
		return
	}
	raw := ri.body
	if ri.form != nil {
		if vs := ri.form.values["response"]; len(vs) > 0 {
			raw = []byte(vs[0])
		}
	}
	resp, problems := parseHARResponse(raw)
	if len(problems) > 0 {
		errs := make([]any, len(problems))
		for i, p := range problems {
			errs[i] = Obj{{"field", p.field}, {"message", p.msg}}
		}
		render(w, r, http.StatusBadRequest, Obj{{"errors", errs}})
		return
	}
	id := s.bins.add(resp)
	w.Header().Set("Location", "/bin/"+id)
	render(w, r, http.StatusCreated, id)
}

type harProblem struct{ field, msg string }

// parseHARResponse checks what har-validator's response schema requires
// (mockbin fills redirectURL, headersSize, bodySize and content.size before
// validating, so those may be missing) and that the answer can be replayed.
func parseHARResponse(raw []byte) (harResponse, []harProblem) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return harResponse{}, []harProblem{{"", "body is not a JSON object: " + err.Error()}}
	}
	if inner, ok := top["response"]; ok {
		if err := json.Unmarshal(inner, &top); err != nil {
			return harResponse{}, []harProblem{{"response", "is not a JSON object: " + err.Error()}}
		}
	}
	var probs []harProblem
	for _, f := range []string{"status", "statusText", "httpVersion", "cookies", "headers", "content"} {
		if v, ok := top[f]; !ok || string(v) == "null" {
			probs = append(probs, harProblem{f, "is required"})
		}
	}
	var resp harResponse
	norm, _ := json.Marshal(top)
	dec := json.NewDecoder(bytes.NewReader(norm))
	if err := dec.Decode(&resp); err != nil {
		probs = append(probs, harProblem{typeErrField(err), "has the wrong type: " + err.Error()})
		return resp, probs
	}
	if _, ok := top["status"]; ok && (resp.Status < 200 || resp.Status > 999) {
		probs = append(probs, harProblem{"status", fmt.Sprintf("%d must be 200-999", resp.Status)})
	}
	if c, ok := top["content"]; ok && string(c) != "null" {
		var content map[string]json.RawMessage
		if json.Unmarshal(c, &content) == nil {
			if _, ok := content["mimeType"]; !ok {
				probs = append(probs, harProblem{"content.mimeType", "is required"})
			}
		}
	}
	for i, h := range resp.Headers {
		if !validHeaderName(strings.TrimSpace(h.Name)) {
			probs = append(probs, harProblem{fmt.Sprintf("headers[%d].name", i), fmt.Sprintf("%q is not a valid header name", h.Name)})
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			probs = append(probs, harProblem{fmt.Sprintf("headers[%d].value", i), "must not contain CR, LF or NUL"})
		}
	}
	for i, c := range resp.Cookies {
		if err := (&http.Cookie{Name: c.Name, Value: c.Value}).Valid(); err != nil {
			probs = append(probs, harProblem{fmt.Sprintf("cookies[%d]", i), err.Error()})
		}
	}
	if resp.Content.Encoding == "base64" {
		// HAR carries binary bodies base64-encoded; replay sends the bytes.
		raw, err := base64.StdEncoding.DecodeString(resp.Content.Text)
		if err != nil {
			probs = append(probs, harProblem{"content.text", "is not valid base64: " + err.Error()})
		}
		resp.body = raw
	} else {
		resp.body = []byte(resp.Content.Text)
	}
	resp.Content.Size = len(resp.body)
	return resp, probs
}

func typeErrField(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return te.Field
	}
	return ""
}

// hopHeaders are never replayed: net/http manages framing itself, and a
// stored Content-Length that disagrees with the body would break the reply.
var hopHeaders = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Upgrade": true, "Te": true, "Trailer": true,
}

// binRun replays a bin and logs the request.
func (s *Server) binRun(w http.ResponseWriter, r *http.Request, b *bin) {
	ri := s.readOrFail(w, r)
	if ri == nil {
		return
	}
	b.record(ri)
	h := w.Header()
	for _, hv := range b.resp.Headers {
		name := http.CanonicalHeaderKey(strings.TrimSpace(hv.Name))
		if hopHeaders[name] {
			continue
		}
		h.Add(name, hv.Value)
	}
	for _, c := range b.resp.Cookies {
		http.SetCookie(w, &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain,
			HttpOnly: c.HTTPOnly, Secure: c.Secure})
	}
	if h.Get("Content-Type") == "" && b.resp.Content.MimeType != "" {
		h.Set("Content-Type", b.resp.Content.MimeType)
	}
	if b.resp.RedirectURL != "" {
		h.Set("Location", b.resp.RedirectURL)
	}
	status := b.resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if !bodyAllowed(status) {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b.resp.body)))
	w.WriteHeader(status)
	_, _ = w.Write(b.resp.body)
}

func (hr harResponse) value() Obj {
	cookies := make([]any, len(hr.Cookies))
	for i, c := range hr.Cookies {
		o := Obj{{"name", c.Name}, {"value", c.Value}}
		if c.Path != "" {
			o = append(o, KV{"path", c.Path})
		}
		if c.Domain != "" {
			o = append(o, KV{"domain", c.Domain})
		}
		if c.Expires != "" {
			o = append(o, KV{"expires", c.Expires})
		}
		if c.HTTPOnly {
			o = append(o, KV{"httpOnly", true})
		}
		if c.Secure {
			o = append(o, KV{"secure", true})
		}
		cookies[i] = o
	}
	headers := make([]any, len(hr.Headers))
	for i, h := range hr.Headers {
		headers[i] = Obj{{"name", h.Name}, {"value", h.Value}}
	}
	return Obj{
		{"status", hr.Status},
		{"statusText", hr.StatusText},
		{"httpVersion", hr.HTTPVersion},
		{"cookies", cookies},
		{"headers", headers},
		{"content", Obj{
			{"size", hr.Content.Size},
			{"mimeType", hr.Content.MimeType},
			{"text", hr.Content.Text},
			{"encoding", hr.Content.Encoding},
		}},
		{"redirectURL", hr.RedirectURL},
		{"headersSize", hr.HeadersSize},
		{"bodySize", hr.BodySize},
	}
}

// sampleRequest is mockbin's example request for calling a bin.
func sampleRequest(r *http.Request, id string) Obj {
	nv := func(n, v string) Obj { return Obj{{"name", n}, {"value", v}} }
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return Obj{
		{"method", "POST"},
		{"url", scheme + "://" + r.Host + "/bin/" + id},
		{"httpVersion", "HTTP/1.1"},
		{"queryString", []any{nv("foo", "bar"), nv("foo", "baz")}},
		{"headers", []any{nv("Accept", "application/json"), nv("Content-Type", "application/x-www-form-urlencoded")}},
		{"cookies", []any{nv("foo", "bar"), nv("bar", "baz")}},
		{"postData", Obj{
			{"mimeType", "application/x-www-form-urlencoded"},
			{"params", []any{nv("foo", "bar"), nv("bar", "baz")}},
		}},
	}
}
