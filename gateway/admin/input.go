package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// input is a decoded request body.
type input struct {
	values map[string]any
	// form is true for form-urlencoded and multipart bodies, whose values are
	// strings that need schema coercion.
	form bool
	// files holds multipart file parts by field name (POST /config's config=@kong.yml).
	files map[string][]byte
	// raw is the body of a content type other than JSON or form (YAML for /config).
	raw         []byte
	contentType string
}

var (
	errBadJSON     = &httpError{http.StatusBadRequest, "Cannot parse JSON body"}
	errUnsupported = &httpError{http.StatusUnsupportedMediaType, "Unsupported Media Type"}
	// errTooLarge is Kong's answer when a body passes the admin server's
	// client_max_body_size (kong/error_handlers.lua).
	errTooLarge = &httpError{http.StatusRequestEntityTooLarge, "Payload too large"}
	// errTooManyArgs is Kong's answer to a form with more than max_post_args
	// arguments (kong/api/arguments.lua).
	errTooManyArgs = &httpError{http.StatusBadRequest, "Too many arguments"}
)

// limitError turns a config.LimitError met while decoding into a 400 that
// says which body broke it.
func limitError(what string, err error) error {
	var le *config.LimitError
	if errors.As(err, &le) {
		return &httpError{http.StatusBadRequest, "Cannot parse " + what + " body: " + le.Msg}
	}
	return err
}

// readInput decodes a JSON, form-urlencoded or multipart body into a map.
// allowRaw lets other content types through as raw bytes (POST /config).
// maxValues bounds the values of a JSON body (config.MaxEntityValues for an
// entity, config.MaxDeclarativeValues for a whole configuration). Every
// decoder checks its limits before building the map, so nothing recursive
// ever sees a value nested past config.MaxNesting.
func readInput(r *http.Request, allowRaw bool, maxValues int) (*input, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, &httpError{http.StatusBadRequest, "Cannot read request body"}
	}
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	in := &input{values: map[string]any{}, contentType: mt}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if len(bytes.TrimSpace(body)) == 0 {
			if r.Method == http.MethodDelete || r.Method == http.MethodGet {
				return in, nil
			}
			return nil, errBadJSON
		}
		if err := config.ScanJSON(body, maxValues); err != nil {
			return nil, limitError("JSON", err)
		}
		v, err := decodeJSON(body)
		if err != nil {
			return nil, errBadJSON
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errBadJSON
		}
		in.values = m
	case mt == "application/x-www-form-urlencoded":
		values, err := decodeForm(body)
		if err != nil {
			return nil, err
		}
		in.values, in.form = values, true
	case mt == "multipart/form-data":
		in.form = true
		if len(body) == 0 || params["boundary"] == "" {
			return in, nil
		}
		values, files, err := decodeMultipart(body, params["boundary"])
		if err != nil {
			return nil, err
		}
		in.values, in.files = values, files
	case len(bytes.TrimSpace(body)) == 0:
		// No body (curl -X POST .../healthy, DELETE): nothing to decode.
	case allowRaw:
		in.raw = body
	default:
		return nil, errUnsupported
	}
	return in, nil
}

// decodeJSON decodes one JSON value whose nesting ScanJSON has bounded.
// encoding/json turns invalid UTF-8 into U+FFFD, which would store something
// the client did not send; Kong reads the bytes and its schema refuses them
// with their position. So each invalid byte b travels through the decoder as
// the private-use rune U+10FF00+b and is put back afterwards, for the schema
// to refuse with Kong's message. Bodies that are valid UTF-8 (all but
// hostile ones) take the plain path.
func decodeJSON(body []byte) (any, error) {
	valid := utf8.Valid(body)
	if !valid {
		body = markInvalidUTF8(body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errBadJSON
	}
	if !valid {
		v = unmarkInvalidUTF8(v)
	}
	return v, nil
}

// invalidByteMark is the first of the 256 runes that stand for raw bytes in
// decodeJSON (Unicode plane 16, private use: no real text uses it).
const invalidByteMark = 0x10FF00

func markInvalidUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/2)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			out = utf8.AppendRune(out, invalidByteMark+rune(b[0]))
			b = b[1:]
			continue
		}
		out = append(out, b[:size]...)
		b = b[size:]
	}
	return out
}

