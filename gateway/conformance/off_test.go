package conformance

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Kong 3.9 spec/02-integration/04-admin_api/15-off_spec.lua: the Admin API
// in DB-less mode, POST/GET /config.

var _ = register("admin-off", adminOffCases)

const (
	skipFlatten     = "POST /config?flatten_errors=1 (flattened declarative errors)"
	skipLMDB        = "lmdb_map_size (the DB-less store is not LMDB)"
	skipStreamRoute = "stream routes (tcp services)"
	skipFixturePlug = "fixture plugins (unique-foreign, cache-key-vs-endpoint-key)"
	skipTimers      = "nginx timers"
	skipOtherPlugs  = "plugins http-log, basic-auth, tcp-log, file-log, cors"
)

func offCase(line, name string, c Case) Case {
	c.Spec, c.Name, c.DBLess = specOff+":"+line, name, true
	return c
}

func postConfig(cfg string, status int) Step {
	return Step{Method: "POST", Path: "/config", Body: obj{"config": cfg}, Status: status}
}

var operationUnsupported = func(msg string) map[string]any {
	return obj{".": obj{"code": 12, "name": "operation unsupported", "message": msg}}
}

var adminOffCases = rows(
	contentTypes(offCase("77", "doesn't allow to creates a route", Case{
		Steps: []Step{{Method: "POST", Path: "/routes", Body: obj{"protocols": arr{"http"}, "hosts": arr{"my.route.test"},
			"service": obj{"id": "3d2fa4e6-0d9e-4d40-aa62-5ad9d1e25f4a"}},
			Status: 405, JSON: operationUnsupported("cannot create 'routes' entities when not using a database")}},
	})),
	contentTypes(offCase("105", "doesn't allow to creates a complex route", Case{
		Steps: []Step{{Method: "POST", Path: "/routes", Body: obj{"protocols": arr{"http"}, "methods": arr{"GET", "POST", "PATCH"},
			"hosts": arr{"foo.api.test", "bar.api.test"}, "paths": arr{"/foo", "/bar"}, "service": obj{"id": "3d2fa4e6-0d9e-4d40-aa62-5ad9d1e25f4a"}},
			Status: 405, JSON: operationUnsupported("cannot create 'routes' entities when not using a database")}},
	})),
	offCase("133", "handles invalid offsets", Case{
		Steps: []Step{
			{Path: "/routes?offset=x", Status: 400, JSON: obj{".": obj{"code": 7, "name": "invalid offset", "message": "'x' is not a valid offset: bad base64 encoding"}}},
			{Path: "/routes?offset=%7Cpotato%7C", Status: 400, JSON: obj{"code": 7, "name": "invalid offset"}},
		},
	}),
	offCase("156", "returns HTTP 405 on invalid method", Case{
		Run: func(t *testing.T, g *GW) {
			for _, m := range []string{"DELETE", "PUT", "PATCH", "POST"} {
				want := obj{".": obj{"message": "Method not allowed"}}
				if m == "POST" {
					want = operationUnsupported("cannot create 'routes' entities when not using a database")
				}
				g.mustDo(t, Step{Method: m, Path: "/routes", Body: obj{"paths": arr{"/"}, "service": obj{"id": "3d2fa4e6-0d9e-4d40-aa62-5ad9d1e25f4a"}},
					Status: 405, JSON: want})
			}
		},
	}),
	offCase("187", "returns HTTP 405 on invalid method", Case{
		Run: func(t *testing.T, g *GW) {
			for _, m := range []string{"PUT", "POST"} {
				want := operationUnsupported("cannot create or update 'routes' entities when not using a database")
				if m == "POST" {
					want = obj{".": obj{"message": "Method not allowed"}}
				}
				g.mustDo(t, Step{Method: m, Path: "/routes/3d2fa4e6-0d9e-4d40-aa62-5ad9d1e25f4a", Body: obj{"paths": arr{"/"},
					"service": obj{"id": "3d2fa4e6-0d9e-4d40-aa62-5ad9d1e25f4a"}}, Status: 405, JSON: want})
			}
		},
	}),
	offCase("220", "accepts configuration as JSON body", Case{
		Steps: []Step{{Method: "POST", Path: "/config", Body: obj{"_format_version": "1.1", "consumers": arr{obj{"username": "bobby_in_json_body"}}}, Status: 201}},
	}),
	offCase("240", "accepts configuration as YAML body", Case{
		Steps: []Step{{Method: "POST", Path: "/config", Raw: "_format_version: \"1.1\"\nconsumers:\n  - username: \"bobby_in_yaml_body\"\n",
			Header: map[string][]string{"Content-Type": {"application/yaml"}}, Status: 201}},
	}),
	offCase("257", "accepts configuration as a JSON string under `config` JSON key", Case{
		Steps: []Step{postConfig(`{"_format_version" : "1.1", "consumers" : [ { "username" : "bobby_in_json_under_config" } ] }`, 201)},
	}),
	offCase("281", "accepts configuration as a YAML string under `config` JSON key", Case{
		Steps: []Step{postConfig("_format_version: \"1.1\"\nconsumers:\n  - username: \"bobby_in_yaml_under_config\"\n", 201)},
	}),
	Case{Spec: specOff + ":300", Name: "fails with 413 and preserves previous cache if config does not fit in cache", Skip: skipLMDB},
	offCase("392", "accepts configuration containing null as a YAML string", Case{
		Steps: []Step{postConfig("_format_version: \"1.1\"\nroutes:\n- paths:\n  - \"/\"\n  service: null\n", 201)},
	}),
	Case{Spec: specOff + ":413", Name: "hides workspace related fields from /config response", Skip: skipOtherPlugs},
	skipped(specOff, skipCertsEntity, "468:certificates should be auto-related with attach snis from /config response",
		"502:certificates should be auto-related with separate snis from /config response"),
	offCase("539", "can reload upstreams (regression test)", Case{
		Steps: []Step{
			postConfig("_format_version: \"1.1\"\nservices:\n- host: foo\n  routes:\n  - paths:\n    - \"/\"\nupstreams:\n- name: \"foo\"\n  targets:\n  - target: 10.20.30.40\n", 201),
			postConfig("_format_version: \"1.1\"\nservices:\n- host: foo\n  routes:\n  - paths:\n    - \"/\"\nupstreams:\n- name: \"foo\"\n  targets:\n  - target: 10.20.30.40\n", 201),
		},
	}),
	offCase("582", "returns 304 if checking hash and configuration is identical", Case{
		Steps: []Step{
			{Method: "POST", Path: "/config?check_hash=1", Body: obj{"config": "_format_version: \"1.1\"\nconsumers:\n- username: bobby_tables\n"}, Status: 201},
			{Method: "POST", Path: "/config?check_hash=1", Body: obj{"config": "_format_version: \"1.1\"\nconsumers:\n- username: bobby_tables\n"}, Status: 304},
		},
	}),
	offCase("621", "returns 400 on an invalid config string", Case{
		Steps: []Step{{Method: "POST", Path: "/config", Body: obj{"config": "bobby tables"}, Status: 400, JSON: obj{".": obj{
			"code": 14, "name": "invalid declarative configuration",
			"fields":  obj{"error": "failed parsing declarative configuration: expected an object"},
			"message": `declarative config is invalid: {error="failed parsing declarative configuration: expected an object"}`,
		}}}},
	}),
	offCase("647", "returns 400 on a validation error", Case{
		Steps: []Step{{Method: "POST", Path: "/config", Body: obj{"config": "_format_version: \"1.1\"\nservices:\n- port: -12\n"}, Status: 400, JSON: obj{".": obj{
			"code": 14, "name": "invalid declarative configuration",
			"fields":  obj{"services": arr{obj{"host": "required field missing", "port": "value should be between 0 and 65535"}}},
			"message": `declarative config is invalid: {services={{host="required field missing",port="value should be between 0 and 65535"}}}`,
		}}}},
	}),
	Case{Spec: specOff + ":682", Name: "returns 400 on an primary key uniqueness error", Skip: skipOtherPlugs},
	Case{Spec: specOff + ":739", Name: "returns 400 on an endpoint key uniqueness error", Skip: skipOtherPlugs},
	offCase("794", "returns 400 on a regular key uniqueness error", Case{
		Steps: []Step{{Method: "POST", Path: "/config", Body: obj{"config": "_format_version: \"1.1\"\nconsumers:\n- username: foo\n  custom_id: conflict\n- username: bar\n  custom_id: conflict\n"},
			Status: 400, JSON: obj{".": obj{
				"code": 14, "name": "invalid declarative configuration",
				"fields":  obj{"consumers": obj{"bar": "uniqueness violation: 'consumers' entity with custom_id set to 'conflict' already declared"}},
				"message": `declarative config is invalid: {consumers={bar="uniqueness violation: 'consumers' entity with custom_id set to 'conflict' already declared"}}`,
			}}}},
	}),
	offCase("828", "returns 400 when given no input", Case{
		Steps: []Step{{Method: "POST", Path: "/config", Status: 400, JSON: obj{".": obj{"message": "expected a declarative configuration"}}}},
	}),
	Case{Spec: specOff + ":841", Name: "sparse responses are correctly generated", Skip: skipOtherPlugs},
	offCase("915", "returns back the configuration", Case{
		Steps: []Step{
			{Method: "POST", Path: "/config", Body: obj{"_format_version": "1.1", "consumers": arr{obj{"username": "bobo",
				"id": "d885e256-1abe-5e24-80b6-8f68fe59ea8e", "created_at": 1566863706}}}, Status: 201},
			{Path: "/config", Status: 200, Check: func(t *testing.T, r *Resp) {
				// lyaml.load(json.config), compared as Kong's assert.same does.
				s, _ := r.Get("config")
				var doc map[string]any
				if err := yaml.Unmarshal([]byte(fmt.Sprint(s)), &doc); err != nil {
					t.Fatalf("config is not YAML: %v: %s", err, r.Body)
				}
				cs, _ := doc["consumers"].([]any)
				if len(cs) != 1 {
					t.Fatalf("consumers %v", doc["consumers"])
				}
				c, _ := cs[0].(map[string]any)
				want := map[string]any{"id": "d885e256-1abe-5e24-80b6-8f68fe59ea8e", "created_at": 1566863706,
					"updated_at": c["updated_at"], "username": "bobo", "custom_id": nil, "tags": nil}
				if !jsonEqual(want, c) || doc["_format_version"] != "3.0" || doc["_transform"] != false || len(doc) != 3 {
					t.Errorf("GET /config gave %v, want _format_version 3.0, _transform false, consumers [%v]", doc, want)
				}
			}},
		},
	}),
	offCase("960", "can load large declarative config (regression test)", Case{
		Differs: "burst.yml's 94 ip-restriction route plugins are key-auth here and its global prometheus plugin a global " +
			"rate-limiting: the gateway bundles neither plugin (the config keeps its size and shape)",
		Steps: []Step{postConfig(burstConfig(), 201)},
	}),
	Case{Spec: specOff + ":976", Name: "updates stream subsystem config", Skip: skipStreamRoute},
	offCase("1018", "can set target health without port", Case{
		Setup: []Step{postConfig("_format_version: \"1.1\"\nservices:\n- host: foo\n  routes:\n  - paths:\n    - \"/\"\nupstreams:\n- name: \"foo\"\n"+
			"  targets:\n    - target: 10.20.30.40\n  healthchecks:\n    passive:\n      healthy:\n        successes: 1\n      unhealthy:\n        http_failures: 1\n", 201)},
		Steps: []Step{
			{Path: "/upstreams/foo/targets", Status: 200, JSON: obj{"data.#": 1}, Save: map[string]string{"tid": "data.0.id"}},
			{Method: "PUT", Path: "/upstreams/foo/targets/{{tid}}/10.20.30.40/unhealthy", Status: 204},
		},
	}),
	offCase("1076", "targets created missing ports listed with ports", Case{
		Setup: []Step{postConfig("_format_version: \"1.1\"\nservices:\n- host: foo\n  routes:\n  - paths:\n    - \"/\"\nupstreams:\n- name: \"foo\"\n"+
			"  targets:\n  - target: 10.20.30.40\n  - target: 50.60.70.80:90\n", 201)},
		Steps: []Step{{Path: "/upstreams/foo/targets/all", Status: 200, JSON: obj{"data.#": 2, "data": targetsAre("10.20.30.40:8000", "50.60.70.80:90")}}},
	}),
	skipped(specOff, skipFlatten, "1412:sanity", "2154:flattens nested, non-entity field errors", "2202:flattens nested, entity field errors",
		"2326:preserves IDs from the input", "2345:preserves foreign keys from nested entity collections",
		"2371:omits top-level entity_* fields if they are invalid", "2393:drains errors from the top-level fields object",
		"2521:does not throw for invalid input - (#10767)", "2770:origin error do not loss when enable flatten_errors - (#12167)",
		"2808:correctly handles duplicate upstream target errors"),
	offCase("2940", "succeeds with 200 and replaces previous cache if config fits in cache", Case{
		Run: func(t *testing.T, g *GW) {
			for k := 1; k <= 100; k++ {
				g.mustDo(t, postConfig(`{ "_format_version" : "1.1", "consumers" : [ { "username" : "previous", }, ], }`, 201))
				var cs []string
				for i := 1; i <= 10; i++ {
					cs = append(cs, fmt.Sprintf(`{ "username" : "bobby-%d-%d", }`, k, i))
				}
				g.mustDo(t, postConfig(`{ "_format_version" : "1.1", "consumers" : [ `+strings.Join(cs, ", ")+` ] }`, 201))
				g.mustDo(t, Step{Path: "/consumers/previous", Status: 404})
				g.mustDo(t, Step{Path: fmt.Sprintf("/consumers/bobby-%d-10", k), Status: 200, JSON: obj{"username": fmt.Sprintf("bobby-%d-10", k)}})
			}
		},
	}),
	Case{Spec: specOff + ":3068", Name: "unique foreign works with dbless", Skip: skipFixturePlug},
	Case{Spec: specOff + ":3236", Name: "prefers cache key rather than endpoint key from primary key uniqueness", Skip: skipFixturePlug},
	Case{Spec: specOff + ":3304", Name: "does not increase timer usage (regression)", Skip: skipTimers},
)

