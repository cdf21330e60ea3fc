package admin

import (
	"bytes"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// The golden tests pin every /schemas answer and the error bodies of invalid
// writes byte for byte, so a change to the schema engine or its renderer that
// alters what a client sees fails here. Regenerate on purpose with
//
//	go test ./gateway/admin/ -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// bundledPlugins is the Admin API's view of the real plugin registry, as the
// server wires it: the golden files show Kong's schemas, not a test double's.
type bundledPlugins struct{}

func (bundledPlugins) Available() []PluginInfo {
	var out []PluginInfo
	for _, p := range plugins.Available() {
		out = append(out, PluginInfo{Name: p.Name, Version: p.Version, Priority: p.Priority})
	}
	return out
}

func (bundledPlugins) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	return plugins.Validate(name, cfg)
}

func (bundledPlugins) Schema(name string) (any, bool) { return plugins.Schema(name) }

func (bundledPlugins) ValidateEntity(name string, cfg map[string]any) (map[string]any, map[string]any, []any, bool) {
	return plugins.ValidateEntity(name, cfg)
}

func (bundledPlugins) Protocols(name string) ([]string, bool) { return plugins.Protocols(name) }
func (bundledPlugins) ConsumerScopable(name string) bool      { return plugins.ConsumerScopable(name) }

// goldenCase is one request whose status and body are recorded.
type goldenCase struct {
	method, path, ct, body string
}

func jsonCase(method, path, body string) goldenCase {
	return goldenCase{method, path, ctJSON, body}
}

func formCase(method, path string, pairs ...string) goldenCase {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Add(pairs[i], pairs[i+1])
	}
	return goldenCase{method, path, ctForm, v.Encode()}
}

// runGolden sends each case to a fresh gateway with the bundled plugins (after
// setup) and compares the transcript with testdata/golden/<name>.txt.
func runGolden(t *testing.T, name string, dbless bool, setup []goldenCase, cases []goldenCase) {
	t.Helper()
	h := newHarness(t, func(o *Options) { o.Plugins = bundledPlugins{}; o.DBLess = dbless })
	for _, c := range setup {
		if r := h.do(c.method, c.path, c.ct, c.body); r.status >= 300 {
			t.Fatalf("setup %s %s: %d %s", c.method, c.path, r.status, r.raw)
		}
	}
	var got bytes.Buffer
	for _, c := range cases {
		r := h.do(c.method, c.path, c.ct, c.body)
		// Timestamps are the one part of an answer that changes from run to run.
		body := timestamps.ReplaceAll(r.raw, []byte(`"${1}_at":0`))
		fmt.Fprintf(&got, "### %s %s %s\n%s\n--- %d\n%s\n\n", c.method, c.path, c.ct, c.body, r.status, body)
	}
	file := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		gotFile := file + ".got"
		_ = os.WriteFile(gotFile, got.Bytes(), 0o644)
		t.Fatalf("%s differs from the golden file; the answers are in %s (diff them; -update accepts them)", file, gotFile)
	}
	_ = os.Remove(file + ".got")
}

var timestamps = regexp.MustCompile(`"(created|updated)_at":[0-9]+`)

func TestGoldenSchemas(t *testing.T) {
	entities := make([]string, 0, len(config.Schemas))
	for name := range config.Schemas {
		entities = append(entities, name)
	}
	sort.Strings(entities)
	// Kong's other names for key-auth credentials, and an unknown entity.
	entities = append(entities, "key-auth", "key_auth_credentials", "nope")
	var cases []goldenCase
	for _, e := range entities {
		cases = append(cases, goldenCase{method: "GET", path: "/schemas/" + e})
	}
	for _, p := range append(bundledPlugins{}.Available(), PluginInfo{Name: "nope"}) {
		cases = append(cases,
			goldenCase{method: "GET", path: "/schemas/plugins/" + p.Name},
			goldenCase{method: "GET", path: "/plugins/schema/" + p.Name})
	}
	cases = append(cases, goldenCase{method: "GET", path: "/plugins/enabled"})
	runGolden(t, "schemas", false, nil, cases)
}

