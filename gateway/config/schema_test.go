package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

func TestServiceDefaultsAndURL(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		protocol string
		host     string
		port     int
		path     *string
	}{
		{"plain host", `{"host":"example.com"}`, "http", "example.com", 80, nil},
		{"url with slash", `{"url":"http://h/"}`, "http", "h", 80, strp("/")},
		{"url http on 443", `{"url":"http://h:443"}`, "http", "h", 443, nil},
		{"url https", `{"url":"https://h"}`, "https", "h", 443, nil},
		{"url with path", `{"url":"http://mockbin:8080/base"}`, "http", "mockbin", 8080, strp("/base")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{}
			e, err := c.Insert(TableServices, mustJSON(t, tt.in), WriteOptions{})
			if err != nil {
				t.Fatalf("insert: %v", err)
			}
			s := e.(*Service)
			if s.Protocol != tt.protocol || s.Host != tt.host || s.Port != tt.port || !reflect.DeepEqual(s.Path, tt.path) {
				t.Fatalf("got %s://%s:%d path=%v", s.Protocol, s.Host, s.Port, s.Path)
			}
			if s.Retries != 5 || s.ConnectTimeout != 60000 || s.ReadTimeout != 60000 || s.WriteTimeout != 60000 || !s.Enabled {
				t.Fatalf("defaults not applied: %+v", s)
			}
			if !IsUUID(s.ID) || s.CreatedAt == 0 || s.UpdatedAt != s.CreatedAt {
				t.Fatalf("id/timestamps: %q %d %d", s.ID, s.CreatedAt, s.UpdatedAt)
			}
		})
	}
}

func strp(s string) *string { return &s }

