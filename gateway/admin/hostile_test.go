package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// deepFormKey is a form key of n dotted segments: "a.a.a…".
func deepFormKey(n int) string { return "a" + strings.Repeat(".a", n-1) }

// multipartBody is a multipart/form-data body with the given field parts,
// and its Content-Type.
func multipartBody(t testing.TB, fields ...string) (body, ct string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

// manyPairs is a form body of n "tags=tN" pairs.
func manyPairs(n int) string {
	pairs := make([]string, n)
	for i := range pairs {
		pairs[i] = fmt.Sprintf("tags=t%d", i)
	}
	return strings.Join(pairs, "&")
}

// jsonTags is a service with n distinct tags, as JSON: 2 + n values besides
// the object and the array.
func jsonTags(n int) string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	b, _ := json.Marshal(map[string]any{"name": "big", "host": "h", "tags": tags})
	return string(b)
}

// laughs is a "billion laughs" YAML document: 9 levels of 10 aliases each
// expand to 10^9 values from under 1 KB.
func laughs() string {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	return b.String()
}

// Every hostile write the issue found (and its neighbours just past each
// limit) is answered 400 or 413 in Kong's shape and leaves the store as it
// was. Before the limits the first case killed the process (fatal error:
// stack overflow in config.deepCopyMap, which no recover catches), so this
// test could only fail by crashing.
func TestHostileWritesAreRefused(t *testing.T) {
	h := newHarness(t)
	h.must(h.json("POST", "/services", `{"name":"s","host":"h"}`), 201)
	deepMultipart, deepMultipartCT := multipartBody(t, deepFormKey(1_000_000), "1")
	overDeepMultipart, overDeepMultipartCT := multipartBody(t, deepFormKey(config.MaxNesting+1), "1")
	parts := make([]string, 0, 2*(config.MaxFormArgs+1))
	for i := 0; i <= config.MaxFormArgs; i++ {
		parts = append(parts, "tags", fmt.Sprint(i))
	}
	manyParts, manyPartsCT := multipartBody(t, parts...)
	tooDeepJSON := `{"name":"p","config":` + strings.Repeat("[", config.MaxNesting) + strings.Repeat("]", config.MaxNesting) + `}`

	tests := []struct {
		name, path, ct, body string
		status               int
		message              string // Kong's {"message": ...}; "" for a code 14 error
	}{
		// The crash: ~4 MB, 2 million segments.
		{"form key of 2M segments", "/services", ctForm, deepFormKey(2_000_000) + "=1", 400, "Cannot parse form body: nesting deeper than 32 levels"},
		// One segment past the limit is refused; MaxNesting segments are
		// decoded (and then refused by the schema as an unknown field).
		{"form key one past the limit", "/services", ctForm, deepFormKey(config.MaxNesting+1) + "=1", 400, "Cannot parse form body: nesting deeper than 32 levels"},
		{"bracketed form key past the limit", "/services", ctForm, "a" + strings.Repeat("[a]", config.MaxNesting) + "=1", 400, "Cannot parse form body: nesting deeper than 32 levels"},
		{"multipart key of 1M segments", "/services", deepMultipartCT, deepMultipart, 400, "Cannot parse multipart body: nesting deeper than 32 levels"},
		{"multipart key one past the limit", "/services", overDeepMultipartCT, overDeepMultipart, 400, "Cannot parse multipart body: nesting deeper than 32 levels"},
		// Kong's max_post_args is 1000; 1001 pairs is "Too many arguments".
		{"form with 1001 pairs", "/services", ctForm, manyPairs(config.MaxFormArgs + 1), 400, "Too many arguments"},
		{"multipart with 1001 parts", "/services", manyPartsCT, manyParts, 400, "Too many arguments"},
		{"json nested past the limit", "/plugins", ctJSON, tooDeepJSON, 400, "Cannot parse JSON body: nesting deeper than 32 levels"},
		{"json nested 100k deep", "/plugins", ctJSON, `{"config":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`, 400, "Cannot parse JSON body: nesting deeper than 32 levels"},
		// jsonTags(n) holds n + 4 values: the object, name, host, the array.
		{"json with too many values", "/services", ctJSON, jsonTags(config.MaxEntityValues), 400, "Cannot parse JSON body: more than 100000 values"},
		{"body over Kong's 10m", "/services", ctJSON, `{"name":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, 413, "Payload too large"},
		{"declarative json nested past the limit", "/config", ctJSON, `{"_format_version":"3.0","services":` + strings.Repeat("[", config.MaxNesting) + strings.Repeat("]", config.MaxNesting) + `}`, 400, "Cannot parse JSON body: nesting deeper than 32 levels"},
		{"declarative yaml nested past the limit", "/config", "application/yaml", "_format_version: \"3.0\"\nx: " + strings.Repeat("[", config.MaxNesting) + strings.Repeat("]", config.MaxNesting), 400, ""},
		{"declarative yaml billion laughs", "/config", "application/yaml", laughs(), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.store.Current()
			r := h.do("POST", tt.path, tt.ct, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tt.status, r.raw)
			}
			if tt.message != "" && (r.body["message"] != tt.message || len(r.body) != 1) {
				t.Fatalf("body %.300s, want {\"message\":%q}", r.raw, tt.message)
			}
			if tt.message == "" && (r.body["code"] != float64(config.CodeDeclarativeConfig) || r.body["fields"] == nil) {
				t.Fatalf("body %.300s, want Kong's code 14 error", r.raw)
			}
			if h.store.Current() != before {
				t.Fatal("the refused write changed the store")
			}
		})
	}

	// The limits are limits, not lower: what sits exactly on them is read.
	atLimits := []struct {
		name, path, ct, body string
		status               int
	}{
		// The schema refuses the unknown field "a", so the key was decoded.
		{"form key of MaxNesting segments", "/services", ctForm, deepFormKey(config.MaxNesting) + "=1", 400},
		{"form with MaxFormArgs pairs", "/services", ctForm, "host=h&" + manyPairs(config.MaxFormArgs-1), 201},
		{"json of MaxEntityValues values", "/services", ctJSON, jsonTags(config.MaxEntityValues - 4), 201},
	}
	for _, tt := range atLimits {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", tt.path, tt.ct, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tt.status, r.raw)
			}
			if tt.status == 400 && r.body["code"] != float64(config.CodeSchemaViolation) {
				t.Fatalf("want a schema violation (the body was decoded): %.300s", r.raw)
			}
			if tt.status == 201 {
				h.must(h.do("DELETE", "/services/"+r.body["id"].(string), "", ""), 204)
			}
		})
	}
}

// A tag with invalid UTF-8 is refused as Kong refuses it (typedefs
// validate_tag → validate_utf8_string), whether it came as JSON or as a form;
// before, it was stored as U+FFFD. Other strings are held to the same rule.
func TestInvalidUTF8IsRefused(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plugins = &recordingSchemas{} })
	const atPos4 = "invalid utf-8 character sequence detected at position 4"
	tests := []struct {
		name, path, ct, body string
		fields               map[string]any
	}{
		{"json tag", "/services", ctJSON, "{\"host\":\"h\",\"tags\":[\"ok\",\"bad\xff\"]}", map[string]any{"tags": []any{nil, atPos4}}},
		{"form tag", "/services", ctForm, "host=h&tags[1]=ok&tags[2]=bad%FF", map[string]any{"tags": []any{nil, atPos4}}},
		{"json tag, escaped lone surrogate is not raw bytes", "/services", ctJSON, `{"host":"h","tags":["ok","bad\udc00"]}`, nil},
		{"json service name", "/services", ctJSON, "{\"host\":\"h\",\"name\":\"bad\xc3\"}", map[string]any{"name": atPos4}},
		{"form consumer username", "/consumers", ctForm, "username=bad%C3%28", map[string]any{"username": atPos4}},
		{"json plugin config value", "/plugins", ctJSON, "{\"name\":\"key-auth\",\"config\":{\"k\":\"bad\xe2\x82\"}}", map[string]any{"config": atPos4}},
		{"json plugin config key", "/plugins", ctJSON, "{\"name\":\"key-auth\",\"config\":{\"bad\xf0\":1}}", map[string]any{"config": atPos4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.store.Current()
			r := h.do("POST", tt.path, tt.ct, tt.body)
			if tt.fields == nil {
				// "\udc00" is valid JSON for U+FFFD's neighbourhood: Go
				// decodes it to U+FFFD, a valid character, and it is kept.
				h.must(r, 201)
				return
			}
			if r.status != 400 || r.body["code"] != float64(config.CodeSchemaViolation) {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if !reflect.DeepEqual(r.body["fields"], tt.fields) {
				t.Fatalf("fields %v, want %v", r.body["fields"], tt.fields)
			}
			if h.store.Current() != before {
				t.Fatal("the refused write changed the store")
			}
		})
	}
	// Kong's tag pattern: printable ASCII and space but , and /, and any
	// valid non-ASCII; control characters and DEL are refused.
	tags := []struct {
		tag string
		ok  bool
	}{{"a b", true}, {"ünïcødé-🙂", true}, {"x\ty", false}, {"x\x7f", false}, {"a,b", false}, {"a/b", false}}
	for i, tt := range tags {
		tag, ok := tt.tag, tt.ok
		body, _ := json.Marshal(map[string]any{"username": fmt.Sprint("u", i), "tags": []string{tag}})
		r := h.json("POST", "/consumers", string(body))
		want := 201
		if !ok {
			want = 400
		}
		if r.status != want {
			t.Errorf("tag %q: status %d: %s", tag, r.status, r.raw)
		}
		if wantMsg := "invalid tag '" + tag + "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"; !ok &&
			str(r.body["fields"]) != str(map[string]any{"tags": []any{wantMsg}}) {
			t.Errorf("tag %q: fields %v", tag, r.body["fields"])
		}
	}
}

// A route's header matcher takes header names only as Kong's header_name
// does (routes.lua, typedefs.headers), so CR/LF cannot ride in a name; values
// with CR, LF or NUL are refused too. The same holds for an upstream's active
// health check headers, which are sent as request headers.
func TestHeaderMatchersRefuseInjection(t *testing.T) {
	h := newHarness(t)
	h.must(h.json("POST", "/upstreams", `{"name":"u"}`), 201)
	tests := []struct {
		name, path, body, message string
	}{
		{"CRLF in a route header name", "/routes", `{"paths":["/"],"headers":{"x-a\r\nInjected: 1":["v"]}}`,
			"schema violation (headers: bad header name 'x-a\r\nInjected: 1', allowed characters are A-Z, a-z, 0-9, '_', and '-')"},
		{"space in a route header name", "/routes", `{"paths":["/"],"headers":{"x a":["v"]}}`,
			"schema violation (headers: bad header name 'x a', allowed characters are A-Z, a-z, 0-9, '_', and '-')"},
		{"empty route header name", "/routes", `{"paths":["/"],"headers":{"":["v"]}}`, "schema violation (headers: length must be at least 1)"},
		{"host as a route header", "/routes", `{"paths":["/"],"headers":{"Host":["v"]}}`,
			"schema violation (headers: cannot contain 'host' header, which must be specified in the 'hosts' attribute)"},
		{"CRLF in a route header value", "/routes", `{"paths":["/"],"headers":{"x-a":["ok","v\r\nInjected: 1"]}}`,
			"schema violation (headers: bad header value for 'x-a': must not contain CR, LF or NUL)"},
		{"NUL in a route header value", "/routes", `{"paths":["/"],"headers":{"x-a":["v\u0000"]}}`,
			"schema violation (headers: bad header value for 'x-a': must not contain CR, LF or NUL)"},
		{"CRLF in a health check header name", "/upstreams/u", `{"healthchecks":{"active":{"headers":{"x\r\ny":["v"]}}}}`,
			// Nested errors print as Lua tables, strings %q-quoted.
			`schema violation (healthchecks.active: {headers="bad header name 'x\r\ny', allowed characters are A-Z, a-z, 0-9, '_', and '-'"})`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.path == "/upstreams/u" {
				method = "PATCH"
			}
			before := h.store.Current()
			r := h.must(h.json(method, tt.path, tt.body), 400)
			if r.body["message"] != tt.message {
				t.Fatalf("message\n got %q\nwant %q", r.body["message"], tt.message)
			}
			if h.store.Current() != before {
				t.Fatal("the refused write changed the store")
			}
		})
	}
	h.must(h.json("POST", "/routes", `{"paths":["/"],"headers":{"x-Version_2":["v1","v 2"]}}`), 201)
}

// blockingSchemas holds every plugin validation until release is closed:
// a stand-in for the slowest validation a maximal body can cause.
type blockingSchemas struct {
	fakeSchemas
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingSchemas) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return cfg, nil, true
}

// Validation runs outside the store's lock: while one write is stuck in its
// validation, another write commits. Before, validation ran inside
// store.Update, so every Admin write waited behind the slowest body.
func TestWriteValidationDoesNotBlockOtherWrites(t *testing.T) {
	bs := &blockingSchemas{entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, func(o *Options) { o.Plugins = bs })
	slow := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/plugins", strings.NewReader(`{"name":"key-auth"}`))
		req.Header.Set("Content-Type", ctJSON)
		h.h.ServeHTTP(rec, req)
		slow <- rec.Code
	}()
	<-bs.entered // the slow write is inside its validation now
	small := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/consumers", strings.NewReader(`{"username":"alice"}`))
		req.Header.Set("Content-Type", ctJSON)
		h.h.ServeHTTP(rec, req)
		small <- rec.Code
	}()
	// The small write needs no validation lock at all; 10 s is a deadline
	// for a deadlock, not a speed target (it takes microseconds), long
	// enough for the slowest CI machine under -race.
	select {
	case code := <-small:
		if code != 201 {
			t.Fatalf("small write: status %d", code)
		}
	case <-time.After(10 * time.Second):
		close(bs.release)
		t.Fatal("a write waited for another write's validation")
	}
	close(bs.release)
	if code := <-slow; code != 201 {
		t.Fatalf("slow write: status %d", code)
	}
}

// A PATCH validated against an entity that another write changed before the
// commit is validated again, so neither write's change is lost.
func TestPatchRevalidatesAfterConcurrentChange(t *testing.T) {
	bs := &blockingSchemas{entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, func(o *Options) { o.Plugins = bs })
	close(bs.release)
	r := h.must(h.json("POST", "/plugins", `{"name":"key-auth","config":{"a":1}}`), 201)
	id := r.body["id"].(string)
	bs.release, bs.entered, bs.once = make(chan struct{}), make(chan struct{}), sync.Once{}
	done := make(chan resp, 1)
	go func() { done <- h.json("PATCH", "/plugins/"+id, `{"config":{"b":2}}`) }()
	<-bs.entered // the PATCH merged over config {a:1} and waits in validation
	// Meanwhile tags change: the PATCH's prepared entity is stale now.
	changed := make(chan error, 1)
	go func() {
		changed <- h.store.Update(func(next *config.Config) error {
			_, err := next.Patch(config.TablePlugins, next.Get(config.TablePlugins, id), map[string]any{"tags": []any{"x"}}, config.WriteOptions{})
			return err
		})
	}()
	select {
	case err := <-changed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // a deadlock's deadline, as above
		close(bs.release)
		t.Fatal("the store was locked during the PATCH's validation")
	}
	close(bs.release)
	got := (<-done)
	if got.status != 200 {
		t.Fatalf("PATCH: %d %s", got.status, got.raw)
	}
	if str(got.body["tags"]) != "[x]" || str(got.body["config"]) != "map[a:1 b:2]" {
		t.Fatalf("PATCH lost a change: tags %v config %v", got.body["tags"], got.body["config"])
	}
}

// BenchmarkWriteTags is a service write with many tags: linear since sets
// dedupe by map. Before: 10k 0.4 s, 40k 6.6 s (quadratic).
func BenchmarkWriteTags(b *testing.B) {
	for _, n := range []int{10_000, 40_000, config.MaxEntityValues - 4} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := newHarness(b)
			body := jsonTags(n)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := h.must(h.json("PUT", "/services/big", body), 200)
				_ = r
			}
		})
	}
}

// BenchmarkHostileFormKey is the key that used to overflow the stack: it is
// refused after MaxNesting segments, so its cost is reading the body.
func BenchmarkHostileFormKey(b *testing.B) {
	h := newHarness(b)
	body := deepFormKey(2_000_000) + "=1"
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		h.must(h.do("POST", "/services", ctForm, body), 400)
	}
}
