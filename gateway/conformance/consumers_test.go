package conformance

import "net/http"

const specConsumers = "spec/02-integration/04-admin_api/03-consumers_routes_spec.lua"

var _ = register("consumers", consumersCases)

// consumer creates a consumer as Kong's bp.consumers:insert() does
// (username consumer-N, custom_id consumer-id-N), saving its id under v.
func consumer(v string, n string) Step {
	return post("/consumers", obj{"username": "consumer-" + n, "custom_id": "consumer-id-" + n}, v)
}

func tenConsumers() []Step {
	var s []Step
	for i := 0; i < 10; i++ {
		s = append(s, consumer("", string(rune('a'+i))))
	}
	return s
}

const atLeastOne = "at least one of these fields must be non-empty: 'custom_id', 'username'"

// The consumer plugin rows use rate-limiting where Kong's spec uses its
// "rewriter" fixture plugin (config.value): key-auth cannot be scoped to a
// consumer, rate-limiting can.
var consumersCases = rows(
	contentTypes(Case{
		Spec: specConsumers + ":62", Name: "creates a Consumer",
		Steps: []Step{{Method: "POST", Path: "/consumers", Body: obj{"username": "gensym-1"}, Status: 201,
			JSON: obj{"username": "gensym-1", "created_at": isNumber, "id": isUUID}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":81", Name: "handles invalid input",
		Steps: []Step{{Method: "POST", Path: "/consumers", Body: obj{}, Status: 400,
			JSON: obj{"name": "schema violation", "fields.@entity": arr{atLeastOne}}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":98", Name: "returns 409 on conflicting username",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "POST", Path: "/consumers", Body: obj{"username": "consumer-1"}, Status: 409,
			JSON: obj{"name": "unique constraint violation", "message": `UNIQUE violation detected on '{username="consumer-1"}'`}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":116", Name: "returns 400 on conflicting custom_id",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "POST", Path: "/consumers", Body: obj{"username": "tom", "custom_id": "consumer-id-1"}, Status: 409,
			JSON: obj{"name": "unique constraint violation", "message": `UNIQUE violation detected on '{custom_id="consumer-id-1"}'`}}},
	}),
	Case{
		Spec: specConsumers + ":135", Name: "returns 415 on invalid content-type",
		Steps: []Step{{Method: "POST", Path: "/consumers", Raw: `{"hello": "world"}`, Header: http.Header{"Content-Type": {"invalid"}}, Status: 415}},
	},
	Case{
		Spec: specConsumers + ":144", Name: "returns 415 on missing content-type with body ",
		Steps: []Step{{Method: "POST", Path: "/consumers", Raw: "invalid", Status: 415}},
	},
	Case{
		Spec: specConsumers + ":152", Name: "returns 400 on missing body with application/json",
		Steps: []Step{{Method: "POST", Path: "/consumers", Header: jsonHeader, Status: 400, JSON: obj{".": obj{"message": "Cannot parse JSON body"}}}},
	},
	Case{
		Spec: specConsumers + ":162", Name: "returns 400 on missing body with multipart/form-data",
		Steps: []Step{{Method: "POST", Path: "/consumers", Header: http.Header{"Content-Type": {"multipart/form-data"}}, Status: 400,
			JSON: obj{"name": "schema violation", "fields.@entity": arr{atLeastOne}}}},
	},
	Case{
		Spec: specConsumers + ":175", Name: "returns 400 on missing body with multipart/x-www-form-urlencoded",
		Steps: []Step{{Method: "POST", Path: "/consumers", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Status: 400,
			JSON: obj{"name": "schema violation", "fields.@entity": arr{atLeastOne}}}},
	},
	Case{
		Spec: specConsumers + ":188", Name: "returns 400 on missing body with no content-type header",
		Steps: []Step{{Method: "POST", Path: "/consumers", Status: 400,
			JSON: obj{"name": "schema violation", "fields.@entity": arr{atLeastOne}}}},
	},
	Case{
		Spec: specConsumers + ":213", Name: "retrieves the first page",
		Setup: tenConsumers(),
		Steps: []Step{get("/consumers", 200, obj{"data.#": 10})},
	},
	Case{
		Spec: specConsumers + ":222", Name: "paginates a set",
		Setup: tenConsumers(),
		Steps: []Step{
			{Path: "/consumers?size=3", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o1": "offset", "first": "data.0.id"}},
			{Path: "/consumers?size=3&offset={{o1}}", Status: 200, JSON: obj{"data.#": 3, "data.0.id": Not("{{first}}")}, Save: map[string]string{"o2": "offset"}},
			{Path: "/consumers?size=3&offset={{o2}}", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o3": "offset"}},
			{Path: "/consumers?size=3&offset={{o3}}", Status: 200, JSON: obj{"data.#": 1}},
		},
	},
	Case{
		Spec: specConsumers + ":250", Name: "not crashed by empty custom_id #KAG-867",
		Setup: tenConsumers(),
		Steps: []Step{get("/consumers?custom_id=", 400, obj{"message": "custom_id must be an unempty string"}),
			get("/consumers?custom_id", 400, obj{"message": "custom_id must be an unempty string"})},
	},
	Case{
		Spec: specConsumers + ":258", Name: "allows filtering by custom_id",
		Setup: append(tenConsumers(), post("/consumers", obj{"custom_id": "gensym-x"}, "cid")),
		Steps: []Step{get("/consumers?custom_id=gensym-x", 200, obj{"data.#": 1,
			"data.0": obj{"id": "{{cid}}", "custom_id": "gensym-x", "username": nil, "tags": nil, "created_at": isNumber, "updated_at": isNumber}})},
	},
	Case{
		Spec: specConsumers + ":269", Name: "allows filtering by uuid-like custom_id",
		Setup: append(tenConsumers(), post("/consumers", obj{"custom_id": "7a1bbe1c-4a6b-4a42-9d43-9d8a2b3c3f10"}, "cid")),
		Steps: []Step{get("/consumers?custom_id=7a1bbe1c-4a6b-4a42-9d43-9d8a2b3c3f10", 200, obj{"data.#": 1, "data.0.id": "{{cid}}"})},
	},
	Case{
		Spec: specConsumers + ":280", Name: "returns empty json array when consumer does not exist",
		Setup: tenConsumers(),
		Steps: []Step{{Path: "/consumers?custom_id=does-not-exist", Status: 200, BodyText: Contains(`"data":[]`)}},
	},
	Case{
		Spec: specConsumers + ":285", Name: "returns bad request for empty tags",
		Steps: []Step{get("/consumers?tags", 400, obj{"message": "invalid option (tags: cannot be null)"})},
	},
	Case{
		Spec: specConsumers + ":296", Name: "returns 405 on invalid method",
		Steps: []Step{
			{Method: "DELETE", Path: "/consumers", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
			{Method: "PATCH", Path: "/consumers", Body: obj{}, Status: 405, JSON: obj{".": obj{"message": "Method not allowed"}}},
		},
	},
	Case{
		Spec: specConsumers + ":313", Name: "retrieves by id",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{get("/consumers/{{cid}}", 200, obj{".": obj{"id": "{{cid}}", "username": "consumer-1", "custom_id": "consumer-id-1",
			"tags": nil, "created_at": isNumber, "updated_at": isNumber}})},
	},
	Case{
		Spec: specConsumers + ":323", Name: "retrieves by username",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{get("/consumers/consumer-1", 200, obj{"id": "{{cid}}", "username": "consumer-1"})},
	},
	Case{
		Spec: specConsumers + ":333", Name: "retrieves by urlencoded username",
		Setup: []Step{post("/consumers", obj{"username": "consumer 1/ä"}, "cid")},
		Steps: []Step{get("/consumers/consumer%201%2F%C3%A4", 200, obj{"id": "{{cid}}", "username": "consumer 1/ä"})},
	},
	Case{
		Spec: specConsumers + ":343", Name: "retrieves by utf-8 name and encoded utf-8 name",
		Setup: []Step{post("/consumers", obj{"username": "円"}, "cid")},
		Steps: []Step{get("/consumers/円", 200, obj{"id": "{{cid}}"}), get("/consumers/%E5%86%86", 200, obj{"id": "{{cid}}", "username": "円"})},
	},
	Case{
		Spec: specConsumers + ":357", Name: "returns 404 if not found",
		Steps: []Step{get("/consumers/_inexistent_", 404, nil)},
	},
	contentTypes(Case{
		Spec: specConsumers + ":367", Name: "updates by id",
		Setup: []Step{{Method: "POST", Path: "/consumers", Body: obj{"username": "consumer-1"}, Save: map[string]string{"cid": "id", "upd": "updated_at"}}},
		Steps: []Step{
			{Method: "PATCH", Path: "/consumers/{{cid}}", Body: obj{"username": "gensym-2"}, Status: 200,
				JSON: obj{"username": "gensym-2", "id": "{{cid}}", "updated_at": isNumber}},
			get("/consumers/{{cid}}", 200, obj{"username": "gensym-2"}),
		},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":390", Name: "updates by username",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "PATCH", Path: "/consumers/consumer-1", Body: obj{"username": "gensym-2"}, Status: 200,
			JSON: obj{"username": "gensym-2", "id": "{{cid}}"}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":411", Name: "updates by username and custom_id with previous values",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "PATCH", Path: "/consumers/consumer-1", Body: obj{"username": "consumer-1", "custom_id": "consumer-id-1"}, Status: 200,
			JSON: obj{"username": "consumer-1", "custom_id": "consumer-id-1", "id": "{{cid}}"}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":435", Name: "returns 404 if not found (PATCH)",
		Steps: []Step{{Method: "PATCH", Path: "/consumers/_inexistent_", Body: obj{"username": "gensym-3"}, Status: 404}},
	}),
	Case{
		Spec: specConsumers + ":448", Name: "returns 415 on invalid content-type (PATCH)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "PATCH", Path: "/consumers/{{cid}}", Raw: `{"hello": "world"}`, Header: http.Header{"Content-Type": {"invalid"}}, Status: 415}},
	},
	Case{
		Spec: specConsumers + ":458", Name: "returns 415 on missing content-type with body (PATCH)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "PATCH", Path: "/consumers/{{cid}}", Raw: "invalid", Status: 415}},
	},
	Case{
		Spec: specConsumers + ":467", Name: "returns 400 on missing body with application/json (PATCH)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "PATCH", Path: "/consumers/{{cid}}", Header: jsonHeader, Status: 400, JSON: obj{".": obj{"message": "Cannot parse JSON body"}}}},
	},
	contentTypes(Case{
		Spec: specConsumers + ":482", Name: "creates if not exists",
		Steps: []Step{{Method: "PUT", Path: "/consumers/2a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", Body: obj{"custom_id": "gensym-4"}, Status: 200,
			JSON: obj{"custom_id": "gensym-4", "id": "2a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d"}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":497", Name: "creates if not exists by username",
		Steps: []Step{{Method: "PUT", Path: "/consumers/gensym%205", Body: obj{}, Status: 200,
			JSON: obj{"username": "gensym 5", "custom_id": nil}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":511", Name: "replaces if found",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{
			{Method: "PUT", Path: "/consumers/{{cid}}", Body: obj{"username": "gensym-6"}, Status: 200, JSON: obj{"username": "gensym-6", "custom_id": nil}},
			get("/consumers/{{cid}}", 200, obj{"username": "gensym-6", "custom_id": nil}),
		},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":529", Name: "replaces if found by username",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{
			{Method: "PUT", Path: "/consumers/consumer-1", Body: obj{"custom_id": "gensym-7"}, Status: 200,
				JSON: obj{"username": "consumer-1", "custom_id": "gensym-7", "id": "{{cid}}"}},
			{Method: "PUT", Path: "/consumers/consumer-1", Body: obj{}, Status: 200,
				JSON: obj{"username": "consumer-1", "custom_id": nil, "id": "{{cid}}"}},
		},
	}),
	Case{
		Spec: specConsumers + ":556", Name: "handles malformed JSON body (PUT)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "PUT", Path: "/consumers/{{cid}}", Raw: `{"hello": "world"`, Header: jsonHeader, Status: 400,
			BodyText: `{"message":"Cannot parse JSON body"}` + "\n"}},
	},
	contentTypes(Case{
		Spec: specConsumers + ":566", Name: "handles invalid input (PUT)",
		Steps: []Step{{Method: "PUT", Path: "/consumers/3a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", Body: obj{}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "fields": obj{"@entity": arr{atLeastOne}},
				"message": "schema violation (" + atLeastOne + ")"}}}},
	}),
	Case{
		Spec: specConsumers + ":590", Name: "deletes by id",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "DELETE", Path: "/consumers/{{cid}}", Status: 204, BodyText: ""}, get("/consumers/{{cid}}", 404, nil)},
	},
	Case{
		Spec: specConsumers + ":599", Name: "deletes by username",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "DELETE", Path: "/consumers/consumer-1", Status: 204, BodyText: ""}, get("/consumers/{{cid}}", 404, nil)},
	},
	// /consumers/{username_or_id}/plugins
	Case{
		Spec: specConsumers + ":631", Name: "creates a plugin config using a consumer id with application/x-www-form-urlencoded",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "POST", Path: "/consumers/{{cid}}/plugins", Form: map[string][]string{"name": {"rate-limiting"}, "config.minute": {"10"}},
			Status: 201, JSON: obj{"name": "rate-limiting", "config.minute": 10, "consumer.id": "{{cid}}"}}},
	},
	Case{
		Spec: specConsumers + ":631", Name: "creates a plugin config using a consumer id with application/json",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "POST", Path: "/consumers/{{cid}}/plugins", Body: obj{"name": "rate-limiting", "config": obj{"minute": 10}},
			Status: 201, JSON: obj{"name": "rate-limiting", "config.minute": 10, "consumer.id": "{{cid}}"}}},
	},
	Case{
		Spec: specConsumers + ":644", Name: "creates a plugin config using a consumer username with application/x-www-form-urlencoded",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "POST", Path: "/consumers/consumer-1/plugins", Form: map[string][]string{"name": {"rate-limiting"}, "config.minute": {"10"}},
			Status: 201, JSON: obj{"name": "rate-limiting", "config.minute": 10, "consumer.id": "{{cid}}"}}},
	},
	Case{
		Spec: specConsumers + ":644", Name: "creates a plugin config using a consumer username with application/json",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "POST", Path: "/consumers/consumer-1/plugins", Body: obj{"name": "rate-limiting", "config": obj{"minute": 10}},
			Status: 201, JSON: obj{"name": "rate-limiting", "config.minute": 10, "consumer.id": "{{cid}}"}}},
	},
	contentTypes(Case{
		Spec: specConsumers + ":660", Name: "handles invalid input (consumer plugins)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "POST", Path: "/consumers/{{cid}}/plugins", Body: obj{}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "fields": obj{"name": "required field missing"},
				"message": "schema violation (name: required field missing)"}}}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":681", Name: "returns 409 on conflict",
		Setup: []Step{consumer("cid", "1"), post("/consumers/{{cid}}/plugins", obj{"name": "rate-limiting", "config": obj{"minute": 10}})},
		Steps: []Step{{Method: "POST", Path: "/consumers/{{cid}}/plugins", Body: obj{"name": "rate-limiting", "config": obj{"minute": 10}}, Status: 409,
			JSON: obj{".": obj{"code": 5, "name": "unique constraint violation",
				"message": `UNIQUE violation detected on '{consumer={id="{{cid}}"},name="rate-limiting",route=null,service=null}'`,
				"fields":  obj{"name": "rate-limiting", "consumer": obj{"id": "{{cid}}"}, "route": nil, "service": nil}}}}},
	}),
	Case{
		Spec: specConsumers + ":727", Name: "retrieves the first page (consumer plugins)",
		Setup: []Step{consumer("cid", "1"), post("/plugins", obj{"name": "rate-limiting", "consumer": obj{"id": "{{cid}}"}, "config": obj{"minute": 10}})},
		Steps: []Step{get("/consumers/{{cid}}/plugins", 200, obj{"data.#": 1})},
	},
	Case{
		Spec: specConsumers + ":739", Name: "ignores an invalid body (consumer plugins)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{invalidJSONBody("GET", "/consumers/{{cid}}/plugins", 200)},
	},
	Case{
		Spec: specConsumers + ":760", Name: "retrieves by id (consumer plugin)",
		Setup: consumerPlugin(),
		Steps: []Step{get("/consumers/{{cid}}/plugins/{{pid}}", 200, obj{"id": "{{pid}}", "consumer": obj{"id": "{{cid}}"}, "name": "rate-limiting",
			"route": nil, "service": nil, "enabled": true})},
	},
	Case{
		Spec: specConsumers + ":772", Name: "retrieves by consumer id when it has spaces",
		Setup: consumerPlugin(),
		Steps: []Step{get("/consumers/{{cid}}/plugins/{{pid}}", 200, obj{"id": "{{pid}}"})},
	},
	Case{
		Spec: specConsumers + ":784", Name: "only retrieves if associated to the correct consumer",
		Setup: append(consumerPlugin(), post("/consumers", obj{"custom_id": "wc", "username": "wrong-consumer"}, "wid")),
		Steps: []Step{get("/consumers/{{wid}}/plugins/{{pid}}", 404, nil)},
	},
	Case{
		Spec: specConsumers + ":801", Name: "ignores an invalid body (consumer plugin)",
		Setup: consumerPlugin(),
		Steps: []Step{invalidJSONBody("GET", "/consumers/{{cid}}/plugins/{{pid}}", 200)},
	},
	Case{
		Spec: specConsumers + ":832", Name: "updates if found with application/x-www-form-urlencoded",
		Setup: consumerPlugin(),
		Steps: []Step{
			{Method: "PATCH", Path: "/consumers/{{cid}}/plugins/{{pid}}", Form: map[string][]string{"config.minute": {"20"}}, Status: 200,
				JSON: obj{"config.minute": 20, "id": "{{pid}}"}},
			get("/plugins/{{pid}}", 200, obj{"config.minute": 20}),
		},
	},
	Case{
		Spec: specConsumers + ":832", Name: "updates if found with application/json",
		Setup: consumerPlugin(),
		Steps: []Step{
			{Method: "PATCH", Path: "/consumers/{{cid}}/plugins/{{pid}}", Body: obj{"config": obj{"minute": 20}}, Status: 200,
				JSON: obj{"config.minute": 20, "id": "{{pid}}"}},
			get("/plugins/{{pid}}", 200, obj{"config.minute": 20}),
		},
	},
	Case{
		Spec: specConsumers + ":851", Name: "doesn't override a plugin config if partial with application/x-www-form-urlencoded",
		Setup: append(consumerPlugin(), Step{Method: "PATCH", Path: "/plugins/{{pid}}", Body: obj{"config": obj{"minute": 10, "hour": 500}}}),
		Steps: []Step{
			{Method: "PATCH", Path: "/consumers/{{cid}}/plugins/{{pid}}", Form: map[string][]string{"config.minute": {"20"}}, Status: 200,
				JSON: obj{"config.minute": 20, "config.hour": 500}},
			get("/plugins/{{pid}}", 200, obj{"config.minute": 20, "config.hour": 500}),
		},
	},
	Case{
		Spec: specConsumers + ":851", Name: "doesn't override a plugin config if partial with application/json",
		Setup: append(consumerPlugin(), Step{Method: "PATCH", Path: "/plugins/{{pid}}", Body: obj{"config": obj{"minute": 10, "hour": 500}}}),
		Steps: []Step{
			{Method: "PATCH", Path: "/consumers/{{cid}}/plugins/{{pid}}", Body: obj{"config": obj{"minute": 20}}, Status: 200,
				JSON: obj{"config.minute": 20, "config.hour": 500}},
			get("/plugins/{{pid}}", 200, obj{"config.minute": 20, "config.hour": 500}),
		},
	},
	contentTypes(Case{
		Spec: specConsumers + ":890", Name: "updates the enabled property",
		Setup: consumerPlugin(),
		Steps: []Step{
			{Method: "PATCH", Path: "/consumers/{{cid}}/plugins/{{pid}}", Body: obj{"name": "rate-limiting", "enabled": false}, Status: 200, JSON: obj{"enabled": false}},
			get("/plugins/{{pid}}", 200, obj{"enabled": false}),
		},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":913", Name: "returns 404 if not found (consumer plugin PATCH)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "PATCH", Path: "/consumers/{{cid}}/plugins/b6cca0aa-4537-11e5-af97-23a06d98af51", Body: obj{}, Status: 404}},
	}),
	contentTypes(Case{
		Spec: specConsumers + ":926", Name: "handles invalid input (consumer plugin PATCH)",
		Setup: consumerPlugin(),
		Steps: []Step{{Method: "PATCH", Path: "/consumers/{{cid}}/plugins/{{pid}}", Body: obj{"name": "foo"}, Status: 400,
			JSON: obj{"name": "schema violation", "fields.name": "plugin 'foo' not enabled; add it to the 'plugins' configuration property"}}},
	}),
	Case{
		Spec: specConsumers + ":965", Name: "creates if not found with application/x-www-form-urlencoded",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{
			{Method: "PUT", Path: "/consumers/{{cid}}/plugins/4a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", Form: map[string][]string{"name": {"rate-limiting"}, "config.minute": {"20"}},
				Status: 200, JSON: obj{"config.minute": 20, "id": "4a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", "consumer.id": "{{cid}}"}},
			get("/plugins/4a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", 200, obj{"config.minute": 20}),
		},
	},
	Case{
		Spec: specConsumers + ":965", Name: "creates if not found with application/json",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{
			{Method: "PUT", Path: "/consumers/{{cid}}/plugins/4a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", Body: obj{"name": "rate-limiting", "config": obj{"minute": 20}},
				Status: 200, JSON: obj{"config.minute": 20, "id": "4a3b4c5d-1e2f-4a5b-8c7d-9e0f1a2b3c4d", "consumer.id": "{{cid}}"}},
		},
	},
	Case{
		Spec: specConsumers + ":986", Name: "updates if found with application/x-www-form-urlencoded (PUT)",
		Setup: consumerPlugin(),
		Steps: []Step{{Method: "PUT", Path: "/consumers/{{cid}}/plugins/{{pid}}", Form: map[string][]string{"name": {"rate-limiting"}, "config.minute": {"20"}},
			Status: 200, JSON: obj{"config.minute": 20, "id": "{{pid}}"}}},
	},
	Case{
		Spec: specConsumers + ":986", Name: "updates if found with application/json (PUT)",
		Setup: consumerPlugin(),
		Steps: []Step{{Method: "PUT", Path: "/consumers/{{cid}}/plugins/{{pid}}", Body: obj{"name": "rate-limiting", "config": obj{"minute": 20}},
			Status: 200, JSON: obj{"config.minute": 20, "id": "{{pid}}"}}},
	},
	Case{
		Spec: specConsumers + ":1008", Name: "deletes a plugin configuration",
		Setup: consumerPlugin(),
		Steps: []Step{{Method: "DELETE", Path: "/consumers/{{cid}}/plugins/{{pid}}", Status: 204}, get("/plugins/{{pid}}", 404, nil)},
	},
	Case{
		Spec: specConsumers + ":1019", Name: "returns 404 if not found (consumer plugin DELETE)",
		Setup: []Step{consumer("cid", "1")},
		Steps: []Step{{Method: "DELETE", Path: "/consumers/{{cid}}/plugins/fafafafa-1234-baba-5678-cececececece", Status: 404}},
	},
)

func consumerPlugin() []Step {
	return []Step{consumer("cid", "1"), post("/plugins", obj{"name": "rate-limiting", "consumer": obj{"id": "{{cid}}"}, "config": obj{"minute": 10}}, "pid")}
}