// targets: the data array holds targets with exactly these target values.
func targetsAre(want ...string) Matcher {
	return func(v any, ok bool) error {
		list, _ := v.([]any)
		got := map[string]bool{}
		for _, e := range list {
			if m, isMap := e.(map[string]any); isMap {
				got[fmt.Sprint(m["target"])] = true
			}
		}
		for _, w := range want {
			if !got[w] {
				return fmt.Errorf("got %s, want targets %v", showOK(v, ok), want)
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("got %s, want targets %v", showOK(v, ok), want)
		}
		return nil
	}
}

// burstConfig stands in for Kong's spec/fixtures/burst.yml, the large
// declarative config (a Kubernetes ingress controller's output) that
// "can load large declarative config" posts to /config: generated here
// with the fixture's size and shape — 236 services (192 on path "/", 44
// on "/static/admin"), 286 routes (one host and one path each, 182 with
// methods, all with https_redirect_status_code 426), 94 route plugins, 236
// upstreams with the full healthchecks object and 237 targets, and one
// global plugin. The fixture's plugins, ip-restriction and prometheus, are
// not bundled with the gateway; key-auth and rate-limiting take their places.
func burstConfig() string {
	kinds := []string{"something-static", "testing-testing-ws", "something-admin", "something-api", "static-admin", "something-app"}
	// methods for 7 routes in 11 (182 of 286), none for the rest
	all5, get, four := []string{"POST", "GET", "PATCH", "PUT", "DELETE"}, []string{"GET"}, []string{"POST", "GET", "PATCH", "PUT"}
	methods := [][]string{all5, get, all5, all5, four, all5, get}
	hc := map[string]any{
		"active": map[string]any{"concurrency": 10, "http_path": "/", "https_verify_certificate": true, "type": "http", "timeout": 1,
			"healthy": map[string]any{"http_statuses": []int{200, 302}, "interval": 0, "successes": 0},
			"unhealthy": map[string]any{"http_failures": 0, "http_statuses": []int{429, 404, 500, 501, 502, 503, 504, 505},
				"tcp_failures": 0, "timeouts": 0, "interval": 0}},
		"passive": map[string]any{
			"healthy": map[string]any{"http_statuses": []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
				300, 301, 302, 303, 304, 305, 306, 307, 308}, "successes": 0},
			"unhealthy": map[string]any{"http_failures": 0, "http_statuses": []int{429, 500, 503}, "tcp_failures": 0, "timeouts": 0}},
	}
	var services, upstreams []any
	nroute := 0
	for i := 0; i < 236; i++ {
		ns := fmt.Sprintf("ns%02d-any", i/6)
		kind := kinds[i%6]
		host := kind + "." + ns + ".svc"
		path := "/"
		if i%6 == 4 || (i < 30 && i%6 == 2) { // 39 + 5 = 44 services
			path = "/static/admin"
		}
		var routes []any
		nr := 1
		if i < 50 {
			nr = 2
		}
		for j := 0; j < nr; j++ {
			r := map[string]any{
				"name":                       fmt.Sprintf("%s.%s-ingress.%02d", ns, kind, j),
				"hosts":                      []string{ns + ".example.test"},
				"paths":                      []string{fmt.Sprintf("/%s/%s/%d", ns, kind, j)},
				"preserve_host":              true,
				"protocols":                  []string{"http", "https"},
				"regex_priority":             0,
				"strip_path":                 nroute%2 == 0,
				"https_redirect_status_code": 426,
			}
			if k := nroute % 11; k < len(methods) {
				r["methods"] = methods[k]
			}
			if nroute%3 == 0 && nroute/3 < 94 {
				r["plugins"] = []any{map[string]any{"name": "key-auth", "enabled": true,
					"protocols": []string{"grpc", "grpcs", "http", "https"}}}
			}
			routes = append(routes, r)
			nroute++
		}
		services = append(services, map[string]any{
			"name": fmt.Sprintf("%s.%s.80", ns, kind), "host": host, "port": 80, "path": path, "protocol": "http",
			"connect_timeout": 60000, "read_timeout": 60000, "write_timeout": 60000, "retries": 5, "routes": routes,
		})
		targets := []any{map[string]any{"target": fmt.Sprintf("10.%d.%d.%d:3000", i/250, i%250, 10+i%7), "weight": 100}}
		if i == 0 {
			targets = append(targets, map[string]any{"target": "10.0.0.200:3000", "weight": 100})
		}
		upstreams = append(upstreams, map[string]any{
			"name": host, "algorithm": "round-robin", "slots": 10000, "healthchecks": hc,
			"hash_on": "none", "hash_fallback": "none", "hash_on_cookie_path": "/", "targets": targets,
		})
	}
	doc := map[string]any{
		"_format_version": "1.1",
		"services":        services,
		"upstreams":       upstreams,
		"plugins": []any{map[string]any{"name": "rate-limiting", "enabled": true,
			"protocols": []string{"grpc", "grpcs", "http", "https"}, "config": map[string]any{"minute": 1000000}}},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}
