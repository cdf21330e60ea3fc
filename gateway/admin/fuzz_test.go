package admin

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
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
