package conformance

var _ = register("routes-grpc", routesGRPCCases)

// The #grpc variants of 09-routes_routes_spec.lua's POST /routes cases: the
// Admin API accepts and validates grpc routes (the proxy does not serve gRPC).
var routesGRPCCases = rows(
	contentTypes(Case{
		Spec: specRoutes + ":156", Name: "creates a route without service #grpc",
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"grpc", "grpcs"}, "hosts": arr{"my.route.test"}},
			JSON: obj{"hosts": arr{"my.route.test"}, "created_at": isNumber, "regex_priority": isNumber, "id": isUUID, "name": nil,
				"paths": nil, "service": nil, "preserve_host": false, "strip_path": false, "protocols": arr{"grpc", "grpcs"}}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":213", Name: "creates a complex route #grpc",
		Setup: []Step{svc("sid")},
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"grpc", "grpcs"}, "hosts": arr{"foo.api.test", "bar.api.test"}, "paths": arr{"/foo", "/bar"}, "service": obj{"id": "{{sid}}"}},
			JSON: obj{"hosts": arr{"foo.api.test", "bar.api.test"}, "paths": arr{"/foo", "/bar"}, "service.id": "{{sid}}", "protocols": arr{"grpc", "grpcs"}}}},
	}),
	contentTypes(Case{
		Spec: specRoutes + ":268", Name: "creates a complex route by referencing a service by name #grpc",
		Setup: []Step{svc("sid", "named-svc")},
		Steps: []Step{{Method: "POST", Path: "/routes", Status: 201,
			Body: obj{"protocols": arr{"grpc", "grpcs"}, "hosts": arr{"foo.api.test", "bar.api.test"}, "paths": arr{"/foo", "/bar"}, "service": obj{"name": "named-svc"}},
			JSON: obj{"hosts": arr{"foo.api.test", "bar.api.test"}, "paths": arr{"/foo", "/bar"}, "service.id": "{{sid}}", "protocols": arr{"grpc", "grpcs"}}}},
	}),
)
