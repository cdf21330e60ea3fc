package config

import (
	"encoding/json"
	"strings"
	"testing"
)

const kongYML = `
_format_version: "3.0"
_transform: true
services:
- name: mockbin-service
  url: http://mockbin-upstream/base
  read_timeout: 2000
  routes:
  - name: mockbin-route
    paths: [/mockbin]
    plugins:
    - name: key-auth
  plugins:
  - name: rate-limiting
    config:
      minute: 5
upstreams:
- name: mockbin-upstream
  healthchecks:
    active:
      healthy:
        interval: 1
  targets:
  - target: mockbin1:8080
  - target: mockbin2:8080
    weight: 50
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-key
routes:
- name: second
  service: mockbin-service
  hosts: [example.com]
targets:
- target: mockbin3
  upstream: mockbin-upstream
keyauth_credentials:
- key: other
  consumer: alice
plugins:
- name: cors
  route: second
`

func TestLoadDeclarativeNested(t *testing.T) {
	c, err := LoadDeclarative([]byte(kongYML))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(c.Services) != 1 || len(c.Routes) != 2 || len(c.Upstreams) != 1 || len(c.Targets) != 3 ||
		len(c.Consumers) != 1 || len(c.KeyAuthCredentials) != 2 || len(c.Plugins) != 3 {
		t.Fatalf("counts: %d services %d routes %d upstreams %d targets %d consumers %d creds %d plugins",
			len(c.Services), len(c.Routes), len(c.Upstreams), len(c.Targets), len(c.Consumers), len(c.KeyAuthCredentials), len(c.Plugins))
	}
	s := c.Service("mockbin-service")
	if s == nil || s.Host != "mockbin-upstream" || s.Port != 80 || *s.Path != "/base" || s.ReadTimeout != 2000 || s.Retries != 5 {
		t.Fatalf("service: %+v", s)
	}
	for _, r := range c.Routes {
		if r.Service == nil || r.Service.ID != s.ID {
			t.Fatalf("route %s not bound to service", *r.Name)
		}
	}
	u := c.Upstream("mockbin-upstream")
	if u.Healthchecks.Active.Healthy.Interval != 1 || u.Healthchecks.Active.Timeout != 1 {
		t.Fatalf("healthchecks: %+v", u.Healthchecks.Active)
	}
	ts := c.TargetsOf(u.ID)
	if len(ts) != 3 || ts[0].Target != "mockbin1:8080" || ts[1].Weight != 50 || ts[2].Target != "mockbin3:8000" {
		t.Fatalf("targets: %+v %+v %+v", ts[0], ts[1], ts[2])
	}
	byName := map[string]*Plugin{}
	for _, p := range c.Plugins {
		byName[p.Name] = p
	}
	if p := byName["key-auth"]; p.Route == nil || p.Route.ID != c.Route("mockbin-route").ID {
		t.Fatal("nested route plugin not bound")
	}
	if p := byName["rate-limiting"]; p.Service == nil || p.Service.ID != s.ID || p.Config["minute"] != 5.0 {
		t.Fatalf("service plugin: %+v", p)
	}
	if p := byName["cors"]; p.Route == nil || p.Route.ID != c.Route("second").ID {
		t.Fatal("plugin route reference by name")
	}
	alice := c.Consumer("alice")
	for _, k := range c.KeyAuthCredentials {
		if k.Consumer.ID != alice.ID {
			t.Fatal("credential not bound to consumer")
		}
	}

	// Ids are deterministic: a reload gives the same ids.
	c2, err := LoadDeclarative([]byte(kongYML))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(c *Config) string {
		var b strings.Builder
		for _, tb := range Tables {
			for _, e := range c.Rows(tb) {
				b.WriteString(e.EntityID() + ",")
			}
		}
		return b.String()
	}
	if ids(c) != ids(c2) {
		t.Fatalf("ids differ across reloads")
	}

	// Dump and load back: same entities, same ids, same fields.
	out, err := DumpDeclarative(c)
	if err != nil {
		t.Fatal(err)
	}
	c3, err := LoadDeclarative(out)
	if err != nil {
		t.Fatalf("reload dump: %v\n%s", err, out)
	}
	j1, _ := json.Marshal(c)
	j3, _ := json.Marshal(c3)
	if string(j1) != string(j3) {
		t.Fatalf("dump round trip differs\n%s\n%s", j1, j3)
	}
}

