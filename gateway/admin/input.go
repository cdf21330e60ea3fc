package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
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
	errTooLarge    = &httpError{http.StatusRequestEntityTooLarge, "Request body too large"}
)

// readInput decodes a JSON, form-urlencoded or multipart body into a map.
// allowRaw lets other content types through as raw bytes (POST /config).
func readInput(r *http.Request, allowRaw bool) (*input, error) {
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
		dec := json.NewDecoder(bytes.NewReader(body))
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, errBadJSON
		}
		if dec.More() {
			return nil, errBadJSON
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errBadJSON
		}
		in.values = m
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "Cannot parse form body"}
		}
		in.values, in.form = formToMap(vals), true
	case mt == "multipart/form-data":
		in.form = true
		if len(body) == 0 || params["boundary"] == "" {
			return in, nil
		}
		r2 := *r
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.Header = r.Header.Clone()
		if err := r2.ParseMultipartForm(int64(len(body)) + 1); err != nil {
			return nil, &httpError{http.StatusBadRequest, "Cannot parse multipart body"}
		}
		defer r2.MultipartForm.RemoveAll()
		in.values = formToMap(r2.MultipartForm.Value)
		for name, fhs := range r2.MultipartForm.File {
			for _, fh := range fhs {
				f, err := fh.Open()
				if err != nil {
					return nil, &httpError{http.StatusBadRequest, "Cannot read multipart file"}
				}
				data, err := io.ReadAll(f)
				f.Close()
				if err != nil {
					return nil, &httpError{http.StatusBadRequest, "Cannot read multipart file"}
				}
				if in.files == nil {
					in.files = map[string][]byte{}
				}
				in.files[name] = data
			}
		}
	case len(bytes.TrimSpace(body)) == 0:
		// No body (curl -X POST .../healthy, DELETE): nothing to decode.
	case allowRaw:
		in.raw = body
	default:
		return nil, errUnsupported
	}
	return in, nil
}

// formToMap builds nested values from form keys as Kong reads them:
// "paths[]=/a", "paths[1]=/a", repeated "paths=/a", dotted "config.minute=5",
// "service.id=...", bracketed "config[minute]=5". Index maps ({"1": ...}) and
// single values become arrays later, when the schema is known.
func formToMap(vals url.Values) map[string]any {
	out := map[string]any{}
	for key, vs := range vals {
		path := splitFormKey(key)
		for _, v := range vs {
			insertForm(out, path, v)
		}
	}
	return out
}

func splitFormKey(key string) []string {
	var path []string
	for _, dotted := range strings.Split(key, ".") {
		name, rest, hasBracket := strings.Cut(dotted, "[")
		path = append(path, name)
		for hasBracket {
			var inner string
			inner, rest, _ = strings.Cut(rest, "]")
			path = append(path, inner)
			_, rest, hasBracket = strings.Cut(rest, "[")
		}
	}
	return path
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
