package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/store"
)

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

type harness struct {
	t     testing.TB
	h     http.Handler
	store *store.Store
}

func newHarness(t testing.TB, mod ...func(*Options)) *harness {
	t.Helper()
	s := store.OpenMemory()
	opts := Options{Store: s, Version: config.KongVersion, NodeID: "node-1", Hostname: "gw", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Configuration: map[string]any{"database": "embedded"}}
	for _, m := range mod {
		m(&opts)
	}
	return &harness{t: t, h: New(opts), store: s}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (h *harness) do(method, path, ct string, body string, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	r := resp{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	if len(r.raw) > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(r.raw, &r.body); err != nil {
			h.t.Fatalf("%s %s: response is not a JSON object: %s", method, path, r.raw)
		}
	}
	return r
}

// form sends curl --data style pairs.
func (h *harness) form(method, path string, pairs ...string) resp {
	h.t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Add(pairs[i], pairs[i+1])
	}
	return h.do(method, path, ctForm, v.Encode())
}

func (h *harness) json(method, path, body string) resp {
	h.t.Helper()
	return h.do(method, path, ctJSON, body)
}

func (h *harness) must(r resp, status int) resp {
	h.t.Helper()
	if r.status != status {
		h.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

func str(v any) string { return fmt.Sprint(v) }

func dataLen(r resp) int {
	d, _ := r.body["data"].([]any)
	return len(d)
}

// The tutorial's curl sequence, verbatim in form encoding.
func TestTutorialSequence(t *testing.T) {
	h := newHarness(t)
	svc := h.must(h.form("POST", "/services", "name", "mockbin-service", "url", "http://mockbin:8080"), 201).body
	if svc["host"] != "mockbin" || svc["port"] != 8080.0 || svc["protocol"] != "http" || svc["path"] != nil || svc["name"] != "mockbin-service" {
		t.Fatalf("service: %v", svc)
	}
	if _, has := svc["url"]; has {
		t.Fatal("url shorthand must not be stored")
	}
	route := h.must(h.form("POST", "/services/mockbin-service/routes", "name", "mockbin-route", "paths[]", "/mockbin"), 201).body
	if str(route["paths"]) != "[/mockbin]" || route["service"].(map[string]any)["id"] != svc["id"] || route["strip_path"] != true {
		t.Fatalf("route: %v", route)
	}
	h.must(h.do("DELETE", "/services/mockbin-service", "", ""), 204)
	if n := len(h.store.Current().Routes); n != 0 {
		t.Fatalf("%d routes survived their service", n)
	}
	h.must(h.form("POST", "/upstreams", "name", "mockbin-upstream"), 201)
	t1 := h.must(h.form("POST", "/upstreams/mockbin-upstream/targets", "target", "mockbin1:8080"), 201).body
	h.must(h.form("POST", "/upstreams/mockbin-upstream/targets", "target", "mockbin2:8080"), 201)
	if t1["weight"] != 100.0 || t1["target"] != "mockbin1:8080" {
		t.Fatalf("target: %v", t1)
	}
	svc2 := h.must(h.form("POST", "/services", "name", "mockbin-service", "url", "http://mockbin-upstream"), 201).body
	if svc2["host"] != "mockbin-upstream" || svc2["port"] != 80.0 {
		t.Fatalf("service 2: %v", svc2)
	}
	c := h.store.Current()
	if len(c.Services) != 1 || len(c.Upstreams) != 1 || len(c.TargetsOf(c.Upstreams[0].ID)) != 2 || c.UpstreamByName(c.Services[0].Host) == nil {
		t.Fatalf("final topology: %d services %d upstreams %d targets", len(c.Services), len(c.Upstreams), len(c.Targets))
	}
	lst := h.must(h.do("GET", "/upstreams/mockbin-upstream/targets", "", ""), 200)
	if dataLen(lst) != 2 || lst.body["next"] != nil {
		t.Fatalf("targets list: %s", lst.raw)
	}
}

// crud runs create, read (by id and key), patch, put, list and delete on one
// top-level collection.
func TestCRUDEveryCollection(t *testing.T) {
	tests := []struct {
		path, create, key, keyField, patch, patchField string
		patchWant                                      any
		put                                            string
	}{
		{"/services", `{"name":"s1","host":"a.com"}`, "s1", "name", `{"retries":2}`, "retries", 2.0, `{"host":"b.com"}`},
		{"/routes", `{"name":"r1","paths":["/r"]}`, "r1", "name", `{"strip_path":false}`, "strip_path", false, `{"hosts":["x.com"]}`},
		{"/upstreams", `{"name":"u1"}`, "u1", "name", `{"algorithm":"least-connections"}`, "algorithm", "least-connections", `{}`},
		{"/consumers", `{"username":"alice"}`, "alice", "username", `{"custom_id":"c-1"}`, "custom_id", "c-1", `{"custom_id":"c-2"}`},
		{"/plugins", `{"name":"cors","instance_name":"cors-1"}`, "cors-1", "instance_name", `{"enabled":false}`, "enabled", false, `{"name":"cors"}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			h := newHarness(t)
			created := h.must(h.json("POST", tt.path, tt.create), 201).body
			id := created["id"].(string)
			if !config.IsUUID(id) || created["created_at"] == nil {
				t.Fatalf("created: %v", created)
			}
			if got := h.must(h.do("GET", tt.path+"/"+id, "", ""), 200).body; got["id"] != id {
				t.Fatalf("get by id: %v", got)
			}
			if got := h.must(h.do("GET", tt.path+"/"+tt.key, "", ""), 200).body; got["id"] != id {
				t.Fatalf("get by key: %v", got)
			}
			patched := h.must(h.json("PATCH", tt.path+"/"+tt.key, tt.patch), 200).body
			if patched[tt.patchField] != tt.patchWant || patched["id"] != id || patched[tt.keyField] != tt.key {
				t.Fatalf("patch: %v", patched)
			}
			// PUT on an existing key replaces: the patched field returns to its default.
			put := h.must(h.json("PUT", tt.path+"/"+tt.key, tt.put), 200).body
			if put["id"] != id || put[tt.keyField] != tt.key || put[tt.patchField] == tt.patchWant {
				t.Fatalf("put replace: %v", put)
			}
			// PUT on a new id creates.
			newID := "11111111-2222-3333-4444-555555555555"
			body := tt.create
			if tt.path == "/plugins" {
				body = `{"name":"cors","instance_name":"cors-2","route":null}`
				h.must(h.json("PATCH", tt.path+"/"+id, `{"name":"key-auth"}`), 200)
			} else {
				body = strings.Replace(body, tt.key, tt.key+"-new", 1)
			}
			if got := h.must(h.json("PUT", tt.path+"/"+newID, body), 200).body; got["id"] != newID {
				t.Fatalf("put create: %v", got)
			}
			if n := dataLen(h.must(h.do("GET", tt.path, "", ""), 200)); n != 2 {
				t.Fatalf("list has %d", n)
			}
			h.must(h.do("DELETE", tt.path+"/"+tt.key, "", ""), 204)
			h.must(h.do("GET", tt.path+"/"+id, "", ""), 404)
			h.must(h.do("DELETE", tt.path+"/"+id, "", ""), 204)
			if n := dataLen(h.must(h.do("GET", tt.path, "", ""), 200)); n != 1 {
				t.Fatalf("list after delete has %d", n)
			}
		})
	}
}

func TestNestedEndpoints(t *testing.T) {
	h := newHarness(t)
	s1 := h.must(h.json("POST", "/services", `{"name":"s1","host":"a"}`), 201).body
	h.must(h.json("POST", "/services", `{"name":"s2","host":"b"}`), 201)
	r1 := h.must(h.json("POST", "/services/s1/routes", `{"name":"r1","paths":["/one"]}`), 201).body
	h.must(h.json("POST", "/services/s2/routes", `{"name":"r2","paths":["/two"]}`), 201)
	h.must(h.json("POST", "/services/nope/routes", `{"paths":["/x"]}`), 404)

	if n := dataLen(h.must(h.do("GET", "/services/s1/routes", "", ""), 200)); n != 1 {
		t.Fatalf("s1 routes: %d", n)
	}
	h.must(h.do("GET", "/services/s1/routes/r1", "", ""), 200)
	h.must(h.do("GET", "/services/s1/routes/r2", "", ""), 404) // r2 belongs to s2
	h.must(h.do("GET", "/services/nope/routes", "", ""), 404)

	// /routes/{r}/service
	if got := h.must(h.do("GET", "/routes/r1/service", "", ""), 200).body; got["id"] != s1["id"] {
		t.Fatalf("route service: %v", got)
	}
	if got := h.must(h.json("PATCH", "/routes/r1/service", `{"read_timeout":1500}`), 200).body; got["read_timeout"] != 1500.0 {
		t.Fatalf("patch route service: %v", got)
	}

	// Plugins under services, routes and consumers.
	h.must(h.json("POST", "/consumers", `{"username":"bob"}`), 201)
	sp := h.must(h.json("POST", "/services/s1/plugins", `{"name":"rate-limiting","config":{"minute":5}}`), 201).body
	if sp["service"].(map[string]any)["id"] != s1["id"] {
		t.Fatalf("service plugin: %v", sp)
	}
	rp := h.must(h.json("POST", "/routes/r1/plugins", `{"name":"key-auth"}`), 201).body
	if rp["route"].(map[string]any)["id"] != r1["id"] {
		t.Fatalf("route plugin: %v", rp)
	}
	h.must(h.json("POST", "/consumers/bob/plugins", `{"name":"rate-limiting","config":{"minute":1}}`), 201)
	if n := dataLen(h.must(h.do("GET", "/plugins", "", ""), 200)); n != 3 {
		t.Fatalf("plugins: %d", n)
	}
	if n := dataLen(h.must(h.do("GET", "/routes/r1/plugins", "", ""), 200)); n != 1 {
		t.Fatalf("route plugins: %d", n)
	}
	h.must(h.do("GET", "/services/s1/plugins/"+sp["id"].(string), "", ""), 200)
	h.must(h.do("GET", "/routes/r1/plugins/"+sp["id"].(string), "", ""), 404)
	if got := h.must(h.json("PATCH", "/services/s1/plugins/"+sp["id"].(string), `{"config":{"hour":100}}`), 200).body; got["config"].(map[string]any)["minute"] != 5.0 {
		t.Fatalf("patch merges plugin config: %v", got)
	}

	// Key-auth credentials.
	k := h.must(h.form("POST", "/consumers/bob/key-auth", "key", "secret-1"), 201).body
	auto := h.must(h.do("POST", "/consumers/bob/key-auth", "", ""), 201).body
	if k["key"] != "secret-1" || len(auto["key"].(string)) != 32 {
		t.Fatalf("keys: %v %v", k, auto)
	}
	if n := dataLen(h.must(h.do("GET", "/consumers/bob/key-auth", "", ""), 200)); n != 2 {
		t.Fatalf("bob keys: %d", n)
	}
	if n := dataLen(h.must(h.do("GET", "/key-auths", "", ""), 200)); n != 2 {
		t.Fatalf("key-auths: %d", n)
	}
	h.must(h.do("GET", "/consumers/bob/key-auth/secret-1", "", ""), 200)
	h.must(h.do("GET", "/key-auths/secret-1", "", ""), 200)
	h.must(h.do("DELETE", "/consumers/bob/key-auth/secret-1", "", ""), 204)
	h.must(h.do("GET", "/key-auths/secret-1", "", ""), 404)

	// Targets by host:port and id, /targets/all.
	h.must(h.json("POST", "/upstreams", `{"name":"u"}`), 201)
	tg := h.must(h.json("POST", "/upstreams/u/targets", `{"target":"10.0.0.1"}`), 201).body
	if tg["target"] != "10.0.0.1:8000" {
		t.Fatalf("target port default: %v", tg)
	}
	h.must(h.json("POST", "/upstreams/u/targets", `{"target":"10.0.0.1:8000"}`), 409)
	h.must(h.json("PATCH", "/upstreams/u/targets/10.0.0.1:8000", `{"weight":0}`), 200)
	if got := h.must(h.do("GET", "/upstreams/u/targets/"+tg["id"].(string), "", ""), 200).body; got["weight"] != 0.0 {
		t.Fatalf("reweighted: %v", got)
	}
	// Kong's PUT on a target updates an existing one only (update_target_cb).
	h.must(h.json("PUT", "/upstreams/u/targets/10.0.0.2:80", `{"weight":5}`), 404)
	h.must(h.json("POST", "/upstreams/u/targets", `{"target":"10.0.0.2:80","weight":5}`), 201)
	if n := dataLen(h.must(h.do("GET", "/upstreams/u/targets/all", "", ""), 200)); n != 2 {
		t.Fatalf("targets/all: %d", n)
	}
	h.must(h.do("DELETE", "/upstreams/u/targets/10.0.0.1", "", ""), 204)
	if n := len(h.store.Current().Targets); n != 1 {
		t.Fatalf("targets after delete: %d", n)
	}

	// Cascades: deleting a consumer drops its credentials and plugins; an
	// upstream its targets; a service its routes and their plugins.
	h.must(h.do("DELETE", "/consumers/bob", "", ""), 204)
	h.must(h.do("DELETE", "/upstreams/u", "", ""), 204)
	h.must(h.do("DELETE", "/services/s1", "", ""), 204)
	c := h.store.Current()
	if len(c.KeyAuthCredentials) != 0 || len(c.Targets) != 0 || len(c.Plugins) != 0 || len(c.Routes) != 1 {
		t.Fatalf("cascade left %d creds %d targets %d plugins %d routes", len(c.KeyAuthCredentials), len(c.Targets), len(c.Plugins), len(c.Routes))
	}
}

func TestFormEncodings(t *testing.T) {
	h := newHarness(t)
	svc := h.must(h.form("POST", "/services", "name", "s", "host", "h", "port", "8080", "retries", "0", "tags", "a"), 201).body
	if svc["port"] != 8080.0 || svc["retries"] != 0.0 || str(svc["tags"]) != "[a]" {
		t.Fatalf("coerced service: %v", svc)
	}
	// Indexed, appended and repeated arrays; dotted foreign key; booleans; "" to null.
	r := h.must(h.form("POST", "/routes", "paths[1]", "/a", "paths[2]", "/b", "methods[]", "GET", "methods[]", "POST",
		"hosts", "x.com", "hosts", "y.com", "service.id", svc["id"].(string), "strip_path", "false", "name", "",
		"headers.x-env", "prod"), 201).body
	if str(r["paths"]) != "[/a /b]" || str(r["methods"]) != "[GET POST]" || str(r["hosts"]) != "[x.com y.com]" ||
		r["strip_path"] != false || r["name"] != nil || str(r["headers"]) != "map[x-env:[prod]]" {
		t.Fatalf("form route: %v", r)
	}
	// Dotted nested records.
	u := h.must(h.form("POST", "/upstreams", "name", "u", "healthchecks.active.healthy.interval", "1",
		"healthchecks.active.unhealthy.http_failures", "2", "healthchecks.active.healthy.http_statuses", "200",
		"healthchecks.threshold", "50"), 201).body
	hc := u["healthchecks"].(map[string]any)
	act := hc["active"].(map[string]any)
	if act["healthy"].(map[string]any)["interval"] != 1.0 || act["unhealthy"].(map[string]any)["http_failures"] != 2.0 ||
		str(act["healthy"].(map[string]any)["http_statuses"]) != "[200]" || hc["threshold"] != 50.0 || act["timeout"] != 1.0 {
		t.Fatalf("form upstream: %v", hc)
	}
	// Plugin config through dotted keys and brackets.
	p := h.must(h.form("POST", "/plugins", "name", "rate-limiting", "config.minute", "5", "config[policy]", "local"), 201).body
	if cfg := p["config"].(map[string]any); cfg["minute"] != 5.0 || cfg["policy"] != "local" {
		t.Fatalf("plugin config: %v", cfg)
	}
	// Multipart.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("username", "carol")
	_ = mw.WriteField("tags[]", "t1")
	_ = mw.WriteField("tags[]", "t2")
	mw.Close()
	c := h.must(h.do("POST", "/consumers", mw.FormDataContentType(), buf.String()), 201).body
	if c["username"] != "carol" || str(c["tags"]) != "[t1 t2]" {
		t.Fatalf("multipart consumer: %v", c)
	}
	// A form field of the wrong kind is still a schema error.
	e := h.must(h.form("POST", "/services", "host", "h", "port", "eighty"), 400).body
	if e["message"] != "schema violation (port: expected an integer)" {
		t.Fatalf("form type error: %v", e)
	}
}

func TestPaginationAndTags(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 7; i++ {
		tag := "odd"
		if i%2 == 0 {
			tag = "even"
		}
		h.must(h.json("POST", "/services", fmt.Sprintf(`{"name":"s%d","host":"h","tags":[%q,"all"]}`, i, tag)), 201)
	}
	var names []string
	path := "/services?size=3"
	pages := 0
	for path != "" {
		r := h.must(h.do("GET", path, "", ""), 200)
		pages++
		for _, d := range r.body["data"].([]any) {
			names = append(names, d.(map[string]any)["name"].(string))
		}
		next, _ := r.body["next"].(string)
		_, hasOffset := r.body["offset"]
		if (next == "") == hasOffset {
			t.Fatalf("page %d: next %q but offset present=%v", pages, next, hasOffset)
		}
		path = next
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if pages != 3 || strings.Join(names, ",") != "s0,s1,s2,s3,s4,s5,s6" {
		t.Fatalf("pages %d names %v", pages, names)
	}
	if n := dataLen(h.must(h.do("GET", "/services", "", ""), 200)); n != 7 {
		t.Fatalf("default size page: %d", n)
	}
	if n := dataLen(h.must(h.do("GET", "/services?tags=even", "", ""), 200)); n != 4 {
		t.Fatalf("tags=even: %d", n)
	}
	if n := dataLen(h.must(h.do("GET", "/services?tags=even,odd", "", ""), 200)); n != 0 {
		t.Fatalf("tags=even,odd: %d", n)
	}
	if n := dataLen(h.must(h.do("GET", "/services?tags=even/odd", "", ""), 200)); n != 7 {
		t.Fatalf("tags=even/odd: %d", n)
	}
	r := h.must(h.do("GET", "/services?tags=odd&size=2", "", ""), 200)
	if next := r.body["next"].(string); !strings.Contains(next, "tags=odd") || !strings.Contains(next, "size=2") {
		t.Fatalf("next keeps filters: %s", next)
	}
}

// Every error class, each checked to leave the store exactly as it was.
func TestErrorsLeaveStoreUnchanged(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxBodyBytes = 4096 })
	h.must(h.json("POST", "/services", `{"name":"s","host":"h"}`), 201)
	h.must(h.json("POST", "/upstreams", `{"name":"u"}`), 201)
	h.must(h.json("POST", "/upstreams/u/targets", `{"target":"a:1"}`), 201)
	h.must(h.json("POST", "/consumers", `{"username":"bob"}`), 201)

	tests := []struct {
		name, method, path, ct, body string
		status, code                 int
		message                      string
	}{
		{"bad json", "POST", "/services", ctJSON, `{"name":`, 400, 0, "Cannot parse JSON body"},
		{"json array", "POST", "/services", ctJSON, `[1]`, 400, 0, "Cannot parse JSON body"},
		{"empty json", "POST", "/services", ctJSON, ``, 400, 0, "Cannot parse JSON body"},
		{"unsupported type", "POST", "/services", "text/plain", `name=x`, 415, 0, "Unsupported Media Type"},
		{"oversized", "POST", "/services", ctJSON, `{"name":"` + strings.Repeat("x", 5000) + `"}`, 413, 0, "Payload too large"},
		{"missing field", "POST", "/services", ctJSON, `{"name":"t"}`, 400, 2, "schema violation (host: required field missing)"},
		{"unknown field", "POST", "/services", ctJSON, `{"host":"h","foo":1}`, 400, 2, "schema violation (foo: unknown field)"},
		{"wrong type", "PATCH", "/services/s", ctJSON, `{"port":"80"}`, 400, 2, "schema violation (port: expected an integer)"},
		{"out of range", "PATCH", "/services/s", ctJSON, `{"port":65536}`, 400, 2, "schema violation (port: value should be between 0 and 65535)"},
		{"bad path", "POST", "/services/s/routes", ctJSON, `{"paths":["x"]}`, 400, 2, "schema violation (paths.1: should start with: / (fixed path) or ~/ (regex path))"},
		{"route without matcher", "POST", "/routes", ctJSON, `{"name":"r"}`, 400, 2, "schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')"},
		{"upstream with port", "POST", "/upstreams", ctJSON, `{"name":"v:80"}`, 400, 2, "schema violation (name: Invalid name ('v:80'); no port allowed)"},
		{"bad weight", "POST", "/upstreams/u/targets", ctJSON, `{"target":"b","weight":70000}`, 400, 2, "schema violation (weight: value should be between 0 and 65535)"},
		{"bad status", "PATCH", "/upstreams/u", ctJSON, `{"healthchecks":{"active":{"healthy":{"http_statuses":[1000]}}}}`, 400, 2, `schema violation (healthchecks.active: {healthy={http_statuses={"value should be between 100 and 999"}}})`},
		{"consumer without identity", "POST", "/consumers", ctJSON, `{"tags":["x"]}`, 400, 2, "schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')"},
		{"plugin without name", "POST", "/plugins", ctJSON, `{}`, 400, 2, "schema violation (name: required field missing)"},
		{"duplicate name", "POST", "/services", ctJSON, `{"name":"s","host":"h"}`, 409, 5, `UNIQUE violation detected on '{name="s"}'`},
		{"rename to taken", "POST", "/consumers", ctForm, `username=bob`, 409, 5, `UNIQUE violation detected on '{username="bob"}'`},
		{"duplicate target", "POST", "/upstreams/u/targets", ctJSON, `{"target":"a:1"}`, 409, 5, ""},
		{"dangling reference", "POST", "/routes", ctJSON, `{"paths":["/"],"service":{"id":"00000000-0000-0000-0000-000000000009"}}`, 400, 4,
			`the foreign key '{id="00000000-0000-0000-0000-000000000009"}' does not reference an existing 'services' entity.`},
		{"invalid offset", "GET", "/services?offset=%%%", "", "", 400, 7, "'%%%' is not a valid offset: bad base64 encoding"},
		{"invalid size", "GET", "/services?size=0", "", "", 400, 9, "size must be an integer between 1 and 1000"},
		{"size not a number", "GET", "/services?size=abc", "", "", 400, 9, "size must be a number"},
		{"unknown item", "PATCH", "/services/nope", ctJSON, `{"retries":1}`, 404, 0, "Not found"},
		{"unknown path", "GET", "/nope", "", "", 404, 0, "Not found"},
		{"method not allowed", "DELETE", "/services", "", "", 405, 0, "Method not allowed"},
		{"bad declarative", "POST", "/config", ctJSON, `{"config":"services: []"}`, 400, 14, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.store.Current()
			beforeJSON, _ := json.Marshal(before)
			path := tt.path
			if tt.name == "invalid offset" {
				path = "/services?offset=" + url.QueryEscape("%%%")
			}
			r := h.do(tt.method, path, tt.ct, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if tt.code != 0 && r.body["code"] != float64(tt.code) {
				t.Fatalf("code %v, want %d: %s", r.body["code"], tt.code, r.raw)
			}
			if tt.message != "" && r.body["message"] != tt.message {
				t.Fatalf("message\n got %v\nwant %s", r.body["message"], tt.message)
			}
			if tt.code == 2 {
				if _, ok := r.body["fields"].(map[string]any); !ok || r.body["name"] != "schema violation" {
					t.Fatalf("schema violation body: %s", r.raw)
				}
			}
			after := h.store.Current()
			afterJSON, _ := json.Marshal(after)
			if after != before || !bytes.Equal(beforeJSON, afterJSON) {
				t.Fatal("the failed request changed the store")
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Token = "s3cret" })
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"none", nil, 401},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, 401},
		{"bearer", []string{"Authorization", "Bearer s3cret"}, 200},
		{"kong header", []string{"Kong-Admin-Token", "s3cret"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("GET", "/services", "", "", tt.hdr...)
			if r.status != tt.status {
				t.Fatalf("status %d want %d", r.status, tt.status)
			}
			if tt.status == 401 && r.body["message"] != "Unauthorized" {
				t.Fatalf("401 body: %s", r.raw)
			}
		})
	}
	r := h.do("POST", "/services", ctJSON, `{"host":"h"}`)
	if r.status != 401 || len(h.store.Current().Services) != 0 {
		t.Fatal("unauthenticated write went through")
	}
}

func TestDBLess(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.DBLess = true })
	for _, tc := range []struct{ method, path, verb string }{
		{"POST", "/services", "create"}, {"PATCH", "/services/x", "update"}, {"PUT", "/routes/x", "create or update"},
		{"DELETE", "/upstreams/x", "delete"}, {"POST", "/consumers/x/key-auth", "create"},
	} {
		r := h.json(tc.method, tc.path, `{"host":"h"}`)
		table := strings.Split(tc.path, "/")[1]
		if strings.HasSuffix(tc.path, "key-auth") {
			table = "keyauth_credentials"
		}
		want := "cannot " + tc.verb + " '" + table + "' entities when not using a database"
		if r.status != 405 || r.body["code"] != 12.0 || r.body["message"] != want {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, r.status, r.raw)
		}
	}
	yml := "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://h:81\n  routes:\n  - paths: [/x]\n"
	body, _ := json.Marshal(map[string]string{"config": yml})
	h.must(h.json("POST", "/config", string(body)), 201)
	c := h.store.Current()
	if len(c.Services) != 1 || c.Services[0].Port != 81 || len(c.Routes) != 1 {
		t.Fatalf("loaded %d services %d routes", len(c.Services), len(c.Routes))
	}
	if r := h.must(h.do("GET", "/", "", ""), 200); r.body["configuration"].(map[string]any)["database"] != "embedded" {
		t.Fatalf("configuration echo: %v", r.body["configuration"])
	}
}

func TestDeclarativeConfigEndpoint(t *testing.T) {
	yml := `_format_version: "3.0"
services:
- name: svc
  url: http://up
  routes:
  - name: r
    paths: [/p]
upstreams:
- name: up
  targets:
  - target: 127.0.0.1:9001
  - target: 127.0.0.1:9002
consumers:
- username: c
  keyauth_credentials:
  - key: k1
`
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("config", "kong.yml")
	_, _ = fw.Write([]byte(yml))
	mw.Close()
	wrapped, _ := json.Marshal(map[string]string{"config": yml})
	tests := []struct {
		name, ct, body string
	}{
		{"json wrapped yaml", ctJSON, string(wrapped)},
		{"raw yaml", "application/yaml", yml},
		{"form", ctForm, url.Values{"config": {yml}}.Encode()},
		{"multipart file", mw.FormDataContentType(), mp.String()},
		{"json document", ctJSON, `{"_format_version":"3.0","services":[{"name":"svc","url":"http://up","routes":[{"name":"r","paths":["/p"]}]}],"upstreams":[{"name":"up","targets":[{"target":"127.0.0.1:9001"},{"target":"127.0.0.1:9002"}]}],"consumers":[{"username":"c","keyauth_credentials":[{"key":"k1"}]}]}`},
	}
	var firstIDs string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(h.json("POST", "/services", `{"name":"old","host":"h"}`), 201)
			r := h.must(h.do("POST", "/config", tt.ct, tt.body), 201)
			if svcs := r.body["services"].(map[string]any); len(svcs) != 1 {
				t.Fatalf("response services: %v", svcs)
			}
			c := h.store.Current()
			if len(c.Services) != 1 || *c.Services[0].Name != "svc" || len(c.Targets) != 2 || len(c.KeyAuthCredentials) != 1 {
				t.Fatalf("loaded: %d services %d targets %d creds", len(c.Services), len(c.Targets), len(c.KeyAuthCredentials))
			}
			ids := c.Services[0].ID + c.Routes[0].ID + c.Targets[1].ID
			if firstIDs == "" {
				firstIDs = ids
			} else if ids != firstIDs {
				t.Fatal("ids differ between encodings of the same file")
			}
			// GET /config round-trips through POST /config.
			got := h.must(h.do("GET", "/config", "", ""), 200)
			again, _ := json.Marshal(map[string]any{"config": got.body["config"]})
			before, _ := json.Marshal(h.store.Current())
			h.must(h.json("POST", "/config", string(again)), 201)
			after, _ := json.Marshal(h.store.Current())
			if !bytes.Equal(before, after) {
				t.Fatalf("GET /config then POST /config changed the configuration")
			}
			y := h.must(h.do("GET", "/config?format=yaml", "", ""), 200)
			if !strings.HasPrefix(string(y.raw), "_format_version: \"3.0\"") {
				t.Fatalf("yaml dump: %s", y.raw)
			}
		})
	}

	h := newHarness(t)
	bad, _ := json.Marshal(map[string]string{"config": "_format_version: \"3.0\"\nservices:\n- name: s\n  port: 99999\n"})
	r := h.must(h.json("POST", "/config", string(bad)), 400)
	if r.body["code"] != 14.0 || r.body["name"] != "invalid declarative configuration" {
		t.Fatalf("code 14: %s", r.raw)
	}
	fields := r.body["fields"].(map[string]any)["services"].([]any)[0].(map[string]any)
	if fields["host"] != "required field missing" || fields["port"] != "value should be between 0 and 65535" {
		t.Fatalf("per-entity errors: %v", fields)
	}
}

type fakeHealth struct {
	set []string
}

func (f *fakeHealth) TargetsHealth(upstreamID string) map[string]string { return nil }
func (f *fakeHealth) BalancerHealth(upstreamID string) (string, map[string]any) {
	return "UNHEALTHY", map[string]any{"weight": map[string]any{"total": 100, "available": 0}}
}
func (f *fakeHealth) SetTargetHealth(upstreamID, targetID string, healthy bool) error {
	f.set = append(f.set, fmt.Sprintf("%s/%s=%v", upstreamID, targetID, healthy))
	return nil
}

type fakeHealthStates struct {
	fakeHealth
	states map[string]string
}

func (f *fakeHealthStates) TargetsHealth(upstreamID string) map[string]string { return f.states }

func TestUpstreamHealth(t *testing.T) {
	hs := &fakeHealthStates{states: map[string]string{}}
	h := newHarness(t, func(o *Options) { o.Health = hs; o.NodeID = "n1" })
	u := h.must(h.json("POST", "/upstreams", `{"name":"u","healthchecks":{"active":{"healthy":{"interval":1}}}}`), 201).body
	t1 := h.must(h.json("POST", "/upstreams/u/targets", `{"target":"127.0.0.1:9001"}`), 201).body
	h.must(h.json("POST", "/upstreams/u/targets", `{"target":"127.0.0.1:9002"}`), 201)
	hs.states[t1["id"].(string)] = "UNHEALTHY"

	r := h.must(h.do("GET", "/upstreams/u/health", "", ""), 200)
	data := r.body["data"].([]any)
	if len(data) != 2 || r.body["node_id"] != "n1" || r.body["next"] != nil {
		t.Fatalf("health: %s", r.raw)
	}
	// Newest first, as Kong's page_for_upstream.
	if d1 := data[1].(map[string]any); d1["health"] != "UNHEALTHY" || d1["target"] != "127.0.0.1:9001" ||
		d1["data"].(map[string]any)["addresses"].([]any)[0].(map[string]any)["port"] != 9001.0 {
		t.Fatalf("target 1: %v", d1)
	}
	if d0 := data[0].(map[string]any); d0["health"] != "HEALTHCHECKS_OFF" || d0["target"] != "127.0.0.1:9002" {
		t.Fatalf("target 2 (no state): %v", d0)
	}
	b := h.must(h.do("GET", "/upstreams/u/health?balancer_health=1", "", ""), 200).body["data"].(map[string]any)
	if b["health"] != "UNHEALTHY" || b["balancer_health"] != "UNHEALTHY" || b["id"] != u["id"] {
		t.Fatalf("balancer health: %v", b)
	}
	h.must(h.do("PUT", "/upstreams/u/targets/127.0.0.1:9001/unhealthy", "", ""), 204)
	h.must(h.do("POST", "/upstreams/u/targets/"+t1["id"].(string)+"/healthy", "", ""), 204)
	h.must(h.do("POST", "/upstreams/u/targets/127.0.0.9:1/healthy", "", ""), 404)
	h.must(h.do("GET", "/upstreams/nope/health", "", ""), 404)
	want := fmt.Sprintf("[%s/%s=false %s/%s=true]", u["id"], t1["id"], u["id"], t1["id"])
	if str(hs.set) != want {
		t.Fatalf("health overrides %v, want %s", hs.set, want)
	}

	// Without a health source: from config only.
	h2 := newHarness(t)
	h2.must(h2.json("POST", "/upstreams", `{"name":"u"}`), 201)
	h2.must(h2.json("POST", "/upstreams/u/targets", `{"target":"a:1","weight":0}`), 201)
	b2 := h2.must(h2.do("GET", "/upstreams/u/health?balancer_health=1", "", ""), 200).body["data"].(map[string]any)
	if b2["health"] != "HEALTHCHECKS_OFF" || b2["balancer_health"] != "UNHEALTHY" {
		t.Fatalf("config-only balancer health: %v", b2)
	}
	d := h2.must(h2.do("GET", "/upstreams/u/health", "", ""), 200).body["data"].([]any)
	if d[0].(map[string]any)["health"] != "HEALTHCHECKS_OFF" {
		t.Fatalf("config-only target health: %v", d)
	}
}

type fakeSchemas struct{}

func (fakeSchemas) Available() []PluginInfo {
	return []PluginInfo{{Name: "key-auth", Version: config.KongVersion, Priority: 1250}, {Name: "rate-limiting", Version: config.KongVersion, Priority: 910}}
}
func (fakeSchemas) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	switch name {
	case "key-auth":
		out := map[string]any{"key_names": []any{"apikey"}, "hide_credentials": false}
		for k, v := range cfg {
			out[k] = v
		}
		return out, nil, true
	case "rate-limiting":
		if cfg["minute"] == nil && cfg["second"] == nil {
			return nil, map[string]any{"@entity": []any{"at least one of these fields must be non-empty: 'config.second', 'config.minute'"}}, true
		}
		return cfg, nil, true
	}
	return nil, nil, false
}
func (fakeSchemas) Schema(name string) (any, bool) {
	if name == "key-auth" {
		return map[string]any{"fields": []any{map[string]any{"config": map[string]any{"type": "record"}}}}, true
	}
	return nil, false
}

type fakeStatus struct{}

func (fakeStatus) ServerStatus() map[string]int64 {
	return map[string]int64{"total_requests": 42, "connections_active": 3}
}

func TestInfoStatusSchemasPlugins(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "kong_up 1\n") })
	h := newHarness(t, func(o *Options) { o.Plugins = fakeSchemas{}; o.Status = fakeStatus{}; o.Metrics = metrics })
	root := h.must(h.do("GET", "/", "", ""), 200).body
	if root["version"] != config.KongVersion || root["tagline"] != "Welcome to kong" || root["node_id"] != "node-1" || root["hostname"] != "gw" {
		t.Fatalf("root: %v", root)
	}
	avail := root["plugins"].(map[string]any)["available_on_server"].(map[string]any)
	if avail["key-auth"].(map[string]any)["priority"] != 1250.0 || len(avail) != 2 {
		t.Fatalf("available plugins: %v", avail)
	}

	st := h.must(h.do("GET", "/status", "", ""), 200).body
	srv := st["server"].(map[string]any)
	if srv["total_requests"] != 42.0 || srv["connections_active"] != 3.0 || srv["connections_waiting"] != 0.0 ||
		st["database"].(map[string]any)["reachable"] != true || st["memory"] == nil {
		t.Fatalf("status: %v", st)
	}
	if r := h.must(h.do("GET", "/metrics", "", ""), 200); string(r.raw) != "kong_up 1\n" {
		t.Fatalf("metrics: %q", r.raw)
	}
	if en := h.must(h.do("GET", "/plugins/enabled", "", ""), 200).body["enabled_plugins"]; str(en) != "[key-auth rate-limiting]" {
		t.Fatalf("enabled: %v", en)
	}

	// Plugins are validated through PluginSchemas.
	p := h.must(h.json("POST", "/plugins", `{"name":"key-auth"}`), 201).body
	if str(p["config"].(map[string]any)["key_names"]) != "[apikey]" {
		t.Fatalf("plugin defaults: %v", p)
	}
	e := h.must(h.json("POST", "/plugins", `{"name":"rate-limiting","config":{}}`), 400).body
	if e["message"] != "schema violation (config.@entity: {\"at least one of these fields must be non-empty: 'config.second', 'config.minute'\"})" {
		t.Fatalf("plugin config error: %v", e["message"])
	}
	e = h.must(h.json("POST", "/plugins", `{"name":"nope"}`), 400).body
	if e["fields"].(map[string]any)["name"] != "plugin 'nope' not enabled; add it to the 'plugins' configuration property" {
		t.Fatalf("unknown plugin: %v", e)
	}
	if root := h.must(h.do("GET", "/", "", ""), 200).body; str(root["plugins"].(map[string]any)["enabled_in_cluster"]) != "[key-auth]" {
		t.Fatalf("enabled_in_cluster: %v", root["plugins"])
	}

	// Schemas.
	rs := h.must(h.do("GET", "/schemas/routes", "", ""), 200).body
	fields := rs["fields"].([]any)
	var paths map[string]any
	for _, f := range fields {
		if p, ok := f.(map[string]any)["paths"]; ok {
			paths = p.(map[string]any)
		}
	}
	if paths["type"] != "array" || rs["entity_checks"] == nil {
		t.Fatalf("routes schema: %v", rs)
	}
	us := h.must(h.do("GET", "/schemas/upstreams", "", ""), 200)
	if !bytes.Contains(us.raw, []byte(`"http_statuses":{"type":"array","default":[429,500,503]`)) &&
		!bytes.Contains(us.raw, []byte(`"default":[429,500,503]`)) {
		t.Fatalf("upstream schema lacks passive defaults: %s", us.raw)
	}
	h.must(h.do("GET", "/schemas/nope", "", ""), 404)
	if s := h.must(h.do("GET", "/schemas/plugins/key-auth", "", ""), 200).body; s["fields"] == nil {
		t.Fatalf("plugin schema: %v", s)
	}
	h.must(h.do("GET", "/schemas/plugins/nope", "", ""), 404)
	h.must(h.json("POST", "/schemas/routes/validate", `{"paths":["/ok"]}`), 200)
	h.must(h.json("POST", "/schemas/routes/validate", `{"paths":["bad"]}`), 400)
	if len(h.store.Current().Routes) != 0 {
		t.Fatal("validate stored something")
	}
	if r := h.do("OPTIONS", "/services", "", ""); r.status != 204 || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Fatalf("OPTIONS: %d %v", r.status, r.header)
	}
}

// Entities written through the Admin API survive a restart of the store, and
// a rejected write never reaches the disk.
func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() (*harness, *store.Store) {
		s, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		return &harness{t: t, h: New(opts), store: s}, s
	}
	h, s := open()
	svc := h.must(h.form("POST", "/services", "name", "mockbin-service", "url", "http://mockbin-upstream"), 201).body
	h.must(h.form("POST", "/services/mockbin-service/routes", "paths[]", "/mockbin"), 201)
	h.must(h.form("POST", "/upstreams", "name", "mockbin-upstream", "healthchecks.active.healthy.interval", "2"), 201)
	h.must(h.form("POST", "/upstreams/mockbin-upstream/targets", "target", "mockbin1:8080"), 201)
	h.must(h.form("POST", "/upstreams/mockbin-upstream/targets", "target", "mockbin1:8080"), 409)
	h.must(h.json("PATCH", "/services/mockbin-service", `{"port":70000}`), 400)
	before, _ := json.Marshal(s.Current())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	h2, s2 := open()
	defer s2.Close()
	after, _ := json.Marshal(s2.Current())
	if !bytes.Equal(before, after) {
		t.Fatalf("configuration changed across restart\nbefore %s\nafter  %s", before, after)
	}
	got := h2.must(h2.do("GET", "/services/mockbin-service", "", ""), 200).body
	if got["id"] != svc["id"] || got["created_at"] != svc["created_at"] || got["port"] != 80.0 {
		t.Fatalf("service after restart: %v", got)
	}
	u := h2.must(h2.do("GET", "/upstreams/mockbin-upstream", "", ""), 200).body
	if u["healthchecks"].(map[string]any)["active"].(map[string]any)["healthy"].(map[string]any)["interval"] != 2.0 {
		t.Fatalf("upstream after restart: %v", u)
	}
	if n := dataLen(h2.must(h2.do("GET", "/upstreams/mockbin-upstream/targets", "", ""), 200)); n != 1 {
		t.Fatalf("targets after restart: %d", n)
	}
}

type recordingSchemas struct {
	fakeSchemas
	got map[string]any
}

func (r *recordingSchemas) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	r.got = cfg
	return cfg, nil, true
}

// With a plugin registry wired in, form values of a plugin's config reach it
// as strings (it coerces by its own schema), shaped into arrays and records.
func TestFormPluginConfigReachesRegistryAsStrings(t *testing.T) {
	rs := &recordingSchemas{}
	h := newHarness(t, func(o *Options) { o.Plugins = rs })
	h.must(h.form("POST", "/plugins", "name", "key-auth", "config.key_names[1]", "apikey", "config.key_names[2]", "x-key",
		"config.header_name", "007", "config.hide_credentials", "true", "config.anonymous", ""), 201)
	want := map[string]any{"key_names": []any{"apikey", "x-key"}, "header_name": "007", "hide_credentials": "true", "anonymous": nil}
	if str(rs.got) != str(want) {
		t.Fatalf("registry got %#v, want %#v", rs.got, want)
	}
}

// Every endpoint and method of the reference, in order, with the status Kong
// answers; the sequence ends with deletes so each item path is exercised live.
func TestEveryEndpoint(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plugins = fakeSchemas{}; o.Health = &fakeHealth{}; o.Status = fakeStatus{} })
	steps := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/", "", 200},
		{"GET", "/status", "", 200},
		{"GET", "/plugins/enabled", "", 200},
		{"GET", "/schemas/services", "", 200},
		{"GET", "/schemas/key-auth", "", 200},
		{"POST", "/schemas/services/validate", `{"host":"h"}`, 200},
		{"POST", "/schemas/plugins/validate", `{"name":"key-auth"}`, 200},
		{"POST", "/schemas/plugins/validate", `{"name":"nope"}`, 400},
		{"GET", "/schemas/plugins/key-auth", "", 200},
		{"GET", "/plugins/schema/key-auth", "", 200},
		{"POST", "/schemas/services/other", `{}`, 404},

		{"POST", "/services", `{"name":"s","host":"h"}`, 201},
		{"GET", "/services", "", 200},
		{"GET", "/services/s", "", 200},
		{"PATCH", "/services/s", `{"retries":1}`, 200},
		{"PUT", "/services/s", `{"host":"h2"}`, 200},
		{"POST", "/services/s/routes", `{"name":"r","paths":["/r"]}`, 201},
		{"GET", "/services/s/routes", "", 200},
		{"GET", "/services/s/routes/r", "", 200},
		{"PATCH", "/services/s/routes/r", `{"hosts":["a.com"]}`, 200},
		{"PUT", "/services/s/routes/r2", `{"paths":["/r2"]}`, 200},
		{"DELETE", "/services/s/routes/r2", "", 204},
		{"GET", "/routes", "", 200},
		{"GET", "/routes/r", "", 200},
		{"PATCH", "/routes/r", `{"strip_path":false}`, 200},
		{"PUT", "/routes/r", `{"paths":["/r"],"service":{"name":"s"}}`, 200},
		{"GET", "/routes/r/service", "", 200},
		{"PATCH", "/routes/r/service", `{"port":81}`, 200},
		{"PUT", "/routes/r/service", `{"host":"h3","name":"s"}`, 200},
		{"POST", "/services/s/plugins", `{"name":"rate-limiting","config":{"minute":1},"instance_name":"sp"}`, 201},
		{"GET", "/services/s/plugins", "", 200},
		{"GET", "/services/s/plugins/sp", "", 200},
		{"PATCH", "/services/s/plugins/sp", `{"config":{"minute":2}}`, 200},
		{"PUT", "/services/s/plugins/sp", `{"name":"rate-limiting","config":{"minute":3}}`, 200},
		{"POST", "/routes/r/plugins", `{"name":"key-auth","instance_name":"rp"}`, 201},
		{"GET", "/routes/r/plugins", "", 200},
		{"GET", "/routes/r/plugins/rp", "", 200},
		{"PATCH", "/routes/r/plugins/rp", `{"enabled":false}`, 200},
		{"PUT", "/routes/r/plugins/rp", `{"name":"key-auth"}`, 200},
		{"GET", "/plugins", "", 200},
		{"GET", "/plugins/rp", "", 200},
		{"PATCH", "/plugins/rp", `{"enabled":true}`, 200},

		{"POST", "/consumers", `{"username":"c"}`, 201},
		{"GET", "/consumers", "", 200},
		{"GET", "/consumers?custom_id=none", "", 200},
		{"GET", "/consumers/c", "", 200},
		{"PATCH", "/consumers/c", `{"custom_id":"cid"}`, 200},
		{"PUT", "/consumers/c", `{"custom_id":"cid"}`, 200},
		{"POST", "/consumers/c/plugins", `{"name":"rate-limiting","config":{"second":1},"instance_name":"cp"}`, 201},
		{"GET", "/consumers/c/plugins", "", 200},
		{"GET", "/consumers/c/plugins/cp", "", 200},
		{"PATCH", "/consumers/c/plugins/cp", `{"config":{"second":2}}`, 200},
		{"PUT", "/consumers/c/plugins/cp", `{"name":"rate-limiting","config":{"second":3}}`, 200},
		{"DELETE", "/consumers/c/plugins/cp", "", 204},
		{"POST", "/consumers/c/key-auth", `{"key":"k"}`, 201},
		{"GET", "/consumers/c/key-auth", "", 200},
		{"GET", "/consumers/c/key-auth/k", "", 200},
		{"PATCH", "/consumers/c/key-auth/k", `{"tags":["t"]}`, 200},
		{"PUT", "/consumers/c/key-auth/k2", `{}`, 200},
		{"GET", "/key-auths", "", 200},
		{"GET", "/key-auths/k2", "", 200},
		{"PATCH", "/key-auths/k2", `{"ttl":10}`, 200},
		{"PUT", "/key-auths/k2", `{"consumer":{"username":"c"}}`, 200},
		{"DELETE", "/key-auths/k2", "", 204},
		{"DELETE", "/consumers/c/key-auth/k", "", 204},

		{"POST", "/upstreams", `{"name":"u"}`, 201},
		{"GET", "/upstreams", "", 200},
		{"GET", "/upstreams/u", "", 200},
		{"PATCH", "/upstreams/u", `{"slots":100}`, 200},
		{"PUT", "/upstreams/u", `{}`, 200},
		{"POST", "/upstreams/u/targets", `{"target":"127.0.0.1:9001"}`, 201},
		{"GET", "/upstreams/u/targets", "", 200},
		{"GET", "/upstreams/u/targets/all", "", 200},
		{"GET", "/upstreams/u/targets/127.0.0.1:9001", "", 200},
		{"PATCH", "/upstreams/u/targets/127.0.0.1:9001", `{"weight":10}`, 200},
		{"PUT", "/upstreams/u/targets/127.0.0.1:9001", `{"weight":20}`, 200},
		{"GET", "/upstreams/u/health", "", 200},
		{"GET", "/upstreams/u/health?balancer_health=1", "", 200},
		{"PUT", "/upstreams/u/targets/127.0.0.1:9001/unhealthy", "", 204},
		{"POST", "/upstreams/u/targets/127.0.0.1:9001/unhealthy", "", 204},
		{"PUT", "/upstreams/u/targets/127.0.0.1:9001/healthy", "", 204},
		{"POST", "/upstreams/u/targets/127.0.0.1:9001/healthy", "", 204},
		{"DELETE", "/upstreams/u/targets/127.0.0.1:9001", "", 204},

		{"GET", "/config", "", 200},
		{"GET", "/config?format=json", "", 200},
		{"GET", "/config?format=yaml", "", 200},

		{"DELETE", "/routes/r/plugins/rp", "", 204},
		{"DELETE", "/services/s/plugins/sp", "", 204},
		{"DELETE", "/plugins/rp", "", 204},
		{"DELETE", "/routes/r/service", "", 405},
		{"GET", "/routes/r", "", 200},
		{"DELETE", "/routes/r", "", 204},
		{"DELETE", "/services/s", "", 204},
		{"DELETE", "/upstreams/u", "", 204},
		{"DELETE", "/consumers/c", "", 204},
		{"POST", "/config", `{"config":"_format_version: \"3.0\"\n"}`, 201},
	}
	for i, st := range steps {
		ct := ""
		if st.body != "" {
			ct = ctJSON
		}
		r := h.do(st.method, st.path, ct, st.body)
		if r.status != st.status {
			t.Fatalf("step %d %s %s: status %d, want %d: %s", i, st.method, st.path, r.status, st.status, r.raw)
		}
	}
	c := h.store.Current()
	if n := len(c.Services) + len(c.Routes) + len(c.Upstreams) + len(c.Targets) + len(c.Consumers) + len(c.Plugins) + len(c.KeyAuthCredentials); n != 0 {
		t.Fatalf("%d entities left", n)
	}
}

// TestPutForeignEntityAssociates is Kong's put_entity_endpoint for a route
// without a service: PUT /routes/{r}/service creates one and points the route
// at it.
func TestPutForeignEntityAssociates(t *testing.T) {
	h := newHarness(t)
	h.must(h.json("POST", "/routes", `{"name":"r","paths":["/r"]}`), 201)
	s := h.must(h.json("PUT", "/routes/r/service", `{"host":"new.test"}`), 200).body
	if s["host"] != "new.test" || s["id"] == nil {
		t.Fatalf("service: %v", s)
	}
	rt := h.must(h.do("GET", "/routes/r", "", ""), 200).body
	if ref, _ := rt["service"].(map[string]any); ref == nil || ref["id"] != s["id"] {
		t.Fatalf("route not associated: %v", rt)
	}
	// Now it has one: PUT replaces that service, keeping its id.
	s2 := h.must(h.json("PUT", "/routes/r/service", `{"host":"other.test"}`), 200).body
	if s2["id"] != s["id"] || s2["host"] != "other.test" {
		t.Fatalf("replace: %v", s2)
	}
	h.must(h.json("PUT", "/routes/r/service", `{"port":"x"}`), 400)
}

// TestForeignKeysResolvedFirst is Kong's resolve_foreign order: references by
// name are resolved before validation, so an unresolved name is code 13 even
// when other fields are invalid, and every unresolved field is reported.
func TestForeignKeysResolvedFirst(t *testing.T) {
	h := newHarness(t)
	r := h.must(h.json("POST", "/routes", `{"protocols":["foo"],"service":{"name":"missing"}}`), 400)
	if r.body["code"] != 13.0 {
		t.Fatalf("code: %s", r.raw)
	}
	r = h.must(h.json("POST", "/plugins", `{"name":"key-auth","service":{"name":"s1"},"route":{"name":"r1"}}`), 400)
	if r.body["code"] != 13.0 || !strings.HasPrefix(r.body["message"].(string), "2 foreign keys unresolved (route.name: ") {
		t.Fatalf("two unresolved: %s", r.raw)
	}
	h.must(h.json("POST", "/services", `{"name":"s1","host":"h"}`), 201)
	p := h.must(h.json("POST", "/plugins", `{"name":"key-auth","service":{"name":"s1"}}`), 201).body
	if ref, _ := p["service"].(map[string]any); ref == nil || ref["id"] == nil || ref["name"] != nil {
		t.Fatalf("resolved reference is by id: %v", p["service"])
	}
}

// TestPutValidatesTimestamps: PUT keeps the stored timestamps but still
// refuses malformed ones, as Kong's upsert validates them.
func TestPutValidatesTimestamps(t *testing.T) {
	h := newHarness(t)
	r := h.must(h.json("PUT", "/upstreams/u1", `{"created_at":"abc"}`), 400)
	if r.body["message"] != "schema violation (created_at: expected an integer)" {
		t.Fatalf("%s", r.raw)
	}
	h.must(h.json("PUT", "/upstreams/u1", `{"created_at":1461276890}`), 200)
}

// TestPostConfigYAMLOverLimit: the audit's body, raw YAML of 1.1M values
// (about 10 MiB), is refused with Kong's code 14 and the loader's message.
// config.ScanYAML refuses it before yaml.v3 parses it (its tests bound the
// allocation); here the answer's shape is what matters.
func TestPostConfigYAMLOverLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := 0; i < 160_000; i++ {
		fmt.Fprintf(&b, "- name: s%d\n  url: http://u%d.example:8080/p\n  retries: 5\n", i, i%97)
	}
	h := newHarness(t)
	for _, ct := range []string{"text/yaml", "application/x-yaml"} {
		r := h.must(h.do("POST", "/config", ct, b.String()), 400)
		const msg = "failed parsing declarative configuration: more than 1000000 values"
		if r.body["code"] != 14.0 || r.body["name"] != "invalid declarative configuration" ||
			r.body["fields"].(map[string]any)["error"] != msg {
			t.Fatalf("%s: %s", ct, r.raw)
		}
	}
}
