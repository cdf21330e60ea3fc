package conformance

const specUpstreams = "spec/02-integration/04-admin_api/07-upstreams_routes_spec.lua"

var _ = register("upstreams", upstreamsCases)

const cookieChars = `contains one or more invalid characters. ASCII control characters (0-31;127), space, tab and the characters ()<>@,;:\"/?={}[] are not allowed.`
const badHeaderName = "bad header name 'not a <> valid <> header name', allowed characters are A-Z, a-z, 0-9, '_', and '-'"

func tenUpstreams() []Step {
	var s []Step
	for i := 0; i < 10; i++ {
		s = append(s, post("/upstreams", obj{"name": "upstream-" + string(rune('a'+i))}))
	}
	return s
}

var upstreamsCases = rows(
	contentTypes(Case{
		Spec: specUpstreams + ":43", Name: "creates an upstream with defaults",
		Steps: []Step{{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream"}, Status: 201,
			JSON: obj{"name": "my.upstream", "created_at": isNumber, "id": isUUID, "slots": 10000, "hash_on": "none",
				"hash_fallback": "none", "hash_on_header": nil, "hash_fallback_header": nil}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":61", Name: "creates an upstream without defaults",
		Steps: []Step{{Method: "POST", Path: "/upstreams", Status: 201,
			Body: obj{"name": "my.upstream", "slots": 10, "hash_on": "consumer", "hash_fallback": "ip",
				"hash_on_header": "HeaderName", "hash_fallback_header": "HeaderFallback"},
			JSON: obj{"name": "my.upstream", "slots": 10, "hash_on": "consumer", "hash_fallback": "ip",
				"hash_on_header": "HeaderName", "hash_fallback_header": "HeaderFallback"}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":88", Name: "creates an upstream with hash_on cookie parameters",
		Steps: []Step{{Method: "POST", Path: "/upstreams", Status: 201,
			Body: obj{"name": "my.upstream", "hash_on": "cookie", "hash_on_cookie": "CookieName1", "hash_on_cookie_path": "/foo"},
			JSON: obj{"name": "my.upstream", "hash_on": "cookie", "hash_on_cookie": "CookieName1", "hash_on_cookie_path": "/foo"}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":111", Name: "creates an upstream with 2 header hashes",
		Steps: []Step{{Method: "POST", Path: "/upstreams", Status: 201,
			Body: obj{"name": "my.upstream", "slots": 10, "hash_on": "header", "hash_fallback": "header",
				"hash_on_header": "HeaderName1", "hash_fallback_header": "HeaderName2"},
			JSON: obj{"slots": 10, "hash_on": "header", "hash_fallback": "header", "hash_on_header": "HeaderName1", "hash_fallback_header": "HeaderName2"}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":138", Name: "creates an upstream with 65536 slots",
		Steps: []Step{{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "slots": 65536}, Status: 201, JSON: obj{"slots": 65536}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":157", Name: "creates an upstream with host header",
		Steps: []Step{{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "host_header": "localhost"}, Status: 201,
			JSON: obj{"name": "my.upstream", "slots": 10000, "hash_on": "none", "hash_fallback": "none", "host_header": "localhost"}}},
	}),
	Case{
		Spec: specUpstreams + ":177", Name: "handles malformed JSON body",
		Steps: []Step{{Method: "POST", Path: "/upstreams", Raw: `{"hello": "world"`, Header: jsonHeader, Status: 400,
			BodyText: `{"message":"Cannot parse JSON body"}` + "\n"}},
	},
	contentTypes(Case{
		Spec: specUpstreams + ":187", Name: "handles invalid input",
		Steps: []Step{
			{Method: "POST", Path: "/upstreams", Body: obj{"slots": 50}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"name": "required field missing"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "some invalid host name"}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"name": "Invalid name ('some invalid host name'); must be a valid hostname"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "slots": 65537}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"slots": "value should be between 10 and 65536"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "something that is invalid"}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"hash_on": "expected one of: none, consumer, ip, header, cookie, path, query_arg, uri_capture"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "consumer", "hash_fallback": "something that is invalid"}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"@entity": arr{"failed conditional validation given value of field 'hash_on'"},
					"hash_fallback": "expected one of: none, ip, header, cookie, path, query_arg, uri_capture"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "consumer", "hash_fallback": "consumer"}, Status: 400,
				JSON: obj{"fields": obj{"@entity": arr{"failed conditional validation given value of field 'hash_on'"},
					"hash_fallback": "expected one of: none, ip, header, cookie, path, query_arg, uri_capture"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "header", "hash_fallback": "consumer", "hash_on_header": "not a <> valid <> header name"}, Status: 400,
				JSON: obj{"fields.hash_on_header": badHeaderName}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "consumer", "hash_fallback": "header", "hash_fallback_header": "not a <> valid <> header name"}, Status: 400,
				JSON: obj{"fields.hash_fallback_header": badHeaderName}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "header", "hash_fallback": "header", "hash_on_header": "headername", "hash_fallback_header": "headername"}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"@entity": arr{"values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'"}}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "cookie", "hash_on_cookie": "cookiename", "hash_fallback": "header", "hash_fallback_header": "Cool-Header"}, Status: 400,
				JSON: obj{"fields": obj{"@entity": arr{"failed conditional validation given value of field 'hash_on'"}, "hash_fallback": "expected one of: none"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "header", "hash_fallback": "header", "hash_fallback_header": "HeaderName"}, Status: 400,
				JSON: obj{"fields": obj{"@entity": arr{"failed conditional validation given value of field 'hash_on'"}, "hash_on_header": "required field missing"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "consumer", "hash_fallback": "header"}, Status: 400,
				JSON: obj{"fields": obj{"@entity": arr{"failed conditional validation given value of field 'hash_fallback'"}, "hash_fallback_header": "required field missing"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "cookie", "hash_on_cookie": "not a <> valid <> cookie name"}, Status: 400,
				JSON: obj{"fields.hash_on_cookie": cookieChars}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "cookie", "hash_on_cookie": "hashme", "hash_on_cookie_path": "not a path"}, Status: 400,
				JSON: obj{"fields": obj{"hash_on_cookie_path": "should start with: /"}}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "consumer", "hash_fallback": "cookie", "hash_on_cookie": "not a <> valid <> cookie name"}, Status: 400,
				JSON: obj{"fields.hash_on_cookie": cookieChars}},
			{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream", "hash_on": "consumer", "hash_fallback": "cookie", "hash_on_cookie": "my-cookie", "hash_on_cookie_path": "not a path"}, Status: 400,
				JSON: obj{"fields": obj{"hash_on_cookie_path": "should start with: /"}}},
		},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":462", Name: "returns 409 on conflict",
		Setup: []Step{post("/upstreams", obj{"name": "my.upstream"})},
		Steps: []Step{{Method: "POST", Path: "/upstreams", Body: obj{"name": "my.upstream"}, Status: 409,
			JSON: obj{"name": "unique constraint violation", "fields": obj{"name": "my.upstream"}}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":496", Name: "creates if not exists",
		Steps: []Step{{Method: "PUT", Path: "/upstreams/my-upstream", Body: obj{"created_at": 1461276890000}, Status: 200,
			JSON: obj{"name": "my-upstream", "created_at": isNumber, "id": isUUID, "slots": isNumber}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":514", Name: "replaces if exists",
		Setup: []Step{{Method: "POST", Path: "/upstreams", Body: obj{"name": "my-upstream", "slots": 100}, Save: map[string]string{"uid": "id", "created": "created_at"}}},
		Steps: []Step{{Method: "PUT", Path: "/upstreams/{{uid}}", Body: obj{"name": "my-new-upstream", "slots": 123, "created_at": NumVar("created")}, Status: 200,
			JSON: obj{"name": "my-new-upstream", "slots": 123, "id": "{{uid}}"}}},
	}),
	contentTypes(Case{
		Spec: specUpstreams + ":546", Name: "handles invalid input (PUT)",
		Steps: []Step{
			{Method: "PUT", Path: "/upstreams/00000000-0000-0000-0000-000000000001", Body: obj{}, Status: 400,
				JSON: obj{"message": "schema violation (name: required field missing)"}},
			{Method: "PUT", Path: "/upstreams/1.2.3.4", Body: obj{"created_at": 1461276890000}, Status: 400,
				JSON: obj{"message": "Invalid name ('1.2.3.4'); no ip addresses allowed"}},
		},
	}),
	Case{
		Spec: specUpstreams + ":584", Name: "retrieves the first page",
		Setup: tenUpstreams(),
		Steps: []Step{get("/upstreams", 200, obj{"data.#": 10})},
	},
	Case{
		Spec: specUpstreams + ":593", Name: "paginates a set",
		Setup: tenUpstreams(),
		Steps: []Step{
			{Path: "/upstreams?size=3", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o1": "offset", "first": "data.0.id"}},
			{Path: "/upstreams?size=3&offset={{o1}}", Status: 200, JSON: obj{"data.#": 3, "data.0.id": Not("{{first}}")}, Save: map[string]string{"o2": "offset"}},
			{Path: "/upstreams?size=3&offset={{o2}}", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o3": "offset"}},
			{Path: "/upstreams?size=3&offset={{o3}}", Status: 200, JSON: obj{"data.#": 1}},
		},
	},
	Case{
		Spec: specUpstreams + ":621", Name: "ignores filters",
		Setup: tenUpstreams(),
		Steps: []Step{get("/upstreams?foo=bar", 200, nil)},
	},
	Case{
		Spec: specUpstreams + ":629", Name: "ignores an invalid body",
		Steps: []Step{invalidJSONBody("GET", "/upstreams", 200)},
	},
	Case{
		Spec: specUpstreams + ":640", Name: "returns bad request for empty tags",
		Steps: []Step{
			get("/upstreams?tags", 400, obj{"message": "invalid option (tags: cannot be null)"}),
			get("/upstreams?tags=", 400, obj{"message": "invalid option (tags: cannot be null)"}),
		},
	},
	Case{
		Spec: specUpstreams + ":656", Name: "data property is an empty array",
		Steps: []Step{get("/upstreams", 200, obj{".": obj{"data": arr{}, "next": nil}})},
	},
	Case{
		Spec: specUpstreams + ":669", Name: "DELETE by id",
		Setup: []Step{post("/upstreams", obj{"name": "my-upstream", "slots": 100}, "uid")},
		Steps: []Step{{Method: "DELETE", Path: "/upstreams/{{uid}}", Status: 204}, get("/upstreams/{{uid}}", 404, nil)},
	},
	Case{
		Spec: specUpstreams + ":691", Name: "DELETE by name",
		Setup: []Step{post("/upstreams", obj{"name": "my-upstream", "slots": 100}, "uid")},
		Steps: []Step{{Method: "DELETE", Path: "/upstreams/my-upstream", Status: 204}, get("/upstreams/{{uid}}", 404, nil)},
	},
	Case{
		Spec: specUpstreams + ":713", Name: "after deleting its targets (regression test for #4317)",
		Setup: []Step{post("/upstreams", obj{"name": "my-upstream", "slots": 100}), post("/upstreams/my-upstream/targets", obj{"target": "127.0.0.1:8000"})},
		Steps: []Step{
			{Method: "DELETE", Path: "/upstreams/my-upstream/targets/127.0.0.1:8000", Header: jsonHeader, Status: 204},
			get("/upstreams/my-upstream", 200, nil),
			{Method: "DELETE", Path: "/upstreams/my-upstream", Status: 204},
		},
	},
	Case{
		Spec: specUpstreams + ":780", Name: "can delete an upstream with targets",
		Setup: []Step{post("/upstreams", obj{"name": "my-upstream", "slots": 100}), post("/upstreams/my-upstream/targets", obj{"target": "127.0.0.1:8000"})},
		Steps: []Step{{Method: "DELETE", Path: "/upstreams/my-upstream", Status: 204}, get("/upstreams/my-upstream", 404, nil)},
	},
	Case{
		Spec: specUpstreams + ":823", Name: "returns 405 on invalid method",
		Steps: []Step{{Method: "DELETE", Path: "/upstreams", Header: jsonHeader, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}}},
	},
	Case{
		Spec: specUpstreams + ":868", Name: "page size 1",
		Setup: []Step{post("/upstreams", obj{"name": "my-upstream", "slots": 100}), post("/upstreams", obj{"name": "my-upstream-2", "slots": 100}),
			post("/upstreams", obj{"name": "my-upstream-3", "slots": 100})},
		Steps: []Step{
			{Path: "/upstreams?size=1", Status: 200, JSON: obj{"data.#": 1, "offset": NotNull}, Save: map[string]string{"o": "offset"}},
			get("/upstreams?size=1&offset={{o}}", 200, obj{"data.#": 1, "offset": NotNull}),
			get("/upstreams?size=2", 200, obj{"data.#": 2, "offset": NotNull}),
		},
	},
)
