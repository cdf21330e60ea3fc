package conformance

import "net/http"

const specRoutes = "spec/02-integration/04-admin_api/09-routes_routes_spec.lua"

var _ = register("routes", routesCases)

// route creates a route with the given paths on a fresh service (as Kong's
// bp.routes:insert does), saving the route's id under v and the service's
// under v+"_svc".
func route(v string, body obj) []Step {
	b := obj{"service": obj{"id": "{{" + v + "_svc}}"}}
	for k, x := range body {
		b[k] = x
	}
	return []Step{post("/services", obj{"host": "example.test"}, v+"_svc"), post("/routes", b, v)}
}

const protocolsOneOf = "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"

const mustSetHTTPS = "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"

var routesCases = rows(
	Case{
		Spec: specRoutes + ":53", Name: "returns allow and CORS headers with OPTIONS method (/routes)",
		Steps: []Step{{Method: "OPTIONS", Path: "/routes", Status: 204, BodyText: "",
			Headers: obj{"Allow": "GET, HEAD, OPTIONS, POST", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS, POST",
				"Access-Control-Allow-Headers": "Content-Type", "Access-Control-Allow-Origin": "*", "X-Kong-Admin-Latency": NotNull}}},
	},
	contentTypes(Case{
		Spec: specRoutes + ":69", Name: "creates a route",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"http"}, "hosts": arr{"my.route.test"}, "headers": obj{"location": arr{"my-location"}}, "service": obj{"id": "{{sid}}"}},
			JSON: obj{"hosts": arr{"my.route.test"}, "headers": obj{"location": arr{"my-location"}}, "created_at": isNumber,
				"regex_priority": isNumber, "id": isUUID, "name": nil, "paths": nil, "preserve_host": false, "strip_path": true}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":99", Name: "creates a route #grpc",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"grpc", "grpcs"}, "hosts": arr{"my.route.test"}, "service": obj{"id": "{{sid}}"}},
			JSON: obj{"hosts": arr{"my.route.test"}, "created_at": isNumber, "regex_priority": isNumber, "id": isUUID,
				"name": nil, "paths": nil, "preserve_host": false, "strip_path": false, "protocols": arr{"grpc", "grpcs"}}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":128", Name: "creates a route without service",
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"http"}, "hosts": arr{"my.route.test"}},
			JSON: obj{"hosts": arr{"my.route.test"}, "id": isUUID, "name": nil, "paths": nil, "service": nil,
				"preserve_host": false, "strip_path": true}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":185", Name: "creates a complex route",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"http"}, "methods": arr{"GET", "POST", "PATCH"}, "hosts": arr{"foo.api.test", "bar.api.test"},
				"paths": arr{"/foo", "/bar"}, "service": obj{"id": "{{sid}}"}},
			JSON: obj{"hosts": arr{"foo.api.test", "bar.api.test"}, "paths": arr{"/foo", "/bar"},
				"methods": arr{"GET", "POST", "PATCH"}, "service.id": "{{sid}}"}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":240", Name: "creates a complex route by referencing a service by name",
		Setup: []Step{svc("sid", "named-svc")},
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"http"}, "methods": arr{"GET", "POST", "PATCH"}, "hosts": arr{"foo.api.test", "bar.api.test"},
				"paths": arr{"/foo", "/bar"}, "service": obj{"name": "named-svc"}},
			JSON: obj{"hosts": arr{"foo.api.test", "bar.api.test"}, "paths": arr{"/foo", "/bar"},
				"methods": arr{"GET", "POST", "PATCH"}, "service.id": "{{sid}}"}}},
	}),
	Case{
		Spec: specRoutes + ":296", Name: "handles malformed JSON body (POST /routes)",
		Steps: []Step{{Method: "POST", Path: "/routes", Raw: `{"hello": "world"`, Header: jsonHeader, Status: 400,
			BodyText: `{"message":"Cannot parse JSON body"}` + "\n"}},
	},
	contentTypes(Case{
		Spec: specRoutes + ":305", Name: "handles invalid input (POST /routes)",
		Steps: []Step{
			{Method: "POST", Path: "/routes", Body: obj{}, Status: 400, JSON: obj{".": obj{"code": 2, "name": "schema violation",
				"message": "schema violation (" + mustSetHTTPS + ")", "fields": obj{"@entity": arr{mustSetHTTPS}}}}},
			{Method: "POST", Path: "/routes", Body: obj{"protocols": arr{"https"}}, Status: 400, JSON: obj{".": obj{"code": 2, "name": "schema violation",
				"message": "schema violation (" + mustSetHTTPS + ")", "fields": obj{"@entity": arr{mustSetHTTPS}}}}},
			{Method: "POST", Path: "/routes", Body: obj{"methods": arr{"GET"}, "protocols": arr{"foo", "http"}}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (protocols.1: " + protocolsOneOf + ")",
					"fields": obj{"protocols": arr{protocolsOneOf}}}}},
			{Method: "POST", Path: "/routes", Body: obj{"methods": arr{"GET"}, "protocols": arr{"foo", "http"}, "service": obj{"protocol": "foo"}}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation",
					"message": "2 schema violations (protocols.1: " + protocolsOneOf + "; service.protocol: " + protocolsOneOf + ")",
					"fields":  obj{"protocols": arr{protocolsOneOf}, "service": obj{"protocol": protocolsOneOf}}}}},
			{Method: "POST", Path: "/routes", Body: obj{"methods": arr{"GET"}, "service": obj{"name": "non-existing"}}, Status: 400,
				JSON: obj{".": obj{"code": 13, "name": "foreign keys unresolved",
					"message": `foreign key unresolved (service.name: the foreign key cannot be resolved with '{name="non-existing"}' for an existing 'services' entity)`,
					"fields":  obj{"service": obj{"name": `the foreign key cannot be resolved with '{name="non-existing"}' for an existing 'services' entity`}}}}},
			{Method: "POST", Path: "/routes", Body: obj{"methods": arr{"GET"}, "service": obj{"protocol": "http"}}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (service.id: missing primary key)",
					"fields": obj{"service": obj{"id": "missing primary key"}}}}},
		},
	}),
	Case{
		Spec: specRoutes + ":305", Name: "handles invalid input (POST /routes): service.name null with application/json",
		Steps: []Step{{Method: "POST", Path: "/routes", Body: obj{"methods": arr{"GET"}, "service": obj{"name": nil}}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (service.id: missing primary key)",
				"fields": obj{"service": obj{"id": "missing primary key"}}}}}},
	},
	Case{
		Spec: specRoutes + ":305", Name: "handles invalid input (POST /routes): service.name empty with application/www-form-urlencoded",
		Steps: []Step{{Method: "POST", Path: "/routes", Form: map[string][]string{"methods[]": {"GET"}, "service.name": {""}}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (service.id: missing primary key)",
				"fields": obj{"service": obj{"id": "missing primary key"}}}}}},
	},
	Case{
		Spec: specRoutes + ":476", Name: "retrieves the first page",
		Setup: tenRoutes(),
		Steps: []Step{get("/routes", 200, obj{"data.#": 10})},
	},
	Case{
		Spec: specRoutes + ":486", Name: "paginates a set",
		Setup: tenRoutes(),
		Steps: []Step{
			{Path: "/routes?size=3", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o1": "offset", "first": "data.0.id"}},
			{Path: "/routes?size=3&offset={{o1}}", Status: 200, JSON: obj{"data.#": 3, "data.0.id": Not("{{first}}")}, Save: map[string]string{"o2": "offset"}},
			{Path: "/routes?size=3&offset={{o2}}", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o3": "offset"}},
			{Path: "/routes?size=3&offset={{o3}}", Status: 200, JSON: obj{"data.#": 1}},
		},
	},
	Case{
		Spec: specRoutes + ":520", Name: "data property is an empty array and not an empty hash",
		Steps: []Step{{Path: "/routes", Status: 200, BodyText: Contains(`"data":[]`), JSON: obj{".": obj{"data": arr{}, "next": nil}}}},
	},
	Case{
		Spec: specRoutes + ":533", Name: "handles invalid filters",
		Steps: []Step{get("/routes?foo=bar", 200, obj{".": obj{"data": arr{}, "next": nil}})},
	},
	Case{
		Spec: specRoutes + ":544", Name: "handles invalid size",
		Steps: []Step{
			get("/routes?size=x", 400, obj{".": obj{"code": 9, "name": "invalid size", "message": "size must be a number"}}),
			get("/routes?size=potato", 400, obj{"code": 9, "name": "invalid size"}),
		},
	},
	Case{
		Spec: specRoutes + ":565", Name: "handles invalid offsets",
		Steps: []Step{
			get("/routes?offset=x", 400, obj{".": obj{"code": 7, "name": "invalid offset", "message": "'x' is not a valid offset: bad base64 encoding"}}),
			get("/routes?offset=%7Cpotato%7C", 400, obj{"code": 7, "name": "invalid offset"}),
		},
	},
	Case{
		Spec: specRoutes + ":586", Name: "ignores an invalid body",
		Steps: []Step{invalidJSONBody("GET", "/routes", 200)},
	},
	Case{
		Spec: specRoutes + ":600", Name: "returns HTTP 405 on invalid method",
		Steps: []Step{
			{Method: "DELETE", Path: "/routes", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
			{Method: "PUT", Path: "/routes", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
			{Method: "PATCH", Path: "/routes", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
		},
	},
	Case{
		Spec: specRoutes + ":620", Name: "returns allow and CORS headers with OPTIONS method (/routes/{route})",
		Steps: []Step{{Method: "OPTIONS", Path: "/routes/test", Status: 204, BodyText: "",
			Headers: obj{"Allow": "DELETE, GET, HEAD, OPTIONS, PATCH, PUT", "Access-Control-Allow-Methods": "DELETE, GET, HEAD, OPTIONS, PATCH, PUT",
				"Access-Control-Allow-Headers": "Content-Type", "Access-Control-Allow-Origin": "*", "X-Kong-Admin-Latency": NotNull}}},
	},
	Case{
		Spec: specRoutes + ":637", Name: "retrieves by id",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{get("/routes/{{rid}}", 200, obj{"id": "{{rid}}", "paths": arr{"/my-route"}, "service": obj{"id": "{{rid_svc}}"},
			"protocols": arr{"http", "https"}, "methods": nil, "hosts": nil, "headers": nil, "snis": nil, "sources": nil, "destinations": nil,
			"strip_path": true, "preserve_host": false, "regex_priority": 0, "path_handling": "v0",
			"https_redirect_status_code": 426, "request_buffering": true, "response_buffering": true, "tags": nil, "name": nil})},
	},
	Case{
		Spec: specRoutes + ":646", Name: "retrieves by name",
		Setup: route("rid", obj{"name": "my-route", "paths": arr{"/my-route"}}),
		Steps: []Step{get("/routes/my-route", 200, obj{"id": "{{rid}}", "name": "my-route"})},
	},
	Case{
		Spec: specRoutes + ":655", Name: "retrieves by utf-8 name and percent-escaped utf-8 name",
		Setup: route("rid", obj{"name": "円", "paths": arr{"/my-route"}}),
		Steps: []Step{get("/routes/円", 200, obj{"id": "{{rid}}"}), get("/routes/%E5%86%86", 200, obj{"id": "{{rid}}", "name": "円"})},
	},
	Case{
		Spec: specRoutes + ":670", Name: "returns 404 if not found",
		Steps: []Step{get("/routes/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55", 404, nil)},
	},
	Case{
		Spec: specRoutes + ":675", Name: "returns 404 if not found by name",
		Steps: []Step{get("/routes/my-in-existent-route", 404, nil)},
	},
	Case{
		Spec: specRoutes + ":680", Name: "ignores an invalid body (GET by id)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{invalidJSONBody("GET", "/routes/{{rid}}", 200)},
	},
	Case{
		Spec: specRoutes + ":691", Name: "ignores an invalid body by name",
		Setup: route("rid", obj{"name": "r1", "paths": arr{"/my-route"}}),
		Steps: []Step{invalidJSONBody("GET", "/routes/r1", 200)},
	},
	contentTypes(Case{
		Spec: specRoutes + ":704", Name: "creates if not found (PUT)",
		Setup: []Step{svc("sid")},
		Steps: []Step{
			{Method: "PUT", Path: "/routes/1d0a5d14-2ad9-4bde-bb0b-b1b3bd7bd2ac", Body: obj{"paths": arr{"/updated-paths"}, "service": obj{"id": "{{sid}}"}},
				Status: 200, JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "id": "1d0a5d14-2ad9-4bde-bb0b-b1b3bd7bd2ac"}},
			get("/routes/1d0a5d14-2ad9-4bde-bb0b-b1b3bd7bd2ac", 200, obj{"paths": arr{"/updated-paths"}, "service.id": "{{sid}}"}),
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":734", Name: "creates without service if not found (PUT)",
		Steps: []Step{
			{Method: "PUT", Path: "/routes/1d0a5d14-2ad9-4bde-bb0b-b1b3bd7bd2ac", Body: obj{"paths": arr{"/updated-paths"}},
				Status: 200, JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "service": nil, "id": "1d0a5d14-2ad9-4bde-bb0b-b1b3bd7bd2ac"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":763", Name: "creates if not found by name (PUT)",
		Setup: []Step{svc("sid")},
		Steps: []Step{
			{Method: "PUT", Path: "/routes/my-route", Body: obj{"paths": arr{"/updated-paths"}, "service": obj{"id": "{{sid}}"}},
				Status: 200, JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "name": "my-route"}},
			get("/routes/my-route", 200, obj{"paths": arr{"/updated-paths"}}),
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":793", Name: "updates if found (PUT)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}, "hosts": arr{"h.test"}}),
		Steps: []Step{
			{Method: "PUT", Path: "/routes/{{rid}}", Body: obj{"paths": arr{"/updated-paths"}, "service": obj{"id": "{{rid_svc}}"}},
				Status: 200, JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "id": "{{rid}}"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":822", Name: "updates if found by name (PUT)",
		Setup: route("rid", obj{"name": "my-put-route", "paths": arr{"/my-route"}}),
		Steps: []Step{
			{Method: "PUT", Path: "/routes/my-put-route", Body: obj{"paths": arr{"/updated-paths"}, "service": obj{"id": "{{rid_svc}}"}},
				Status: 200, JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "id": "{{rid}}", "name": "my-put-route"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":857", Name: "handles same parameter in url and params gracefully",
		Steps: []Step{{Method: "PUT", Path: "/routes/my-put-route", Status: 400,
			Body: obj{"routes": obj{"test": arr{obj{"test": "test"}}}, "tags": "test"}}},
	}),
	Case{
		Spec: specRoutes + ":880", Name: "handles malformed JSON body (PUT)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "PUT", Path: "/routes/{{rid}}", Raw: `{"hello": "world"`, Header: jsonHeader, Status: 400,
			BodyText: `{"message":"Cannot parse JSON body"}` + "\n"}},
	},
	contentTypes(Case{
		Spec: specRoutes + ":891", Name: "handles invalid input (PUT)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{
			{Method: "PUT", Path: "/routes/0b0a5d14-2ad9-4bde-bb0b-b1b3bd7bd2ac", Body: obj{}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (" + mustSetHTTPS + ")",
					"fields": obj{"@entity": arr{mustSetHTTPS}}}}},
			{Method: "PUT", Path: "/routes/0b0a5d14-2ad9-4bde-bb0b-b1b3bd7bd2ac", Body: obj{"methods": arr{"GET"}, "protocols": arr{"foo", "http"}}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (protocols.1: " + protocolsOneOf + ")",
					"fields": obj{"protocols": arr{protocolsOneOf}}}}},
			{Method: "PUT", Path: "/routes/{{rid}}", Body: obj{"service": obj{"id": "{{rid_svc}}"}, "paths": arr{"/"}, "regex_priority": "foobar"}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (regex_priority: expected an integer)",
					"fields": obj{"regex_priority": "expected an integer"}}}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":960", Name: "handles invalid input #grpc",
		Steps: []Step{
			{Method: "POST", Path: "/routes", Body: obj{"protocols": arr{"grpc", "grpcs"}}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation",
					"message": "schema violation (must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs')",
					"fields":  obj{"@entity": arr{"must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs'"}}}}},
			{Method: "POST", Path: "/routes", Body: obj{"protocols": arr{"grpc", "grpcs"}, "paths": arr{"/"}, "strip_path": true}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation",
					"message": "schema violation (strip_path: cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs')",
					"fields":  obj{"strip_path": "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"}}}},
			{Method: "POST", Path: "/routes", Body: obj{"protocols": arr{"grpc", "grpcs"}, "paths": arr{"/"}, "methods": arr{"GET"}}, Status: 400,
				JSON: obj{".": obj{"code": 2, "name": "schema violation",
					"message": "schema violation (methods: cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs')",
					"fields":  obj{"methods": "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"}}}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1036", Name: "updates if found (PATCH)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{
			{Method: "PATCH", Path: "/routes/{{rid}}", Body: obj{"methods": nil, "hosts": nil, "paths": arr{"/updated-paths"}}, Status: 200,
				JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "id": "{{rid}}"}},
			get("/routes/{{rid}}", 200, obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil}),
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1066", Name: "updates if found by name (PATCH)",
		Setup: route("rid", obj{"name": "my-patch-route", "paths": arr{"/my-route"}}),
		Steps: []Step{
			{Method: "PATCH", Path: "/routes/my-patch-route", Body: obj{"methods": nil, "hosts": nil, "paths": arr{"/updated-paths"}}, Status: 200,
				JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "id": "{{rid}}"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1101", Name: "updates strip_path if not previously set",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "PATCH", Path: "/routes/{{rid}}", Body: obj{"strip_path": true}, Status: 200, JSON: obj{"strip_path": true, "id": "{{rid}}"}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1122", Name: "updates multiple fields at once",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "PATCH", Path: "/routes/{{rid}}", Body: obj{"methods": nil, "paths": arr{"/my-updated-path"}, "hosts": arr{"my-updated.tld"}}, Status: 200,
			JSON: obj{"paths": arr{"/my-updated-path"}, "hosts": arr{"my-updated.tld"}, "methods": nil, "id": "{{rid}}"}}},
	}),
	Case{
		Spec: specRoutes + ":1152", Name: "with application/json removes optional field with ngx.null",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "PATCH", Path: "/routes/{{rid}}", Body: obj{"methods": nil, "paths": nil, "hosts": arr{"my-updated.tld"}}, Status: 200,
			JSON: obj{"paths": nil, "hosts": arr{"my-updated.tld"}, "methods": nil, "id": "{{rid}}"}}},
	},
	Case{
		Spec: specRoutes + ":1175", Name: "allows updating sets and arrays with en empty array",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "PATCH", Path: "/routes/{{rid}}", Body: obj{"methods": arr{}, "paths": arr{}, "hosts": arr{"my-updated.tld"}}, Status: 200,
			BodyText: Match(`"methods":\[\]`), JSON: obj{"paths": arr{}, "methods": arr{}, "hosts": arr{"my-updated.tld"}, "id": "{{rid}}"}}},
	},
	contentTypes(Case{
		Spec: specRoutes + ":1200", Name: "removes service association",
		Setup: route("rid", obj{"name": "my-patch-route", "paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "PATCH", Path: "/routes/my-patch-route", Body: obj{"methods": nil, "hosts": nil, "service": nil, "paths": arr{"/updated-paths"}}, Status: 200,
			JSON: obj{"paths": arr{"/updated-paths"}, "hosts": nil, "methods": nil, "service": nil, "id": "{{rid}}"}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1238", Name: "returns 404 if not found (PATCH)",
		Steps: []Step{{Method: "PATCH", Path: "/routes/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55", Body: obj{"methods": nil, "hosts": nil, "paths": arr{"/my-updated-path"}}, Status: 404}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1259", Name: "handles invalid input (PATCH)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "PATCH", Path: "/routes/{{rid}}", Body: obj{"regex_priority": "foobar"}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (regex_priority: expected an integer)",
				"fields": obj{"regex_priority": "expected an integer"}}}}},
	}),
	Case{
		Spec: specRoutes + ":1285", Name: "deletes a route",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "DELETE", Path: "/routes/{{rid}}", Status: 204, BodyText: ""}, get("/routes/{{rid}}", 404, nil)},
	},
	Case{
		Spec: specRoutes + ":1296", Name: "deletes a route by name",
		Setup: route("rid", obj{"name": "my-delete-route", "paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "DELETE", Path: "/routes/my-delete-route", Status: 204, BodyText: ""}, get("/routes/{{rid}}", 404, nil)},
	},
	Case{
		Spec: specRoutes + ":1311", Name: "returns HTTP 204 even if not found",
		Steps: []Step{{Method: "DELETE", Path: "/routes/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55", Status: 204}},
	},
)

func tenRoutes() []Step {
	var s []Step
	for i := 1; i <= 10; i++ {
		s = append(s, post("/routes", obj{"paths": arr{"/route-" + string(rune('0'+i%10))}}))
	}
	return s
}

var _ = http.MethodGet