func TestLoadDeclarativeErrors(t *testing.T) {
	tests := []struct {
		name   string
		yml    string
		fields string
	}{
		{"no version", "services: []", `{"_format_version":"required field missing"}`},
		{"bad yaml", "services: [", ""},
		{"unknown table", "_format_version: \"3.0\"\nwidgets: []", `{"widgets":"unknown field"}`},
		{"nested field error", `
_format_version: "3.0"
services:
- name: ok
  host: h
- name: bad
  host: h
  routes:
  - name: r
    paths: [nope]
`, `{"services":[null,{"routes":[{"paths":[ "should start with: / (fixed path) or ~/ (regex path)"]}]}]}`},
		{"duplicate name", `
_format_version: "3.0"
services:
- name: a
  host: h
- name: a
  host: h
`, `{"services":[null,"uniqueness violation: 'services' entity with name set to 'a' already declared"]}`},
		{"dangling reference", `
_format_version: "3.0"
routes:
- name: r
  paths: [/]
  service: missing
`, `{"routes":[{"service":"invalid reference 'missing' (no such entry in 'services')"}]}`},
		{"upstream with port", `
_format_version: "3.0"
upstreams:
- name: "u:80"
`, `{"upstreams":[{"name":"Invalid name ('u:80'); no port allowed"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadDeclarative([]byte(tt.yml))
			ke, ok := err.(*Error)
			if !ok || ke.Code != 14 || ke.Name != "invalid declarative configuration" || ke.Status != 400 {
				t.Fatalf("want code 14, got %v", err)
			}
			if !strings.HasPrefix(ke.Message, "declarative config is invalid: ") {
				t.Fatalf("message %q", ke.Message)
			}
			if tt.fields == "" {
				return
			}
			got, _ := json.Marshal(ke.Fields)
			if !jsonEqual(t, got, []byte(tt.fields)) {
				t.Fatalf("fields\n got %s\nwant %s", got, tt.fields)
			}
		})
	}
}

func TestLoadDeclarativeJSON(t *testing.T) {
	c, err := LoadDeclarative([]byte(`{"_format_version":"3.0","services":[{"name":"s","host":"h","port":8080}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Services[0].Port != 8080 {
		t.Fatalf("port %d", c.Services[0].Port)
	}
}

// A broken parent is reported once; its nested children are not blamed for it.
func TestDeclarativeBrokenParentOnly(t *testing.T) {
	_, err := LoadDeclarative([]byte(`
_format_version: "3.0"
upstreams:
- name: "bad:1"
  targets:
  - target: a:1
  - target: b:1
`))
	ke, _ := err.(*Error)
	if ke == nil {
		t.Fatal("want an error")
	}
	got, _ := json.Marshal(ke.Fields)
	if string(got) != `{"upstreams":[{"name":"Invalid name ('bad:1'); no port allowed"}]}` {
		t.Fatalf("fields %s", got)
	}
}

func TestDeclarativeUnquotedVersion(t *testing.T) {
	c, err := LoadDeclarative([]byte("_format_version: 3.0\nupstreams:\n- name: u\n"))
	if err != nil || len(c.Upstreams) != 1 {
		t.Fatalf("unquoted version: %v", err)
	}
	if _, err := LoadDeclarative([]byte("_format_version: 4.0\n")); err == nil {
		t.Fatal("version 4.0 accepted")
	}
}

// YAML's .inf and .nan are numbers no integer field accepts: a kong.yml that
// uses one is refused by validation, with the field named, like any bad value.
func TestLoadDeclarativeInfinity(t *testing.T) {
	for _, v := range []string{".inf", "-.inf", ".nan"} {
		_, err := LoadDeclarative([]byte("_format_version: \"3.0\"\nservices:\n- name: s\n  host: h\n  port: " + v + "\n"))
		if err == nil || !strings.Contains(err.Error(), "expected an integer") {
			t.Errorf("port: %s: err = %v, want port's 'expected an integer'", v, err)
		}
	}
}