func TestSchemaErrors(t *testing.T) {
	tests := []struct {
		name    string
		table   string
		in      string
		message string
		fields  string
	}{
		{"missing host", TableServices, `{"name":"x"}`,
			"schema violation (host: required field missing)", `{"host":"required field missing"}`},
		{"empty url", TableServices, `{"url":""}`,
			"schema violation (host: required field missing)", `{"host":"required field missing"}`},
		{"two errors", TableServices, `{"host":"h","port":70000,"protocol":"ftp"}`,
			"2 schema violations (port: value should be between 0 and 65535; protocol: expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)",
			`{"port":"value should be between 0 and 65535","protocol":"expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"}`},
		{"wrong type", TableServices, `{"host":"h","retries":"5"}`,
			"schema violation (retries: expected an integer)", `{"retries":"expected an integer"}`},
		{"unknown field", TableServices, `{"host":"h","colour":"red"}`,
			"schema violation (colour: unknown field)", `{"colour":"unknown field"}`},
		{"route needs a matcher", TableRoutes, `{"name":"r","protocols":["http"]}`,
			"schema violation (must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http')",
			`{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"]}`},
		{"route with default protocols needs a matcher", TableRoutes, `{"name":"r"}`,
			"schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')",
			`{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}`},
		{"route bad path", TableRoutes, `{"paths":["/ok","nope"]}`,
			"schema violation (paths.2: should start with: / (fixed path) or ~/ (regex path))",
			`{"paths":[null,"should start with: / (fixed path) or ~/ (regex path)"]}`},
		{"upstream name with port", TableUpstreams, `{"name":"svc:80"}`,
			"schema violation (name: Invalid name ('svc:80'); no port allowed)", `{"name":"Invalid name ('svc:80'); no port allowed"}`},
		{"upstream nested healthcheck", TableUpstreams, `{"name":"u","healthchecks":{"active":{"timeout":-1,"healthy":{"http_statuses":[99]}}}}`,
			`schema violation (healthchecks.active: {healthy={http_statuses={"value should be between 100 and 999"}},timeout="value should be between 0 and 65535"})`,
			`{"healthchecks":{"active":{"timeout":"value should be between 0 and 65535","healthy":{"http_statuses":["value should be between 100 and 999"]}}}}`},
		{"upstream threshold", TableUpstreams, `{"name":"u","healthchecks":{"threshold":101}}`,
			"schema violation (healthchecks.threshold: value should be between 0 and 100)", `{"healthchecks":{"threshold":"value should be between 0 and 100"}}`},
		{"target weight", TableTargets, `{"target":"a","weight":65536,"upstream":{"id":"6d4c7c4e-2f5b-4c1e-9d0a-000000000001"}}`,
			"schema violation (weight: value should be between 0 and 65535)", `{"weight":"value should be between 0 and 65535"}`},
		{"consumer needs identity", TableConsumers, `{}`,
			"schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')",
			`{"@entity":["at least one of these fields must be non-empty: 'custom_id', 'username'"]}`},
		{"plugin needs name", TablePlugins, `{}`,
			"schema violation (name: required field missing)", `{"name":"required field missing"}`},
		{"bad foreign id", TableRoutes, `{"paths":["/"],"service":{"id":"nope"}}`,
			"schema violation (service.id: expected a valid UUID)", `{"service":{"id":"expected a valid UUID"}}`},
		{"hash on header needs header", TableUpstreams, `{"name":"u","hash_on":"header"}`,
			"2 schema violations (failed conditional validation given value of field 'hash_on'; hash_on_header: required field missing)",
			`{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_on_header":"required field missing"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(tt.table, mustJSON(t, tt.in), nil, nil)
			if err == nil {
				t.Fatal("expected an error")
			}
			if err.Code != 2 || err.Status != 400 || err.Name != "schema violation" {
				t.Fatalf("code %d status %d name %q", err.Code, err.Status, err.Name)
			}
			if err.Message != tt.message {
				t.Errorf("message\n got %s\nwant %s", err.Message, tt.message)
			}
			got, _ := json.Marshal(err.Fields)
			if !jsonEqual(t, got, []byte(tt.fields)) {
				t.Errorf("fields\n got %s\nwant %s", got, tt.fields)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestUpstreamHealthcheckDefaults(t *testing.T) {
	c := &Config{}
	e, err := c.Insert(TableUpstreams, mustJSON(t, `{"name":"mockbin-upstream"}`), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := e.(*Upstream)
	h := u.Healthchecks
	if u.Algorithm != "round-robin" || u.HashOn != "none" || u.HashFallback != "none" || u.Slots != 10000 || u.HashOnCookiePath != "/" {
		t.Fatalf("upstream defaults: %+v", u)
	}
	if h.Active.Type != "http" || h.Active.Timeout != 1 || h.Active.Concurrency != 10 || h.Active.HTTPPath != "/" || !h.Active.HTTPSVerifyCertificate {
		t.Fatalf("active defaults: %+v", h.Active)
	}
	if !reflect.DeepEqual(h.Active.Healthy.HTTPStatuses, []int{200, 302}) ||
		!reflect.DeepEqual(h.Active.Unhealthy.HTTPStatuses, []int{429, 404, 500, 501, 502, 503, 504, 505}) ||
		!reflect.DeepEqual(h.Passive.Unhealthy.HTTPStatuses, []int{429, 500, 503}) ||
		len(h.Passive.Healthy.HTTPStatuses) != 19 {
		t.Fatalf("status defaults: %+v", h)
	}
	if h.Threshold != 0 || h.HalfOpen != nil || h.Active.Healthy.Interval != 0 || h.Passive.Unhealthy.TCPFailures != 0 {
		t.Fatalf("zero defaults: %+v", h)
	}

	// PATCH merges nested records and keeps the rest of the tree.
	p, err := c.Patch(TableUpstreams, u, mustJSON(t, `{"healthchecks":{"active":{"healthy":{"interval":5}},"passive":{"unhealthy":{"http_failures":3}}}}`), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ph := p.(*Upstream).Healthchecks
	if ph.Active.Healthy.Interval != 5 || ph.Passive.Unhealthy.HTTPFailures != 3 || ph.Active.Timeout != 1 ||
		!reflect.DeepEqual(ph.Active.Healthy.HTTPStatuses, []int{200, 302}) || p.EntityID() != u.ID {
		t.Fatalf("patched: %+v", ph)
	}
	if u.Healthchecks.Active.Healthy.Interval != 0 {
		t.Fatal("patch mutated the original entity")
	}
}

func TestTargetsNormalizeAndUnique(t *testing.T) {
	c := &Config{}
	u, _ := c.Insert(TableUpstreams, mustJSON(t, `{"name":"u"}`), WriteOptions{})
	ref := map[string]any{"id": u.EntityID()}
	cases := map[string]string{"a": "a:8000", "a:80": "a:80", "10.0.0.1": "10.0.0.1:8000", "[::1]:81": "[::1]:81", "::1": "[::1]:8000"}
	for in, want := range cases {
		e, err := c.Insert(TableTargets, map[string]any{"target": in, "upstream": ref}, WriteOptions{})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := e.(*Target); got.Target != want || got.Weight != 100 {
			t.Fatalf("%s: got %s weight %d", in, got.Target, got.Weight)
		}
	}
	_, err := c.Insert(TableTargets, map[string]any{"target": "a:8000", "upstream": ref}, WriteOptions{})
	ke, ok := err.(*Error)
	if !ok || ke.Code != 5 || ke.Status != 409 {
		t.Fatalf("duplicate target: %v", err)
	}
	if len(c.Targets) != 5 {
		t.Fatalf("targets = %d, want 5", len(c.Targets))
	}
	if c.FindTarget(u.EntityID(), "a") == nil || c.FindTarget(u.EntityID(), "a:8000") == nil {
		t.Fatal("FindTarget by host and host:port")
	}
}

func TestUniqueForeignAndCascade(t *testing.T) {
	c := &Config{}
	o := WriteOptions{}
	s, err := c.Insert(TableServices, mustJSON(t, `{"name":"s","host":"h"}`), o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Insert(TableServices, mustJSON(t, `{"name":"s","host":"h2"}`), o)
	ke, _ := err.(*Error)
	if ke == nil || ke.Code != 5 || ke.Message != `UNIQUE violation detected on '{name="s"}'` {
		t.Fatalf("unique: %v", err)
	}
	_, err = c.Insert(TableRoutes, mustJSON(t, `{"paths":["/"],"service":{"id":"00000000-0000-0000-0000-000000000001"}}`), o)
	ke, _ = err.(*Error)
	if ke == nil || ke.Code != 4 || ke.Message != `the foreign key '{id="00000000-0000-0000-0000-000000000001"}' does not reference an existing 'services' entity.` {
		t.Fatalf("foreign: %v", err)
	}
	r, err := c.Insert(TableRoutes, mustJSON(t, `{"paths":["/"],"service":{"name":"s"}}`), o)
	if err != nil {
		t.Fatalf("route by service name: %v", err)
	}
	if r.(*Route).Service.ID != s.EntityID() {
		t.Fatal("service reference by name not resolved to id")
	}
	if _, err := c.Insert(TablePlugins, map[string]any{"name": "key-auth", "route": map[string]any{"id": r.EntityID()}}, o); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Insert(TablePlugins, map[string]any{"name": "key-auth", "route": map[string]any{"id": r.EntityID()}}, o); err == nil {
		t.Fatal("second key-auth on the same route accepted")
	}
	if _, err := c.Insert(TablePlugins, map[string]any{"name": "cors"}, o); err != nil {
		t.Fatal(err)
	}
	if !c.Delete(TableServices, s.EntityID()) {
		t.Fatal("delete reported missing")
	}
	if len(c.Services) != 0 || len(c.Routes) != 0 || len(c.Plugins) != 1 {
		t.Fatalf("cascade left %d services %d routes %d plugins", len(c.Services), len(c.Routes), len(c.Plugins))
	}
	if c.Delete(TableServices, s.EntityID()) {
		t.Fatal("second delete reported present")
	}
}

type fakePlugins struct{}

func (fakePlugins) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	if name != "rate-limiting" {
		return nil, nil, false
	}
	out := map[string]any{"minute": nil, "policy": "local"}
	for k, v := range cfg {
		out[k] = v
	}
	if m, ok := out["minute"].(float64); ok && m < 0 {
		return nil, map[string]any{"minute": "value should be between 0 and 1e+308"}, true
	}
	return out, nil, true
}

func TestPluginValidation(t *testing.T) {
	c := &Config{}
	o := WriteOptions{Plugins: fakePlugins{}}
	e, err := c.Insert(TablePlugins, mustJSON(t, `{"name":"rate-limiting","config":{"minute":5}}`), o)
	if err != nil {
		t.Fatal(err)
	}
	p := e.(*Plugin)
	if p.Config["policy"] != "local" || p.Config["minute"] != 5.0 || !p.Enabled || len(p.Protocols) != 4 {
		t.Fatalf("plugin: %+v", p)
	}
	_, err = c.Insert(TablePlugins, mustJSON(t, `{"name":"nope"}`), o)
	if ke, _ := err.(*Error); ke == nil || ke.Fields["name"] != "plugin 'nope' not enabled; add it to the 'plugins' configuration property" {
		t.Fatalf("unknown plugin: %v", err)
	}
	_, err = c.Insert(TablePlugins, mustJSON(t, `{"name":"rate-limiting","config":{"minute":-1}}`), o)
	if ke, _ := err.(*Error); ke == nil || ke.Message != "schema violation (config.minute: value should be between 0 and 1e+308)" {
		t.Fatalf("bad config: %v", err)
	}
	// PATCH merges config.
	p2, err := c.Patch(TablePlugins, p, mustJSON(t, `{"config":{"hour":100}}`), o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := p2.(*Plugin).Config; cfg["minute"] != 5.0 || cfg["hour"] != 100.0 {
		t.Fatalf("patched config: %v", cfg)
	}
}

func TestKeyAuthKeyGenerated(t *testing.T) {
	c := &Config{}
	cons, err := c.Insert(TableConsumers, mustJSON(t, `{"username":"bob"}`), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]any{"id": cons.EntityID()}
	a, err := c.Insert(TableKeyAuth, map[string]any{"consumer": ref}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Insert(TableKeyAuth, map[string]any{"consumer": ref}, WriteOptions{})
	ka, kb := a.(*KeyAuthCredential).Key, b.(*KeyAuthCredential).Key
	if len(ka) != 32 || ka == kb {
		t.Fatalf("keys %q %q", ka, kb)
	}
	if _, err := c.Insert(TableKeyAuth, map[string]any{"consumer": ref, "key": ka}, WriteOptions{}); err == nil {
		t.Fatal("duplicate key accepted")
	}
}

func TestCoerceForm(t *testing.T) {
	in := map[string]any{
		"name":           "r",
		"paths":          "/mockbin",
		"methods":        []any{"GET", "POST"},
		"hosts":          map[string]any{"2": "b.com", "1": "a.com"},
		"strip_path":     "false",
		"regex_priority": "7",
		"service":        map[string]any{"id": "00000000-0000-0000-0000-000000000001"},
		"snis":           "",
	}
	Schemas[TableRoutes].Coerce(in)
	want := map[string]any{
		"name": "r", "paths": []any{"/mockbin"}, "methods": []any{"GET", "POST"}, "hosts": []any{"a.com", "b.com"},
		"strip_path": false, "regex_priority": 7.0, "service": map[string]any{"id": "00000000-0000-0000-0000-000000000001"}, "snis": nil,
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("coerced\n got %#v\nwant %#v", in, want)
	}
	up := map[string]any{"healthchecks": map[string]any{"active": map[string]any{"healthy": map[string]any{"interval": "1", "http_statuses": []any{"200", "302"}}}}}
	Schemas[TableUpstreams].Coerce(up)
	hh := up["healthchecks"].(map[string]any)["active"].(map[string]any)["healthy"].(map[string]any)
	if hh["interval"] != 1.0 || !reflect.DeepEqual(hh["http_statuses"], []any{200.0, 302.0}) {
		t.Fatalf("nested coercion: %#v", hh)
	}
}

func TestCloneIsDeep(t *testing.T) {
	c := &Config{}
	now := time.Unix(1700000000, 0)
	o := WriteOptions{Now: now}
	_, _ = c.Insert(TableServices, mustJSON(t, `{"name":"s","host":"h","tags":["a"]}`), o)
	u, _ := c.Insert(TableUpstreams, mustJSON(t, `{"name":"u"}`), o)
	_, _ = c.Insert(TablePlugins, mustJSON(t, `{"name":"p","config":{"nested":{"x":1}}}`), o)
	before, _ := json.Marshal(c)
	n := c.Clone()
	n.Services[0].Tags[0] = "changed"
	*n.Services[0].Name = "changed"
	n.Upstreams[0].Healthchecks.Active.Healthy.HTTPStatuses[0] = 999
	n.Plugins[0].Config["nested"].(map[string]any)["x"] = 2.0
	n.Services = append(n.Services, &Service{})
	after, _ := json.Marshal(c)
	if string(before) != string(after) {
		t.Fatalf("clone shares memory with original\nbefore %s\nafter  %s", before, after)
	}
	if c.Upstream("u") != u || c.Upstream(u.EntityID()) != u || c.Service("s").CreatedAt != now.Unix() {
		t.Fatal("lookup helpers")
	}
	if !strings.Contains(string(before), `"created_at":1700000000`) {
		t.Fatal("created_at not integer seconds")
	}
}

func TestPathAndHostRules(t *testing.T) {
	tests := []struct {
		table, in, want string
	}{
		{TableServices, `{"host":"h","path":"base"}`, "schema violation (path: should start with: /)"},
		{TableServices, `{"host":"h","path":"/a//b"}`, "schema violation (path: must not have empty segments)"},
		{TableServices, `{"host":"h","path":"/a b"}`, "schema violation (path: invalid path: '/a b' (characters outside of the reserved list of RFC 3986 found))"},
		{TableServices, `{"host":"h","path":"/a%zz"}`, "schema violation (path: invalid url-encoded value: '%zz')"},
		{TableServices, `{"host":"h:80"}`, "schema violation (host: must not have a port)"},
		{TableServices, `{"host":"bad host"}`, "schema violation (host: invalid value: bad host)"},
		{TableRoutes, `{"paths":["~/api/(v[0-9"]}`, "schema violation (paths.1: invalid regex: '/api/(v[0-9' (error parsing regexp: missing closing ]: `[0-9`))"},
		{TableRoutes, `{"paths":["/ok"],"methods":["get"]}`, "schema violation (methods.1: invalid value: get)"},
		{TableRoutes, `{"hosts":["*.a.*"]}`, "schema violation (hosts.1: invalid wildcard: must have at most one wildcard)"},
		{TableRoutes, `{"headers":{"Host":["a"]}}`, "schema violation (headers: cannot contain 'host' header, which must be specified in the 'hosts' attribute)"},
		{TableRoutes, `{"protocols":["ftp"],"paths":["/"]}`, "schema violation (protocols.1: expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)"},
	}
	for _, tt := range tests {
		_, err := Prepare(tt.table, mustJSON(t, tt.in), nil, nil)
		if err == nil || err.Message != tt.want {
			t.Errorf("%s %s:\n got %v\nwant %s", tt.table, tt.in, err, tt.want)
		}
	}
	for _, ok := range []string{`{"paths":["/a/b~c.d-e_f%20"]}`, `{"paths":["~/v[0-9]+/items$"]}`, `{"hosts":["*.example.com","api.*"]}`, `{"hosts":["example.com:8000"]}`} {
		if _, err := Prepare(TableRoutes, mustJSON(t, ok), nil, nil); err != nil {
			t.Errorf("%s rejected: %v", ok, err)
		}
	}
}

func TestExplicitNullsTakeDefaults(t *testing.T) {
	c := &Config{}
	s, err := c.Insert(TableServices, mustJSON(t, `{"host":"h","retries":null,"read_timeout":null,"path":null}`), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sv := s.(*Service); sv.Retries != 5 || sv.ReadTimeout != 60000 || sv.Path != nil {
		t.Fatalf("service: %+v", sv)
	}
	u, err := c.Insert(TableUpstreams, mustJSON(t, `{"name":"u","healthchecks":null}`), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := u.(*Upstream).Healthchecks; h.Active.Timeout != 1 || len(h.Passive.Unhealthy.HTTPStatuses) != 3 {
		t.Fatalf("healthchecks: %+v", h)
	}
	if _, err := Prepare(TableServices, mustJSON(t, `{"host":"h","port":null}`), nil, nil); err == nil || err.Message != "schema violation (port: required field missing)" {
		t.Fatalf("null required field: %v", err)
	}
}

// fullPlugins implements the optional plugin interfaces.
type fullPlugins struct{ fakePlugins }

func (fullPlugins) ValidateEntity(name string, cfg map[string]any) (map[string]any, map[string]any, []any, bool) {
	if name != "rate-limiting" && name != "key-auth" {
		return nil, nil, nil, false
	}
	if name == "rate-limiting" && cfg["minute"] == nil {
		return cfg, nil, []any{"at least one of these fields must be non-empty: 'config.second', 'config.minute'"}, true
	}
	return cfg, nil, nil, true
}
func (fullPlugins) Protocols(name string) ([]string, bool) { return []string{"http", "https"}, true }
func (fullPlugins) ConsumerScopable(name string) bool      { return name != "key-auth" }

func TestPluginOptionalInterfaces(t *testing.T) {
	c := &Config{}
	o := WriteOptions{Plugins: fullPlugins{}}
	cons, _ := c.Insert(TableConsumers, mustJSON(t, `{"username":"bob"}`), WriteOptions{})
	_, err := c.Insert(TablePlugins, mustJSON(t, `{"name":"rate-limiting","config":{}}`), o)
	if ke, _ := err.(*Error); ke == nil || ke.Message != "schema violation (at least one of these fields must be non-empty: 'config.second', 'config.minute')" {
		t.Fatalf("entity check placement: %v", err)
	}
	_, err = c.Insert(TablePlugins, map[string]any{"name": "key-auth", "consumer": map[string]any{"id": cons.EntityID()}}, o)
	if ke, _ := err.(*Error); ke == nil || ke.Fields["consumer"] != "value must be null" {
		t.Fatalf("consumer-scoped key-auth: %v", err)
	}
	p, err := c.Insert(TablePlugins, mustJSON(t, `{"name":"rate-limiting","config":{"minute":1}}`), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*Plugin).Protocols; len(got) != 2 || got[0] != "http" {
		t.Fatalf("plugin default protocols: %v", got)
	}
	p2, err := c.Insert(TablePlugins, mustJSON(t, `{"name":"key-auth","protocols":["grpc"]}`), o)
	if err != nil || len(p2.(*Plugin).Protocols) != 1 {
		t.Fatalf("explicit protocols kept: %v %v", p2, err)
	}
}
