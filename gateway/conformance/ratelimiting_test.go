package conformance

const (
	specRLSchema = "spec/03-plugins/23-rate-limiting/01-schema_spec.lua"
	specRLAPI    = "spec/03-plugins/23-rate-limiting/03-api_spec.lua"
)

var _ = register("rate-limiting", rateLimitingCases)

// rlPost posts a rate-limiting plugin with config through the Admin API
// (Kong's schema spec validates the config with the plugin's schema; the
// Admin API runs the same validation and reports it in "fields").
func rlPost(config obj, status int, fields obj) Step {
	return Step{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "config": config}, Status: status, JSON: fields}
}

const rlAtLeastOne = "at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'"

var rateLimitingCases = rows(
	Case{Spec: specRLSchema + ":7", Name: "proper config validates",
		Steps: []Step{rlPost(obj{"second": 10}, 201, obj{"config.second": 10})}},
	Case{Spec: specRLSchema + ":14", Name: "proper config validates (bis)",
		Steps: []Step{rlPost(obj{"second": 10, "minute": 20, "hour": 30, "day": 40, "month": 50, "year": 60}, 201, obj{"config.year": 60})}},
	Case{Spec: specRLSchema + ":21", Name: "proper config validates (header)",
		Steps: []Step{rlPost(obj{"second": 10, "limit_by": "header", "header_name": "X-App-Version"}, 201, obj{"config.header_name": "X-App-Version"})}},
	Case{Spec: specRLSchema + ":28", Name: "proper config validates (path)",
		Steps: []Step{rlPost(obj{"second": 10, "limit_by": "path", "path": "/request"}, 201, obj{"config.path": "/request"})}},
	Case{Spec: specRLSchema + ":36", Name: "limits: smaller unit is less than bigger unit",
		Steps: []Step{rlPost(obj{"second": 20, "hour": 10}, 400, obj{"fields.config": "The limit for hour(10.0) cannot be lower than the limit for second(20.0)"})}},
	Case{Spec: specRLSchema + ":43", Name: "limits: smaller unit is less than bigger unit (bis)",
		Steps: []Step{rlPost(obj{"second": 10, "minute": 20, "hour": 30, "day": 40, "month": 60, "year": 50}, 400,
			obj{"fields.config": "The limit for year(50.0) cannot be lower than the limit for month(60.0)"})}},
	Case{Spec: specRLSchema + ":50", Name: "invalid limit",
		Steps: []Step{rlPost(obj{}, 400, obj{"fields.@entity": arr{rlAtLeastOne}})}},
	Case{Spec: specRLSchema + ":58", Name: "is limited by header but the header_name field is missing",
		Steps: []Step{rlPost(obj{"second": 10, "limit_by": "header"}, 400, obj{"fields.config.header_name": "required field missing"})}},
	Case{Spec: specRLSchema + ":65", Name: "is limited by path but the path field is missing",
		Steps: []Step{rlPost(obj{"second": 10, "limit_by": "path"}, 400, obj{"fields.config.path": "required field missing"})}},
	Case{Spec: specRLSchema + ":72", Name: "is limited by path but the path field is missing (again)",
		Steps: []Step{rlPost(obj{"second": 10, "limit_by": "path", "path": nil}, 400, obj{"fields.config.path": "required field missing"})}},
	Case{Spec: specRLSchema + ":79", Name: "proper config validates with redis new structure",
		Steps: []Step{rlPost(obj{"second": 10, "policy": "redis", "redis": obj{"host": "127.0.0.1", "port": 6379, "database": 0,
			"username": "test", "password": "testXXX", "ssl": true, "ssl_verify": false, "timeout": 1100, "server_name": "test.test"}}, 201,
			obj{"config.redis.host": "127.0.0.1", "config.redis.timeout": 1100})}},
	Case{Spec: specRLSchema + ":99", Name: "proper config validates with redis legacy structure",
		Steps: []Step{rlPost(obj{"second": 10, "policy": "redis", "redis_host": "127.0.0.1", "redis_port": 6379, "redis_database": 0,
			"redis_username": "test", "redis_password": "testXXX", "redis_ssl": true, "redis_ssl_verify": false, "redis_timeout": 1100,
			"redis_server_name": "test.test"}, 201, obj{"config.redis.host": "127.0.0.1", "config.redis.port": 6379})}},
	Case{Spec: specRLSchema + ":118", Name: "verifies that redis required fields are supplied",
		Steps: []Step{rlPost(obj{"second": 10, "policy": "redis", "redis": obj{"port": 6379, "database": 0, "username": "test",
			"password": "testXXX", "ssl": true, "ssl_verify": false, "timeout": 1100, "server_name": "test.test"}}, 400,
			obj{"fields.config.redis.host": "required field missing"})}},

	Case{
		Spec: specRLAPI + ":53", Name: "should not save with empty config",
		Setup: rlRoutes(),
		Steps: []Step{{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "route": obj{"id": "{{r1}}"}}, Status: 400,
			JSON: obj{".": obj{"code": 2, "name": "schema violation", "fields": obj{"@entity": arr{rlAtLeastOne}},
				"message": "schema violation (" + rlAtLeastOne + ")"}}}},
	},
	Case{
		Spec: specRLAPI + ":80", Name: "should save with proper config",
		Setup: rlRoutes(),
		Steps: []Step{{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "route": obj{"id": "{{r1}}"}, "config": obj{"second": 10}},
			Status: 201, JSON: obj{"config.second": 10}}},
	},
	Case{
		Spec: specRLAPI + ":100", Name: "sets policy to local by default on dbless",
		DBLess: true,
		Steps: []Step{{Method: "POST", Path: "/config", Status: 201,
			Body: obj{"_format_version": "1.1", "plugins": arr{obj{"id": "bac2038a-205c-4013-8830-e6dde503a3e3", "name": "rate-limiting", "config": obj{"second": 10}}}},
			JSON: obj{"plugins.bac2038a-205c-4013-8830-e6dde503a3e3.config.policy": "local"}}},
	},
	Case{
		Spec: specRLAPI + ":123", Name: "does not allow setting policy to cluster on dbless",
		DBLess: true,
		Steps: []Step{{Method: "POST", Path: "/config", Status: 400,
			Body: obj{"_format_version": "1.1", "plugins": arr{obj{"id": "bac2038a-205c-4013-8830-e6dde503a3e3", "name": "rate-limiting",
				"config": obj{"policy": "cluster", "second": 10}}}},
			JSON: obj{"fields.plugins.0.config.policy": "expected one of: local, redis"}}},
	},
	Case{
		Spec: specRLAPI + ":148", Name: "sets policy to local by default",
		Steps: []Step{rlPost(obj{"second": 10}, 201, obj{"config.policy": "local"})},
	},
	Case{
		Spec: specRLAPI + ":164", Name: "does allow setting policy to cluster on non-dbless",
		Setup: rlRoutes(),
		Steps: []Step{{Method: "POST", Path: "/plugins", Body: obj{"name": "rate-limiting", "route": obj{"id": "{{r2}}"}, "config": obj{"policy": "cluster", "second": 10}},
			Status: 201, JSON: obj{"config.policy": "cluster"}}},
	},
)

func rlRoutes() []Step {
	return []Step{
		svc("sid"),
		post("/routes", obj{"hosts": arr{"test1.test"}, "protocols": arr{"http", "https"}, "service": obj{"id": "{{sid}}"}}, "r1"),
		post("/routes", obj{"hosts": arr{"test2.test"}, "protocols": arr{"http", "https"}, "service": obj{"id": "{{sid}}"}}, "r2"),
	}
}
