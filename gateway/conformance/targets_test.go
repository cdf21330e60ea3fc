package conformance

const specTargets = "spec/02-integration/04-admin_api/08-targets_routes_spec.lua"

var _ = register("targets", targetsCases)

// upstreamWith creates upstream "u" (slots 10) and the given targets, in order.
func upstreamWith(targets ...obj) []Step {
	s := []Step{post("/upstreams", obj{"name": "u", "slots": 10}, "uid")}
	for i, t := range targets {
		s = append(s, post("/upstreams/u/targets", t, "t"+string(rune('1'+i))))
	}
	return s
}

func fourAPITargets() []Step {
	return upstreamWith(obj{"target": "api-1:80", "weight": 10}, obj{"target": "api-2:80", "weight": 0},
		obj{"target": "api-3:80", "weight": 50}, obj{"target": "api-4:80", "weight": 10})
}

func tenAPITargets() []Step {
	var ts []obj
	for i := 1; i <= 10; i++ {
		ts = append(ts, obj{"target": "api-" + string(rune('a'+i)) + ":80", "weight": 100})
	}
	return upstreamWith(ts...)
}

// healthTargets adds four weight-10 targets named by format (one %d).
func healthTargets(prefix string, ports ...string) []Step {
	var s []Step
	for _, p := range ports {
		s = append(s, Step{Method: "POST", Path: "/upstreams/u/targets", Body: obj{"target": prefix + p, "weight": 10}})
	}
	return s
}