func unmarkString(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= invalidByteMark && r <= invalidByteMark+0xff }) {
		return s
	}
	var out []byte
	for _, r := range s {
		if r >= invalidByteMark && r <= invalidByteMark+0xff {
			out = append(out, byte(r-invalidByteMark))
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

// unmarkInvalidUTF8 puts decodeJSON's raw bytes back, in keys and strings.
func unmarkInvalidUTF8(v any) any {
	switch x := v.(type) {
	case string:
		return unmarkString(x)
	case []any:
		for i := range x {
			x[i] = unmarkInvalidUTF8(x[i])
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[unmarkString(k)] = unmarkInvalidUTF8(e)
		}
		return out
	}
	return v
}

// decodeForm decodes a form-urlencoded body as Kong reads it, refusing more
// than config.MaxFormArgs pairs (counted before parsing) and keys that nest
// deeper than config.MaxNesting (checked while each key is split).
func decodeForm(body []byte) (map[string]any, error) {
	if bytes.Count(body, []byte("&"))+1 > config.MaxFormArgs {
		return nil, errTooManyArgs
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, "Cannot parse form body"}
	}
	m, err := formToMap(vals)
	return m, limitError("form", err)
}

// decodeMultipart reads a multipart/form-data body part by part: at most
// config.MaxFormArgs parts, field names bounded as form keys are, file parts
// (config=@kong.yml) kept as bytes. The whole body is in memory already, so
// nothing goes to temporary files.
func decodeMultipart(body []byte, boundary string) (map[string]any, map[string][]byte, error) {
	badBody := &httpError{http.StatusBadRequest, "Cannot parse multipart body"}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	vals := url.Values{}
	var files map[string][]byte
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, badBody
		}
		if parts >= config.MaxFormArgs {
			return nil, nil, errTooManyArgs
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, badBody
		}
		name := p.FormName()
		if name == "" {
			continue
		}
		if p.FileName() != "" {
			if files == nil {
				files = map[string][]byte{}
			}
			files[name] = data
			continue
		}
		vals.Add(name, string(data))
	}
	m, err := formToMap(vals)
	if err != nil {
		return nil, nil, limitError("multipart", err)
	}
	return m, files, nil
}

// formToMap builds nested values from form keys as Kong reads them:
// "paths[]=/a", "paths[1]=/a", repeated "paths=/a", dotted "config.minute=5",
// "service.id=...", bracketed "config[minute]=5". Index maps ({"1": ...}) and
// single values become arrays later, when the schema is known.
func formToMap(vals url.Values) (map[string]any, error) {
	out := map[string]any{}
	for key, vs := range vals {
		path, err := splitFormKey(key)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			insertForm(out, path, v)
		}
	}
	return out, nil
}

// splitFormKey splits "a.b[c][]" into [a b c ""], failing as soon as the path
// passes config.MaxNesting segments: a hostile key of millions of segments
// costs one pass up to the limit, not millions of strings.
func splitFormKey(key string) ([]string, error) {
	var path []string
	add := func(seg string) error {
		if len(path) == config.MaxNesting {
			return config.ErrTooDeep
		}
		path = append(path, seg)
		return nil
	}
	rest := key
	for {
		dotted, after, more := strings.Cut(rest, ".")
		name, br, hasBracket := strings.Cut(dotted, "[")
		if err := add(name); err != nil {
			return nil, err
		}
		for hasBracket {
			var inner string
			inner, br, _ = strings.Cut(br, "]")
			if err := add(inner); err != nil {
				return nil, err
			}
			_, br, hasBracket = strings.Cut(br, "[")
		}
		if !more {
			return path, nil
		}
		rest = after
	}
}

func insertForm(node map[string]any, path []string, v string) {
	k := path[0]
	if len(path) == 1 {
		switch old := node[k].(type) {
		case nil:
			node[k] = v
		case []any:
			node[k] = append(old, v)
		case string:
			node[k] = []any{old, v}
		default:
			node[k] = v
		}
		return
	}
	if path[1] == "" { // k[] appends
		switch old := node[k].(type) {
		case []any:
			node[k] = append(old, v)
		case string:
			node[k] = []any{old, v}
		default:
			node[k] = []any{v}
		}
		return
	}
	child, ok := node[k].(map[string]any)
	if !ok {
		child = map[string]any{}
		node[k] = child
	}
	insertForm(child, path[1:], v)
}
