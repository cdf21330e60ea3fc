package conformance

var _ = register("services-more", servicesMoreCases)

var servicesMoreCases = rows(
	Case{
		Spec: specServices + ":169", Name: "paginates a set",
		Setup: tenServices(),
		Steps: []Step{
			{Path: "/services?size=3", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o1": "offset", "first": "data.0.id"}},
			{Path: "/services?size=3&offset={{o1}}", Status: 200, JSON: obj{"data.#": 3, "data.0.id": Not("{{first}}")}, Save: map[string]string{"o2": "offset"}},
			{Path: "/services?size=3&offset={{o2}}", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o3": "offset"}},
			{Path: "/services?size=3&offset={{o3}}", Status: 200, JSON: obj{"data.#": 1, "offset": Absent, "next": nil}},
		},
	},
	Case{
		Spec: specServices + ":241", Name: "retrieves by id",
		Setup: []Step{svc("sid")},
		Steps: []Step{get("/services/{{sid}}", 200, obj{"id": "{{sid}}", "host": "example.test", "name": nil, "path": nil,
			"protocol": "http", "port": 80, "retries": 5, "tags": nil, "enabled": true,
			"client_certificate": nil, "tls_verify": nil, "tls_verify_depth": nil, "ca_certificates": nil})},
	},
	Case{
		Spec: specServices + ":250", Name: "retrieves by name",
		Setup: []Step{svc("sid", "my-service")},
		Steps: []Step{get("/services/my-service", 200, obj{"id": "{{sid}}", "name": "my-service"})},
	},
	Case{
		Spec: specServices + ":259", Name: "retrieves by utf-8 name and percent-escaped utf-8 name",
		Setup: []Step{svc("sid", "円")},
		Steps: []Step{
			get("/services/円", 200, obj{"id": "{{sid}}", "name": "円"}),
			get("/services/%E5%86%86", 200, obj{"id": "{{sid}}", "name": "円"}),
		},
	},
	Case{
		Spec: specServices + ":274", Name: "returns 404 if not found",
		Steps: []Step{get("/services/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55", 404, obj{"message": "Not found"})},
	},
	Case{
		Spec: specServices + ":279", Name: "returns 404 if not found by name",
		Steps: []Step{get("/services/not-found", 404, nil)},
	},
	Case{
		Spec: specServices + ":284", Name: "ignores an invalid body (GET by id)",
		Setup: []Step{svc("sid")},
		Steps: []Step{invalidJSONBody("GET", "/services/{{sid}}", 200)},
	},
	Case{
		Spec: specServices + ":295", Name: "ignores an invalid body by name",
		Setup: []Step{svc("sid", "svc1")},
		Steps: []Step{invalidJSONBody("GET", "/services/svc1", 200)},
	},
	contentTypes(Case{
		Spec: specServices + ":308", Name: "updates if found",
		Setup: []Step{svc("sid", "to-unset")},
		Steps: []Step{
			{Method: "PATCH", Path: "/services/{{sid}}", Body: obj{"name": nil, "protocol": "https"}, Status: 200,
				JSON: obj{"name": nil, "protocol": "https", "id": "{{sid}}"}},
			get("/services/{{sid}}", 200, obj{"name": nil, "protocol": "https"}),
		},
	}),
	contentTypes(Case{
		Spec: specServices + ":336", Name: "updates if found by name",
		Setup: []Step{svc("sid", "svc1")},
		Steps: []Step{
			{Method: "PATCH", Path: "/services/svc1", Body: obj{"protocol": "https"}, Status: 200,
				JSON: obj{"protocol": "https", "id": "{{sid}}", "name": "svc1"}},
		},
	}),
	contentTypes(Case{
		Spec: specServices + ":357", Name: "updates with url",
		Setup: []Step{svc("sid")},
		Steps: []Step{
			{Method: "PATCH", Path: "/services/{{sid}}", Body: obj{"url": "http://example.test:443"}, Status: 200,
				JSON: obj{"protocol": "http", "host": "example.test", "port": 443, "path": nil, "id": "{{sid}}"}},
			{Method: "PATCH", Path: "/services/{{sid}}", Body: obj{"url": "https://example2.test:80/"}, Status: 200,
				JSON: obj{"protocol": "https", "host": "example2.test", "port": 80, "path": "/", "id": "{{sid}}"}},
			{Method: "PATCH", Path: "/services/{{sid}}", Body: obj{"url": "http://example2.test"}, Status: 200,
				JSON: obj{"protocol": "http", "host": "example2.test", "port": 80, "path": nil, "id": "{{sid}}"}},
			get("/services/{{sid}}", 200, obj{"protocol": "http", "host": "example2.test", "port": 80, "path": nil}),
		},
	}),
	Case{
		Spec: specServices + ":444", Name: "deletes a service by name",
		Setup: []Step{svc("sid", "svc1")},
		Steps: []Step{
			{Method: "DELETE", Path: "/services/svc1", Status: 204, BodyText: ""},
			get("/services/svc1", 404, nil),
		},
	},
	Case{
		Spec: specServices + ":456", Name: "returns HTTP 204 even if not found",
		Steps: []Step{{Method: "DELETE", Path: "/services/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55", Status: 204}},
	},
	Case{
		Spec: specServices + ":461", Name: "returns HTTP 204 even if not found by name",
		Steps: []Step{{Method: "DELETE", Path: "/services/not-found", Status: 204}},
	},
	contentTypes(Case{
		Spec: specServices + ":471", Name: "lists all routes belonging to service",
		Setup: []Step{
			post("/services", obj{"protocol": "http", "host": "service.test"}, "sid"),
			post("/routes", obj{"protocols": arr{"http"}, "hosts": arr{"service.test"}, "service": obj{"id": "{{sid}}"}}, "rid"),
			post("/routes", obj{"protocols": arr{"http"}, "hosts": arr{"service.test"}}),
		},
		Steps: []Step{{Path: "/services/{{sid}}/routes", Status: 200,
			JSON: obj{"data.#": 1, "data.0.id": "{{rid}}", "data.0.service.id": "{{sid}}", "next": nil}}},
	}),
	// /services/{service}/plugins
	Case{
		Spec: specServices + ":520", Name: "creates a plugin config for a Service with application/x-www-form-urlencoded",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "POST", Path: "/services/{{sid}}/plugins",
			Form:   map[string][]string{"name": {"key-auth"}, "config.key_names[1]": {"apikey"}, "config.key_names[2]": {"key"}},
			Status: 201, JSON: obj{"name": "key-auth", "config.key_names": arr{"apikey", "key"}, "service.id": "{{sid}}"}}},
	},
	Case{
		Spec: specServices + ":520", Name: "creates a plugin config for a Service with application/json",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "POST", Path: "/services/{{sid}}/plugins",
			Body:   obj{"name": "key-auth", "config": obj{"key_names": arr{"apikey", "key"}}},
			Status: 201, JSON: obj{"name": "key-auth", "config.key_names": arr{"apikey", "key"}}}},
	},
	Case{
		Spec: specServices + ":545", Name: "references a Service by name with application/x-www-form-urlencoded",
		Setup: []Step{svc("sid", "svc1")},
		Steps: []Step{{Method: "POST", Path: "/services/svc1/plugins",
			Form:   map[string][]string{"name": {"key-auth"}, "config.key_names[1]": {"apikey"}, "config.key_names[2]": {"key"}},
			Status: 201, JSON: obj{"name": "key-auth", "config.key_names": arr{"apikey", "key"}, "service.id": "{{sid}}"}}},
	},
	Case{
		Spec: specServices + ":545", Name: "references a Service by name with application/json",
		Setup: []Step{svc("sid", "svc1")},
		Steps: []Step{{Method: "POST", Path: "/services/svc1/plugins",
			Body:   obj{"name": "key-auth", "config": obj{"key_names": arr{"apikey", "key"}}},
			Status: 201, JSON: obj{"name": "key-auth", "config.key_names": arr{"apikey", "key"}, "service.id": "{{sid}}"}}},
	},
	contentTypes(Case{
		Spec: specServices + ":563", Name: "handles invalid plugin input",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "POST", Path: "/services/{{sid}}/plugins", Body: obj{}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (name: required field missing)",
				"fields": obj{"name": "required field missing"}}}}},
	}),
	contentTypes(Case{
		// Kong's spec uses basic-auth, which is not bundled; key-auth is the same case.
		Spec: specServices + ":587", Name: "returns 409 on conflict (same plugin name)",
		Setup: []Step{svc("sid"), post("/services/{{sid}}/plugins", obj{"name": "key-auth"})},
		Steps: []Step{{Method: "POST", Path: "/services/{{sid}}/plugins", Body: obj{"name": "key-auth"}, Status: 409,
			JSON: obj{".": obj{"code": 5, "name": "unique constraint violation",
				"fields":  obj{"consumer": nil, "name": "key-auth", "route": nil, "service": obj{"id": "{{sid}}"}},
				"message": `UNIQUE violation detected on '{consumer=null,name="key-auth",route=null,service={id="{{sid}}"}}'`}}}},
	}),
	Case{
		Spec: specServices + ":663", Name: "updates a plugin",
		Setup: []Step{svc("sid"), post("/routes", obj{"service": obj{"id": "{{sid}}"}, "hosts": arr{"example.test"}}),
			post("/services/{{sid}}/plugins", obj{"name": "key-auth"}, "pid")},
		Steps: []Step{
			{Method: "PATCH", Path: "/services/{{sid}}/plugins/{{pid}}", Body: obj{"enabled": false}, Status: 200, JSON: obj{"enabled": false}},
			get("/plugins/{{pid}}", 200, obj{"enabled": false}),
		},
	},
	Case{
		Spec: specServices + ":683", Name: "updates a plugin bis",
		Setup: []Step{svc("sid"), post("/routes", obj{"service": obj{"id": "{{sid}}"}, "hosts": arr{"example.test"}}),
			post("/services/{{sid}}/plugins", obj{"name": "key-auth"}, "pid")},
		Steps: []Step{
			{Method: "PATCH", Path: "/services/{{sid}}/plugins/{{pid}}", Status: 200, JSON: obj{"enabled": false},
				Body: obj{"id": "{{pid}}", "name": "key-auth", "enabled": false, "service": obj{"id": "{{sid}}"},
					"route": nil, "consumer": nil, "protocols": arr{"grpc", "grpcs", "http", "https"},
					"config": obj{"key_names": arr{"apikey"}, "hide_credentials": false, "anonymous": nil, "key_in_header": true,
						"key_in_query": true, "key_in_body": false, "run_on_preflight": true}}},
		},
	},
	Case{
		Spec: specServices + ":705", Name: "updates a plugin (removing foreign key reference)",
		Setup: []Step{svc("sid"), post("/services/{{sid}}/plugins", obj{"name": "key-auth"}, "pid")},
		Steps: []Step{
			{Method: "PATCH", Path: "/services/{{sid}}/plugins/{{pid}}", Body: obj{"service": nil}, Status: 200, JSON: obj{"service": nil}},
			get("/plugins/{{pid}}", 200, obj{"service": nil}),
		},
	},
	Case{
		Spec: specServices + ":726", Name: "handles invalid input (PATCH plugin)",
		Setup: []Step{svc("sid"), post("/routes", obj{"service": obj{"id": "{{sid}}"}, "hosts": arr{"example.test"}}),
			post("/services/{{sid}}/plugins", obj{"name": "key-auth", "config": obj{"key_names": arr{"testkey"}}}, "pid")},
		Steps: []Step{
			{Method: "PATCH", Path: "/services/{{sid}}/plugins/{{pid}}", Body: obj{"foo": "bar"}, Status: 400,
				JSON: obj{".": obj{"message": "schema violation (foo: unknown field)", "name": "schema violation",
					"fields": obj{"foo": "unknown field"}, "code": 2}}},
			get("/plugins/{{pid}}", 200, obj{"config.key_names": arr{"testkey"}}),
		},
	},
	Case{
		Spec: specServices + ":757", Name: "returns 404 if plugin not found",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "PATCH", Path: "/services/{{sid}}/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c", Body: obj{"enabled": false}, Status: 404}},
	},
	Case{
		Spec: specServices + ":771", Name: "retrieves the first page of plugins",
		Setup: []Step{svc("sid"), post("/plugins", obj{"name": "key-auth", "service": obj{"id": "{{sid}}"}})},
		Steps: []Step{get("/services/{{sid}}/plugins", 200, obj{"data.#": 1})},
	},
	Case{
		Spec: specServices + ":786", Name: "ignores an invalid body (GET plugins)",
		Setup: []Step{svc("sid")},
		Steps: []Step{invalidJSONBody("GET", "/services/{{sid}}/plugins", 200)},
	},
	Case{
		Spec: specServices + ":803", Name: "retrieves a plugin by id",
		Setup: []Step{svc("sid"), post("/services/{{sid}}/plugins", obj{"name": "key-auth"}, "pid")},
		Steps: []Step{get("/services/{{sid}}/plugins/{{pid}}", 200, obj{"id": "{{pid}}", "name": "key-auth", "service.id": "{{sid}}"})},
	},
	Case{
		Spec: specServices + ":814", Name: "retrieves a plugin by instance_name",
		Setup: []Step{svc("sid"), post("/services/{{sid}}/plugins", obj{"name": "key-auth", "instance_name": "name-1"}, "pid")},
		Steps: []Step{get("/services/{{sid}}/plugins/name-1", 200, obj{"id": "{{pid}}", "instance_name": "name-1"})},
	},
	Case{
		Spec: specServices + ":829", Name: "deletes a plugin by id",
		Setup: []Step{svc("sid"), post("/services/{{sid}}/plugins", obj{"name": "key-auth"}, "pid")},
		Steps: []Step{{Method: "DELETE", Path: "/services/{{sid}}/plugins/{{pid}}", Status: 204}, get("/plugins/{{pid}}", 404, nil)},
	},
	Case{
		Spec: specServices + ":841", Name: "deletes a plugin by instance_name",
		Setup: []Step{svc("sid"), post("/services/{{sid}}/plugins", obj{"name": "key-auth", "instance_name": "name-1"}, "pid")},
		Steps: []Step{{Method: "DELETE", Path: "/services/{{sid}}/plugins/name-1", Status: 204}, get("/plugins/{{pid}}", 404, nil)},
	},
	Case{
		Spec: specServices + ":858", Name: "handles malformed JSON body",
		Steps: []Step{{Method: "POST", Path: "/services", Raw: `{"hello": "world"`,
			Header: jsonHeader, Status: 400, BodyText: `{"message":"Cannot parse JSON body"}` + "\n"}},
	},
	contentTypes(Case{
		Spec: specServices + ":867", Name: "handles invalid input",
		Steps: []Step{
			{Method: "POST", Path: "/services", Body: obj{}, Status: 400, JSON: obj{"fields": obj{"host": "required field missing"}}},
			{Method: "POST", Path: "/services", Body: obj{"host": "example.test", "protocol": "foo"}, Status: 400,
				JSON: obj{"fields": obj{"protocol": "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"}}},
		},
	}),
	contentTypes(Case{
		Spec: specServices + ":894", Name: "handles invalid url ",
		Steps: []Step{{Method: "POST", Path: "/services", Body: obj{"url": "invalid url"}, Status: 400,
			JSON: obj{".": obj{"name": "schema violation", "code": 2,
				"message": "2 schema violations (host: required field missing; path: should start with: /)",
				"fields":  obj{"host": "required field missing", "path": "should start with: /"}}}}},
	}),
)
