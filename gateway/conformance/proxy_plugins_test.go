package conformance

// Kong 3.9 spec/02-integration/05-proxy/04-plugins_triggering_spec.lua: which
// plugin configuration runs when one is set globally, per route/service, per
// consumer and per route+consumer (Kong's plugins iterator precedence).

const specTriggering = "spec/02-integration/05-proxy/04-plugins_triggering_spec.lua"

var _ = register("proxy-plugins-triggering", proxyTriggeringCases)

const (
	skipLogPlugins   = "log-phase fixture plugins (error-handler-log, short-circuit, logger)"
	skipInitWorker   = "plugin init_worker handlers (fixture plugins)"
	skipTLSKeepalive = "certificate phase (certificates/SNIs)"
)

// triggeringSetup is the spec's lazy_setup, through the Admin API.
func triggeringSetup() []Step {
	rl := func(hour int) obj { return obj{"policy": "local", "hour": hour} }
	return []Step{
		{Method: "POST", Path: "/consumers", Body: obj{"username": "consumer1"}},
		{Method: "POST", Path: "/consumers/consumer1/key-auth", Body: obj{"key": "secret1"}},
		{Method: "POST", Path: "/consumers", Body: obj{"username": "consumer2"}, Save: map[string]string{"c2": "id"}},
		{Method: "POST", Path: "/consumers/consumer2/key-auth", Body: obj{"key": "secret2"}},
		{Method: "POST", Path: "/consumers", Body: obj{"username": "anonymous"}, Save: map[string]string{"anon": "id"}},
		// Global configuration
		pxService("global1", "", nil),
		pxRoute("global1", obj{"hosts": arr{"global1.test"}}),
		{Method: "POST", Path: "/plugins", Body: obj{"name": "key-auth", "config": obj{}}},
		{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "config": rl(1)}},
		// API specific configuration
		pxService("api1", "", nil),
		pxRoute("api1", obj{"hosts": arr{"api1.test"}}),
		{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "route": obj{"id": "{{api1_route}}"},
			"service": obj{"name": "api1"}, "config": rl(2)}},
		// Consumer specific configuration
		{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "consumer": obj{"id": "{{c2}}"}, "config": rl(3)}},
		// API and consumer configuration
		pxService("api2", "", nil),
		pxRoute("api2", obj{"hosts": arr{"api2.test"}}),
		{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "route": obj{"id": "{{api2_route}}"},
			"consumer": obj{"id": "{{c2}}"}, "config": rl(4)}},
		// API with anonymous configuration
		pxService("api3", "", nil),
		pxRoute("api3", obj{"hosts": arr{"api3.test"}}),
		{Method: "POST", Path: "/plugins", Body: obj{"name": "key-auth", "route": obj{"id": "{{api3_route}}"},
			"service": obj{"name": "api3"}, "config": obj{"anonymous": "{{anon}}"}}},
		{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "route": obj{"id": "{{api3_route}}"},
			"service": obj{"name": "api3"}, "consumer": obj{"id": "{{anon}}"}, "config": rl(5)}},
	}
}

// withRouteIDs saves each route's id as <service>_route.
func withRouteIDs(steps []Step) []Step {
	out := make([]Step, len(steps))
	for i, s := range steps {
		if s.Method == "POST" && len(s.Path) > len("/services/") && s.Path[:len("/services/")] == "/services/" {
			name := s.Path[len("/services/") : len(s.Path)-len("/routes")]
			s.Save = map[string]string{name + "_route": "id"}
		}
		out[i] = s
	}
	return out
}

func triggeringCase(line, name string, s Step) Case {
	return Case{Spec: specTriggering + ":" + line, Name: name, Setup: withRouteIDs(triggeringSetup()), Steps: []Step{s}}
}

var proxyTriggeringCases = rows(
	triggeringCase("238", "checks global configuration without credentials",
		px("GET", "/status/200", "global1.test").with(401, nil, nil)),
	triggeringCase("247", "checks global api configuration",
		px("GET", "/status/200?apikey=secret1", "global1.test").with(200, obj{"X-RateLimit-Limit-Hour": "1"}, nil)),
	triggeringCase("257", "checks api specific configuration",
		px("GET", "/status/200?apikey=secret1", "api1.test").with(200, obj{"X-RateLimit-Limit-Hour": "2"}, nil)),
	triggeringCase("267", "checks global consumer configuration",
		px("GET", "/status/200?apikey=secret2", "global1.test").with(200, obj{"X-RateLimit-Limit-Hour": "3"}, nil)),
	triggeringCase("277", "checks consumer specific configuration",
		px("GET", "/status/200?apikey=secret2", "api2.test").with(200, obj{"X-RateLimit-Limit-Hour": "4"}, nil)),
	triggeringCase("287", "checks anonymous consumer specific configuration",
		px("GET", "/status/200", "api3.test").with(200, obj{"X-RateLimit-Limit-Hour": "5"}, nil)),
	Case{Spec: specTriggering + ":297", Name: "builds complete plugins iterator even when plugin errors", Skip: skipErrorGenerator},
	skipped(specTriggering, skipLogPlugins, "417:execute a log plugin", "437:execute a header_filter plugin", "455:execute a body_filter plugin",
		"472:responses.send stops plugin but runloop continues", "570:runs without causing an internal error",
		"767:executes a log plugin on Bad Gateway (HTTP 502)", "788:log plugins sees same request in error_page handler (HTTP 502)",
		"819:executes a log plugin on Service Unavailable (HTTP 503)", "840:executes a log plugin on Gateway Timeout (HTTP 504)",
		"861:log plugins sees same request in error_page handler (HTTP 504)",
		"892:executes a global log plugin on Nginx-produced client errors (HTTP 400)",
		"920:log plugins sees same request in error_page handler (HTTP 400)",
		"955:executes a global log plugin on Nginx-produced client errors (HTTP 414)",
		"983:log plugins sees same request in error_page handler (HTTP 414)",
		"1018:executes plugins header_filter/body_filter on Nginx-produced client errors (HTTP 4xx)",
		"1032:executes plugins header_filter/body_filter on Nginx-produced server errors (HTTP 5xx)",
		"1046:sees ctx introspection variables on Nginx-produced server errors (HTTP 5xx)",
		"1058:kong.response.get_source() returns \"error\" if plugin runtime exception occurs, FTI-3200"),
	skipped(specTriggering, skipInitWorker, "1124:is executed", "1142:protects against failed init_worker handler, FTI-2473", "1198:is executed"),
	Case{Spec: specTriggering + ":1283", Name: "certificate phase clears context, fix #7054", Skip: skipTLSKeepalive},
)
