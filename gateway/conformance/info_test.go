package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

// Kong 3.9 spec/02-integration/04-admin_api/01-admin_api_spec.lua,
// 02-kong_routes_spec.lua (/, /status, /schemas, /endpoints) and
// 15-off_spec.lua (/config, DB-less).

const (
	specAdminAPI   = "spec/02-integration/04-admin_api/01-admin_api_spec.lua"
	specKongRoutes = "spec/02-integration/04-admin_api/02-kong_routes_spec.lua"
	specOff        = "spec/02-integration/04-admin_api/15-off_spec.lua"

	skipSharedDicts = "nginx lua_shared_dicts memory stats (no shared dictionaries)"
	skipVaults      = "vaults"
	skipCertsEntity = "certificates entity"
	skipPostgres    = "postgres settings (pg_password)"
	skipEndpoints   = "GET /endpoints (lists plugin endpoints: basic-auth, reports-api)"
	skipDummy       = "dummy fixture plugin (deprecated fields)"
	skipFileLog     = "file-log plugin"
)

var _ = register("admin-info", adminInfoCases)

// dbless runs the row as Kong's #off strategy.
func dbless(c Case) Case {
	c.DBLess = true
	c.Name += " #off"
	return c
}

var adminInfoCases = rows(
	// 01-admin_api_spec.lua
	Case{
		Spec: specAdminAPI + ":44", Name: "disabled",
		Run: func(t *testing.T, _ *GW) {
			g, err := server.Start(server.Settings{ProxyListen: "127.0.0.1:0", AdminListen: "off", Database: "embedded", DataDir: t.TempDir()}, discardLog)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Shutdown(context.Background())
			if len(g.AdminAddrs()) != 0 || len(g.ProxyAddrs()) != 1 {
				t.Errorf("admin_listen=off: admin %v, proxy %v", g.AdminAddrs(), g.ProxyAddrs())
			}
		},
	},
	Case{
		Spec: specAdminAPI + ":54", Name: "multiple",
		Settings: func(s *server.Settings) { s.AdminListen = "127.0.0.1:0, 127.0.0.1:0" },
		Run: func(t *testing.T, g *GW) {
			if len(g.AdminAddrs()) != 2 {
				t.Fatalf("admin listeners %v", g.AdminAddrs())
			}
			for _, a := range g.AdminAddrs() {
				resp, err := http.Get(a.URL() + "/")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s/ = %d", a.URL(), resp.StatusCode)
				}
			}
		},
	},

	// 02-kong_routes_spec.lua: /
	Case{
		Spec: specKongRoutes + ":35", Name: "returns headers with HEAD method",
		Run: func(t *testing.T, g *GW) {
			r1 := g.mustDo(t, Step{Path: "/", Status: 200})
			r2 := g.mustDo(t, Step{Method: "HEAD", Path: "/", Status: 200, BodyText: ""})
			if len(r1.Body) == 0 {
				t.Error("GET / has no body")
			}
			h1, h2 := r1.Header.Clone(), r2.Header.Clone()
			for _, h := range []http.Header{h1, h2} {
				h.Del("Date")
				h.Del("X-Kong-Admin-Latency")
			}
			if fmt.Sprint(h1) != fmt.Sprint(h2) {
				t.Errorf("GET headers %v\nHEAD headers %v", h1, h2)
			}
		},
	},
	Case{
		Spec: specKongRoutes + ":59", Name: "returns allow and CORS headers with OPTIONS method",
		Steps: []Step{{Method: "OPTIONS", Path: "/", Status: 204, BodyText: "", Headers: obj{
			"Allow": "GET, HEAD, OPTIONS", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
			"Access-Control-Allow-Headers": "Content-Type", "Access-Control-Allow-Origin": "*", "X-Kong-Admin-Latency": Present}}},
	},
	Case{
		Spec: specKongRoutes + ":74", Name: "returns Kong's version number, edition info and tagline",
		Steps: []Step{{Path: "/", Status: 200, JSON: obj{"version": config.KongVersion, "edition": "community", "tagline": "Welcome to kong"}}},
	},
	Case{
		Spec: specKongRoutes + ":85", Name: "returns a UUID as the node_id",
		Steps: []Step{{Path: "/", Status: 200, JSON: obj{"node_id": isUUID}}},
	},
	Case{
		Spec: specKongRoutes + ":94", Name: "response has the correct Server header",
		Steps: []Step{{Path: "/", Status: 200, Headers: obj{"Server": kongServer, "Via": Absent}}},
	},
	Case{
		Spec: specKongRoutes + ":103", Name: "returns 405 on invalid method",
		Run: func(t *testing.T, g *GW) {
			for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "GEEEET"} {
				g.mustDo(t, Step{Method: m, Path: "/", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}})
			}
		},
	},
	Case{
		Spec: specKongRoutes + ":117", Name: "exposes the node's configuration",
		Steps: []Step{{Path: "/", Status: 200, JSON: obj{"configuration": isObject}}},
	},
	Case{
		Spec: specKongRoutes + ":126", Name: "enabled_in_cluster property is an array",
		Steps: []Step{{Path: "/", Status: 200, BodyText: Contains(`"enabled_in_cluster":[]`)}},
	},
	Case{Spec: specKongRoutes + ":134", Name: "obfuscates sensitive settings from the configuration", Skip: skipPostgres},
	Case{
		Spec: specKongRoutes + ":144", Name: "returns process ids",
		Steps: []Step{{Path: "/", Status: 200, JSON: obj{"pids.master": isNumber, "pids.workers.0": isNumber}}},
	},
	Case{
		Spec: specKongRoutes + ":158", Name: "does not return PRNG seeds",
		Steps: []Step{{Path: "/", Status: 200, JSON: obj{"prng_seeds": Absent}}},
	},
	Case{Spec: specKongRoutes + ":170", Name: "only returns base, plugin, and custom-plugin endpoints", Skip: skipEndpoints},

	// /status
	Case{
		Spec: specKongRoutes + ":197", Name: "returns status info",
		Steps: []Step{{Path: "/status", Status: 200, JSON: statusServer(obj{"configuration_hash": Absent, "database.reachable": true})}},
	},
	dbless(Case{
		Spec: specKongRoutes + ":197", Name: "returns status info",
		Steps: []Step{{Path: "/status", Status: 200, JSON: statusServer(obj{"configuration_hash": "00000000000000000000000000000000", "database": Absent})}},
	}),
	dbless(Case{
		Spec: specKongRoutes + ":224", Name: "returns status info including a configuration_hash in DBLESS mode if an initial configuration has been provided",
		Setup: []Step{{Method: "POST", Path: "/config", Body: obj{"config": "_format_version: \"1.1\"\nservices:\n- host: \"konghq.com\"\n"}, Status: 201}},
		Steps: []Step{{Path: "/status", Status: 200, JSON: statusServer(obj{"database": Absent,
			"configuration_hash": Match(`^[0-9a-f]{32}$`)})}},
		Run: func(t *testing.T, g *GW) {
			r := g.mustDo(t, Step{Path: "/status", Status: 200})
			if h, _ := r.Get("configuration_hash"); h == "00000000000000000000000000000000" {
				t.Error("configuration_hash is still the empty hash")
			}
		},
	}),
	Case{
		Spec: specKongRoutes + ":271", Name: "database.reachable is `true` when DB connection is healthy",
		Steps: []Step{{Path: "/status", Status: 200, JSON: obj{"database.reachable": true}}},
	},
	dbless(Case{
		Spec: specKongRoutes + ":271", Name: "database.reachable is `true` when DB connection is healthy",
		Steps: []Step{{Path: "/status", Status: 200, JSON: obj{"database": Absent}}},
	}),
	Case{Spec: specKongRoutes + ":294", Name: "returns lua_shared_dicts memory stats", Skip: skipSharedDicts},
	Case{
		Spec: specKongRoutes + ":309", Name: "returns workers Lua VM allocated memory",
		Steps: []Step{{Path: "/status", Status: 200, JSON: obj{"memory.workers_lua_vms.0.http_allocated_gc": Match(`^\d+\.\d+ MiB$`),
			"memory.workers_lua_vms.0.pid": isNumber}}},
	},
	Case{
		Spec: specKongRoutes + ":325", Name: "returns workers in ascending PID values",
		Steps: []Step{{Path: "/status", Status: 200, Check: func(t *testing.T, r *Resp) {
			vms, _ := r.Get("memory.workers_lua_vms")
			list, _ := vms.([]any)
			for i := 0; i+1 < len(list); i++ {
				a, _ := list[i].(map[string]any)["pid"].(float64)
				b, _ := list[i+1].(map[string]any)["pid"].(float64)
				if a > b {
					t.Errorf("workers not in ascending pid order: %v", list)
				}
			}
			if len(list) == 0 {
				t.Error("no workers_lua_vms")
			}
		}}},
	},
	Case{Spec: specKongRoutes + ":369", Name: "accepts a 'unit' querystring argument", Skip: skipSharedDicts},
	Case{Spec: specKongRoutes + ":383", Name: "when unit is bytes, returned properties are numbers", Skip: skipSharedDicts},
	Case{Spec: specKongRoutes + ":403", Name: "accepts a 'scale' querystring argument", Skip: skipSharedDicts},
	Case{
		Spec: specKongRoutes + ":417", Name: "returns HTTP 400 on invalid 'unit' querystring parameter",
		Steps: []Step{{Path: "/status?unit=V", Status: 400, JSON: obj{"message": "invalid unit 'V' (expected 'k/K', 'm/M', or 'g/G')"}}},
	},

	// /schemas
	Case{
		Spec: specKongRoutes + ":431", Name: "returns the schema of all DB entities",
		Run: func(t *testing.T, g *GW) {
			for _, e := range []string{"services", "routes", "upstreams", "targets", "consumers", "plugins", "keyauth_credentials"} {
				g.mustDo(t, Step{Path: "/schemas/" + e, Status: 200, JSON: obj{"fields.#": Num("> 0", func(n float64) bool { return n > 0 }),
					"entity_checks": isArray}})
			}
		},
	},
	Case{
		Spec: specKongRoutes + ":443", Name: "returns 404 on a missing entity",
		Steps: []Step{{Path: "/schemas/not-present", Status: 404, JSON: obj{".": obj{"message": "No entity named 'not-present'"}}}},
	},
	Case{
		Spec: specKongRoutes + ":452", Name: "does not return schema of a foreign key",
		Steps: []Step{{Path: "/schemas/routes", Status: 200, Check: func(t *testing.T, r *Resp) {
			fields, _ := r.Get("fields")
			for _, f := range fields.([]any) {
				if svc, ok := f.(map[string]any)["service"].(map[string]any); ok && svc["schema"] != nil {
					t.Errorf("routes.service carries a schema: %v", svc)
				}
			}
		}}},
	},
	skipped(specKongRoutes, skipVaults, "469:returns schema of all vaults", "481:returns 404 on a non-existent vault",
		"491:does not return 405 on /schemas/vaults/validate"),
	Case{
		Spec: specKongRoutes + ":503", Name: "returns schema of all plugins",
		Run: func(t *testing.T, g *GW) {
			for _, p := range []string{"key-auth", "rate-limiting"} {
				g.mustDo(t, Step{Path: "/schemas/plugins/" + p, Status: 200, JSON: obj{"fields": isArray}})
			}
		},
	},
	Case{
		Spec: specKongRoutes + ":514", Name: "returns 404 on a non-existent plugin",
		Steps: []Step{{Path: "/schemas/plugins/not-present", Status: 404, JSON: obj{".": obj{"message": "No plugin named 'not-present'"}}}},
	},
	Case{Spec: specKongRoutes + ":523", Name: "returns information about a deprecated field", Skip: skipDummy},
	Case{
		Spec: specKongRoutes + ":550", Name: "returns 200 on a valid schema",
		Steps: []Step{{Method: "POST", Path: "/schemas/services/validate", Body: obj{"host": "example.com"}, Status: 200,
			JSON: obj{"message": "schema validation successful"}}},
	},
	skipped(specKongRoutes, skipCertsEntity, "560:returns 200 on certificates schema with snis", "575:returns 400 on certificates schema with invalid snis"),
	Case{
		Spec: specKongRoutes + ":598", Name: "returns 200 on a valid plugin schema",
		Steps: []Step{{Method: "POST", Path: "/schemas/plugins/validate", Body: obj{"name": "key-auth",
			"config": obj{"key_names": arr{"foo", "bar"}, "hide_credentials": true}}, Status: 200, JSON: obj{"message": "schema validation successful"}}},
	},
	Case{
		Spec: specKongRoutes + ":613", Name: "returns 400 on an invalid plugin subschema",
		Steps: []Step{{Method: "POST", Path: "/schemas/plugins/validate", Body: obj{"name": "key-auth", "config": obj{"keys": "foo"}},
			Status: 400, JSON: obj{"name": "schema violation"}}},
	},
	Case{Spec: specKongRoutes + ":627", Name: "returns 200 on a valid plugin schema which contains dot in the key of custom_fields_by_lua", Skip: skipFileLog},
	Case{
		Spec: specKongRoutes + ":648", Name: "returns 404 with HEAD",
		Steps: []Step{{Method: "HEAD", Path: "/non-existing", Status: 404, BodyText: ""}},
	},
	nonExisting("656", "OPTIONS"), nonExisting("665", "GET"), nonExisting("674", "POST"), nonExisting("683", "PUT"), nonExisting("692", "DELETE"),
	Case{
		Spec: specKongRoutes + ":720", Name: "returns node-id set in configuration",
		Settings: func(s *server.Settings) { s.NodeID = "592e1c2b-6678-45aa-80f9-78cfb29f5e31" },
		Steps:    []Step{{Path: "/", Status: 200, JSON: obj{"node_id": "592e1c2b-6678-45aa-80f9-78cfb29f5e31"}}},
	},
)

func nonExisting(line, method string) Case {
	return Case{Spec: specKongRoutes + ":" + line, Name: "returns 404 with " + method,
		Steps: []Step{{Method: method, Path: "/non-existing", Status: 404, JSON: obj{"message": "Not found"}}}}
}

// statusServer adds the server counters every /status row checks.
func statusServer(m obj) obj {
	for _, k := range []string{"connections_accepted", "connections_active", "connections_handled", "connections_reading",
		"connections_writing", "connections_waiting", "total_requests"} {
		m["server."+k] = isNumber
	}
	return m
}

// isArray: a JSON array (Kong's assert.is_table on a list).
var isArray Matcher = func(v any, ok bool) error {
	if _, isArr := v.([]any); !isArr {
		return fmt.Errorf("got %s, want an array", showOK(v, ok))
	}
	return nil
}

// isObject: a JSON object (assert.is_table on a record).
var isObject Matcher = func(v any, ok bool) error {
	if _, isObj := v.(map[string]any); !isObj {
		return fmt.Errorf("got %s, want an object", showOK(v, ok))
	}
	return nil
}
