package conformance

import "net/http"

const specCORS = "spec/02-integration/04-admin_api/23-cors_spec.lua"

var _ = register("admin-cors", corsCases)

// corsCases ports 23-cors_spec.lua. Kong runs every it() once per
// admin_gui_url; the gateway has no Kong Manager, so only "" applies.
var corsCases = rows(corsRows(""), corsRows("http://admin.api:9100"), corsRows("http://admin.api:9100/path/to/any/way"))

func corsRows(guiURL string) []Case {
	suffix := ` (admin_gui_url "` + guiURL + `")`
	skip := ""
	if guiURL != "" {
		skip = "admin_gui_url setting (Kong Manager origin)"
	}
	cs := []Case{
		{Spec: specCORS + ":27", Name: "should return different allow-methods for specific route" + suffix,
			Steps: []Step{
				{Method: "OPTIONS", Path: "/", Status: 204, Headers: obj{"Allow": "GET, HEAD, OPTIONS", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS"}},
				{Method: "OPTIONS", Path: "/routes", Status: 204, Headers: obj{"Allow": "GET, HEAD, OPTIONS, POST", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS, POST"}},
				{Method: "OPTIONS", Path: "/routes/test", Status: 204, Headers: obj{"Allow": "DELETE, GET, HEAD, OPTIONS, PATCH, PUT",
					"Access-Control-Allow-Methods": "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"}},
			}},
		{Spec: specCORS + ":58", Name: "should allow headers from the request" + suffix,
			Steps: []Step{
				{Method: "OPTIONS", Path: "/", Status: 204, Headers: obj{"Access-Control-Allow-Headers": "Content-Type"}},
				{Method: "OPTIONS", Path: "/", Header: http.Header{"Access-Control-Request-Headers": {"X-Header-1,X-Header-2"}}, Status: 204,
					Headers: obj{"Access-Control-Allow-Headers": "X-Header-1,X-Header-2"}},
			}},
		{Spec: specCORS + ":80", Name: `should return the correct |AC-Allow-Origin| header when "Origin" is present in request headers (pre-flight)` + suffix,
			Steps: []Step{{Method: "OPTIONS", Path: "/", Header: http.Header{"Origin": {"http://example.com"}}, Status: 204,
				Headers: obj{"Access-Control-Allow-Origin": "http://example.com"}}}},
		{Spec: specCORS + ":95", Name: `should return the correct |AC-Allow-Origin| header when "Origin" is absent in request headers (pre-flight)` + suffix,
			Steps: []Step{{Method: "OPTIONS", Path: "/", Status: 204, Headers: obj{"Access-Control-Allow-Origin": "*"}}}},
		{Spec: specCORS + ":110", Name: "should not respond to |AC-Request-Method| or |AC-Request-Headers| headers" + suffix,
			Steps: []Step{{Path: "/", Header: http.Header{"Access-Control-Request-Method": {"PATCH"}, "Access-Control-Request-Headers": {"X-Header-1,X-Header-2"}},
				Status: 200, Headers: obj{"Access-Control-Allow-Methods": Absent, "Access-Control-Allow-Headers": Absent}}}},
		{Spec: specCORS + ":125", Name: `should return the correct |AC-Allow-Origin| header when "Origin" is present in request headers` + suffix,
			Steps: []Step{{Path: "/", Header: http.Header{"Origin": {"http://example.com"}}, Status: 200,
				Headers: obj{"Access-Control-Allow-Origin": "http://example.com"}}}},
		{Spec: specCORS + ":140", Name: `should return the correct |AC-Allow-Origin| header when "Origin" is absent in request headers` + suffix,
			Steps: []Step{{Path: "/", Status: 200, Headers: obj{"Access-Control-Allow-Origin": "*"}}}},
	}
	for i := range cs {
		cs[i].DBLess = true // Kong's spec runs this one with database = "off"
		if skip != "" {
			cs[i].Skip, cs[i].Steps = skip, nil
		}
	}
	return cs
}
