package server

import (
	"bytes"
	"html"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Response bodies are built as a small ordered value tree instead of structs
// so that one representation serves all four formats mockbin negotiates
// (JSON, YAML, XML, HTML), keeps mockbin's key order, and is encoded without
// reflection on the hot paths.
//
// A value is one of: nil, bool, int, int64, float64, string, []string,
// []any, Obj.

// KV is one member of an ordered object.
type KV struct {
	Key string
	Val any
}

// Obj is an ordered JSON object.
type Obj []KV

// format is a negotiated output format.
type format uint8

const (
	fmtJSON format = iota
	fmtYAML
	fmtXML
	fmtHTML
)

// offer is a media type mockbin can answer with, in Express res.format
// order: the first one wins for "*/*" and for a missing Accept header.
type offer struct {
	typ, sub string
	mime     string
	format   format
}

var offers = func() []offer {
	list := []struct {
		mime string
		f    format
	}{
		{"application/json", fmtJSON},
		{"text/json", fmtJSON},
		{"text/x-json", fmtJSON},
		{"application/x-json", fmtJSON},
		{"text/javascript", fmtJSON},
		{"application/javascript", fmtJSON},
		{"application/x-javascript", fmtJSON},
		{"text/xml", fmtXML},
		{"application/xml", fmtXML},
		{"application/x-xml", fmtXML},
		{"text/html", fmtHTML},
		{"application/xhtml+xml", fmtHTML},
		{"text/yaml", fmtYAML},
		{"text/x-yaml", fmtYAML},
		{"application/yaml", fmtYAML},
		{"application/x-yaml", fmtYAML},
		{"text/plain", fmtYAML},
	}
	out := make([]offer, len(list))
	for i, o := range list {
		typ, sub, _ := strings.Cut(o.mime, "/")
		out[i] = offer{typ: typ, sub: sub, mime: o.mime + "; charset=utf-8", format: o.f}
	}
	return out
}()

// negotiate picks the response format for an Accept header the way
// Express's res.format (negotiator) does: highest q first, then the most
// specific matching range, then the range's position in the header, then our
// own offer order. Nothing acceptable falls back to JSON (mockbin's default).
func negotiate(accept string) (format, string) {
	accept = strings.TrimSpace(accept)
	if accept == "" || accept == "*/*" {
		return fmtJSON, offers[0].mime
	}
	type rng struct {
		typ, sub string
		q        float64
	}
	var ranges [16]rng
	n := 0
	for part := range strings.SplitSeq(accept, ",") {
		if n == len(ranges) {
			break
		}
		mt, params, _ := strings.Cut(part, ";")
		typ, sub, ok := strings.Cut(strings.TrimSpace(mt), "/")
		if !ok {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		ranges[n] = rng{strings.ToLower(typ), strings.ToLower(sub), q}
		n++
	}
	best, bestQ, bestS, bestIdx := -1, 0.0, -1, 0
	for oi, o := range offers {
		q, s, idx := -1.0, -1, 0
		for ri := range n {
			r := ranges[ri]
			if (r.typ != "*" && r.typ != o.typ) || (r.sub != "*" && r.sub != o.sub) {
				continue
			}
			spec := 0
			if r.typ == o.typ {
				spec += 4
			}
			if r.sub == o.sub {
				spec += 2
			}
			if spec > s {
				q, s, idx = r.q, spec, ri
			}
		}
		if q <= 0 {
			continue
		}
		if best < 0 || q > bestQ || (q == bestQ && (s > bestS || (s == bestS && idx < bestIdx))) {
			best, bestQ, bestS, bestIdx = oi, q, s, idx
		}
	}
	if best < 0 {
		return fmtJSON, offers[0].mime
	}
	return offers[best].format, offers[best].mime
}

// prettySpaces reads X-Pretty-Print the way mockbin does: an integer number
// of spaces, 2 when absent; 0 (or garbage) turns indentation off.
func prettySpaces(r *http.Request) int {
	v := r.Header.Get("X-Pretty-Print")
	if v == "" {
		return 2
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, 10)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	// Large buffers (a 10 MiB echo in /request) are dropped so the pool does
	// not pin memory after a single big request.
	if cap(*b) > 1<<20 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// render negotiates the format and writes v with the given status.
func render(w http.ResponseWriter, r *http.Request, status int, v any) {
	if !bodyAllowed(status) {
		w.WriteHeader(status)
		return
	}
	f, mime := negotiate(r.Header.Get("Accept"))
	bp := getBuf()
	defer putBuf(bp)
	b := (*bp)[:0]
	// Express's res.jsonp, which mockbin answers JSON with: ?callback=fn
	// wraps the JSON in a guarded call.
	cb := ""
	if f == fmtJSON && strings.Contains(r.URL.RawQuery, "callback=") {
		cb = r.URL.Query().Get("callback")
		if !validCallback(cb) {
			cb = ""
		}
	}
	if cb != "" {
		mime = "text/javascript; charset=utf-8"
		b = append(b, "/**/ typeof "...)
		b = append(b, cb...)
		b = append(b, " === 'function' && "...)
		b = append(b, cb...)
		b = append(b, '(')
	}
	b = encode(b, f, v, prettySpaces(r))
	if cb != "" {
		b = append(b, ");"...)
		w.Header()["X-Content-Type-Options"] = []string{"nosniff"}
	}
	*bp = b
	h := w.Header()
	h["Content-Type"] = []string{mime}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// validCallback accepts JavaScript identifiers and dotted/bracketed member
// paths, the characters Express keeps in a JSONP callback name.
func validCallback(cb string) bool {
	if cb == "" || len(cb) > 128 {
		return false
	}
	for i := 0; i < len(cb); i++ {
		c := cb[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '.' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// bodyAllowed reports whether a status may carry a body (RFC 9110: not
// 1xx, 204 or 304); net/http refuses body writes for those.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// encode appends v in format f to b.
func encode(b []byte, f format, v any, spaces int) []byte {
	switch f {
	case fmtYAML:
		// mockbin sends a bare string as-is for YAML/text answers.
		if s, ok := v.(string); ok {
			return append(b, s...)
		}
		return appendYAML(b, v, spaces)
	case fmtXML:
		return appendXMLDoc(b, v, spaces)
	case fmtHTML:
		return appendHTML(b, v)
	default:
		b = appendJSON(b, v, spaces, 0)
		return b
	}
}

// ---- JSON ----

func appendIndent(b []byte, spaces, level int) []byte {
	b = append(b, '\n')
	for range spaces * level {
		b = append(b, ' ')
	}
	return b
}

func appendJSON(b []byte, v any, spaces, level int) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, t)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case int64:
		return strconv.AppendInt(b, t, 10)
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, t, 'g', -1, 64)
	case string:
		return appendJSONString(b, t)
	case []string:
		if len(t) == 0 {
			return append(b, "[]"...)
		}
		b = append(b, '[')
		for i, s := range t {
			if i > 0 {
				b = append(b, ',')
			}
			if spaces > 0 {
				b = appendIndent(b, spaces, level+1)
			}
			b = appendJSONString(b, s)
		}
		if spaces > 0 {
			b = appendIndent(b, spaces, level)
		}
		return append(b, ']')
	case []any:
		if len(t) == 0 {
			return append(b, "[]"...)
		}
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			if spaces > 0 {
				b = appendIndent(b, spaces, level+1)
			}
			b = appendJSON(b, e, spaces, level+1)
		}
		if spaces > 0 {
			b = appendIndent(b, spaces, level)
		}
		return append(b, ']')
	case Obj:
		if len(t) == 0 {
			return append(b, "{}"...)
		}
		b = append(b, '{')
		for i, kv := range t {
			if i > 0 {
				b = append(b, ',')
			}
			if spaces > 0 {
				b = appendIndent(b, spaces, level+1)
			}
			b = appendJSONString(b, kv.Key)
			b = append(b, ':')
			if spaces > 0 {
				b = append(b, ' ')
			}
			b = appendJSON(b, kv.Val, spaces, level+1)
		}
		if spaces > 0 {
			b = appendIndent(b, spaces, level)
		}
		return append(b, '}')
	default:
		// Only the types above are built by this package; anything else is a
		// programming error, made visible rather than silently dropped.
		return appendJSONString(b, "<unsupported value>")
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD
// like encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028/2029 are valid JSON but break JavaScript consumers (JSONP).
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---- YAML ----

// appendYAML writes v as a block-style YAML document.
func appendYAML(b []byte, v any, spaces int) []byte {
	if spaces <= 0 {
		spaces = 2
	}
	switch v.(type) {
	case Obj, []any, []string:
		if yamlEmpty(v) {
			b = appendYAMLScalar(b, v)
			return append(b, '\n')
		}
		return appendYAMLBlock(b, v, spaces, 0)
	default:
		b = appendYAMLScalar(b, v)
		return append(b, '\n')
	}
}

func yamlEmpty(v any) bool {
	switch t := v.(type) {
	case Obj:
		return len(t) == 0
	case []any:
		return len(t) == 0
	case []string:
		return len(t) == 0
	}
	return false
}

func yamlIsBlock(v any) bool {
	switch v.(type) {
	case Obj, []any, []string:
		return !yamlEmpty(v)
	}
	return false
}

func pad(b []byte, n int) []byte {
	for range n {
		b = append(b, ' ')
	}
	return b
}

// appendYAMLBlock writes a non-empty collection starting at column
// indent; every line ends with a newline.
func appendYAMLBlock(b []byte, v any, spaces, indent int) []byte {
	switch t := v.(type) {
	case Obj:
		for _, kv := range t {
			b = pad(b, indent)
			b = appendYAMLString(b, kv.Key)
			b = append(b, ':')
			if yamlIsBlock(kv.Val) {
				b = append(b, '\n')
				b = appendYAMLBlock(b, kv.Val, spaces, indent+spaces)
				continue
			}
			b = append(b, ' ')
			b = appendYAMLScalar(b, kv.Val)
			b = append(b, '\n')
		}
	case []string:
		for _, s := range t {
			b = pad(b, indent)
			b = append(b, "- "...)
			b = appendYAMLString(b, s)
			b = append(b, '\n')
		}
	case []any:
		for _, e := range t {
			b = pad(b, indent)
			b = append(b, "- "...)
			if !yamlIsBlock(e) {
				b = appendYAMLScalar(b, e)
				b = append(b, '\n')
				continue
			}
			// The first line of a nested collection shares the "- " line;
			// the rest is indented past the dash.
			var nb []byte
			nb = appendYAMLBlock(nb, e, spaces, indent+2)
			b = append(b, nb[indent+2:]...)
		}
	}
	return b
}

func appendYAMLScalar(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendYAMLString(b, t)
	case Obj:
		if len(t) == 0 {
			return append(b, "{}"...)
		}
	case []any:
		if len(t) == 0 {
			return append(b, "[]"...)
		}
	case []string:
		if len(t) == 0 {
			return append(b, "[]"...)
		}
	}
	// bool and numbers print the same in YAML as in JSON.
	return appendJSON(b, v, 0, 0)
}

// appendYAMLString writes s plain when it cannot be mistaken for anything
// else, and double-quoted (JSON escapes are valid YAML escapes) otherwise.
func appendYAMLString(b []byte, s string) []byte {
	if yamlPlainSafe(s) {
		return append(b, s...)
	}
	return appendJSONString(b, s)
}

func yamlPlainSafe(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n":
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ' ' || c == '_' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')' || c == '+' || c == ';' || c == '=':
		default:
			return false
		}
	}
	return true
}

// ---- XML ----

func appendXMLDoc(b []byte, v any, spaces int) []byte {
	b = append(b, `<?xml version="1.0"?>`...)
	if spaces > 0 {
		b = append(b, '\n')
	}
	b = appendXMLElem(b, "response", v, spaces, 0)
	if spaces > 0 {
		b = append(b, '\n')
	}
	return b
}

func appendXMLElem(b []byte, name string, v any, spaces, level int) []byte {
	name = xmlName(name)
	switch t := v.(type) {
	case []any:
		// A list is a run of sibling elements with the list's name; at the
		// root there is only one name, so the items become <item> children.
		if level == 0 {
			return appendXMLElem(b, name, Obj{{Key: "item", Val: t}}, spaces, level)
		}
		for i, e := range t {
			if i > 0 && spaces > 0 {
				b = appendIndent(b, spaces-1, level)
			}
			b = appendXMLElem(b, name, e, spaces, level)
		}
		return b
	case []string:
		l := make([]any, len(t))
		for i, s := range t {
			l[i] = s
		}
		return appendXMLElem(b, name, l, spaces, level)
	case Obj:
		if len(t) == 0 {
			b = append(b, '<')
			b = append(b, name...)
			return append(b, "/>"...)
		}
		b = append(b, '<')
		b = append(b, name...)
		b = append(b, '>')
		for _, kv := range t {
			if spaces > 0 {
				b = appendIndent(b, spaces-1, level+1)
			}
			b = appendXMLElem(b, kv.Key, kv.Val, spaces, level+1)
		}
		if spaces > 0 {
			b = appendIndent(b, spaces-1, level)
		}
		b = append(b, "</"...)
		b = append(b, name...)
		return append(b, '>')
	case nil:
		b = append(b, '<')
		b = append(b, name...)
		return append(b, "/>"...)
	default:
		b = append(b, '<')
		b = append(b, name...)
		b = append(b, '>')
		var s string
		if str, ok := t.(string); ok {
			s = str
		} else {
			s = string(appendJSON(nil, t, 0, 0))
		}
		b = appendXMLText(b, s)
		b = append(b, "</"...)
		b = append(b, name...)
		return append(b, '>')
	}
}

func appendXMLText(b []byte, s string) []byte {
	var buf bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			buf.WriteString("&lt;")
		case '>':
			buf.WriteString("&gt;")
		case '&':
			buf.WriteString("&amp;")
		case '"':
			buf.WriteString("&quot;")
		case '\'':
			buf.WriteString("&apos;")
		default:
			// Characters XML 1.0 cannot carry at all are replaced.
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == utf8.RuneError {
				buf.WriteRune('\uFFFD')
				continue
			}
			buf.WriteRune(r)
		}
	}
	return append(b, buf.Bytes()...)
}

// xmlName turns an arbitrary key (a header or cookie name, a query key) into
// a valid element name.
func xmlName(s string) string {
	ok := s != ""
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' ||
			i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')
	}
	if ok && !strings.HasPrefix(strings.ToLower(s), "xml") {
		return s
	}
	var sb strings.Builder
	sb.WriteByte('_')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

// ---- HTML ----

// appendHTML renders a small page showing the answer; mockbin's own pages
// are Pug views of the same data.
func appendHTML(b []byte, v any) []byte {
	b = append(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mockbin</title></head>\n<body>\n"...)
	if s, ok := v.(string); ok {
		b = append(b, "<p>"...)
		b = append(b, html.EscapeString(s)...)
		b = append(b, "</p>\n"...)
	} else {
		b = append(b, "<pre>"...)
		b = append(b, html.EscapeString(string(appendJSON(nil, v, 2, 0)))...)
		b = append(b, "</pre>\n"...)
	}
	return append(b, "</body></html>\n"...)
}

// ---- helpers to build values ----

// sortedKeys returns the keys of a map in a stable order so every answer is
// reproducible (Go maps do not keep arrival order).
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
