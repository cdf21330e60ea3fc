package conformance

var _ = register("routes-nested", routesNestedCases)

// routeWithService creates a service (host example.com, path /, optionally
// named) and a route on it, saving sid and rid.
func routeWithService(routeName string, svcName string) []Step {
	sb := obj{"host": "example.com", "path": "/"}
	if svcName != "" {
		sb["name"] = svcName
	}
	rb := obj{"paths": arr{"/my-route"}, "service": obj{"id": "{{sid}}"}}
	if routeName != "" {
		rb["name"] = routeName
	}
	return []Step{post("/services", sb, "sid"), post("/routes", rb, "rid")}
}

var routesNestedCases = rows(
	Case{
		Spec: specRoutes + ":1322", Name: "retrieves by id (/routes/{route}/service)",
		Setup: routeWithService("", ""),
		Steps: []Step{get("/routes/{{rid}}/service", 200, obj{"id": "{{sid}}", "host": "example.com", "path": "/", "name": nil})},
	},
	Case{
		Spec: specRoutes + ":1333", Name: "retrieves by name (/routes/{route}/service)",
		Setup: routeWithService("my-get-route", ""),
		Steps: []Step{get("/routes/my-get-route/service", 200, obj{"id": "{{sid}}", "host": "example.com", "path": "/"})},
	},
	Case{
		Spec: specRoutes + ":1344", Name: "returns 404 if not found (/routes/{route}/service)",
		Steps: []Step{get("/routes/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55/service", 404, nil)},
	},
	Case{
		Spec: specRoutes + ":1349", Name: "returns 404 if not found by name (/routes/{route}/service)",
		Steps: []Step{get("/routes/my-in-existent-route/service", 404, nil)},
	},
	Case{
		Spec: specRoutes + ":1354", Name: "ignores an invalid body (/routes/{route}/service)",
		Setup: routeWithService("", ""),
		Steps: []Step{invalidJSONBody("GET", "/routes/{{rid}}/service", 200)},
	},
	contentTypes(Case{
		Spec: specRoutes + ":1368", Name: "updates if found (PATCH /routes/{route}/service)",
		Setup: routeWithService("", "svc-a"),
		Steps: []Step{
			{Method: "PATCH", Path: "/routes/{{rid}}/service", Body: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil}, Status: 200,
				JSON: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil, "id": "{{sid}}"}},
			get("/services/{{sid}}", 200, obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil}),
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1401", Name: "updates if found by name (PATCH /routes/{route}/service)",
		Setup: routeWithService("my-service-patch-route", "svc-a"),
		Steps: []Step{
			{Method: "PATCH", Path: "/routes/my-service-patch-route/service", Body: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil}, Status: 200,
				JSON: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil, "id": "{{sid}}"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1437", Name: "updates with url (PATCH /routes/{route}/service)",
		Setup: routeWithService("", ""),
		Steps: []Step{
			{Method: "PATCH", Path: "/routes/{{rid}}/service", Body: obj{"url": "http://edited2.test:1234/foo"}, Status: 200,
				JSON: obj{"host": "edited2.test", "port": 1234, "path": "/foo", "id": "{{sid}}"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1462", Name: "returns 404 if not found (PATCH /routes/{route}/service)",
		Steps: []Step{{Method: "PATCH", Path: "/routes/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55/service",
			Body: obj{"name": "edited", "host": "edited.test", "path": nil}, Status: 404}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1478", Name: "handles invalid input (PATCH /routes/{route}/service)",
		Setup: routeWithService("", ""),
		Steps: []Step{{Method: "PATCH", Path: "/routes/{{rid}}/service", Body: obj{"connect_timeout": "foobar"}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (connect_timeout: expected an integer)",
				"fields": obj{"connect_timeout": "expected an integer"}}}}},
	}),
	Case{
		Spec: specRoutes + ":1506", Name: "returns HTTP 405 when trying to delete a service that is referenced",
		Setup: routeWithService("", ""),
		Steps: []Step{
			{Method: "DELETE", Path: "/routes/{{rid}}/service", Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
			// Nothing was deleted: neither the service nor its route.
			get("/services/{{sid}}", 200, nil),
			get("/routes/{{rid}}", 200, nil),
		},
	},
	Case{
		Spec: specRoutes + ":1513", Name: "returns HTTP 404 with non-existing route",
		Steps: []Step{{Method: "DELETE", Path: "/routes/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55/service", Status: 404}},
	},
	Case{
		Spec: specRoutes + ":1518", Name: "returns HTTP 404 with non-existing route by name",
		Steps: []Step{{Method: "DELETE", Path: "/routes/in-existent-route/service", Status: 404}},
	},
	contentTypes(Case{
		Spec: specRoutes + ":1527", Name: "creates if not found (PUT /routes/{route}/service)",
		Setup: routeWithService("", ""),
		Steps: []Step{
			{Method: "PUT", Path: "/routes/{{rid}}/service", Body: obj{"url": "http://konghq.test"}, Status: 200, JSON: obj{"host": "konghq.test"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1552", Name: "updates if found (PUT /routes/{route}/service)",
		Setup: routeWithService("", "svc-a"),
		Steps: []Step{
			{Method: "PUT", Path: "/routes/{{rid}}/service", Body: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil}, Status: 200,
				JSON: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil, "id": "{{sid}}"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1585", Name: "updates if found by name (PUT /routes/{route}/service)",
		Setup: routeWithService("my-service-patch-route", "svc-a"),
		Steps: []Step{
			{Method: "PUT", Path: "/routes/my-service-patch-route/service", Body: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil}, Status: 200,
				JSON: obj{"name": "name-svc-a", "host": "edited-example.com", "path": nil, "id": "{{sid}}"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1621", Name: "updates with url (PUT /routes/{route}/service)",
		Setup: routeWithService("", ""),
		Steps: []Step{
			{Method: "PUT", Path: "/routes/{{rid}}/service", Body: obj{"url": "http://edited2.test:1234/foo"}, Status: 200,
				JSON: obj{"host": "edited2.test", "port": 1234, "path": "/foo", "id": "{{sid}}"}},
		},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1646", Name: "returns 404 if not found (PUT /routes/{route}/service)",
		Steps: []Step{{Method: "PUT", Path: "/routes/4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55/service",
			Body: obj{"name": "edited", "host": "edited.test", "path": nil}, Status: 404}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":1662", Name: "handles invalid input (PUT /routes/{route}/service)",
		Setup: routeWithService("", ""),
		Steps: []Step{{Method: "PUT", Path: "/routes/{{rid}}/service", Body: obj{"connect_timeout": "foobar"}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation",
				"message": "2 schema violations (connect_timeout: expected an integer; host: required field missing)",
				"fields":  obj{"connect_timeout": "expected an integer", "host": "required field missing"}}}}},
	}),
	Case{
		Spec: specRoutes + ":1691", Name: "creates a plugin config on a Route with application/x-www-form-urlencoded",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "POST", Path: "/routes/{{rid}}/plugins",
			Form:   map[string][]string{"name": {"key-auth"}, "config.key_names[1]": {"apikey"}, "config.key_names[2]": {"key"}},
			Status: 201, JSON: obj{"name": "key-auth", "config.key_names": arr{"apikey", "key"}, "route.id": "{{rid}}"}}},
	},
	Case{
		Spec: specRoutes + ":1691", Name: "creates a plugin config on a Route with application/json",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "POST", Path: "/routes/{{rid}}/plugins",
			Body:   obj{"name": "key-auth", "config": obj{"key_names": arr{"apikey", "key"}}},
			Status: 201, JSON: obj{"name": "key-auth", "config.key_names": arr{"apikey", "key"}, "route.id": "{{rid}}"}}},
	},
	contentTypes(Case{
		Spec: specRoutes + ":1726", Name: "handles invalid input (POST /routes/{route}/plugins)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{{Method: "POST", Path: "/routes/{{rid}}/plugins", Body: obj{}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "message": "schema violation (name: required field missing)",
				"fields": obj{"name": "required field missing"}}}}},
	}),
	contentTypes(Case{
		// Kong's spec uses basic-auth, which is not bundled; key-auth is the same case.
		Spec: specRoutes + ":1748", Name: "returns 409 on conflict (same plugin name)",
		Setup: append(route("rid", obj{"paths": arr{"/my-route"}}), post("/routes/{{rid}}/plugins", obj{"name": "key-auth"})),
		Steps: []Step{{Method: "POST", Path: "/routes/{{rid}}/plugins", Body: obj{"name": "key-auth"}, Status: 409,
			JSON: obj{".": obj{"code": 5, "name": "unique constraint violation",
				"fields":  obj{"consumer": nil, "name": "key-auth", "route": obj{"id": "{{rid}}"}, "service": nil},
				"message": `UNIQUE violation detected on '{consumer=null,name="key-auth",route={id="{{rid}}"},service=null}'`}}}},
	}),
	Case{
		Spec: specRoutes + ":1834", Name: "retrieves the first page (/routes/{route}/plugins)",
		Setup: append(route("rid", obj{"paths": arr{"/my-route"}}), post("/plugins", obj{"name": "key-auth", "route": obj{"id": "{{rid}}"}})),
		Steps: []Step{get("/routes/{{rid}}/plugins", 200, obj{"data.#": 1})},
	},
	Case{
		Spec: specRoutes + ":1849", Name: "retrieves the first page by name (/routes/{route}/plugins)",
		Setup: append(route("rid", obj{"name": "my-plugins-route", "paths": arr{"/my-route"}}), post("/plugins", obj{"name": "key-auth", "route": obj{"id": "{{rid}}"}})),
		Steps: []Step{get("/routes/my-plugins-route/plugins", 200, obj{"data.#": 1})},
	},
	Case{
		Spec: specRoutes + ":1866", Name: "ignores an invalid body (/routes/{route}/plugins)",
		Setup: route("rid", obj{"paths": arr{"/my-route"}}),
		Steps: []Step{invalidJSONBody("GET", "/routes/{{rid}}/plugins", 200)},
	},
	Case{
		Spec: specRoutes + ":1883", Name: "retrieves a plugin by id (/routes/{route}/plugins/{plugin})",
		Setup: append(route("rid", obj{"hosts": arr{"example.test"}}), post("/routes/{{rid}}/plugins", obj{"name": "key-auth"}, "pid")),
		Steps: []Step{get("/routes/{{rid}}/plugins/{{pid}}", 200, obj{"id": "{{pid}}", "route.id": "{{rid}}", "name": "key-auth"})},
	},
	Case{
		Spec: specRoutes + ":1898", Name: "retrieves a plugin by instance_name (/routes/{route}/plugins/{plugin})",
		Setup: append(route("rid", obj{"hosts": arr{"example.test"}}), post("/routes/{{rid}}/plugins", obj{"name": "key-auth", "instance_name": "name-x"}, "pid")),
		Steps: []Step{get("/routes/{{rid}}/plugins/name-x", 200, obj{"id": "{{pid}}", "instance_name": "name-x"})},
	},
	Case{
		Spec: specRoutes + ":1917", Name: "deletes a plugin by id (/routes/{route}/plugins/{plugin})",
		Setup: append(route("rid", obj{"paths": arr{"/route-x"}}), post("/routes/{{rid}}/plugins", obj{"name": "key-auth"}, "pid")),
		Steps: []Step{{Method: "DELETE", Path: "/routes/{{rid}}/plugins/{{pid}}", Status: 204}, get("/plugins/{{pid}}", 404, nil)},
	},
	Case{
		Spec: specRoutes + ":1929", Name: "deletes a plugin by instance_name (/routes/{route}/plugins/{plugin})",
		Setup: append(route("rid", obj{"paths": arr{"/route-x"}}), post("/routes/{{rid}}/plugins", obj{"name": "key-auth", "instance_name": "name-x"}, "pid")),
		Steps: []Step{{Method: "DELETE", Path: "/routes/{{rid}}/plugins/name-x", Status: 204}, get("/plugins/{{pid}}", 404, nil)},
	},
	Case{Spec: specRoutes + ":1983", Name: "Admin API Override: creates a route", Skip: "custom Admin API endpoints from plugins (api-override fixture plugin)"},
	Case{Spec: specRoutes + ":2025", Name: "Admin API Override: retrieves the first page", Skip: "custom Admin API endpoints from plugins (api-override fixture plugin)"},
)
