package conformance

import (
	"fmt"
	"testing"
	"time"
)

// Admin API spec files for node features the gateway does not have, plus
// the one plugins-conf case that applies.

var _ = register("admin-node-features", adminNodeFeatureCases)

func skippedIts(file, reason string, its ...string) []Case {
	var out []Case
	for _, it := range its {
		line, name, _ := cut2(it)
		out = append(out, Case{Spec: "spec/02-integration/04-admin_api/" + file + ":" + line, Name: name, Skip: reason})
	}
	return out
}

func cut2(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

var adminNodeFeatureCases = rows(
	skippedIts("05-cache_routes_spec.lua", "/cache endpoints (Kong's node entity cache)",
		"61:returns 404 if cache miss", "69:returns 200 and value if cache hit", "98:purges a cached value", "132:purges all cached values"),
	skippedIts("11-reports_spec.lua", "anonymous usage reports",
		"74:reports plugins added to services via /plugins", "112:reports plugins added to services via /service/:id/plugins",
		"148:reports plugins added to routes via /plugins", "198:reports plugins added to routes via /routes/:id/plugins",
		"248:reports declarative reconfigure via /config"),
	skippedIts("12-plugins-conf_spec.lua", "the plugins setting (bundled plugins: key-auth and rate-limiting only)",
		"27:all bundled plugins are enabled", "38:expect all plugins are in bundled", "75:no plugin is loaded",
		"100:no plugin is loaded (again)", "125:loads only key-auth and basic-auth plugins",
		"153:returns 201 for plugins included in the list", "175:returns 400 for plugins not included in the list"),
	Case{
		// Kong's spec patches basic-auth (not bundled); key-auth's
		// hide_credentials is the same change.
		Spec: "spec/02-integration/04-admin_api/12-plugins-conf_spec.lua:187", Name: "update updated_at after config changed",
		Setup: []Step{{Method: "POST", Path: "/plugins/", Body: obj{"name": "key-auth"}, Save: map[string]string{"pid": "id", "upd": "updated_at"}}},
		Run: func(t *testing.T, g *GW) {
			time.Sleep(1100 * time.Millisecond)
			r := g.Do(t, Step{Method: "PATCH", Path: "/plugins/{{pid}}", Body: obj{"config": obj{"hide_credentials": true}}})
			if r == nil || r.StatusCode != 200 {
				t.Fatalf("PATCH: %v", r)
			}
			after, _ := r.Get("updated_at")
			if err := matchValue(Num("greater than the first updated_at", func(n float64) bool {
				var before float64
				_, _ = fmtSscan(g.Vars["upd"], &before)
				return n > before
			}), after, true, nil); err != nil {
				t.Errorf("updated_at: %v", err)
			}
		},
	},
	skippedIts("13-plugin-endpoints_spec.lua", "custom Admin API endpoints from plugins (fixture plugins)",
		"35:a method without an explicit exit does not add Lapis output",
		"45:nested parameters can be parsed correctly when using form-urlencoded requests"),
	skippedIts("20-timers_spec.lua", "/timers endpoint (nginx timers)", "28:/timers"),
	skippedIts("22-debug_spec.lua", "/debug/node/log-level endpoints (dynamic log level)",
		"96:gets current log level for traditional and dbless", "109:cannot change the log level for dbless",
		"122:e2e test - check if dynamic set log level works", "224:changes log level for traditional mode",
		"270:handles unknown log level for traditional mode", "281:current log level is equal to configured log level",
		"292:broadcasts to all traditional nodes", "362:gets current log level for CP", "374:changes CP log level",
		"420:broadcasts to all CP nodes", "491:common cluster endpoint not accepted in hybrid mode",
		"499:newly spawned workers can update their log levels", "552:change log_level with timeout", "642:should refuse invalid timeout"),
)

func fmtSscan(s string, f *float64) (int, error) { return fmt.Sscan(s, f) }