var targetsCases = rows(
	Case{
		Spec: specTargets + ":66", Name: "returns a 404 (/targets)",
		Steps: []Step{get("/targets", 404, obj{"message": "Not found"})},
	},
	contentTypes(Case{
		Spec: specTargets + ":79", Name: "creates a target with defaults",
		Setup: upstreamWith(),
		Steps: []Step{{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"target": "konghq.test"}, Status: 201,
			JSON: obj{"target": "konghq.test:8000", "created_at": isNumber, "id": isUUID, "weight": 100}}},
	}),
	contentTypes(Case{
		Spec: specTargets + ":96", Name: "creates a target without defaults",
		Setup: upstreamWith(),
		Steps: []Step{{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"target": "konghq.test:123", "weight": 99}, Status: 201,
			JSON: obj{"target": "konghq.test:123", "created_at": isNumber, "id": isUUID, "weight": 99}}},
	}),
	contentTypes(Case{
		Spec: specTargets + ":115", Name: "creates a target with weight = 0",
		Setup: upstreamWith(),
		Steps: []Step{
			{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"target": "zero.weight.test:8080", "weight": 0}, Status: 201,
				JSON: obj{"target": "zero.weight.test:8080", "weight": 0}, Save: map[string]string{"tid": "id"}},
			get("/upstreams/u/targets/zero.weight.test:8080", 200, obj{"id": "{{tid}}", "weight": 0, "target": "zero.weight.test:8080"}),
		},
	}),
	Case{
		Spec: specTargets + ":141", Name: "handles malformed JSON body",
		Setup: upstreamWith(),
		Steps: []Step{{Method: "POST", Path: "/upstreams/u/targets/", Raw: `{"hello": "world"`, Header: jsonHeader, Status: 400,
			JSON: obj{".": obj{"message": "Cannot parse JSON body"}}}},
	},
	contentTypes(Case{
		Spec: specTargets + ":151", Name: "handles invalid input",
		Setup: upstreamWith(),
		Steps: []Step{
			{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"weight": 0}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"target": "required field missing"}}},
			{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"target": "some invalid host name"}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"target": "Invalid target; not a valid hostname or ip address"}}},
			{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"target": "konghq.test", "weight": 65536}, Status: 400,
				JSON: obj{"name": "schema violation", "fields": obj{"weight": "value should be between 0 and 65535"}}},
		},
	}),
	contentTypes(Case{
		Spec: specTargets + ":196", Name: "returns 405 on PUT",
		Setup: upstreamWith(),
		Steps: []Step{{Method: "PUT", Path: "/upstreams/u/targets/", Body: obj{"target": "konghq.test"}, Status: 405}},
	}),
	contentTypes(Case{
		Spec: specTargets + ":196", Name: "returns 405 on PATCH",
		Setup: upstreamWith(),
		Steps: []Step{{Method: "PATCH", Path: "/upstreams/u/targets/", Body: obj{"target": "konghq.test"}, Status: 405}},
	}),
	contentTypes(Case{
		Spec: specTargets + ":196", Name: "returns 405 on DELETE",
		Setup: upstreamWith(),
		Steps: []Step{{Method: "DELETE", Path: "/upstreams/u/targets/", Body: obj{"target": "konghq.test"}, Status: 405}},
	}),
	contentTypes(Case{
		Spec: specTargets + ":212", Name: "fails to create duplicated targets",
		Setup: upstreamWith(),
		Steps: []Step{
			{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"target": "single-target.test:8080", "weight": 1}, Status: 201,
				JSON: obj{"target": "single-target.test:8080", "weight": 1, "id": isUUID}},
			{Method: "POST", Path: "/upstreams/u/targets/", Body: obj{"target": "single-target.test:8080", "weight": 100}, Status: 409},
		},
	}),
	Case{
		Spec: specTargets + ":287", Name: "shows all targets with no ending slash",
		Setup: fourAPITargets(),
		Steps: []Step{get("/upstreams/u/targets", 200, obj{"data.#": 4,
			"data.0":    obj{"id": "{{t4}}", "target": "api-4:80", "weight": 10, "upstream": obj{"id": "{{uid}}"}, "tags": nil, "created_at": NotNull, "updated_at": NotNull},
			"data.1.id": "{{t3}}", "data.1.weight": 50, "data.2.id": "{{t2}}", "data.2.weight": 0, "data.3.id": "{{t1}}", "data.3.target": "api-1:80"})},
	},
	Case{
		Spec: specTargets + ":287", Name: "shows all targets with ending slash",
		Setup: fourAPITargets(),
		Steps: []Step{get("/upstreams/u/targets/", 200, obj{"data.#": 4, "data.0.target": "api-4:80", "data.3.target": "api-1:80"})},
	},
	Case{
		Spec: specTargets + ":303", Name: "data property is an empty array",
		Setup: upstreamWith(),
		Steps: []Step{{Path: "/upstreams/u/targets", Status: 200, BodyText: Contains(`"data":[]`)}},
	},
	Case{
		Spec: specTargets + ":409", Name: "returns HEALTHCHECKS_OFF for targets that resolve",
		Setup: append(append(upstreamWith(), healthTargets("127.0.0.1:8", "1", "2", "3", "4")...),
			healthTargets("localhost:8", "1", "2", "3", "4")...),
		Steps: []Step{
			{Path: "/upstreams/u/health", Status: 200, Save: map[string]string{"n": "node_id"}, JSON: obj{
				"data.#": 8, "data.0.target": "localhost:84", "data.1.target": "localhost:83", "data.2.target": "localhost:82",
				"data.0.health": "HEALTHCHECKS_OFF", "data.7.health": "HEALTHCHECKS_OFF", "data.0.data.addresses.0.health": "HEALTHCHECKS_OFF"}},
			get("/", 200, obj{"node_id": "{{n}}"}),
			get("/upstreams/u/health/", 200, obj{"data.#": 8, "data.0.target": "localhost:84", "data.5.health": "HEALTHCHECKS_OFF"}),
		},
	},
	Case{
		Spec: specTargets + ":415", Name: "returns DNS_ERROR if DNS cannot be resolved",
		Skip: "DNS_ERROR health: the gateway has no DNS mock and resolves targets at connect time",
	},
	Case{
		Spec: specTargets + ":457", Name: "returns DNS_ERROR if DNS cannot be resolved (healthchecks on)",
		Skip: "DNS_ERROR health: the gateway has no DNS mock and resolves targets at connect time",
	},
	Case{
		Spec: specTargets + ":465", Name: "returns HEALTHY if failure not detected",
		Setup: append(append(upstreamWith(), Step{Method: "PATCH", Path: "/upstreams/u", Body: obj{"healthchecks": obj{"passive": obj{
			"healthy": obj{"successes": 1}, "unhealthy": obj{"tcp_failures": 1, "http_failures": 1, "timeouts": 1}}}}}),
			healthTargets("localhost:222", "1", "2", "3", "4")...),
		Steps: []Step{get("/upstreams/u/health", 200, obj{"data.#": 4, "data.0.target": "localhost:2224", "data.1.target": "localhost:2223",
			"data.0.health": "HEALTHY", "data.3.health": "HEALTHY"})},
	},
	Case{
		Spec: specTargets + ":505", Name: "returns HEALTHCHECKS_OFF for target with weight 0",
		Setup: []Step{post("/upstreams", obj{"name": "u", "healthchecks": obj{"passive": obj{
			"healthy": obj{"successes": 1}, "unhealthy": obj{"tcp_failures": 1, "http_failures": 1, "timeouts": 1}}}})},
		Steps: []Step{
			{Method: "POST", Path: "/upstreams/u/targets", Body: obj{"target": "localhost:2221", "weight": 0}, Status: 201},
			get("/upstreams/u/health", 200, obj{"data.#": 1, "data.0.data.addresses.0.health": "HEALTHCHECKS_OFF"}),
		},
	},
	Case{
		Spec: specTargets + ":570", Name: "return HEALTHY if weight of target turns from zero to non-zero",
		Setup: []Step{post("/upstreams", obj{"name": "u", "healthchecks": obj{"passive": obj{
			"healthy": obj{"successes": 1}, "unhealthy": obj{"tcp_failures": 1, "http_failures": 1, "timeouts": 1}}}})},
		Steps: []Step{
			{Method: "POST", Path: "/upstreams/u/targets", Body: obj{"target": "localhost:2221", "weight": 0}, Status: 201},
			get("/upstreams/u/health", 200, obj{"data.#": 1, "data.0.data.addresses.0.health": "HEALTHCHECKS_OFF"}),
			{Method: "PATCH", Path: "/upstreams/u/targets/localhost:2221", Body: obj{"weight": 10}, Status: 200},
			get("/upstreams/u/health", 200, obj{"data.#": 1, "data.0.data.addresses.0.health": "HEALTHY"}),
		},
	},
	Case{
		Spec: specTargets + ":639", Name: "retrieves the first page (/targets/all)",
		Setup: tenAPITargets(),
		Steps: []Step{get("/upstreams/u/targets/all", 200, obj{"data.#": 10})},
	},
	Case{
		Spec: specTargets + ":648", Name: "offset is a string",
		Setup: tenAPITargets(),
		Steps: []Step{get("/upstreams/u/targets/all?size=3", 200, obj{"offset": isString})},
	},
	Case{
		Spec: specTargets + ":658", Name: "next url ends with /targets/all",
		Setup: tenAPITargets(),
		Steps: []Step{{Path: "/upstreams/u/targets/all?size=3", Status: 200, Save: map[string]string{"o": "offset"},
			JSON: obj{"next": Match(`^/upstreams/u/targets/all\?offset=[^&]+$`)}}},
	},
	Case{
		Spec: specTargets + ":668", Name: "paginates a set (/targets/all)",
		Setup: tenAPITargets(),
		Steps: []Step{
			{Path: "/upstreams/u/targets/all?size=3", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o1": "offset", "first": "data.0.id"}},
			{Path: "/upstreams/u/targets/all?size=3&offset={{o1}}", Status: 200, JSON: obj{"data.#": 3, "data.0.id": Not("{{first}}")}, Save: map[string]string{"o2": "offset"}},
			{Path: "/upstreams/u/targets/all?size=3&offset={{o2}}", Status: 200, JSON: obj{"data.#": 3}, Save: map[string]string{"o3": "offset"}},
			{Path: "/upstreams/u/targets/all?size=3&offset={{o3}}", Status: 200, JSON: obj{"data.#": 1}},
		},
	},
	Case{
		Spec: specTargets + ":696", Name: "ignores filters (/targets/all)",
		Setup: tenAPITargets(),
		Steps: []Step{get("/upstreams/u/targets/all?foo=bar", 200, nil)},
	},
	Case{
		Spec: specTargets + ":704", Name: "ignores an invalid body (/targets/all)",
		Setup: tenAPITargets(),
		Steps: []Step{invalidJSONBody("GET", "/upstreams/u/targets/all", 200)},
	},
	Case{
		Spec: specTargets + ":717", Name: "data property is an empty array (/targets/all)",
		Setup: upstreamWith(),
		Steps: []Step{{Path: "/upstreams/u/targets/all", Status: 200, BodyText: Contains(`"data":[]`), JSON: obj{".": obj{"data": arr{}, "next": nil}}}},
	},
	healthFlipCases("ipv4", "127.0.0.1"),
	healthFlipCases("ipv6", "[0000:0000:0000:0000:0000:0000:0000:0001]"),
	healthFlipCases("hostname", "localhost"),
	Case{
		Spec: specTargets + ":921", Name: "returns target entity",
		Setup: upstreamWith(obj{"target": "api-1:80", "weight": 10}, obj{"target": "api-2:80", "weight": 10}),
		Steps: []Step{get("/upstreams/u/targets/api-2:80", 200, obj{"id": "{{t2}}", "target": "api-2:80", "weight": 10,
			"upstream": obj{"id": "{{uid}}"}, "created_at": isNumber})},
	},
	Case{
		Spec: specTargets + ":953", Name: "PATCH is allowed and works",
		Setup: upstreamWith(obj{"target": "api-1:80", "weight": 10}, obj{"target": "api-2:80", "weight": 10}),
		Steps: []Step{
			{Method: "PATCH", Path: "/upstreams/u/targets/api-2:80", Body: obj{"weight": 659}, Status: 200,
				JSON: obj{"id": "{{t2}}", "target": "api-2:80", "weight": 659}},
			get("/upstreams/u/targets/api-2:80", 200, obj{"id": "{{t2}}", "weight": 659}),
		},
	},
	Case{
		Spec: specTargets + ":1008", Name: "updates target (by id)",
		Setup: upstreamWith(obj{"target": "api-1:80", "weight": 10}, obj{"target": "api-2:80", "weight": 10}),
		Steps: []Step{
			{Method: "PUT", Path: "/upstreams/u/targets/{{t2}}", Body: obj{"target": "api-2:801"}, Status: 200},
			get("/upstreams/u/targets/{{t2}}", 200, obj{"id": "{{t2}}", "target": "api-2:801", "weight": 10, "upstream": obj{"id": "{{uid}}"}}),
		},
	},
	Case{
		Spec: specTargets + ":1028", Name: "updates target (by target)",
		Setup: upstreamWith(obj{"target": "api-1:80", "weight": 10}, obj{"target": "api-2:80", "weight": 10}),
		Steps: []Step{
			{Method: "PUT", Path: "/upstreams/u/targets/api-2:80", Body: obj{"target": "api-2:801"}, Status: 200,
				JSON: obj{"id": "{{t2}}", "target": "api-2:801", "weight": 10}},
			get("/upstreams/u/targets/api-2:80", 404, nil),
			get("/upstreams/u/targets/api-2:801", 200, obj{"id": "{{t2}}", "target": "api-2:801", "weight": 10}),
		},
	},
	Case{
		Spec: specTargets + ":1073", Name: "method DELETE actually deletes targets (by target)",
		Setup: upstreamWith(obj{"target": "api-1:80", "weight": 10}, obj{"target": "api-2:80", "weight": 10}),
		Steps: []Step{
			get("/upstreams/u/targets/all", 200, obj{"data.#": 2}),
			{Method: "DELETE", Path: "/upstreams/u/targets/api-2:80", Status: 204},
			get("/upstreams/u/targets/all", 200, obj{"data.#": 1}),
			get("/upstreams/u/targets", 200, obj{"data.#": 1, "data.0.target": "api-1:80"}),
		},
	},
	Case{
		Spec: specTargets + ":1106", Name: "method DELETE actually deletes targets (by id)",
		Setup: upstreamWith(obj{"target": "api-1:80", "weight": 10}, obj{"target": "api-2:80", "weight": 10}),
		Steps: []Step{
			get("/upstreams/u/targets/all", 200, obj{"data.#": 2}),
			{Method: "DELETE", Path: "/upstreams/u/targets/{{t2}}", Status: 204},
			get("/upstreams/u/targets/all", 200, obj{"data.#": 1}),
			get("/upstreams/u/targets", 200, obj{"data.#": 1, "data.0.target": "api-1:80"}),
		},
	},
	Case{
		Spec: specTargets + ":1157", Name: "healthcheck endpoints not included in /endpoints",
		Skip: "hybrid mode (control_plane role) and GET /endpoints",
	},
)

