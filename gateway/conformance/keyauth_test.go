package conformance

const specKeyAuthAPI = "spec/03-plugins/09-key-auth/01-api_spec.lua"

var _ = register("key-auth-api", keyAuthAPICases)

// keyAuthSetup is the spec's lazy_setup: two routes and consumer bob.
func keyAuthSetup() []Step {
	return []Step{
		svc("sid"),
		post("/routes", obj{"hosts": arr{"keyauth1.test"}, "service": obj{"id": "{{sid}}"}}, "r1"),
		post("/routes", obj{"hosts": arr{"keyauth2.test"}, "service": obj{"id": "{{sid}}"}}, "r2"),
		post("/consumers", obj{"username": "bob"}, "bob"),
	}
}

func withCredential() []Step {
	return append(keyAuthSetup(), Step{Method: "POST", Path: "/consumers/bob/key-auth", Body: obj{},
		Save: map[string]string{"kid": "id", "key": "key"}})
}

var keyAuthAPICases = rows(
	Case{
		Spec: specKeyAuthAPI + ":57", Name: "creates a key-auth credential with key",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "POST", Path: "/consumers/bob/key-auth", Body: obj{"key": "1234"}, Status: 201,
			JSON: obj{"consumer.id": "{{bob}}", "key": "1234"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":73", Name: "creates a key-auth auto-generating a unique key",
		Setup: keyAuthSetup(),
		Steps: []Step{
			{Method: "POST", Path: "/consumers/bob/key-auth", Body: obj{}, Status: 201, JSON: obj{"consumer.id": "{{bob}}", "key": isString},
				Save: map[string]string{"k1": "key", "id1": "id"}},
			{Method: "DELETE", Path: "/consumers/bob/key-auth/{{id1}}", Status: 204},
			{Method: "POST", Path: "/consumers/bob/key-auth", Body: obj{}, Status: 201, JSON: obj{"consumer.id": "{{bob}}", "key": Not("{{k1}}")}},
		},
	},
	Case{
		Spec: specKeyAuthAPI + ":105", Name: "creates a key-auth credential with tags",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "POST", Path: "/consumers/bob/key-auth", Body: obj{"key": "keyauth-with-tags", "tags": arr{"tag1", "tag2"}}, Status: 201,
			JSON: obj{"consumer.id": "{{bob}}", "tags.0": "tag1", "tags.1": "tag2"}}},
	},
	Case{Spec: specKeyAuthAPI + ":123", Name: "creates a key-auth credential with a ttl", Skip: "ttl on entities (expiring credentials)"},
	Case{
		Spec: specKeyAuthAPI + ":161", Name: "retrieves the first page",
		Setup: append(keyAuthSetup(), post("/consumers/bob/key-auth", obj{}), post("/consumers/bob/key-auth", obj{}), post("/consumers/bob/key-auth", obj{})),
		Steps: []Step{get("/consumers/bob/key-auth", 200, obj{"data.#": 3})},
	},
	Case{Spec: specKeyAuthAPI + ":184", Name: "entries contain ttl when specified", Skip: "ttl on entities (expiring credentials)"},
	Case{
		Spec: specKeyAuthAPI + ":208", Name: "retrieves key-auth credential by id",
		Setup: withCredential(),
		Steps: []Step{get("/consumers/bob/key-auth/{{kid}}", 200, obj{"id": "{{kid}}"})},
	},
	Case{
		Spec: specKeyAuthAPI + ":217", Name: "retrieves key-auth credential by key",
		Setup: withCredential(),
		Steps: []Step{get("/consumers/bob/key-auth/{{key}}", 200, obj{"id": "{{kid}}"})},
	},
	Case{
		Spec: specKeyAuthAPI + ":226", Name: "retrieves credential by id only if the credential belongs to the specified consumer",
		Setup: append(withCredential(), post("/consumers", obj{"username": "alice"})),
		Steps: []Step{get("/consumers/bob/key-auth/{{kid}}", 200, nil), get("/consumers/alice/key-auth/{{kid}}", 404, nil)},
	},
	Case{Spec: specKeyAuthAPI + ":243", Name: "key-auth credential contains #ttl", Skip: "ttl on entities (expiring credentials)"},
	Case{
		Spec: specKeyAuthAPI + ":262", Name: "creates a key-auth credential with key (PUT)",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "PUT", Path: "/consumers/bob/key-auth/1234", Body: obj{}, Status: 200, JSON: obj{"consumer.id": "{{bob}}", "key": "1234"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":276", Name: "creates a key-auth credential auto-generating the key (PUT)",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "PUT", Path: "/consumers/bob/key-auth/c16bbff7-5d0d-4a28-8127-1ee581898f11", Body: obj{}, Status: 200,
			JSON: obj{"consumer.id": "{{bob}}", "key": isString, "id": "c16bbff7-5d0d-4a28-8127-1ee581898f11"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":293", Name: "updates a credential by id",
		Setup: withCredential(),
		Steps: []Step{{Method: "PATCH", Path: "/consumers/bob/key-auth/{{kid}}", Body: obj{"key": "4321"}, Status: 200, JSON: obj{"key": "4321"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":306", Name: "updates a credential by key",
		Setup: withCredential(),
		Steps: []Step{{Method: "PATCH", Path: "/consumers/bob/key-auth/{{key}}", Body: obj{"key": "4321UPD"}, Status: 200, JSON: obj{"key": "4321UPD"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":320", Name: "handles invalid input",
		Setup: withCredential(),
		Steps: []Step{{Method: "PATCH", Path: "/consumers/bob/key-auth/{{kid}}", Body: obj{"key": 123}, Status: 400,
			JSON: obj{"fields": obj{"key": "expected a string"}}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":337", Name: "deletes a credential",
		Setup: withCredential(),
		Steps: []Step{{Method: "DELETE", Path: "/consumers/bob/key-auth/{{kid}}", Status: 204}, get("/key-auths/{{kid}}", 404, nil)},
	},
	Case{
		Spec: specKeyAuthAPI + ":345", Name: "returns 400 on invalid input",
		Setup: withCredential(),
		Steps: []Step{{Method: "DELETE", Path: "/consumers/bob/key-auth/blah", Status: 404}},
	},
	Case{
		Spec: specKeyAuthAPI + ":352", Name: "returns 404 if not found",
		Setup: withCredential(),
		Steps: []Step{{Method: "DELETE", Path: "/consumers/bob/key-auth/00000000-0000-0000-0000-000000000000", Status: 404}},
	},
	Case{
		Spec: specKeyAuthAPI + ":363", Name: "fails with invalid key_names",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "POST", Path: "/plugins", Body: obj{"name": "key-auth", "route": obj{"id": "{{r1}}"}, "config": obj{"key_names": arr{`hello\world`}}},
			Status: 400, JSON: obj{"fields.config.key_names.0": `bad header name 'hello\world', allowed characters are A-Z, a-z, 0-9, '_', and '-'`}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":384", Name: "succeeds with valid key_names",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "POST", Path: "/plugins", Body: obj{"name": "key-auth", "route": obj{"id": "{{r2}}"}, "config": obj{"key_names": arr{"hello-world"}}},
			Status: 201, JSON: obj{"config.key_names.0": "hello-world"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":429", Name: "retrieves all the key-auths with trailing slash",
		Setup: sixKeyAuths(),
		Steps: []Step{get("/key-auths/", 200, obj{"data.#": 6})},
	},
	Case{
		Spec: specKeyAuthAPI + ":439", Name: "retrieves all the key-auths without trailing slash",
		Setup: sixKeyAuths(),
		Steps: []Step{get("/key-auths", 200, obj{"data.#": 6})},
	},
	Case{
		Spec: specKeyAuthAPI + ":449", Name: "paginates through the key-auths",
		Setup: sixKeyAuths(),
		Steps: []Step{
			{Path: "/key-auths?size=3", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o": "offset", "first": "data.0.id"}},
			get("/key-auths?size=3&offset={{o}}", 200, obj{"data.#": 3, "data.0.id": Not("{{first}}"), "offset": Absent}),
		},
	},
	Case{
		Spec: specKeyAuthAPI + ":482", Name: "does not create key-auth credential when missing consumer",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "POST", Path: "/key-auths", Body: obj{"key": "1234"}, Status: 400,
			JSON: obj{"message": "schema violation (consumer: required field missing)"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":498", Name: "creates key-auth credential",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "POST", Path: "/key-auths", Body: obj{"key": "1234", "consumer": obj{"id": "{{bob}}"}}, Status: 201, JSON: obj{"key": "1234"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":525", Name: "does not create key-auth credential when missing consumer (PUT)",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "PUT", Path: "/key-auths/1234", Body: obj{}, Status: 400,
			JSON: obj{"message": "schema violation (consumer: required field missing)"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":539", Name: "creates key-auth credential (PUT)",
		Setup: keyAuthSetup(),
		Steps: []Step{{Method: "PUT", Path: "/key-auths/1234", Body: obj{"consumer": obj{"id": "{{bob}}"}}, Status: 200, JSON: obj{"key": "1234"}}},
	},
	Case{
		Spec: specKeyAuthAPI + ":570", Name: "retrieve Consumer from a credential's id",
		Setup: withCredential(),
		Steps: []Step{get("/key-auths/{{kid}}/consumer", 200, obj{".": obj{"id": "{{bob}}", "username": "bob", "custom_id": nil, "tags": nil,
			"created_at": isNumber, "updated_at": isNumber}})},
	},
	Case{
		Spec: specKeyAuthAPI + ":579", Name: "retrieve a Consumer from a credential's key",
		Setup: withCredential(),
		Steps: []Step{get("/key-auths/{{key}}/consumer", 200, obj{"id": "{{bob}}", "username": "bob"})},
	},
	Case{
		Spec: specKeyAuthAPI + ":588", Name: "returns 404 for a random non-existing id",
		Setup: withCredential(),
		Steps: []Step{get("/key-auths/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/consumer", 404, nil)},
	},
	Case{
		Spec: specKeyAuthAPI + ":595", Name: "returns 404 for a random non-existing key",
		Setup: withCredential(),
		Steps: []Step{get("/key-auths/Xq3vR8sT1uW5yZ7a/consumer", 404, nil)},
	},
)

func sixKeyAuths() []Step {
	s := append(keyAuthSetup(), post("/consumers", obj{"username": "bob-the-buidler"}))
	for i := 0; i < 3; i++ {
		s = append(s, post("/consumers/bob/key-auth", obj{}), post("/consumers/bob-the-buidler/key-auth", obj{}))
	}
	return s
}
