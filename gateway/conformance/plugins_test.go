package conformance

const specPlugins = "spec/02-integration/04-admin_api/04-plugins_routes_spec.lua"

var _ = register("plugins", pluginsCases)

// pluginsSetup is the spec's lazy_setup: services 1-3 with a route and a
// key-auth plugin named key-auth-N (ids p1..p3), service-4 with key-auth named 円 (p4).
func pluginsSetup() []Step {
	var s []Step
	for _, i := range []string{"1", "2", "3"} {
		s = append(s,
			post("/services", obj{"name": "service-" + i, "protocol": "http", "host": "127.0.0.1", "port": 15555}, "s"+i),
			post("/routes", obj{"service": obj{"id": "{{s" + i + "}}"}, "hosts": arr{"route_" + i + ".test"}}),
			post("/plugins", obj{"name": "key-auth", "instance_name": "key-auth-" + i, "service": obj{"id": "{{s" + i + "}}"},
				"config": obj{"key_names": arr{"testkey"}}}, "p"+i))
	}
	return append(s,
		post("/services", obj{"name": "service-4", "protocol": "http", "host": "127.0.0.1", "port": 15555}, "s4"),
		post("/plugins", obj{"name": "key-auth", "instance_name": "円", "service": obj{"id": "{{s4}}"}, "config": obj{"key_names": arr{"testkey"}}}, "p4"))
}