// healthFlipCases ports the POST #mode describe (one per localhost form):
// a target on an upstream with passive checks, and a wrong target on another.
func healthFlipCases(mode, host string) []Case {
	target := host + ":8192"
	setup := []Step{
		post("/upstreams", obj{"name": "other"}),
		post("/upstreams/other/targets", obj{"target": target, "weight": 10}, "wrong"),
		post("/upstreams", obj{"name": "u", "healthchecks": obj{"passive": obj{
			"healthy": obj{"successes": 1}, "unhealthy": obj{"tcp_failures": 1, "http_failures": 1, "timeouts": 1}}}}, "uid"),
		{Method: "POST", Path: "/upstreams/{{uid}}/targets", Body: obj{"target": target, "weight": 10}, Save: map[string]string{"tid": "id", "tt": "target"}},
	}
	var combos []Step
	ups := []string{"4b8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55", "invalid", "u", "{{uid}}"}
	tgs := []string{"5c8d4d3a-2d2c-4f6e-9b3a-1f0e2f1a9c55", "invalid:1234", "{{wrong}}", target, "{{tid}}"}
	for i, u := range ups {
		for j, t := range tgs {
			for _, e := range []string{"healthy", "unhealthy"} {
				want := 404
				if i >= 2 && j >= 3 {
					want = 204
				}
				combos = append(combos, Step{Method: "PUT", Path: "/upstreams/" + u + "/targets/" + t + "/" + e, Status: want})
			}
		}
	}
	health := func(state string) Step {
		return get("/upstreams/{{uid}}/health", 200, obj{"data.0.target": target, "data.0.health": state})
	}
	return []Case{
		{Spec: specTargets + ":799", Name: "checks every combination of valid and invalid upstream and target #" + mode,
			Setup: setup, Steps: combos},
		{Spec: specTargets + ":815", Name: "flips the target status from UNHEALTHY to HEALTHY #" + mode, Setup: setup,
			Steps: []Step{{Method: "PUT", Path: "/upstreams/{{uid}}/targets/" + target + "/unhealthy", Status: 204}, health("UNHEALTHY"),
				{Method: "PUT", Path: "/upstreams/{{uid}}/targets/" + target + "/healthy", Status: 204}, health("HEALTHY")}},
		{Spec: specTargets + ":856", Name: "flips the target status from HEALTHY to UNHEALTHY #" + mode, Setup: setup,
			Steps: []Step{{Method: "PUT", Path: "/upstreams/{{uid}}/targets/" + target + "/healthy", Status: 204}, health("HEALTHY"),
				{Method: "PUT", Path: "/upstreams/{{uid}}/targets/" + target + "/unhealthy", Status: 204}, health("UNHEALTHY")}},
	}
}
