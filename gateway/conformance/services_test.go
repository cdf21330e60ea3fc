package conformance

import "net/http"

const specServices = "spec/02-integration/04-admin_api/10-services_routes_spec.lua"

var _ = register("services", servicesCases)

var servicesCases = rows(
	contentTypes(Case{
		Spec: specServices + ":53", Name: "creates a service",
		Steps: []Step{{Method: "POST", Path: "/services", Body: obj{"protocol": "http", "host": "service.test"},
			Status: 201, JSON: obj{"id": isUUID, "created_at": isNumber, "updated_at": isNumber, "name": nil,
				"protocol": "http", "host": "service.test", "port": 80,
				"connect_timeout": 60000, "write_timeout": 60000, "read_timeout": 60000}}},
	}),
	contentTypes(Case{
		Spec: specServices + ":78", Name: "creates a service with url",
		Steps: []Step{{Method: "POST", Path: "/services", Body: obj{"url": "http://service.test/"},
			Status: 201, JSON: obj{"id": isUUID, "name": nil, "protocol": "http", "host": "service.test",
				"path": "/", "port": 80, "connect_timeout": 60000, "write_timeout": 60000, "read_timeout": 60000}}},
	}),
	contentTypes(Case{
		Spec: specServices + ":102", Name: "'port' defaults to 443 when 'url' scheme is https",
		Steps: []Step{{Method: "POST", Path: "/services", Body: obj{"url": "https://service.test/"},
			Status: 201, JSON: obj{"protocol": "https", "host": "service.test", "path": "/", "port": 443}}},
	}),
	contentTypes(Case{
		Spec: specServices + ":126", Name: "client error with with empty url",
		Steps: []Step{{Method: "POST", Path: "/services", Body: obj{"url": ""}, Status: 400}},
	}),
	contentTypes(Case{
		Spec: specServices + ":138", Name: "client error with invalid url",
		Steps: []Step{{Method: "POST", Path: "/services", Body: obj{"url": " "}, Status: 400}},
	}),
	Case{
		Spec: specServices + ":162", Name: "retrieves the first page",
		Setup: tenServices(),
		Steps: []Step{{Path: "/services", Status: 200, JSON: obj{"data.#": 10}}},
	},
	Case{
		Spec: specServices + ":195", Name: "propagate in next a page size",
		Setup: tenServices(),
		Steps: []Step{
			{Path: "/services?size=3", Status: 200, Save: map[string]string{"off": "offset"}},
			{Path: "/services?size=3", Status: 200, JSON: obj{"next": Match(`^/services\?offset=[^&]+&size=3$`)}},
		},
	},
	Case{
		Spec: specServices + ":209", Name: "data property is an empty array and not an empty hash",
		Steps: []Step{{Path: "/services", Status: 200, BodyText: Contains(`"data":[]`),
			JSON: obj{".": obj{"data": arr{}, "next": nil}}}},
	},
	Case{
		Spec: specServices + ":219", Name: "handles invalid filters",
		Steps: []Step{{Path: "/services?foo=bar", Status: 200, JSON: obj{".": obj{"data": arr{}, "next": nil}}}},
	},
	Case{
		Spec: specServices + ":226", Name: "ignores an invalid body",
		Steps: []Step{{Path: "/services", Raw: "this fails if decoded as json",
			Header: http.Header{"Content-Type": {"application/json"}}, Status: 200}},
	},
	Case{
		Spec: specServices + ":433", Name: "deletes a service",
		Setup: []Step{{Method: "POST", Path: "/services", Body: obj{"host": "example.test"}, Save: map[string]string{"sid": "id"}}},
		Steps: []Step{
			{Method: "DELETE", Path: "/services/{{sid}}", Status: 204, BodyText: ""},
			{Path: "/services/{{sid}}", Status: 404},
		},
	},
	Case{
		Spec: "spec/02-integration/03-db/02-db_core_entities_spec.lua:2048", Name: ":delete() a Service is not allowed if a Route is associated to it (Admin API: deletes the service and its routes)",
		Differs: "Deleting a service deletes its routes (Kong: 400 code 4, an existing 'routes' entity references this 'services' entity)",
		Setup: []Step{
			{Method: "POST", Path: "/services", Body: obj{"name": "s", "url": "{{echo_url}}"}},
			{Method: "POST", Path: "/services/s/routes", Body: obj{"name": "r", "paths": arr{"/s"}}},
			// The proxy reaches the echo upstream through the route.
			{Path: "/s/hello", To: Proxy, Status: 200, JSON: obj{"path": "/hello"}, Seen: obj{"headers.x-forwarded-prefix": "/s"}},
		},
		Steps: []Step{
			{Method: "DELETE", Path: "/services/s", Status: 204},
			{Path: "/routes/r", Status: 404},
		},
	},
)

// tenServices creates ten named services, as bp.named_services:insert() ×10.
func tenServices() []Step {
	var s []Step
	for i := 0; i < 10; i++ {
		s = append(s, Step{Method: "POST", Path: "/services", Body: obj{"name": "service-" + string(rune('a'+i)), "host": "example.test"}})
	}
	return s
}
