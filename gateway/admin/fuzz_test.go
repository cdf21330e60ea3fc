package admin

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// FuzzWrites throws arbitrary bodies at the write endpoints: the Admin API must
// answer every one with a status below 500 and JSON, and never panic. Under a
// plain `go test` only the seeds run.
func FuzzWrites(f *testing.F) {
	seeds := []struct{ path, ct, body string }{
		{"/services", ctJSON, `{"name":"s","host":"h","port":80}`},
		{"/services", ctJSON, `{"host":"h","path":null,"tags":[1,2]}`},
		{"/routes", ctJSON, `{"paths":[{"a":1}],"headers":{"x":5}}`},
		{"/routes", ctForm, `paths[x]=/a&paths[]=b&methods=GET&headers.x[]=1`},
		{"/upstreams", ctJSON, `{"name":"u","healthchecks":{"active":{"healthy":{"http_statuses":"200"}}}}`},
		{"/upstreams", ctForm, `name=u&healthchecks.active=1&healthchecks.active.timeout=x`},
		{"/plugins", ctJSON, `{"name":"p","config":[1]}`},
		{"/consumers", ctForm, `username[]=a&username[]=b`},
		{"/config", ctJSON, `{"config":"_format_version: \"3.0\"\nservices:\n- routes: 5"}`},
		{"/config", "application/yaml", "_format_version: \"3.0\"\nupstreams:\n- name: u\n  targets: [{target: 7}]"},
		{"/services", ctJSON, `{"url":"http://[::1"}`},
	}
	paths := []string{"/services", "/routes", "/upstreams", "/consumers", "/plugins", "/config", "/key-auths",
		"/services/s/routes", "/upstreams/u/targets", "/consumers/c/key-auth", "/schemas/routes/validate"}
	for _, s := range seeds {
		for i, p := range paths {
			if p == s.path {
				f.Add(uint8(i), s.ct, s.body)
			}
		}
	}
	h := newHarness(f)
	h.must(h.json("POST", "/services", `{"name":"s","host":"h"}`), 201)
	h.must(h.json("POST", "/upstreams", `{"name":"u"}`), 201)
	h.must(h.json("POST", "/consumers", `{"username":"c"}`), 201)
	f.Fuzz(func(t *testing.T, pi uint8, ct, body string) {
		path := paths[int(pi)%len(paths)]
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s (%s) %q: status %d %s", path, ct, body, rec.Code, rec.Body.Bytes())
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s: body is not JSON: %s", path, rec.Body.Bytes())
		}
	})
}

// shape is the nesting depth (a scalar is 0, a map of scalars 1) and the
// number of scalar leaves of a decoded value.
func shape(v any) (depth, leaves int) {
	var kids []any
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			kids = append(kids, e)
		}
	case []any:
		kids = x
	default:
		return 0, 1
	}
	for _, k := range kids {
		d, l := shape(k)
		depth, leaves = max(depth, d), leaves+l
	}
	return depth + 1, leaves
}

// checkFormBounds is what every form or multipart decode must keep: a key of
// n segments nests n maps deep (its last segment holds a string or a list of
// them), and each of at most MaxFormArgs pairs adds one leaf.
func checkFormBounds(t *testing.T, m map[string]any) {
	t.Helper()
	depth, leaves := shape(m)
	if depth > config.MaxNesting+1 { // +1: a repeated key's list
		t.Fatalf("decoded %d levels deep, limit %d", depth, config.MaxNesting)
	}
	if leaves > config.MaxFormArgs {
		t.Fatalf("decoded %d values, limit %d", leaves, config.MaxFormArgs)
	}
	// What the decoder hands on must survive coercion and validation.
	config.Schemas[config.TablePlugins].Coerce(m)
	_, _ = config.Prepare(config.TablePlugins, m, nil, nil)
}

// FuzzFormDecode: the form decoder never panics and never builds more than
// its limits allow, whatever the body.
func FuzzFormDecode(f *testing.F) {
	for _, s := range []string{
		"name=a&config.minute=5&paths[]=/a&paths[2]=/b",
		"a.b[c][]=1&a.b[c][]=2&a[b].c=3",
		"a[=1&]b=2&..=3&[]]=4",
		deepFormKey(config.MaxNesting) + "=1",
		deepFormKey(config.MaxNesting+1) + "=1",
		"tags=%FF%FE&name=%00",
		// No seed of MaxFormArgs pairs: minimising inputs that large stalls
		// the fuzzer; TestHostileWritesAreRefused covers the count.
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		m, err := decodeForm([]byte(body))
		if err != nil {
			if _, ok := err.(*httpError); !ok {
				t.Fatalf("error %T %v is not an Admin API answer", err, err)
			}
			return
		}
		checkFormBounds(t, m)
	})
}

// FuzzMultipartDecode: the multipart decoder never panics and keeps the same
// bounds as the form decoder, whatever the parts and their framing.
func FuzzMultipartDecode(f *testing.F) {
	add := func(fields ...string) {
		body, ct := multipartBody(f, fields...)
		f.Add(strings.TrimPrefix(ct, "multipart/form-data; boundary="), body)
	}
	add("name", "x", "config.minute", "5")
	add(deepFormKey(config.MaxNesting+1), "1")
	add("paths[]", "/a", "paths[]", "/b", "a[b][c]", "1")
	f.Add("b", "--b\r\nContent-Disposition: form-data; name=\"config\"; filename=\"k.yml\"\r\n\r\n_format_version: \"3.0\"\r\n--b--\r\n")
	f.Add("b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b") // unterminated
	f.Fuzz(func(t *testing.T, boundary, body string) {
		if boundary == "" {
			return // readInput never decodes without a boundary
		}
		m, _, err := decodeMultipart([]byte(body), boundary)
		if err != nil {
			if _, ok := err.(*httpError); !ok {
				t.Fatalf("error %T %v is not an Admin API answer", err, err)
			}
			return
		}
		checkFormBounds(t, m)
	})
}