var pluginsCases = rows(
	Case{
		Spec: specPlugins + ":41", Name: "returns a list of enabled plugins on this node",
		Steps: []Step{get("/plugins/enabled", 200, obj{"enabled_plugins": Contains("key-auth")})},
	},
	Case{
		Spec: specPlugins + ":105", Name: "retrieves all plugins configured",
		Setup: pluginsSetup(),
		Steps: []Step{get("/plugins", 200, obj{"data.#": 4})},
	},
	Case{
		Spec: specPlugins + ":115", Name: "returns 405 on invalid method",
		Steps: []Step{
			{Method: "DELETE", Path: "/plugins", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
			{Method: "PATCH", Path: "/plugins", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
		},
	},
	Case{
		Spec: specPlugins + ":132", Name: "retrieves a plugin by id",
		Setup: pluginsSetup(),
		Steps: []Step{get("/plugins/{{p1}}", 200, obj{".": obj{
			"id": "{{p1}}", "name": "key-auth", "instance_name": "key-auth-1", "service": obj{"id": "{{s1}}"}, "route": nil, "consumer": nil,
			"enabled": true, "protocols": arr{"grpc", "grpcs", "http", "https"}, "tags": nil, "created_at": isNumber, "updated_at": isNumber,
			"config": obj{"key_names": arr{"testkey"}, "hide_credentials": false, "anonymous": nil, "key_in_header": true,
				"key_in_query": true, "key_in_body": false, "run_on_preflight": true, "realm": nil}}})},
	},
	Case{
		Spec: specPlugins + ":141", Name: "retrieves a plugin by instance_name",
		Setup: pluginsSetup(),
		Steps: []Step{get("/plugins/key-auth-1", 200, obj{"id": "{{p1}}", "instance_name": "key-auth-1"})},
	},
	Case{
		Spec: specPlugins + ":151", Name: "returns 404 if not found",
		Steps: []Step{get("/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", 404, nil)},
	},
	Case{
		Spec: specPlugins + ":158", Name: "returns 404 if not found by instance_name",
		Steps: []Step{get("/plugins/not-found", 404, nil)},
	},
	Case{
		Spec: specPlugins + ":165", Name: "retrieves by utf-8 name and percent-escaped utf-8 name",
		Setup: pluginsSetup(),
		Steps: []Step{get("/plugins/円", 200, obj{"id": "{{p4}}"}), get("/plugins/%E5%86%86", 200, obj{"id": "{{p4}}", "instance_name": "円"})},
	},
	Case{
		Spec: specPlugins + ":182", Name: "can create a plugin",
		Setup: []Step{svc("sid"), post("/routes", obj{"paths": arr{"/mypath"}, "service": obj{"id": "{{sid}}"}})},
		Steps: []Step{{Method: "PUT", Path: "/plugins/5b3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", Body: obj{"name": "key-auth", "service": obj{"id": "{{sid}}"}}, Status: 200,
			JSON: obj{"id": "5b3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", "service.id": "{{sid}}"}}},
	},
	Case{
		Spec: specPlugins + ":202", Name: "can create a plugin by instance_name",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "PUT", Path: "/plugins/name-x1", Body: obj{"name": "key-auth", "service": obj{"id": "{{sid}}"}}, Status: 200,
			JSON: obj{"instance_name": "name-x1"}}},
	},
	Case{
		Spec: specPlugins + ":221", Name: "can upsert a plugin by instance_name",
		Setup: []Step{svc("sid")},
		Steps: []Step{
			{Method: "PUT", Path: "/plugins/name-x1", Body: obj{"name": "key-auth", "service": obj{"id": "{{sid}}"}, "config": obj{"key_names": arr{"testkey"}}},
				Status: 200, Save: map[string]string{"pid": "id"}},
			{Method: "PUT", Path: "/plugins/name-x1", Body: obj{"name": "key-auth", "service": obj{"id": "{{sid}}"}, "config": obj{"key_names": arr{"testkey2"}}},
				Status: 200, JSON: obj{"id": "{{pid}}", "config.key_names.0": "testkey2"}},
		},
	},
	Case{
		Spec: specPlugins + ":268", Name: "updates a plugin",
		Setup: pluginsSetup(),
		Steps: []Step{{Method: "PATCH", Path: "/plugins/{{p1}}", Body: obj{"enabled": false}, Status: 200, JSON: obj{"enabled": false}},
			get("/plugins/{{p1}}", 200, obj{"enabled": false})},
	},
	Case{
		Spec: specPlugins + ":282", Name: "updates a plugin by instance_name",
		Setup: pluginsSetup(),
		Steps: []Step{{Method: "PATCH", Path: "/plugins/key-auth-2", Body: obj{"enabled": false}, Status: 200, JSON: obj{"enabled": false, "id": "{{p2}}"}}},
	},
	Case{
		Spec: specPlugins + ":296", Name: "updates a plugin bis",
		Setup: pluginsSetup(),
		Steps: []Step{{Method: "PATCH", Path: "/plugins/{{p2}}", Status: 200, JSON: obj{"enabled": false},
			Body: obj{"id": "{{p2}}", "name": "key-auth", "instance_name": "key-auth-2", "enabled": false, "service": obj{"id": "{{s2}}"},
				"route": nil, "consumer": nil, "protocols": arr{"grpc", "grpcs", "http", "https"}, "tags": nil,
				"config": obj{"key_names": arr{"testkey"}, "hide_credentials": false, "anonymous": nil, "key_in_header": true,
					"key_in_query": true, "key_in_body": false, "run_on_preflight": true, "realm": nil}}}},
	},
	Case{
		Spec: specPlugins + ":313", Name: "updates a plugin (removing foreign key reference)",
		Setup: pluginsSetup(),
		Steps: []Step{{Method: "PATCH", Path: "/plugins/{{p2}}", Body: obj{"service": nil}, Status: 200, JSON: obj{"service": nil}},
			get("/plugins/{{p2}}", 200, obj{"service": nil})},
	},
	Case{
		Spec: specPlugins + ":331", Name: "does not infer json input",
		Setup: pluginsSetup(),
		Steps: []Step{{Method: "PATCH", Path: "/plugins/{{p2}}", Body: obj{"tags": nil}, Status: 200}},
	},
	Case{
		Spec: specPlugins + ":343", Name: "handles invalid input",
		Setup: pluginsSetup(),
		Steps: []Step{
			{Method: "PATCH", Path: "/plugins/{{p1}}", Body: obj{"foo": "bar"}, Status: 400,
				JSON: obj{".": obj{"message": "schema violation (foo: unknown field)", "name": "schema violation", "fields": obj{"foo": "unknown field"}, "code": 2}}},
			get("/plugins/{{p1}}", 200, obj{"config.key_names": arr{"testkey"}}),
		},
	},
	Case{
		Spec: specPlugins + ":365", Name: "handles invalid config, see #9224",
		Setup: pluginsSetup(),
		Steps: []Step{
			{Method: "PATCH", Path: "/plugins/{{p1}}", Body: obj{"config": "bar"}, Status: 400,
				JSON: obj{".": obj{"message": "schema violation (config: expected a record)", "name": "schema violation", "fields": obj{"config": "expected a record"}, "code": 2}}},
			get("/plugins/{{p1}}", 200, obj{"config.key_names": arr{"testkey"}}),
		},
	},
	Case{
		Spec: specPlugins + ":388", Name: "returns 404 if not found (PATCH)",
		Steps: []Step{{Method: "PATCH", Path: "/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", Body: obj{"enabled": false}, Status: 404}},
	},
	Case{
		Spec: specPlugins + ":401", Name: "deletes by id",
		Setup: pluginsSetup(),
		Steps: []Step{{Method: "DELETE", Path: "/plugins/{{p3}}", Status: 204}, get("/plugins/{{p3}}", 404, nil)},
	},
	Case{
		Spec: specPlugins + ":408", Name: "deletes by instance_name",
		Setup: pluginsSetup(),
		Steps: []Step{{Method: "DELETE", Path: "/plugins/円", Status: 204, BodyText: ""}, get("/plugins/円", 404, nil)},
	},
	Case{
		Spec: specPlugins + ":417", Name: "returns 204 if not found",
		Steps: []Step{{Method: "DELETE", Path: "/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", Status: 204}},
	},
	Case{
		Spec: specPlugins + ":425", Name: "returns 204 if not found by instance_name",
		Steps: []Step{{Method: "DELETE", Path: "/plugins/not-found", Status: 204}},
	},
	Case{
		Spec: specPlugins + ":436", Name: "returns the schema of all bundled plugins",
		Steps: []Step{
			get("/schemas/plugins/key-auth", 200, obj{"fields": NotNull, "entity_checks": NotNull}),
			get("/schemas/plugins/rate-limiting", 200, obj{"fields": NotNull, "entity_checks": NotNull}),
		},
	},
	Case{
		Spec: specPlugins + ":448", Name: "returns nested records and empty array defaults as arrays",
		Skip: "request-transformer plugin (not bundled)",
	},
	Case{
		Spec: specPlugins + ":460", Name: "returns 404 on invalid plugin",
		Steps: []Step{get("/schemas/plugins/foobar", 404, obj{".": obj{"message": "No plugin named 'foobar'"}})},
	},
)
