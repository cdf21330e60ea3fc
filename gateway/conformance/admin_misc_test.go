package conformance

import (
	"fmt"
	"net/http"
	"strings"
)

const (
	specTruncated = "spec/02-integration/04-admin_api/21-truncated_arguments_spec.lua"
	specMaxSafe   = "spec/02-integration/04-admin_api/25-max_safe_integer_spec.lua"
)

var _ = register("admin-arguments", adminArgumentCases)

func manyArgs(key string, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("%s=%d", key, i+1)
	}
	return strings.Join(items, "&")
}

var adminArgumentCases = rows(
	Case{
		// Kong's spec posts to ip-restriction (not bundled): the limit is
		// on the form, checked before the plugin name matters.
		Spec: specTruncated + ":34", Name: "return 400 if reach maximum post arguments number",
		Steps: []Step{{Method: "POST", Path: "/plugins", Raw: "name=ip-restriction&" + manyArgs("config.allow", 1001),
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Status: 400,
			JSON: obj{".": obj{"message": "Too many arguments"}}}},
	},
	Case{
		Spec: specTruncated + ":53", Name: "return 400 if reach maximum uri arguments number",
		Steps: []Step{{Path: "/plugins?" + manyArgs("a", 1001), Status: 400, JSON: obj{".": obj{"message": "Too many arguments"}}}},
	},
	Case{
		Spec: specMaxSafe + ":41", Name: "the maximum safe integer can be accurately represented as a decimal number",
		Setup: []Step{post("/routes", obj{"paths": arr{"/route_with_max_safe_integer_priority"}, "regex_priority": 9007199254740992}, "rid")},
		Steps: []Step{{Path: "/routes/{{rid}}", Status: 200, BodyText: Contains("9007199254740992")}},
	},
	Case{
		Spec: specMaxSafe + ":79", Name: "the maximum safe integer can be accurately represented as a decimal number (#off)",
		DBLess: true,
		Steps: []Step{
			{Method: "POST", Path: "/config", Status: 201, Body: obj{"config": `_format_version: "1.1"
services:
- name: my-service
  id: 0855b320-0dd2-547d-891d-601e9b38647f
  url: https://localhost
  routes:
  - name: my-route
    id: 481a9539-f49c-51b6-b2e2-fe99ee68866c
    paths:
    - /
    regex_priority: 9007199254740992
`}},
			{Path: "/routes/481a9539-f49c-51b6-b2e2-fe99ee68866c", Status: 200, BodyText: Contains("9007199254740992")},
		},
	},
)