// fixtures are the parents the invalid writes refer to, with fixed ids so
// the transcripts do not change from run to run.
var goldenFixtures = []goldenCase{
	jsonCase("POST", "/services", `{"id":"11111111-1111-4111-8111-111111111111","name":"svc","host":"example.com"}`),
	jsonCase("POST", "/routes", `{"id":"22222222-2222-4222-8222-222222222222","name":"rt","paths":["/r"],"service":{"id":"11111111-1111-4111-8111-111111111111"}}`),
	jsonCase("POST", "/upstreams", `{"id":"33333333-3333-4333-8333-333333333333","name":"up"}`),
	jsonCase("POST", "/consumers", `{"id":"44444444-4444-4444-8444-444444444444","username":"alice"}`),
}

func TestGoldenInvalidWrites(t *testing.T) {
	cases := []goldenCase{
		// services: types, ranges, enums, unknown and nested values
		jsonCase("POST", "/services", `{}`),
		jsonCase("POST", "/services", `{"host":5}`),
		jsonCase("POST", "/services", `{"host":"h","port":"80"}`),
		jsonCase("POST", "/services", `{"host":"h","port":1.5}`),
		jsonCase("POST", "/services", `{"host":"h","port":70000}`),
		jsonCase("POST", "/services", `{"host":"h","port":-1,"retries":40000,"connect_timeout":0}`),
		jsonCase("POST", "/services", `{"host":"h","protocol":"ftp"}`),
		jsonCase("POST", "/services", `{"host":"h","enabled":"yes"}`),
		jsonCase("POST", "/services", `{"host":"h","bogus":1,"other":{"x":1}}`),
		jsonCase("POST", "/services", `{"host":"h","tags":"one"}`),
		jsonCase("POST", "/services", `{"host":"h","tags":["ok",5,null,"a,b"]}`),
		jsonCase("POST", "/services", `{"host":"h","name":"bad name"}`),
		jsonCase("POST", "/services", `{"host":"h","path":"noslash"}`),
		jsonCase("POST", "/services", `{"host":"h","tls_verify_depth":100,"ca_certificates":["not-a-uuid"]}`),
		jsonCase("POST", "/services", `{"url":"ftp://x"}`),
		jsonCase("POST", "/services", `{"host":"h","connect_timeout":1e300}`),
		formCase("POST", "/services", "host", "h", "port", "abc", "retries", "1.5", "enabled", "maybe"),
		formCase("POST", "/services", "host", "h", "tags[1]", "a", "tags[2]", "a,b"),
		formCase("POST", "/services", "host", "h", "unknown", "x"),
		jsonCase("PATCH", "/services/svc", `{"port":"x","host":null}`),
		jsonCase("PUT", "/services/svc2", `{"host":"h","protocol":"tcp","path":"/p"}`),
		// routes: arrays, maps, foreign keys, entity checks
		jsonCase("POST", "/routes", `{}`),
		jsonCase("POST", "/routes", `{"paths":"/a"}`),
		jsonCase("POST", "/routes", `{"paths":["a",5]}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"methods":[1],"hosts":[""],"protocols":["ftp"]}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"headers":{"x":5}}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"headers":[1]}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"https_redirect_status_code":200,"regex_priority":"x"}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"service":"svc"}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"service":{"id":"nope"}}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"service":{"protocol":"ftp"}}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"service":{"id":"55555555-5555-4555-8555-555555555555"}}`),
		jsonCase("POST", "/routes", `{"protocols":["tcp"],"paths":["/a"]}`),
		jsonCase("POST", "/routes", `{"protocols":["http"],"sources":[{"ip":"1.2.3.4"}]}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"sources":[{"ip":5,"port":"x","extra":1}],"protocols":["tcp"]}`),
		jsonCase("POST", "/routes", `{"paths":["/a"],"path_handling":"v9","strip_path":1}`),
		formCase("POST", "/services/svc/routes", "paths[]", "/a", "methods", "GET", "regex_priority", "high"),
		// upstreams: deep records
		jsonCase("POST", "/upstreams", `{}`),
		jsonCase("POST", "/upstreams", `{"name":"u2","algorithm":"random","slots":5}`),
		jsonCase("POST", "/upstreams", `{"name":"u2","healthchecks":5}`),
		jsonCase("POST", "/upstreams", `{"name":"u2","healthchecks":{"active":{"type":"ftp","healthy":{"interval":-1,"http_statuses":[99,"x"]}},"bogus":{}}}`),
		jsonCase("POST", "/upstreams", `{"name":"u2","healthchecks":{"passive":{"unhealthy":{"tcp_failures":300,"timeouts":"x"}}}}`),
		jsonCase("POST", "/upstreams", `{"name":"u2","hash_on":"header"}`),
		jsonCase("POST", "/upstreams", `{"name":"u2","hash_on":"cookie","hash_fallback":"header"}`),
		jsonCase("POST", "/upstreams", `{"name":"u2","healthchecks":{"active":{"headers":{"x":[1]}}}}`),
		formCase("POST", "/upstreams", "name", "u3", "healthchecks.active.healthy.interval", "abc", "healthchecks.active.healthy.http_statuses", "200"),
		// targets
		jsonCase("POST", "/upstreams/up/targets", `{}`),
		jsonCase("POST", "/upstreams/up/targets", `{"target":"a:1","weight":70000}`),
		jsonCase("POST", "/upstreams/up/targets", `{"target":5}`),
		jsonCase("POST", "/upstreams/up/targets", `{"target":"a:b:c:d"}`),
		// consumers and credentials
		jsonCase("POST", "/consumers", `{}`),
		jsonCase("POST", "/consumers", `{"username":5,"custom_id":[]}`),
		jsonCase("POST", "/consumers/alice/key-auth", `{"key":5,"ttl":"x"}`),
		jsonCase("POST", "/consumers/alice/key-auth", `{"key":"k","ttl":-5,"other":1}`),
		jsonCase("POST", "/key-auths", `{"key":"k"}`),
		// plugins: entity fields and config fields of each bundled plugin
		jsonCase("POST", "/plugins", `{}`),
		jsonCase("POST", "/plugins", `{"name":"nope"}`),
		jsonCase("POST", "/plugins", `{"name":5}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","config":5}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","config":{"key_names":"apikey x","hide_credentials":"no","bogus":1}}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","config":{"key_names":[5,"ok","bad name",null]}}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","config":{"key_names":null,"anonymous":5,"realm":[]}}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","protocols":["ftp"],"enabled":"x"}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","consumer":{"id":"44444444-4444-4444-8444-444444444444"}}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","route":{"id":"x"},"service":5}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting"}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":0}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":"x","hour":-1}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"hour":1}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"limit_by":"bogus","policy":"nope"}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"limit_by":"header"}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"limit_by":"path","path":"x//y"}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"limit_by":"header","header_name":"bad header"}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"policy":"redis"}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"policy":"redis","redis":{"host":"bad host!","port":70000,"timeout":1.5,"ssl":"x","bogus":1}}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"redis":5}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"redis_host":"bad host!","redis_port":"x"}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"error_code":0,"sync_rate":"x","fault_tolerant":null}}`),
		jsonCase("POST", "/plugins", `{"name":"rate-limiting","config":{"minute":5,"sync_rate":1}}`),
		formCase("POST", "/plugins", "name", "rate-limiting", "config.minute", "abc", "config.policy", "redis", "config.redis.port", "x"),
		formCase("POST", "/plugins", "name", "rate-limiting", "config.minute", "1e3", "config.second", "0x10", "config.hide_client_headers", "TRUE"),
		formCase("POST", "/plugins", "name", "key-auth", "config.key_names", "a b", "config.key_in_body", "1"),
		formCase("POST", "/plugins", "name", "key-auth", "config.key_names[1]", "a", "config.key_names[2]", "b c"),
		jsonCase("PATCH", "/plugins/nope", `{"config":{"minute":"x"}}`),
		// valid writes: the normalized config each plugin stores and returns
		jsonCase("POST", "/plugins", `{"id":"66666666-6666-4666-8666-666666666666","name":"key-auth","route":{"id":"22222222-2222-4222-8222-222222222222"}}`),
		jsonCase("PATCH", "/plugins/66666666-6666-4666-8666-666666666666", `{"config":{"key_names":"x-key","hide_credentials":"true","anonymous":null}}`),
		jsonCase("POST", "/plugins", `{"id":"77777777-7777-4777-8777-777777777777","name":"rate-limiting","service":{"id":"11111111-1111-4111-8111-111111111111"},"config":{"minute":"5","hour":10.5,"redis_port":"6380","redis":{"timeout":"100"},"fault_tolerant":null}}`),
		formCase("PUT", "/plugins/88888888-8888-4888-8888-888888888888", "name", "rate-limiting", "config.second", "3", "config.policy", "redis", "config.redis.host", "r.example", "config.redis.database", "2", "config.hide_client_headers", "true", "route.id", "22222222-2222-4222-8222-222222222222"),
		jsonCase("GET", "/plugins/77777777-7777-4777-8777-777777777777", ``),
		jsonCase("PATCH", "/services/svc", `{"retries":3,"tags":["a","b","a"]}`),
		formCase("PATCH", "/upstreams/up", "healthchecks.active.healthy.interval", "5", "healthchecks.active.healthy.http_statuses", "200", "tags[1]", "t"),
		// validate endpoints: valid and invalid
		jsonCase("POST", "/schemas/services/validate", `{"host":"h"}`),
		jsonCase("POST", "/schemas/services/validate", `{"host":"h","port":"x"}`),
		jsonCase("POST", "/schemas/routes/validate", `{"paths":["x"]}`),
		jsonCase("POST", "/schemas/upstreams/validate", `{"name":"u9","healthchecks":{"active":{"timeout":-1}}}`),
		jsonCase("POST", "/schemas/targets/validate", `{"target":"a:1"}`),
		jsonCase("POST", "/schemas/consumers/validate", `{}`),
		jsonCase("POST", "/schemas/key-auth/validate", `{"key":5}`),
		jsonCase("POST", "/schemas/nope/validate", `{}`),
		jsonCase("POST", "/schemas/plugins/validate", `{"name":"rate-limiting","config":{"minute":5}}`),
		jsonCase("POST", "/schemas/plugins/validate", `{"name":"rate-limiting","config":{"minute":"x","redis":{"port":"y"}}}`),
		jsonCase("POST", "/schemas/plugins/validate", `{"name":"key-auth","config":{"key_names":[]}}`),
		jsonCase("POST", "/schemas/plugins/validate", `{"name":"nope"}`),
		formCase("POST", "/schemas/plugins/validate", "name", "key-auth", "config.hide_credentials", "x"),
		// nesting limits hold before any recursion
		jsonCase("POST", "/services", `{"host":"h","tags":`+nested(40)+`}`),
		jsonCase("POST", "/plugins", `{"name":"key-auth","config":{"key_names":`+nested(40)+`}}`),
	}
	runGolden(t, "invalid-writes", false, goldenFixtures, cases)

	// A DB-less node refuses what needs a database; its validation answers
	// carry that too.
	runGolden(t, "invalid-writes-dbless", true, nil, []goldenCase{
		jsonCase("POST", "/schemas/plugins/validate", `{"name":"rate-limiting","config":{"minute":5,"policy":"cluster"}}`),
		jsonCase("POST", "/schemas/plugins/validate", `{"name":"rate-limiting","config":{"minute":"x","policy":"cluster"}}`),
		jsonCase("POST", "/schemas/services/validate", `{"host":"h","port":"x"}`),
	})
}

// nested is a JSON array n levels deep.
func nested(n int) string {
	return string(bytes.Repeat([]byte("["), n)) + string(bytes.Repeat([]byte("]"), n))
}
